//! Norwegian national identity numbers: fødselsnummer, D-number, H-number.
//!
//! An 11-digit number `DDMMYY III K1 K2`: birth date, individual number, and
//! two mod-11 control digits. D-numbers add 40 to the day, H-numbers add 40 to
//! the month, and the synthetic test numbers of Test-Norge (Tenor) add 80 to
//! the month. From 2032 the first control digit may leave a remainder of 0, 1,
//! 2 or 3 (it was 0 before), because the classic series run out; numbers
//! issued under that rule are valid today, so both are accepted.

use std::fmt;

use chrono::NaiveDate;

const K1_WEIGHTS: [u32; 9] = [3, 7, 6, 1, 8, 9, 4, 5, 2];
const K2_WEIGHTS: [u32; 10] = [5, 4, 3, 2, 7, 6, 5, 4, 3, 2];
/// Remainders the first control check may leave under the rule in force from
/// 2032; the classic rule allows only 0.
const K1_ACCEPTED_REMAINDERS: [u32; 4] = [0, 1, 2, 3];
/// How many leading digits survive masking: the birth date.
const KEPT_DIGITS: usize = 6;

/// What a caller accepts beyond real numbers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NationalIdPolicy {
    /// Accept Test-Norge/Tenor synthetic numbers (month + 80). Off in
    /// production: they belong to no real person.
    pub allow_synthetic: bool,
}

/// Which series a number belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NationalIdKind {
    Fodselsnummer,
    /// Day + 40: people without permanent residence in Norway.
    DNumber,
    /// Month + 40: an auxiliary number used in health care.
    HNumber,
}

impl NationalIdKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Fodselsnummer => "fodselsnummer",
            Self::DNumber => "d_number",
            Self::HNumber => "h_number",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [Self::Fodselsnummer, Self::DNumber, Self::HNumber]
            .into_iter()
            .find(|kind| kind.as_str() == value)
    }
}

/// Why a national identity number was refused. The messages never quote the
/// number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NationalIdError {
    #[error("must be exactly 11 digits")]
    Format,
    #[error("does not start with a valid date of birth")]
    Date,
    #[error("control digits do not match")]
    Checksum,
    #[error("synthetic test numbers are not accepted")]
    SyntheticNotAllowed,
}

/// A valid fødselsnummer, D-number or H-number.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Fodselsnummer {
    digits: [u8; 11],
    kind: NationalIdKind,
    synthetic: bool,
    birth_date: NaiveDate,
}

impl Fodselsnummer {
    /// Parses 11 digits; spaces are ignored ("010190 12345" is accepted).
    pub fn parse(input: &str, policy: NationalIdPolicy) -> Result<Self, NationalIdError> {
        let mut digits = [0u8; 11];
        let mut count = 0;
        for ch in input.chars().filter(|ch| *ch != ' ') {
            let digit = ch.to_digit(10).ok_or(NationalIdError::Format)?;
            if count == digits.len() {
                return Err(NationalIdError::Format);
            }
            digits[count] = digit as u8;
            count += 1;
        }
        if count != digits.len() {
            return Err(NationalIdError::Format);
        }

        let (birth_date, kind, synthetic) = birth_date_of(&digits)?;
        if synthetic && !policy.allow_synthetic {
            return Err(NationalIdError::SyntheticNotAllowed);
        }
        if !control_digits_match(&digits) {
            return Err(NationalIdError::Checksum);
        }
        Ok(Self {
            digits,
            kind,
            synthetic,
            birth_date,
        })
    }

    pub fn kind(&self) -> NationalIdKind {
        self.kind
    }

    pub fn is_synthetic(&self) -> bool {
        self.synthetic
    }

    pub fn birth_date(&self) -> NaiveDate {
        self.birth_date
    }

    /// The first six digits and five asterisks: `010190*****`.
    pub fn masked(&self) -> MaskedNationalId {
        let mut masked = String::with_capacity(11);
        masked.extend(
            self.digits[..KEPT_DIGITS]
                .iter()
                .map(|d| char::from(b'0' + d)),
        );
        masked.push_str(&"*".repeat(11 - KEPT_DIGITS));
        MaskedNationalId(masked)
    }

    /// The full number. Named so that every place that reveals it stands out
    /// in review: only encryption at rest should need it.
    pub fn expose(&self) -> String {
        self.digits.iter().map(|d| char::from(b'0' + d)).collect()
    }
}

impl fmt::Debug for Fodselsnummer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Fodselsnummer")
            .field(&self.masked().as_str())
            .finish()
    }
}

