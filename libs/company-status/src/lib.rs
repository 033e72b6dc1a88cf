//! A service's own projection of which companies are approved, and of
//! each company's trade.
//!
//! Media and orders must refuse work for companies that are not approved,
//! without calling the companies service for every upload: each keeps this
//! table, fed by the company events, and asks it. Events may arrive out of
//! order (one consumer per subject); the company's version decides.

use hms_domain::{CompanyId, Industry};
use hms_events::{EventHandler, EventMeta, EventsError, HandlerError, Subscriber};
use hms_proto::events::v1 as pb;
use sqlx::PgConnection;
use uuid::Uuid;

/// The table this projection needs; run with the service's migrations.
pub static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!();

/// Where a company stands, as far as this service has heard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// No event about the company has arrived (yet).
    Unknown,
    Pending,
    Approved,
    Rejected,
    Suspended,
}

impl Standing {
    fn parse(status: &str) -> Self {
        match status {
            "pending" => Self::Pending,
            "approved" => Self::Approved,
            "rejected" => Self::Rejected,
            "suspended" => Self::Suspended,
            _ => Self::Unknown,
        }
    }

    /// How to tell a client why its request was refused.
    pub fn refusal(self) -> &'static str {
        match self {
            Self::Unknown => "the company is not registered or not yet approved",
            Self::Pending => "the company is waiting for approval by the back office",
            Self::Approved => "the company is approved",
            Self::Rejected => "the company was rejected by the back office",
            Self::Suspended => "the company is suspended",
        }
    }
}

/// The company's standing in this service's projection.
pub async fn standing(db: &mut PgConnection, company: CompanyId) -> Result<Standing, sqlx::Error> {
    let status: Option<String> =
        sqlx::query_scalar("SELECT status FROM hms_company_status WHERE company_id = $1")
            .bind(company.as_uuid())
            .fetch_optional(db)
            .await?;
    Ok(status.map_or(Standing::Unknown, |status| Standing::parse(&status)))
}

/// The company's trade, if its registration has been heard of.
pub async fn industry(
    db: &mut PgConnection,
    company: CompanyId,
) -> Result<Option<Industry>, sqlx::Error> {
    let industry: Option<String> = sqlx::query_scalar(
        "SELECT industry FROM hms_company_status WHERE company_id = $1 AND industry IS NOT NULL",
    )
    .bind(company.as_uuid())
    .fetch_optional(db)
    .await?;
    Ok(industry.and_then(|industry| Industry::parse(&industry).ok()))
}

/// Where a company stands with the data processing agreement, as far as
/// this service has heard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AgreementStanding {
    /// The newest version the company accepted.
    pub accepted: Option<u32>,
    /// The version in force; unknown until its publication is heard of.
    pub current: Option<u32>,
}

impl AgreementStanding {
    /// Whether the company has accepted the version in force.
    pub fn accepted_current(self) -> bool {
        matches!((self.accepted, self.current), (Some(accepted), Some(current)) if accepted >= current)
    }

    /// How to tell a client why its request was refused.
    pub fn refusal(self) -> String {
        match (self.accepted, self.current) {
            (_, None) | (None, _) => "the company has not accepted the data processing agreement; \
                                      someone who manages its access must accept it first"
                .to_owned(),
            (Some(_), Some(current)) => format!(
                "a new version ({current}) of the data processing agreement must be accepted \
                 for the company before it orders again"
            ),
        }
    }
}

/// The company's standing with the agreement, in this service's
/// projection.
pub async fn agreement(
    db: &mut PgConnection,
    company: CompanyId,
) -> Result<AgreementStanding, sqlx::Error> {
    let (accepted, current): (Option<i32>, Option<i32>) = sqlx::query_as(
        "SELECT (SELECT accepted_version FROM hms_company_agreements WHERE company_id = $1), \
                (SELECT version FROM hms_current_agreement)",
    )
    .bind(company.as_uuid())
    .fetch_one(db)
    .await?;
    Ok(AgreementStanding {
        accepted: accepted.and_then(|version| u32::try_from(version).ok()),
        current: current.and_then(|version| u32::try_from(version).ok()),
    })
}

/// Starts the consumers that keep the projection of the data processing
/// agreement: the version in force, and what each company accepted.
pub async fn subscribe_agreements(subscriber: &mut Subscriber) -> Result<(), EventsError> {
    subscriber
        .subscribe::<pb::AgreementPublished, _>(AgreementProjector)
        .await?;
    subscriber
        .subscribe::<pb::AgreementAccepted, _>(AgreementProjector)
        .await
}

/// Writes agreement events into the projection. Versions only grow, so an
/// event late or twice changes nothing.
struct AgreementProjector;

fn unavailable(error: sqlx::Error) -> HandlerError {
    HandlerError::Unavailable(format!("database: {error}"))
}

fn version(version: u32) -> Result<i32, HandlerError> {
    i32::try_from(version)
        .ok()
        .filter(|version| *version > 0)
        .ok_or_else(|| HandlerError::Reject("the agreement's version is out of range".to_owned()))
}

impl EventHandler<pb::AgreementPublished> for AgreementProjector {
    async fn handle(
        &self,
        event: pb::AgreementPublished,
        _meta: &EventMeta,
        tx: &mut PgConnection,
    ) -> Result<(), HandlerError> {
        sqlx::query(
            "INSERT INTO hms_current_agreement (version) VALUES ($1) \
             ON CONFLICT (singleton) DO UPDATE SET version = EXCLUDED.version, updated_at = now() \
             WHERE hms_current_agreement.version < EXCLUDED.version",
        )
        .bind(version(event.version)?)
        .execute(tx)
        .await
        .map_err(unavailable)?;
        Ok(())
    }
}

