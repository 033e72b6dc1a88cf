//! What a company is, and which decisions the back office may take on it.

use chrono::{DateTime, Utc};
use hms_domain::{
    CompanyId, CompanyName, EmailAddress, Industry, Language, OrgNumber, PhoneNumber, Reason,
};

use crate::error::CompanyError;

/// Where a company stands with the back office.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompanyStatus {
    Pending,
    Approved,
    Rejected,
    Suspended,
}

impl CompanyStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
            Self::Suspended => "suspended",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [
            Self::Pending,
            Self::Approved,
            Self::Rejected,
            Self::Suspended,
        ]
        .into_iter()
        .find(|status| status.as_str() == value)
    }
}

/// A company as a client registers it, every field already valid.
#[derive(Debug, Clone)]
pub struct NewCompany {
    pub org_number: OrgNumber,
    pub name: CompanyName,
    pub email: EmailAddress,
    pub phone: PhoneNumber,
    pub industry: Industry,
    pub language: Language,
}

/// A registered company.
#[derive(Debug, Clone)]
pub struct Company {
    pub id: CompanyId,
    pub org_number: String,
    pub name: String,
    pub email: String,
    pub phone: String,
    pub industry: Industry,
    pub language: Language,
    pub status: CompanyStatus,
    pub status_reason: Option<String>,
    pub version: i64,
    pub registered_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// How the authorities reach a company, already valid.
#[derive(Debug, Clone)]
pub struct NewContact {
    pub email: EmailAddress,
    pub phone: PhoneNumber,
}

/// One change of a company's contact details, as the history keeps it.
#[derive(Debug, Clone)]
pub struct ContactChange {
    pub old_email: String,
    pub old_phone: String,
    pub new_email: String,
    pub new_phone: String,
    pub changed_by: uuid::Uuid,
    pub version: i64,
    pub changed_at: DateTime<Utc>,
}

/// A decision of the back office.
#[derive(Debug, Clone)]
pub enum Decision {
    Approve,
    Reject(Reason),
    Suspend(Reason),
}

impl Decision {
    /// The status a company in `from` moves to, or `None` when it is already
    /// there (a repeated decision changes nothing).
    pub fn next_status(&self, from: CompanyStatus) -> Result<Option<CompanyStatus>, CompanyError> {
        use CompanyStatus::*;
        match (self, from) {
            (Self::Approve, Approved)
            | (Self::Reject(_), Rejected)
            | (Self::Suspend(_), Suspended) => Ok(None),
            (Self::Approve, Pending | Rejected | Suspended) => Ok(Some(Approved)),
            (Self::Reject(_), Pending) => Ok(Some(Rejected)),
            (Self::Reject(_), Approved | Suspended) => Err(CompanyError::Transition(
                "an approved company cannot be rejected; suspend it instead",
            )),
            (Self::Suspend(_), Approved) => Ok(Some(Suspended)),
            (Self::Suspend(_), Pending | Rejected) => Err(CompanyError::Transition(
                "only an approved company can be suspended",
            )),
        }
    }

    pub fn reason(&self) -> Option<&Reason> {
        match self {
            Self::Approve => None,
            Self::Reject(reason) | Self::Suspend(reason) => Some(reason),
        }
    }
}

/// The text of a version of the data processing agreement: not blank, at
/// most [`AgreementText::MAX_CHARS`] characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgreementText(String);

impl AgreementText {
    pub const MAX_CHARS: usize = 200_000;

    pub fn parse(text: &str) -> Result<Self, &'static str> {
        if text.trim().is_empty() {
            return Err("must not be empty");
        }
        if text.chars().count() > Self::MAX_CHARS {
            return Err("must be at most 200,000 characters");
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// SHA-256 of the text, hex: what an acceptance is bound to.
    pub fn sha256(&self) -> String {
        use sha2::{Digest, Sha256};
        Sha256::digest(self.0.as_bytes())
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect()
    }
}

/// The first version of the agreement, published when the platform first
/// starts; later versions are published by the back office.
pub const FIRST_AGREEMENT: &str = include_str!("../agreements/1.md");

/// A published version of the data processing agreement.
#[derive(Debug, Clone)]
pub struct Agreement {
    pub version: u32,
    pub text: String,
    pub sha256: String,
    pub published_at: DateTime<Utc>,
}

/// A company's acceptance of one version.
#[derive(Debug, Clone)]
pub struct Acceptance {
    pub version: u32,
    pub sha256: String,
    pub accepted_by: uuid::Uuid,
    pub accepted_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use CompanyStatus::*;

    fn reason() -> Reason {
        Reason::parse("missing documentation").expect("valid")
    }

    #[test]
    fn the_back_office_moves_companies_through_their_life() {
        let table = [
            (Decision::Approve, Pending, Some(Approved)),
            (Decision::Approve, Suspended, Some(Approved)),
            (Decision::Approve, Rejected, Some(Approved)),
            (Decision::Approve, Approved, None),
            (Decision::Reject(reason()), Pending, Some(Rejected)),
            (Decision::Reject(reason()), Rejected, None),
            (Decision::Suspend(reason()), Approved, Some(Suspended)),
            (Decision::Suspend(reason()), Suspended, None),
        ];
        for (decision, from, expected) in table {
            assert_eq!(
                decision.next_status(from).ok(),
                Some(expected),
                "{decision:?} from {from:?}"
            );
        }
    }

    #[test]
    fn impossible_decisions_are_refused() {
        for (decision, from) in [
            (Decision::Reject(reason()), Approved),
            (Decision::Reject(reason()), Suspended),
            (Decision::Suspend(reason()), Pending),
            (Decision::Suspend(reason()), Rejected),
        ] {
            assert!(matches!(
                decision.next_status(from),
                Err(CompanyError::Transition(_))
            ));
        }
    }

    #[test]
    fn statuses_round_trip() {
        for status in [Pending, Approved, Rejected, Suspended] {
            assert_eq!(CompanyStatus::parse(status.as_str()), Some(status));
        }
    }
}

#[cfg(test)]
mod agreement_tests {
    use super::*;

    #[test]
    fn an_agreement_text_is_neither_blank_nor_endless() {
        assert!(AgreementText::parse("  \n").is_err());
        assert!(AgreementText::parse(&"x".repeat(AgreementText::MAX_CHARS + 1)).is_err());
        let text = AgreementText::parse("abc").expect("a text");
        assert_eq!(
            text.sha256(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(AgreementText::parse(FIRST_AGREEMENT).is_ok());
    }
}
