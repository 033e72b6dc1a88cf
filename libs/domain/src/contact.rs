//! Contact details: e-mail addresses and phone numbers, normalised.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ContactError {
    #[error("is not a valid e-mail address")]
    Email,
    #[error("is not a valid phone number (use +<country code><number>, or 8 digits for Norway)")]
    Phone,
}

/// An e-mail address of a plausible shape. Whether it exists is only known
/// when mail is sent to it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EmailAddress(String);

impl EmailAddress {
    pub fn parse(input: &str) -> Result<Self, ContactError> {
        let value = input.trim();
        let (local, domain) = value.rsplit_once('@').ok_or(ContactError::Email)?;
        let plausible = !local.is_empty()
            && local.len() <= 64
            && value.len() <= 254
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && value
                .chars()
                .all(|ch| !ch.is_whitespace() && !ch.is_control())
            && !local.contains('@');
        if !plausible {
            return Err(ContactError::Email);
        }
        Ok(Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A phone number in E.164 form (`+4791234567`). Eight digits without a
/// country code are taken as Norwegian.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PhoneNumber(String);

impl PhoneNumber {
    pub fn parse(input: &str) -> Result<Self, ContactError> {
        let compact: String = input
            .chars()
            .filter(|ch| !matches!(ch, ' ' | '-' | '(' | ')'))
            .collect();
        let (international, digits) = match compact.strip_prefix('+') {
            Some(rest) => (true, rest.to_owned()),
            None => match compact.strip_prefix("00") {
                Some(rest) => (true, rest.to_owned()),
                None => (false, compact),
            },
        };
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ContactError::Phone);
        }
        let normalised = match (international, digits.len()) {
            (true, 8..=15) if !digits.starts_with('0') => format!("+{digits}"),
            (false, 8) => format!("+47{digits}"),
            _ => return Err(ContactError::Phone),
        };
        Ok(Self(normalised))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert_eq!(
            EmailAddress::parse(" post@firma.no ").map(|e| e.to_string()),
            Ok("post@firma.no".to_owned())
        );
        for bad in [
            "",
            "post",
            "post@",
            "@firma.no",
            "post@firma",
            "po st@firma.no",
            "a@b..no",
        ] {
            assert_eq!(EmailAddress::parse(bad), Err(ContactError::Email), "{bad}");
        }
    }

    #[test]
    fn phones() {
        for (input, expected) in [
            ("91234567", "+4791234567"),
            ("912 34 567", "+4791234567"),
            ("+47 912 34 567", "+4791234567"),
            ("0046701234567", "+46701234567"),
        ] {
            assert_eq!(
                PhoneNumber::parse(input).map(|p| p.to_string()),
                Ok(expected.to_owned())
            );
        }
        for bad in ["", "1234", "+47", "9123456a", "+0123456789", "123456789"] {
            assert_eq!(PhoneNumber::parse(bad), Err(ContactError::Phone), "{bad}");
        }
    }
}