impl EventHandler<pb::AgreementAccepted> for AgreementProjector {
    async fn handle(
        &self,
        event: pb::AgreementAccepted,
        _meta: &EventMeta,
        tx: &mut PgConnection,
    ) -> Result<(), HandlerError> {
        let company_id = Uuid::try_parse(&event.company_id)
            .map_err(|_| HandlerError::Reject("company_id is not a UUID".to_owned()))?;
        sqlx::query(
            "INSERT INTO hms_company_agreements (company_id, accepted_version) VALUES ($1, $2) \
             ON CONFLICT (company_id) DO UPDATE \
             SET accepted_version = EXCLUDED.accepted_version, updated_at = now() \
             WHERE hms_company_agreements.accepted_version < EXCLUDED.accepted_version",
        )
        .bind(company_id)
        .bind(version(event.version)?)
        .execute(tx)
        .await
        .map_err(unavailable)?;
        Ok(())
    }
}

/// Starts the consumers that keep the projection, one per company event.
pub async fn subscribe(subscriber: &mut Subscriber) -> Result<(), EventsError> {
    subscriber
        .subscribe::<pb::CompanyRegistered, _>(Projector)
        .await?;
    subscriber
        .subscribe::<pb::CompanyApproved, _>(Projector)
        .await?;
    subscriber
        .subscribe::<pb::CompanyRejected, _>(Projector)
        .await?;
    subscriber
        .subscribe::<pb::CompanySuspended, _>(Projector)
        .await
}

/// Writes company events into the projection.
struct Projector;

/// What a company event says about the company's standing.
trait StandingChange {
    fn company_id(&self) -> &str;
    fn status(&self) -> &'static str;
    fn version(&self) -> i64;
    /// The company's trade, if the event says it (its registration does).
    fn industry(&self) -> Option<&'static str> {
        None
    }
    /// The company's organisation number, likewise.
    fn org_number(&self) -> Option<&str> {
        None
    }
    /// The company's name, likewise.
    fn name(&self) -> Option<&str> {
        None
    }
}

macro_rules! standing_change {
    ($($event:ident => $status:literal),+ $(,)?) => {
        $(impl StandingChange for pb::$event {
            fn company_id(&self) -> &str {
                &self.company_id
            }
            fn status(&self) -> &'static str {
                $status
            }
            fn version(&self) -> i64 {
                self.version
            }
        })+
    };
}

standing_change! {
    CompanyApproved => "approved",
    CompanyRejected => "rejected",
    CompanySuspended => "suspended",
}

impl StandingChange for pb::CompanyRegistered {
    fn company_id(&self) -> &str {
        &self.company_id
    }
    fn status(&self) -> &'static str {
        "pending"
    }
    fn version(&self) -> i64 {
        self.version
    }
    fn industry(&self) -> Option<&'static str> {
        use hms_proto::ProtoEnum;
        Industry::from_i32(self.industry).ok().map(Industry::as_str)
    }
    fn org_number(&self) -> Option<&str> {
        Some(self.org_number.as_str())
            .filter(|org| org.len() == 9 && org.bytes().all(|b| b.is_ascii_digit()))
    }
    fn name(&self) -> Option<&str> {
        Some(self.name.as_str()).filter(|name| !name.is_empty() && name.len() <= 200)
    }
}

impl<E: hms_events::Event + StandingChange> EventHandler<E> for Projector {
    async fn handle(
        &self,
        event: E,
        _meta: &EventMeta,
        tx: &mut PgConnection,
    ) -> Result<(), HandlerError> {
        let company_id = Uuid::try_parse(event.company_id())
            .map_err(|_| HandlerError::Reject("company_id is not a UUID".to_owned()))?;
        sqlx::query(
            "INSERT INTO hms_company_status (company_id, status, version) VALUES ($1, $2, $3) \
             ON CONFLICT (company_id) DO UPDATE \
             SET status = EXCLUDED.status, version = EXCLUDED.version, updated_at = now() \
             WHERE hms_company_status.version < EXCLUDED.version",
        )
        .bind(company_id)
        .bind(event.status())
        .bind(event.version())
        .execute(&mut *tx)
        .await
        .map_err(unavailable)?;
        // An organisation number never changes either.
        if let Some(org_number) = event.org_number() {
            sqlx::query("UPDATE hms_company_status SET org_number = $2 WHERE company_id = $1")
                .bind(company_id)
                .bind(org_number)
                .execute(&mut *tx)
                .await
                .map_err(unavailable)?;
        }
        if let Some(name) = event.name() {
            sqlx::query("UPDATE hms_company_status SET name = $2 WHERE company_id = $1")
                .bind(company_id)
                .bind(name)
                .execute(&mut *tx)
                .await
                .map_err(unavailable)?;
        }
        // A trade never changes: kept whichever event came first.
        if let Some(industry) = event.industry() {
            sqlx::query("UPDATE hms_company_status SET industry = $2 WHERE company_id = $1")
                .bind(company_id)
                .bind(industry)
                .execute(tx)
                .await
                .map_err(unavailable)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_version_in_force_or_a_later_one_lets_a_company_order() {
        let standing = |accepted, current| AgreementStanding { accepted, current };
        assert!(standing(Some(2), Some(2)).accepted_current());
        assert!(
            standing(Some(3), Some(2)).accepted_current(),
            "heard of before its publication"
        );
        assert!(!standing(Some(1), Some(2)).accepted_current());
        assert!(!standing(None, Some(1)).accepted_current());
        assert!(!standing(Some(1), None).accepted_current());
        assert!(
            standing(Some(1), Some(2))
                .refusal()
                .contains("new version (2)")
        );
    }
}
