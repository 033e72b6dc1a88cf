//! Free text that people type: names and reasons, trimmed and bounded.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    #[error("must not be empty")]
    Empty,
    #[error("must be at most {0} characters")]
    TooLong(usize),
    #[error("must not contain control characters")]
    ControlCharacters,
}

fn bounded(input: &str, max_chars: usize) -> Result<String, TextError> {
    let value = input.trim();
    if value.is_empty() {
        return Err(TextError::Empty);
    }
    if value.chars().count() > max_chars {
        return Err(TextError::TooLong(max_chars));
    }
    if value.chars().any(|ch| ch.is_control() && ch != '\n') {
        return Err(TextError::ControlCharacters);
    }
    Ok(value.to_owned())
}

macro_rules! text_type {
    ($(#[$doc:meta])* $name:ident, $max:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub struct $name(String);

        impl $name {
            pub const MAX_CHARS: usize = $max;

            pub fn parse(input: &str) -> Result<Self, TextError> {
                bounded(input, Self::MAX_CHARS).map(Self)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

text_type!(
    /// A person's or a company's name, as written on cards and letters.
    PersonName,
    200
);
text_type!(
    /// A company's name as registered.
    CompanyName,
    300
);
text_type!(
    /// Why the back office rejected or suspended something; shown to the
    /// company.
    Reason,
    1000
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(
            PersonName::parse("  Kari Nordmann ").map(|n| n.to_string()),
            Ok("Kari Nordmann".into())
        );
        assert_eq!(PersonName::parse("   "), Err(TextError::Empty));
        assert_eq!(
            PersonName::parse(&"x".repeat(201)),
            Err(TextError::TooLong(200))
        );
        assert_eq!(
            PersonName::parse("Kari\u{0}"),
            Err(TextError::ControlCharacters)
        );
        assert!(Reason::parse("Mangler\nsignatur").is_ok());
    }
}
