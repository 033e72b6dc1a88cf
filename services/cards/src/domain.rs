//! What a card is and how it changes: its statuses, which changes are
//! allowed, and how long it is valid.

use chrono::{DateTime, Months, NaiveDate, TimeZone, Utc};
use chrono_tz::Europe::Oslo;
use hms_domain::{CardId, CardNumber, CardType, CompanyId, OrderId, WorkerId};

/// Where a card stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardStatus {
    /// Shown on a site, it counts.
    Active,
    /// Lost or stolen.
    Blocked,
    /// The employment ended.
    Deactivated,
    /// Past its end.
    Expired,
}

impl CardStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Blocked => "blocked",
            Self::Deactivated => "deactivated",
            Self::Expired => "expired",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [
            Self::Active,
            Self::Blocked,
            Self::Deactivated,
            Self::Expired,
        ]
        .into_iter()
        .find(|status| status.as_str() == value)
    }
}

/// Where the physical card is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrintState {
    /// Waiting for the card producer to take it.
    Awaiting,
    /// The card producer has it.
    HandedOver,
    /// The photo was gone before the producer took it.
    NeedsPhoto,
}

impl PrintState {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Awaiting => "awaiting",
            Self::HandedOver => "handed_over",
            Self::NeedsPhoto => "needs_photo",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [Self::Awaiting, Self::HandedOver, Self::NeedsPhoto]
            .into_iter()
            .find(|state| state.as_str() == value)
    }
}

/// A change people make to a card; expiry is the platform's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Lost or stolen: the card stops counting at once.
    Block,
    /// The employment ended.
    Deactivate,
}

impl Change {
    pub const fn target(self) -> CardStatus {
        match self {
            Self::Block => CardStatus::Blocked,
            Self::Deactivate => CardStatus::Deactivated,
        }
    }

    /// What happens to a card in `status`: it changes, it already has
    /// (asking again changes nothing), or it cannot.
    pub fn applied_to(self, status: CardStatus) -> Outcome {
        match status {
            CardStatus::Active => Outcome::Changes,
            current if current == self.target() => Outcome::AlreadyDone,
            // A blocked card whose holder then leaves stays blocked: the
            // stronger reason stands, and neither counts.
            CardStatus::Blocked | CardStatus::Deactivated => Outcome::AlreadyEnded,
            CardStatus::Expired => Outcome::AlreadyEnded,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Changes,
    AlreadyDone,
    AlreadyEnded,
}

/// How long a card is valid from its issue: the regulation says two years,
/// and only while the employment lasts, so through its last day (on the
/// Norwegian clock) when the company stated one.
pub fn valid_until(
    issued_at: DateTime<Utc>,
    months: u32,
    employment_ends_on: Option<NaiveDate>,
) -> DateTime<Utc> {
    let regular = issued_at
        .checked_add_months(Months::new(months))
        .unwrap_or(DateTime::<Utc>::MAX_UTC);
    let employment = employment_ends_on
        .and_then(|day| day.succ_opt())
        .and_then(|next| next.and_hms_opt(0, 0, 0))
        .and_then(|midnight| Oslo.from_local_datetime(&midnight).earliest())
        .map(|end| end.with_timezone(&Utc));
    employment.map_or(regular, |end| end.min(regular))
}

/// How long before its end a card may be renewed.
pub const RENEWAL_WINDOW_MONTHS: u32 = 6;

/// Why a card's holder may get a new card now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RenewalKind {
    /// It ends within the renewal window, or has ended.
    Renewal,
    /// It was blocked: lost or stolen.
    Replacement,
}

/// Why a new card for the holder cannot be ordered from this one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RenewalRefused {
    #[error("a card is renewed from six months before its end, from {0}")]
    TooEarly(chrono::NaiveDate),
    #[error("the holder's employment ended: order a card as for anyone new")]
    EmploymentEnded,
}

/// A card as kept.
#[derive(Debug, Clone, PartialEq)]
pub struct Card {
    pub card_id: CardId,
    pub card_number: CardNumber,
    pub company_id: CompanyId,
    pub order_id: OrderId,
    pub worker_id: WorkerId,
    pub holder_name: String,
    pub employer_org_number: String,
    pub employer_name: String,
    pub card_type: CardType,
    pub issued_at: DateTime<Utc>,
    pub valid_until: DateTime<Utc>,
    pub status: CardStatus,
    pub print_state: PrintState,
    /// Its entry in the status list offline verifiers cache.
    pub status_index: u64,
    pub history: Vec<StatusChange>,
}

impl Card {
    /// Whether it counts at `now`: active and not past its end.
    pub fn counts_at(&self, now: DateTime<Utc>) -> bool {
        self.status == CardStatus::Active && now < self.valid_until
    }

