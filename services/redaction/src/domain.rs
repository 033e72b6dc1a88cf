//! What a redaction removes, and the receipt that proves it.

use chrono::{DateTime, Utc};
use hms_domain::{CompanyId, OrderId};

/// What started a redaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// The order's decision event.
    Event,
    /// The reconciler found the order unredacted after the configured delay.
    Reconciler,
    /// An operator asked.
    Manual,
    /// The card producer took the approved order's print job.
    Handover,
    /// The print deadline passed without a handover.
    Deadline,
}

impl Trigger {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Event => "event",
            Self::Reconciler => "reconciler",
            Self::Manual => "manual",
            Self::Handover => "handover",
            Self::Deadline => "deadline",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [
            Self::Event,
            Self::Reconciler,
            Self::Manual,
            Self::Handover,
            Self::Deadline,
        ]
        .into_iter()
        .find(|trigger| trigger.as_str() == value)
    }
}

/// Why an order's personal data had to go, as orders says when it masks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    Approved,
    Rejected,
    /// A draft never submitted.
    DraftAbandoned,
    /// Returned for correction and never submitted again.
    CorrectionAbandoned,
    /// Its company was rejected or suspended too long ago.
    CompanyIneligible,
}

impl Cause {
    const ALL: [Self; 5] = [
        Self::Approved,
        Self::Rejected,
        Self::DraftAbandoned,
        Self::CorrectionAbandoned,
        Self::CompanyIneligible,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Approved => "approved",
            Self::Rejected => "rejected",
            Self::DraftAbandoned => "draft_abandoned",
            Self::CorrectionAbandoned => "correction_abandoned",
            Self::CompanyIneligible => "company_ineligible",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|cause| cause.as_str() == value)
    }
}

/// How much personal data a redaction removed, over all its attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Removed {
    pub workers_masked: u32,
    pub objects_deleted: u32,
    pub keys_destroyed: u32,
}

/// Proof that an order's personal data is gone.
#[derive(Debug, Clone)]
pub struct Receipt {
    pub order_id: OrderId,
    pub company_id: CompanyId,
    pub trigger: Trigger,
    /// Unknown on receipts written before it was recorded.
    pub cause: Option<Cause>,
    pub removed: Removed,
    pub started_at: DateTime<Utc>,
    pub completed_at: DateTime<Utc>,
    /// The receipt as the platform attested it (`hms_attestation`); absent
    /// only between its completion and its signature.
    pub signed: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn triggers_round_trip() {
        for trigger in [
            Trigger::Event,
            Trigger::Reconciler,
            Trigger::Manual,
            Trigger::Handover,
            Trigger::Deadline,
        ] {
            assert_eq!(Trigger::parse(trigger.as_str()), Some(trigger));
        }
        assert_eq!(Trigger::parse("cron"), None);
        for cause in Cause::ALL {
            assert_eq!(Cause::parse(cause.as_str()), Some(cause));
        }
    }
}
