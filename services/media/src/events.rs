//! Events in: documents of an order not yet decided are destroyed at once
//! when the back office rejects them or their worker is taken off the
//! order, whether or not this service was up when it happened.

use hms_domain::{DocumentId, DocumentKind, OrderId, WorkerId};
use hms_events::{EventHandler, EventMeta, EventsError, HandlerError, Subscriber};
use hms_proto::events::v1 as pb;
use sqlx::PgConnection;

use crate::error::MediaError;
use crate::storage::{Destroy, Store};

pub async fn subscribe(subscriber: &mut Subscriber) -> Result<(), EventsError> {
    subscriber
        .subscribe::<pb::OrderReturnedForCorrection, _>(Destroyer)
        .await?;
    subscriber
        .subscribe::<pb::WorkerRemoved, _>(Destroyer)
        .await
}

/// Destroys what orders says is no longer wanted.
struct Destroyer;

fn id<T>(
    field: &str,
    value: &str,
    parse: impl Fn(&str) -> Result<T, hms_domain::IdError>,
) -> Result<T, HandlerError> {
    parse(value).map_err(|_| HandlerError::Reject(format!("{field} is not a UUID")))
}

fn handler_error(error: MediaError) -> HandlerError {
    match error {
        MediaError::Database(ref cause) if hms_db::is_unavailable(cause) => {
            HandlerError::Unavailable(error.to_string())
        }
        error => HandlerError::Retry(error.to_string()),
    }
}

impl EventHandler<pb::OrderReturnedForCorrection> for Destroyer {
    async fn handle(
        &self,
        event: pb::OrderReturnedForCorrection,
        _meta: &EventMeta,
        tx: &mut PgConnection,
    ) -> Result<(), HandlerError> {
        let order_id = id("order_id", &event.order_id, OrderId::parse)?;
        let rejected = event
            .rejected
            .iter()
            .map(|document| {
                let kind = DocumentKind::parse(&document.kind)
                    .map_err(|_| HandlerError::Reject("kind is not a document kind".to_owned()))?;
                Ok((
                    id("document_id", &document.document_id, DocumentId::parse)?,
                    id("worker_id", &document.worker_id, WorkerId::parse)?,
                    kind,
                    document.reason.clone(),
                ))
            })
            .collect::<Result<Vec<_>, HandlerError>>()?;
        let destroyed = Store::destroy(tx, order_id, Destroy::Rejected(&rejected))
            .await
            .map_err(handler_error)?;
        tracing::info!(%order_id, rejected = rejected.len(), keys_destroyed = destroyed, "rejected documents destroyed");
        Ok(())
    }
}

impl EventHandler<pb::WorkerRemoved> for Destroyer {
    async fn handle(
        &self,
        event: pb::WorkerRemoved,
        _meta: &EventMeta,
        tx: &mut PgConnection,
    ) -> Result<(), HandlerError> {
        let order_id = id("order_id", &event.order_id, OrderId::parse)?;
        let worker_id = id("worker_id", &event.worker_id, WorkerId::parse)?;
        let destroyed = Store::destroy(tx, order_id, Destroy::Worker(worker_id))
            .await
            .map_err(handler_error)?;
        tracing::info!(%order_id, %worker_id, keys_destroyed = destroyed, "removed worker's documents destroyed");
        Ok(())
    }
}
