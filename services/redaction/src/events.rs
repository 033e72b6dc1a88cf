//! Events in: a rejected order is redacted at once; an approved one is
//! masked and waits for its print handover, which cards announces.

use hms_domain::{CompanyId, OrderId};
use hms_events::{EventHandler, EventMeta, HandlerError};
use hms_proto::events::v1 as pb;
use sqlx::PgConnection;

use crate::domain::Trigger;
use crate::error::RedactionError;
use crate::redactor::Redactor;

/// Reacts to an order's decision, or to its print handover.
pub struct OnOrder(pub Redactor);

/// The order an event names, and its company if it says.
fn ids(order_id: &str, company_id: &str) -> Result<(OrderId, Option<CompanyId>), HandlerError> {
    let order_id = OrderId::parse(order_id)
        .map_err(|_| HandlerError::Reject("order_id is not a UUID".to_owned()))?;
    Ok((order_id, CompanyId::parse(company_id).ok()))
}

/// How a failed redaction is retried.
fn handler_error(error: RedactionError) -> HandlerError {
    match error {
        // A decision event for an undecided order contradicts orders.
        error @ RedactionError::NotDecided => HandlerError::Reject(error.to_string()),
        error @ (RedactionError::Unavailable { .. } | RedactionError::Database(_)) => {
            HandlerError::Unavailable(error.to_string())
        }
        // An unknown order, or a failure on our side: retried a few times,
        // then parked for an operator.
        error => HandlerError::Retry(error.to_string()),
    }
}

impl EventHandler<pb::OrderApproved> for OnOrder {
    async fn handle(
        &self,
        event: pb::OrderApproved,
        _meta: &EventMeta,
        _tx: &mut PgConnection,
    ) -> Result<(), HandlerError> {
        let (order_id, company_id) = ids(&event.order_id, &event.company_id)?;
        self.0
            .approved(order_id, company_id)
            .await
            .map_err(handler_error)
    }
}

impl EventHandler<pb::OrderRejected> for OnOrder {
    async fn handle(
        &self,
        event: pb::OrderRejected,
        _meta: &EventMeta,
        _tx: &mut PgConnection,
    ) -> Result<(), HandlerError> {
        let (order_id, company_id) = ids(&event.order_id, &event.company_id)?;
        self.0
            .redact(order_id, company_id, Trigger::Event)
            .await
            .map(drop)
            .map_err(handler_error)
    }
}

impl EventHandler<pb::PrintHandedOver> for OnOrder {
    async fn handle(
        &self,
        event: pb::PrintHandedOver,
        _meta: &EventMeta,
        _tx: &mut PgConnection,
    ) -> Result<(), HandlerError> {
        let (order_id, company_id) = ids(&event.order_id, &event.company_id)?;
        self.0
            .handed_over(order_id, company_id)
            .await
            .map(drop)
            .map_err(handler_error)
    }
}