/// A national identity number with its last five digits hidden.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MaskedNationalId(String);

impl MaskedNationalId {
    /// Accepts only the masked shape: six digits and five asterisks.
    pub fn parse(value: &str) -> Option<Self> {
        let bytes = value.as_bytes();
        let shaped = bytes.len() == 11
            && bytes[..KEPT_DIGITS].iter().all(u8::is_ascii_digit)
            && bytes[KEPT_DIGITS..].iter().all(|b| *b == b'*');
        shaped.then(|| Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for MaskedNationalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn two_digits(digits: &[u8]) -> u32 {
    u32::from(digits[0]) * 10 + u32::from(digits[1])
}

/// The birth date a number encodes, its series, and whether it is synthetic.
fn birth_date_of(digits: &[u8; 11]) -> Result<(NaiveDate, NationalIdKind, bool), NationalIdError> {
    let mut day = two_digits(&digits[0..2]);
    let mut month = two_digits(&digits[2..4]);
    let year_in_century = two_digits(&digits[4..6]);
    let individual = u32::from(digits[6]) * 100 + u32::from(digits[7]) * 10 + u32::from(digits[8]);

    let mut kind = NationalIdKind::Fodselsnummer;
    if day > 40 {
        day -= 40;
        kind = NationalIdKind::DNumber;
    }
    let synthetic = month > 80;
    if synthetic {
        month -= 80;
    } else if month > 40 {
        if kind == NationalIdKind::DNumber {
            // A number is a D-number or an H-number, never both.
            return Err(NationalIdError::Date);
        }
        month -= 40;
        kind = NationalIdKind::HNumber;
    }

    let century = century_of(individual, year_in_century).ok_or(NationalIdError::Date)?;
    let year = i32::try_from(century + year_in_century).map_err(|_| NationalIdError::Date)?;
    let date = NaiveDate::from_ymd_opt(year, month, day).ok_or(NationalIdError::Date)?;
    Ok((date, kind, synthetic))
}

/// The century the individual number places a two-digit year in.
fn century_of(individual: u32, year_in_century: u32) -> Option<u32> {
    match (individual, year_in_century) {
        (0..=499, _) => Some(1900),
        (500..=749, 54..=99) => Some(1800),
        (500..=999, 0..=39) => Some(2000),
        (900..=999, 40..=99) => Some(1900),
        _ => None,
    }
}

fn weighted_sum(digits: &[u8], weights: &[u32]) -> u32 {
    digits
        .iter()
        .zip(weights)
        .map(|(digit, weight)| u32::from(*digit) * weight)
        .sum()
}

fn control_digits_match(digits: &[u8; 11]) -> bool {
    let first = (weighted_sum(&digits[..9], &K1_WEIGHTS) + u32::from(digits[9])) % 11;
    if !K1_ACCEPTED_REMAINDERS.contains(&first) {
        return false;
    }
    let second = (11 - weighted_sum(&digits[..10], &K2_WEIGHTS) % 11) % 11;
    second == u32::from(digits[10])
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const STRICT: NationalIdPolicy = NationalIdPolicy {
        allow_synthetic: false,
    };
    const WITH_SYNTHETIC: NationalIdPolicy = NationalIdPolicy {
        allow_synthetic: true,
    };

    /// Completes nine digits with control digits under the classic rule, or
    /// `None` when the classic rule leaves no valid control digit.
    fn with_classic_controls(first_nine: [u8; 9]) -> Option<[u8; 11]> {
        let k1 = (11 - weighted_sum(&first_nine, &K1_WEIGHTS) % 11) % 11;
        complete(first_nine, k1)
    }

    fn complete(first_nine: [u8; 9], k1: u32) -> Option<[u8; 11]> {
        if k1 > 9 {
            return None;
        }
        let mut digits = [0u8; 11];
        digits[..9].copy_from_slice(&first_nine);
        digits[9] = k1 as u8;
        let k2 = (11 - weighted_sum(&digits[..10], &K2_WEIGHTS) % 11) % 11;
        if k2 > 9 {
            return None;
        }
        digits[10] = k2 as u8;
        Some(digits)
    }

    fn text(digits: &[u8; 11]) -> String {
        digits.iter().map(|d| char::from(b'0' + d)).collect()
    }

    #[test]
    fn published_examples_of_the_2032_rule_are_valid() {
        for number in ["02013299997", "30108299920", "30108299939"] {
            let parsed = Fodselsnummer::parse(number, STRICT);
            assert!(parsed.is_ok(), "{number}: {parsed:?}");
        }
        let parsed = Fodselsnummer::parse("02013299997", STRICT).expect("valid");
        assert_eq!(
            parsed.birth_date(),
            NaiveDate::from_ymd_opt(2032, 1, 2).expect("date")
        );
        let parsed = Fodselsnummer::parse("30108299920", STRICT).expect("valid");
        assert_eq!(
            parsed.birth_date(),
            NaiveDate::from_ymd_opt(1982, 10, 30).expect("date")
        );
    }

    #[test]
    fn one_published_example_needs_the_2032_rule() {
        // 30108299939 leaves remainder 1 in the first control check: invalid
        // under the classic rule, valid under the rule in force from 2032.
        let remainder = |number: &str| {
            let digits: Vec<u8> = number.bytes().map(|b| b - b'0').collect();
            (weighted_sum(&digits[..9], &K1_WEIGHTS) + u32::from(digits[9])) % 11
        };
        assert_eq!(remainder("30108299939"), 1);
        assert_eq!(remainder("30108299920"), 0);
        assert_eq!(remainder("02013299997"), 0);
    }

    #[test]
    fn classic_numbers_are_valid() {
        // 01.01.1990, individual 100.
        let number = text(&with_classic_controls([0, 1, 0, 1, 9, 0, 1, 0, 0]).expect("controls"));
        let parsed = Fodselsnummer::parse(&number, STRICT).expect("valid");
        assert_eq!(parsed.kind(), NationalIdKind::Fodselsnummer);
        assert_eq!(
            parsed.birth_date(),
            NaiveDate::from_ymd_opt(1990, 1, 1).expect("date")
        );
        assert_eq!(parsed.masked().as_str(), "010190*****");
        assert_eq!(parsed.expose(), number);
    }

    #[test]
    fn d_and_h_numbers_are_recognised() {
        let d_number = text(&with_classic_controls([4, 1, 0, 1, 9, 0, 1, 0, 1]).expect("controls"));
        let parsed = Fodselsnummer::parse(&d_number, STRICT).expect("valid D-number");
        assert_eq!(parsed.kind(), NationalIdKind::DNumber);
        assert_eq!(
            parsed.birth_date(),
            NaiveDate::from_ymd_opt(1990, 1, 1).expect("date")
        );

        let h_number = text(&with_classic_controls([0, 1, 4, 1, 9, 0, 1, 0, 0]).expect("controls"));
        let parsed = Fodselsnummer::parse(&h_number, STRICT).expect("valid H-number");
        assert_eq!(parsed.kind(), NationalIdKind::HNumber);
        assert_eq!(
            parsed.birth_date(),
            NaiveDate::from_ymd_opt(1990, 1, 1).expect("date")
        );
    }

    #[test]
    fn synthetic_numbers_need_the_policy() {
        let synthetic =
            text(&with_classic_controls([0, 1, 8, 1, 9, 0, 1, 0, 0]).expect("controls"));
        assert_eq!(
            Fodselsnummer::parse(&synthetic, STRICT),
            Err(NationalIdError::SyntheticNotAllowed)
        );
        let parsed = Fodselsnummer::parse(&synthetic, WITH_SYNTHETIC).expect("allowed");
        assert!(parsed.is_synthetic());
        assert_eq!(parsed.kind(), NationalIdKind::Fodselsnummer);
    }

    #[test]
    fn leap_days_follow_the_century() {
        // 29.02.2000 (individual 500-999 with year < 40) is a leap day; 29.02.1900
        // (individual below 500) is not.
        let in_2000 = text(&with_classic_controls([2, 9, 0, 2, 0, 0, 5, 0, 0]).expect("controls"));
        assert!(Fodselsnummer::parse(&in_2000, STRICT).is_ok());
        let in_1900 = text(&with_classic_controls([2, 9, 0, 2, 0, 0, 1, 0, 0]).expect("controls"));
        assert_eq!(
            Fodselsnummer::parse(&in_1900, STRICT),
            Err(NationalIdError::Date)
        );
    }

    #[test]
    fn obvious_garbage_is_refused_without_quoting_it() {
        for (input, expected) in [
            ("", NationalIdError::Format),
            ("0101901234", NationalIdError::Format),
            ("010190123456", NationalIdError::Format),
            ("01019012a45", NationalIdError::Format),
            ("32019012345", NationalIdError::Date),
            ("01139012345", NationalIdError::Date),
            ("01019012345", NationalIdError::Checksum),
        ] {
            let error = Fodselsnummer::parse(input, STRICT).expect_err(input);
            assert_eq!(error, expected, "{input}");
            if !input.is_empty() {
                assert!(!error.to_string().contains(input));
            }
        }
    }

    #[test]
    fn debug_shows_only_the_masked_number() {
        let parsed = Fodselsnummer::parse("30108299920", STRICT).expect("valid");
        let debug = format!("{parsed:?}");
        assert!(!debug.contains("30108299920"), "{debug}");
        assert!(debug.contains("301082*****"), "{debug}");
    }

    #[test]
    fn masked_form_round_trips() {
        assert!(MaskedNationalId::parse("010190*****").is_some());
        assert!(MaskedNationalId::parse("01019012345").is_none());
        assert!(MaskedNationalId::parse("010190****").is_none());
    }

    /// A real birth date with a century-consistent individual number.
    fn valid_first_nine() -> impl Strategy<Value = [u8; 9]> {
        (
            prop_oneof![
                Just(1900..=1999i32),
                Just(1854..=1899i32),
                Just(2000..=2039i32)
            ]
            .prop_flat_map(|years| years),
            1u32..=12,
            1u32..=31,
            0u32..1000,
            prop_oneof![Just(0u32), Just(40u32)],
        )
            .prop_filter_map(
                "a real date with a matching individual number",
                |(year, month, day, individual, day_offset)| {
                    NaiveDate::from_ymd_opt(year, month, day)?;
                    let year_in_century = (year % 100) as u32;
                    let century = century_of(individual, year_in_century)?;
                    if century + year_in_century != year as u32 {
                        return None;
                    }
                    let day = day + day_offset;
                    let digits = [
                        day / 10,
                        day % 10,
                        month / 10,
                        month % 10,
                        year_in_century / 10,
                        year_in_century % 10,
                        individual / 100,
                        individual / 10 % 10,
                        individual % 10,
                    ];
                    Some(digits.map(|d| d as u8))
                },
            )
    }

    proptest! {
        #[test]
        fn generated_classic_numbers_are_valid(first_nine in valid_first_nine()) {
            if let Some(digits) = with_classic_controls(first_nine) {
                let number = text(&digits);
                let parsed = Fodselsnummer::parse(&number, STRICT);
                prop_assert!(parsed.is_ok(), "{:?}", parsed);
                let parsed = parsed.expect("checked");
                prop_assert_eq!(parsed.masked().to_string(), format!("{}*****", &number[..6]));
                prop_assert_eq!(parsed.expose(), number);
            }
        }

        #[test]
        fn generated_2032_numbers_are_valid(first_nine in valid_first_nine(), remainder in 1u32..=3) {
            // Choose K1 so that the first check leaves `remainder`.
            let k1 = (remainder + 11 - weighted_sum(&first_nine, &K1_WEIGHTS) % 11) % 11;
            if let Some(digits) = complete(first_nine, k1) {
                let parsed = Fodselsnummer::parse(&text(&digits), STRICT);
                prop_assert!(parsed.is_ok(), "{:?}", parsed);
            }
        }

        #[test]
        fn a_remainder_above_three_is_refused(first_nine in valid_first_nine(), remainder in 4u32..=10) {
            let k1 = (remainder + 11 - weighted_sum(&first_nine, &K1_WEIGHTS) % 11) % 11;
            if let Some(digits) = complete(first_nine, k1) {
                prop_assert_eq!(
                    Fodselsnummer::parse(&text(&digits), STRICT),
                    Err(NationalIdError::Checksum)
                );
            }
        }

        #[test]
        fn any_single_digit_change_is_refused(
            first_nine in valid_first_nine(),
            position in 0usize..11,
            delta in 1u8..10,
        ) {
            if let Some(mut digits) = with_classic_controls(first_nine) {
                digits[position] = (digits[position] + delta) % 10;
                prop_assert!(Fodselsnummer::parse(&text(&digits), WITH_SYNTHETIC).is_err());
            }
        }

        #[test]
        fn parsing_never_panics(input in "\\PC{0,20}") {
            let _ = Fodselsnummer::parse(&input, WITH_SYNTHETIC);
        }

        #[test]
        fn errors_never_quote_the_input(input in "[0-9]{11}") {
            if let Err(error) = Fodselsnummer::parse(&input, STRICT) {
                prop_assert!(!error.to_string().contains(&input));
            }
        }
    }
}
