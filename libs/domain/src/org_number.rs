//! Organisasjonsnummer: the 9-digit number of a Norwegian legal entity, the
//! last digit a mod-11 control digit.

use std::fmt;

const WEIGHTS: [u32; 8] = [3, 2, 7, 6, 5, 4, 3, 2];

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum OrgNumberError {
    #[error("must be exactly 9 digits")]
    Format,
    #[error("control digit does not match")]
    Checksum,
}

/// A valid organisation number. Public information, so it may be shown.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OrgNumber(String);

impl OrgNumber {
    /// Parses 9 digits; spaces are ignored ("923 609 016" is accepted).
    pub fn parse(input: &str) -> Result<Self, OrgNumberError> {
        let digits: String = input.chars().filter(|ch| *ch != ' ').collect();
        if digits.len() != 9 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(OrgNumberError::Format);
        }
        let values: Vec<u32> = digits.bytes().map(|b| u32::from(b - b'0')).collect();
        let sum: u32 = values.iter().zip(WEIGHTS).map(|(d, w)| d * w).sum();
        let control = (11 - sum % 11) % 11;
        if control == 10 || control != values[8] {
            return Err(OrgNumberError::Checksum);
        }
        Ok(Self(digits))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for OrgNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn real_organisation_numbers_are_valid() {
        // Brønnøysundregistrene and Arbeidstilsynet.
        for number in ["974760673", "974761211", "923 609 016"] {
            assert!(OrgNumber::parse(number).is_ok(), "{number}");
        }
        assert_eq!(
            OrgNumber::parse("923 609 016").expect("valid").as_str(),
            "923609016"
        );
    }

    #[test]
    fn wrong_numbers_are_refused() {
        assert_eq!(OrgNumber::parse("974760674"), Err(OrgNumberError::Checksum));
        assert_eq!(OrgNumber::parse("97476067"), Err(OrgNumberError::Format));
        assert_eq!(OrgNumber::parse("9747606731"), Err(OrgNumberError::Format));
        assert_eq!(OrgNumber::parse("97476067x"), Err(OrgNumberError::Format));
    }

    proptest! {
        #[test]
        fn generated_numbers_round_trip(first_eight in proptest::array::uniform8(0u32..10)) {
            let sum: u32 = first_eight.iter().zip(WEIGHTS).map(|(d, w)| d * w).sum();
            let control = (11 - sum % 11) % 11;
            let mut text: String = first_eight.iter().map(|d| char::from_digit(*d, 10).unwrap_or('0')).collect();
            if control == 10 {
                for last in 0..10 {
                    let candidate = format!("{text}{last}");
                    prop_assert_eq!(OrgNumber::parse(&candidate), Err(OrgNumberError::Checksum));
                }
            } else {
                text.push(char::from_digit(control, 10).unwrap_or('0'));
                prop_assert_eq!(OrgNumber::parse(&text).map(|n| n.to_string()), Ok(text.clone()));
                let wrong = format!("{}{}", &text[..8], (control + 1) % 10);
                prop_assert_eq!(OrgNumber::parse(&wrong), Err(OrgNumberError::Checksum));
            }
        }
    }
}