    /// From when the card may be renewed.
    pub fn renewable_from(&self) -> DateTime<Utc> {
        self.valid_until
            .checked_sub_months(Months::new(RENEWAL_WINDOW_MONTHS))
            .unwrap_or(DateTime::<Utc>::MIN_UTC)
    }

    /// Whether a new order for the holder may start from this card at
    /// `now`, and as what.
    pub fn renewal_at(&self, now: DateTime<Utc>) -> Result<RenewalKind, RenewalRefused> {
        match self.status {
            CardStatus::Blocked => Ok(RenewalKind::Replacement),
            CardStatus::Deactivated => Err(RenewalRefused::EmploymentEnded),
            CardStatus::Expired => Ok(RenewalKind::Renewal),
            CardStatus::Active if now >= self.renewable_from() => Ok(RenewalKind::Renewal),
            CardStatus::Active => Err(RenewalRefused::TooEarly(
                self.renewable_from().with_timezone(&Oslo).date_naive(),
            )),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct StatusChange {
    pub status: CardStatus,
    pub at: DateTime<Utc>,
    pub reason: String,
    pub changed_by: Option<uuid::Uuid>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_card_is_valid_two_years_from_issue() {
        let issued = DateTime::parse_from_rfc3339("2026-02-28T10:00:00Z")
            .expect("a time")
            .to_utc();
        assert_eq!(
            valid_until(issued, 24, None).to_rfc3339(),
            "2028-02-28T10:00:00+00:00"
        );
    }

    #[test]
    fn an_employment_ending_sooner_ends_the_card_with_its_last_day() {
        let issued = DateTime::parse_from_rfc3339("2026-02-28T10:00:00Z")
            .expect("a time")
            .to_utc();
        let day = |text: &str| NaiveDate::parse_from_str(text, "%Y-%m-%d").ok();
        // Through 30 June in Oslo (summer time, UTC+2).
        assert_eq!(
            valid_until(issued, 24, day("2026-06-30")).to_rfc3339(),
            "2026-06-30T22:00:00+00:00"
        );
        // Through 15 December (winter time, UTC+1).
        assert_eq!(
            valid_until(issued, 24, day("2026-12-15")).to_rfc3339(),
            "2026-12-15T23:00:00+00:00"
        );
        // An employment lasting longer changes nothing.
        assert_eq!(
            valid_until(issued, 24, day("2031-01-01")).to_rfc3339(),
            "2028-02-28T10:00:00+00:00"
        );
    }

    #[test]
    fn a_card_is_renewed_from_six_months_before_its_end_and_replaced_when_blocked() {
        let at = |text: &str| DateTime::parse_from_rfc3339(text).expect("a time").to_utc();
        let mut card = Card {
            card_id: CardId::from_uuid(uuid::Uuid::nil()),
            card_number: CardNumber::from_body(123_456_789),
            company_id: CompanyId::from_uuid(uuid::Uuid::nil()),
            order_id: OrderId::from_uuid(uuid::Uuid::nil()),
            worker_id: WorkerId::from_uuid(uuid::Uuid::nil()),
            holder_name: "Kari Nordmann".to_owned(),
            employer_org_number: "310100005".to_owned(),
            employer_name: "Nordmann Bygg AS".to_owned(),
            card_type: CardType::Construction,
            issued_at: at("2026-12-02T10:00:00Z"),
            valid_until: at("2028-12-02T10:00:00Z"),
            status: CardStatus::Active,
            print_state: PrintState::HandedOver,
            status_index: 0,
            history: Vec::new(),
        };
        let early = card.renewal_at(at("2028-06-01T10:00:00Z"));
        assert_eq!(
            early.map_err(|refused| refused.to_string()),
            Err("a card is renewed from six months before its end, from 2028-06-02".to_owned())
        );
        assert_eq!(
            card.renewal_at(at("2028-06-02T10:00:00Z")),
            Ok(RenewalKind::Renewal)
        );
        card.status = CardStatus::Blocked;
        assert_eq!(
            card.renewal_at(at("2027-01-01T10:00:00Z")),
            Ok(RenewalKind::Replacement)
        );
        card.status = CardStatus::Deactivated;
        assert_eq!(
            card.renewal_at(at("2028-11-01T10:00:00Z")),
            Err(RenewalRefused::EmploymentEnded)
        );
    }

    #[test]
    fn only_an_active_card_changes_and_asking_again_changes_nothing() {
        assert_eq!(
            Change::Block.applied_to(CardStatus::Active),
            Outcome::Changes
        );
        assert_eq!(
            Change::Block.applied_to(CardStatus::Blocked),
            Outcome::AlreadyDone
        );
        assert_eq!(
            Change::Deactivate.applied_to(CardStatus::Blocked),
            Outcome::AlreadyEnded
        );
        assert_eq!(
            Change::Block.applied_to(CardStatus::Expired),
            Outcome::AlreadyEnded
        );
    }
}
