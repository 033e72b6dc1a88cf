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
        .map_err(|error| HandlerError::Unavailable(format!("database: {error}")))?;
        // An organisation number never changes either.
        if let Some(org_number) = event.org_number() {
            sqlx::query("UPDATE hms_company_status SET org_number = $2 WHERE company_id = $1")
                .bind(company_id)
                .bind(org_number)
                .execute(&mut *tx)
                .await
                .map_err(|error| HandlerError::Unavailable(format!("database: {error}")))?;
        }
        // A trade never changes: kept whichever event came first.
        if let Some(industry) = event.industry() {
            sqlx::query("UPDATE hms_company_status SET industry = $2 WHERE company_id = $1")
                .bind(company_id)
                .bind(industry)
                .execute(tx)
                .await
                .map_err(|error| HandlerError::Unavailable(format!("database: {error}")))?;
        }
        Ok(())
    }
}
