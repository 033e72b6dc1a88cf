//! How a service records that it processed a worker's personal data, or
//! changed who may act for a company: an `access_recorded` event, written
//! to its outbox in the transaction that does the processing, so the record
//! and the act commit together. The audit service appends it to the
//! company's hash-chained access log.
//!
//! Records hold ids only: never a number, a name or a document.
//!
//! ```ignore
//! Access::new(company_id, Action::WorkerDataCreated, Purpose::Ordering, caller.audit_name())
//!     .order(order_id)
//!     .workers(worker_ids)
//!     .record(&mut tx)
//!     .await?;
//! ```

use std::fmt::Display;

pub use hms_proto::audit::v1::{AccessAction as Action, AccessPurpose as Purpose};
use hms_proto::events::v1::AccessRecorded;
use sqlx::PgConnection;

/// One access, being described.
#[derive(Debug, Clone)]
pub struct Access {
    event: AccessRecorded,
}

impl Access {
    /// `actor` is `user:<id>` or `service:<name>`
    /// (`hms_auth::Caller::audit_name`).
    pub fn new(
        company_id: impl Display,
        action: Action,
        purpose: Purpose,
        actor: impl Into<String>,
    ) -> Self {
        Self {
            event: AccessRecorded {
                company_id: company_id.to_string(),
                action: action.into(),
                purpose: purpose.into(),
                actor: actor.into(),
                ..AccessRecorded::default()
            },
        }
    }

    pub fn order(mut self, order_id: impl Display) -> Self {
        self.event.order_id = order_id.to_string();
        self
    }

    /// The workers whose data it was.
    pub fn workers<I: Display>(mut self, worker_ids: impl IntoIterator<Item = I>) -> Self {
        self.event
            .worker_ids
            .extend(worker_ids.into_iter().map(|id| id.to_string()));
        self
    }

    pub fn document(mut self, document_id: impl Display) -> Self {
        self.event.document_id = document_id.to_string();
        self
    }

    pub fn grant(mut self, grant_id: impl Display) -> Self {
        self.event.grant_id = grant_id.to_string();
        self
    }

    /// Writes the record to the outbox, in the caller's transaction.
    pub async fn record(self, tx: &mut PgConnection) -> Result<(), hms_events::EventsError> {
        record_all(tx, [self]).await
    }

    /// The event, as it would be written.
    pub fn into_event(self) -> AccessRecorded {
        self.event
    }
}

/// Writes records in a transaction of their own, for an access that changes
/// nothing else (a read, a download): before the data is handed out, so
/// that nothing leaves unrecorded.
pub async fn record_alone(
    pool: &sqlx::PgPool,
    accesses: impl IntoIterator<Item = Access>,
) -> Result<(), hms_events::EventsError> {
    let mut accesses = accesses.into_iter().peekable();
    if accesses.peek().is_none() {
        return Ok(());
    }
    let mut tx = pool.begin().await.map_err(hms_events::EventsError::from)?;
    record_all(&mut tx, accesses).await?;
    tx.commit().await.map_err(hms_events::EventsError::from)?;
    Ok(())
}

/// Writes several records in the caller's transaction, in one statement.
pub async fn record_all(
    tx: &mut PgConnection,
    accesses: impl IntoIterator<Item = Access>,
) -> Result<(), hms_events::EventsError> {
    let occurred_at = Some(hms_proto::time::timestamp(chrono::Utc::now()));
    let events: Vec<AccessRecorded> = accesses
        .into_iter()
        .map(|access| AccessRecorded {
            occurred_at,
            ..access.event
        })
        .collect();
    hms_events::enqueue_all(tx, &events).await.map(drop)
}
