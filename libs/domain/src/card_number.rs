//! An HMS card's number: ten digits, the last a check digit (Damm's
//! algorithm), so a mistyped number is caught before anyone looks it up. Damm
//! catches every single wrong digit and every swap of two neighbours, which
//! Luhn does not (it misses `09` ↔ `90`).

use std::fmt;

/// Digits before the check digit.
const BODY: usize = 9;

/// A card number whose check digit is right.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CardNumber(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CardNumberError {
    #[error("must be 10 digits")]
    Format,
    #[error("is not a card number (its check digit is wrong; look for a typo)")]
    CheckDigit,
}

impl CardNumber {
    /// Parses what a person typed: spaces and dashes between the digits
    /// are allowed (`1234 5678 90`).
    pub fn parse(text: &str) -> Result<Self, CardNumberError> {
        let digits: String = text.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
        if digits.len() != BODY + 1 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CardNumberError::Format);
        }
        if damm(digits.as_bytes()) != 0 {
            return Err(CardNumberError::CheckDigit);
        }
        Ok(Self(digits))
    }

    /// A card number from nine digits of `body` (a number below 10⁹, the
    /// first digit not 0), with its check digit added.
    pub fn from_body(body: u32) -> Self {
        let body = format!("{:09}", body % 1_000_000_000);
        let check = damm(body.as_bytes());
        Self(format!("{body}{check}"))
    }

    /// The ten digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// As printed on the card: `1234 5678 90`.
    pub fn grouped(&self) -> String {
        format!("{} {} {}", &self.0[..4], &self.0[4..8], &self.0[8..])
    }
}

impl fmt::Display for CardNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Damm's interim digit of `digits`: 0 for a number whose last digit is its
/// check digit; the check digit to append otherwise.
fn damm(digits: &[u8]) -> u8 {
    const TABLE: [[u8; 10]; 10] = [
        [0, 3, 1, 7, 5, 9, 8, 6, 4, 2],
        [7, 0, 9, 2, 1, 5, 4, 8, 6, 3],
        [4, 2, 0, 6, 8, 7, 1, 3, 5, 9],
        [1, 7, 5, 0, 9, 8, 3, 4, 2, 6],
        [6, 1, 2, 3, 0, 4, 5, 9, 7, 8],
        [3, 6, 7, 4, 2, 0, 9, 5, 8, 1],
        [5, 8, 6, 9, 7, 2, 0, 1, 3, 4],
        [8, 9, 4, 5, 3, 6, 2, 0, 1, 7],
        [9, 4, 3, 8, 6, 1, 7, 2, 0, 5],
        [2, 5, 8, 1, 4, 3, 6, 7, 9, 0],
    ];
    digits.iter().fold(0, |interim, digit| {
        TABLE[usize::from(interim)][usize::from(digit - b'0')]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_number_parses_and_reads_grouped() {
        let number = CardNumber::from_body(123_456_789);
        assert_eq!(number.as_str().len(), 10);
        assert_eq!(CardNumber::parse(number.as_str()), Ok(number.clone()));
        assert_eq!(CardNumber::parse(&number.grouped()), Ok(number.clone()));
        // Damm's own example: 572 gets check digit 4.
        assert_eq!(damm(b"572"), 4);
        assert_eq!(damm(b"5724"), 0);
    }

    #[test]
    fn every_single_typo_and_neighbour_swap_is_caught() {
        let number = CardNumber::from_body(190_283_746).as_str().to_owned();
        let digits: Vec<u8> = number.bytes().collect();
        for position in 0..digits.len() {
            for wrong in b'0'..=b'9' {
                if wrong == digits[position] {
                    continue;
                }
                let mut typo = digits.clone();
                typo[position] = wrong;
                let typo = String::from_utf8(typo).expect("digits");
                assert_eq!(
                    CardNumber::parse(&typo),
                    Err(CardNumberError::CheckDigit),
                    "{typo}"
                );
            }
        }
        for position in 0..digits.len() - 1 {
            if digits[position] == digits[position + 1] {
                continue;
            }
            let mut swapped = digits.clone();
            swapped.swap(position, position + 1);
            let swapped = String::from_utf8(swapped).expect("digits");
            assert!(CardNumber::parse(&swapped).is_err(), "{swapped}");
        }
        assert_eq!(CardNumber::parse("12345"), Err(CardNumberError::Format));
        assert_eq!(
            CardNumber::parse("12345678x0"),
            Err(CardNumberError::Format)
        );
    }
}
