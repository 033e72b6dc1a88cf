//! Free text that people type: names and reasons, trimmed and bounded, and
//! free of characters that change how text around them is shown.

use std::fmt;

use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    #[error("must not be empty")]
    Empty,
    #[error("must be at most {0} characters")]
    TooLong(usize),
    #[error("must not contain control characters")]
    ControlCharacters,
    /// Direction overrides, zero-width and other invisible formatting
    /// characters, line separators: they make a name read differently from
    /// what it is (`Kari\u{202E}nnamdroN` shows as "KariNordmann" reversed).
    #[error("must not contain invisible formatting characters (such as direction overrides)")]
    FormatCharacters,
}

/// Characters that change how text around them reads while showing nothing
/// themselves: Unicode's "format" characters (category Cf: bidirectional
/// overrides and isolates, zero-width spaces and joiners, soft hyphens,
/// byte order marks, tag characters), line and paragraph separators, and
/// the letters and marks that render blank (Hangul fillers, the braille
/// blank, the combining grapheme joiner, variation selectors).
fn is_format(ch: char) -> bool {
    matches!(
        ch.general_category(),
        GeneralCategory::Format
            | GeneralCategory::LineSeparator
            | GeneralCategory::ParagraphSeparator
    ) || matches!(
        ch,
        '\u{034F}'
            | '\u{115F}'
            | '\u{1160}'
            | '\u{17B4}'
            | '\u{17B5}'
            | '\u{180B}'..='\u{180F}'
            | '\u{2800}'
            | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FFA0}'
            | '\u{E0100}'..='\u{E01EF}'
    )
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
    if value.chars().any(is_format) {
        return Err(TextError::FormatCharacters);
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

    #[test]
    fn invisible_formatting_is_refused_and_letters_of_any_script_are_not() {
        for spoof in [
            "Kari\u{202E}nnamdroN",  // right-to-left override
            "Kari\u{2066}Nordmann",  // left-to-right isolate
            "Ka\u{200B}ri Nordmann", // zero-width space
            "Kari\u{200D}Nordmann",  // zero-width joiner
            "\u{FEFF}Kari",          // byte order mark
            "Kari\u{00AD}Nordmann",  // soft hyphen
            "Kari\u{E0041}",         // tag character
            "Kari\u{2028}Nordmann",  // line separator
            "\u{3164}",              // Hangul filler
            "Kari\u{2800}",          // braille blank
            "Kari\u{FE0F}",          // variation selector
        ] {
            assert_eq!(
                PersonName::parse(spoof),
                Err(TextError::FormatCharacters),
                "{spoof:?}"
            );
            assert_eq!(Reason::parse(spoof), Err(TextError::FormatCharacters));
            assert_eq!(CompanyName::parse(spoof), Err(TextError::FormatCharacters));
        }
        for name in [
            "Åse Ødegård",
            "Ýr Þórsdóttir",
            "Áile Ánde-Márjá",
            "Nguyễn Văn An",
            "محمد",
            "Ольга",
        ] {
            assert!(PersonName::parse(name).is_ok(), "{name}");
        }
    }
}
