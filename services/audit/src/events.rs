//! Events in: what every service records of its processing, appended to
//! the company's chain in the transaction that marks the event handled.

use hms_domain::CompanyId;
use hms_events::{EventHandler, EventMeta, HandlerError};
use hms_proto::ProtoEnum;
use hms_proto::events::v1 as pb;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::{Action, Purpose, Record, to_micros};
use crate::error::AuditError;
use crate::storage;

/// Appends each recorded access to its company's log.
pub struct OnAccess;

fn reject(what: &str) -> HandlerError {
    HandlerError::Reject(format!("an access record with {what}"))
}

/// An optional id: empty is absent, anything else must be a UUID.
fn optional_id(value: &str, what: &str) -> Result<Option<Uuid>, HandlerError> {
    if value.is_empty() {
        return Ok(None);
    }
    Uuid::try_parse(value).map(Some).map_err(|_| reject(what))
}

/// The record an event carries, or why it can never be one.
pub fn record(event: pb::AccessRecorded, event_id: &str) -> Result<Record, HandlerError> {
    let actor_ok = event
        .actor
        .split_once(':')
        .is_some_and(|(kind, name)| matches!(kind, "user" | "service") && !name.is_empty())
        && event.actor.len() <= 100;
    if !actor_ok {
        return Err(reject("no actor"));
    }
    Ok(Record {
        event_id: Uuid::try_parse(event_id).map_err(|_| reject("an event id that is no UUID"))?,
        company_id: CompanyId::parse(&event.company_id).map_err(|_| reject("no company"))?,
        action: Action::from_i32(event.action).map_err(|_| reject("an unknown action"))?,
        purpose: Purpose::from_i32(event.purpose).map_err(|_| reject("an unknown purpose"))?,
        actor: event.actor,
        order_id: optional_id(&event.order_id, "an order id that is no UUID")?,
        worker_ids: event
            .worker_ids
            .iter()
            .map(|id| Uuid::try_parse(id).map_err(|_| reject("a worker id that is no UUID")))
            .collect::<Result<_, _>>()?,
        document_id: optional_id(&event.document_id, "a document id that is no UUID")?,
        grant_id: optional_id(&event.grant_id, "a grant id that is no UUID")?,
        occurred_at: to_micros(
            event
                .occurred_at
                .as_ref()
                .and_then(hms_proto::time::from_timestamp)
                .ok_or_else(|| reject("no time"))?,
        ),
    })
}

/// Records appended in one transaction at most: a backlog costs a commit
/// and a lock of each company's chain head per hundred records.
const BATCH: usize = 100;

impl EventHandler<pb::AccessRecorded> for OnAccess {
    async fn handle(
        &self,
        event: pb::AccessRecorded,
        meta: &EventMeta,
        tx: &mut PgConnection,
    ) -> Result<(), HandlerError> {
        append(tx, vec![record(event, &meta.event_id)?]).await
    }

    fn batch_size(&self) -> usize {
        BATCH
    }

    /// Appends the batch in a handful of statements: company by company,
    /// in the order the records came within each.
    async fn handle_batch(
        &self,
        events: Vec<(pb::AccessRecorded, EventMeta)>,
        tx: &mut PgConnection,
    ) -> Result<(), HandlerError> {
        let records = events
            .into_iter()
            .map(|(event, meta)| record(event, &meta.event_id))
            .collect::<Result<Vec<_>, _>>()?;
        append(tx, records).await
    }
}

async fn append(tx: &mut PgConnection, records: Vec<Record>) -> Result<(), HandlerError> {
    storage::append_all(tx, records)
        .await
        .map_err(|error| match error {
            AuditError::Database(_) => HandlerError::Unavailable(error.to_string()),
            error => HandlerError::Retry(error.to_string()),
        })?;
    Ok(())
}
