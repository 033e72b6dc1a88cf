//! Events in, each handled in the transaction that marks it handled: an
//! approved order is issued its cards; a redacted order's photos are gone,
//! so a print job still waiting for them is given up.

use hms_domain::OrderId;
use hms_events::{EventHandler, EventMeta, HandlerError};
use hms_proto::events::v1 as pb;
use sqlx::PgConnection;

use crate::issuing::Issuer;

pub struct OnOrderApproved(pub Issuer);

impl EventHandler<pb::OrderApproved> for OnOrderApproved {
    async fn handle(
        &self,
        event: pb::OrderApproved,
        _meta: &EventMeta,
        tx: &mut PgConnection,
    ) -> Result<(), HandlerError> {
        let order_id = OrderId::parse(&event.order_id)
            .map_err(|_| HandlerError::Reject("order_id is not a UUID".to_owned()))?;
        self.0
            .issue(tx, order_id)
            .await
            .map(drop)
            .map_err(HandlerError::from)
    }

    fn batch_size(&self) -> usize {
        BATCH
    }

    async fn handle_batch(
        &self,
        events: Vec<(pb::OrderApproved, EventMeta)>,
        tx: &mut PgConnection,
    ) -> Result<(), HandlerError> {
        let order_ids = events
            .iter()
            .map(|(event, _)| {
                OrderId::parse(&event.order_id)
                    .map_err(|_| HandlerError::Reject("order_id is not a UUID".to_owned()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.0
            .issue_many(tx, &order_ids)
            .await
            .map(drop)
            .map_err(HandlerError::from)
    }
}

/// Approvals issued together, in one transaction.
const BATCH: usize = 100;

pub struct OnOrderRedacted;

impl EventHandler<pb::OrderRedacted> for OnOrderRedacted {
    async fn handle(
        &self,
        event: pb::OrderRedacted,
        _meta: &EventMeta,
        tx: &mut PgConnection,
    ) -> Result<(), HandlerError> {
        let order_id = OrderId::parse(&event.order_id)
            .map_err(|_| HandlerError::Reject("order_id is not a UUID".to_owned()))?;
        crate::printing::abandon(tx, order_id, "the photos were deleted before the handover")
            .await
            .map(drop)
            .map_err(HandlerError::from)
    }

    /// Nearly every order's print job was handed over long before: a
    /// commit per batch, not per order, to find that out.
    fn batch_size(&self) -> usize {
        BATCH
    }
}
