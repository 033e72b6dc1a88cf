//! Decided orders arrive as events; each is redacted.

use hms_domain::{CompanyId, OrderId};
use hms_events::{EventHandler, EventMeta, HandlerError};
use hms_proto::events::v1 as pb;
use sqlx::PgConnection;

use crate::domain::Trigger;
use crate::error::RedactionError;
use crate::redactor::Redactor;

/// Redacts the order a decision event names.
pub struct OnDecision(pub Redactor);

/// A decision event: approval or rejection both end the need for the data.
trait Decision {
    fn order_id(&self) -> &str;
    fn company_id(&self) -> &str;
}

impl Decision for pb::OrderApproved {
    fn order_id(&self) -> &str {
        &self.order_id
    }
    fn company_id(&self) -> &str {
        &self.company_id
    }
}

impl Decision for pb::OrderRejected {
    fn order_id(&self) -> &str {
        &self.order_id
    }
    fn company_id(&self) -> &str {
        &self.company_id
    }
}

impl<E: hms_events::Event + Decision> EventHandler<E> for OnDecision {
    async fn handle(
        &self,
        event: E,
        _meta: &EventMeta,
        _tx: &mut PgConnection,
    ) -> Result<(), HandlerError> {
        let order_id = OrderId::parse(event.order_id())
            .map_err(|_| HandlerError::Reject("order_id is not a UUID".to_owned()))?;
        let company_id = CompanyId::parse(event.company_id()).ok();
        match self.0.redact(order_id, company_id, Trigger::Event).await {
            Ok(_) => Ok(()),
            // A decision event for an undecided order contradicts orders.
            Err(error @ RedactionError::NotDecided) => Err(HandlerError::Reject(error.to_string())),
            Err(error @ (RedactionError::Unavailable { .. } | RedactionError::Database(_))) => {
                Err(HandlerError::Unavailable(error.to_string()))
            }
            // An unknown order, or a failure on our side: retried a few
            // times, then parked for an operator.
            Err(error) => Err(HandlerError::Retry(error.to_string())),
        }
    }
}
