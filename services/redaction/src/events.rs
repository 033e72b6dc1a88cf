//! Events in: a rejected order is redacted at once; an approved one is
//! masked and waits for its print handover, which cards announces.

use chrono::{DateTime, Utc};
use hms_domain::{CompanyId, OrderId};
use hms_events::{EventHandler, EventMeta, HandlerError};
use hms_proto::events::v1 as pb;
use sqlx::PgConnection;

use crate::domain::Trigger;
use crate::error::RedactionError;
use crate::redactor::{OrderRef, Outcomes, Redactor};

/// Reacts to an order's decision, or to its print handover.
pub struct OnOrder(pub Redactor);

/// How far an order's data is gone: the `stage` of
/// `hms_redaction_lag_seconds`, measured from the order's decision.
#[derive(Clone, Copy)]
enum Stage {
    /// Its national identity numbers are masked (approved orders, at once).
    Masked,
    /// Everything is gone and the receipt is written.
    Redacted,
}

/// The help text of the series below, for `/metrics`.
pub fn describe_metrics() {
    metrics::describe_histogram!(
        "hms_redaction_lag_seconds",
        metrics::Unit::Seconds,
        "Time from an order's decision to its numbers masked (masked) and to its receipt (redacted)"
    );
}

/// Records how long after the decision (`decided`) a stage was reached.
fn record_lag(stage: Stage, decided: Option<DateTime<Utc>>, reached: DateTime<Utc>) {
    let Some(decided) = decided else {
        return;
    };
    let stage = match stage {
        Stage::Masked => "masked",
        Stage::Redacted => "redacted",
    };
    let lag = (reached - decided).to_std().unwrap_or_default();
    metrics::histogram!("hms_redaction_lag_seconds", "stage" => stage).record(lag.as_secs_f64());
}

/// An event's `occurred_at`, when it has a valid one.
fn decided_at(occurred_at: &Option<hms_proto::time::Timestamp>) -> Option<DateTime<Utc>> {
    occurred_at
        .as_ref()
        .and_then(hms_proto::time::from_timestamp)
}

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
        // The object store refusing deletions is an outage too: the event
        // waits rather than being parked.
        error @ (RedactionError::Unavailable { .. }
        | RedactionError::Database(_)
        | RedactionError::ObjectsRemaining) => HandlerError::Unavailable(error.to_string()),
        // An unknown order, or a failure on our side: retried a few times,
        // then parked for an operator.
        error => HandlerError::Retry(error.to_string()),
    }
}

/// The batch's first failed order, as the handler's failure: the consumer
/// then handles each event alone, and only that one is retried or parked.
fn first_failure<T>(outcomes: Outcomes<T>) -> Result<Vec<(OrderId, T)>, HandlerError> {
    outcomes
        .into_iter()
        .map(|(order_id, outcome)| outcome.map(|done| (order_id, done)))
        .collect::<Result<_, _>>()
        .map_err(handler_error)
}

/// The orders a batch of events names.
fn orders_of<E>(
    events: &[E],
    ids_of: impl Fn(&E) -> (&str, &str),
) -> Result<Vec<OrderRef>, HandlerError> {
    events
        .iter()
        .map(|event| {
            let (order_id, company_id) = ids_of(event);
            ids(order_id, company_id)
        })
        .collect()
}

/// How many events one batch takes: orders' and media's limit per call.
const BATCH: usize = 500;

impl OnOrder {
    async fn approved(&self, events: Vec<pb::OrderApproved>) -> Result<(), HandlerError> {
        let orders = orders_of(&events, |event| (&event.order_id, &event.company_id))?;
        let outcomes = self.0.approved(&orders).await.map_err(handler_error)?;
        first_failure(outcomes)?;
        let masked = Utc::now();
        for event in &events {
            record_lag(Stage::Masked, decided_at(&event.occurred_at), masked);
        }
        Ok(())
    }

    async fn handed_over(&self, events: Vec<pb::PrintHandedOver>) -> Result<(), HandlerError> {
        let orders = orders_of(&events, |event| (&event.order_id, &event.company_id))?;
        let outcomes = self.0.handed_over(&orders).await.map_err(handler_error)?;
        let receipts = first_failure(outcomes)?;
        // Measured from the approval, which the orders waited on since.
        let order_ids: Vec<OrderId> = receipts.iter().map(|(order_id, _)| *order_id).collect();
        if let Ok(approved) = self.0.approved_at(&order_ids).await {
            for (order_id, receipt) in &receipts {
                record_lag(
                    Stage::Redacted,
                    approved.get(order_id).copied(),
                    receipt.completed_at,
                );
            }
        }
        Ok(())
    }
}

impl EventHandler<pb::OrderApproved> for OnOrder {
    async fn handle(
        &self,
        event: pb::OrderApproved,
        _meta: &EventMeta,
        _tx: &mut PgConnection,
    ) -> Result<(), HandlerError> {
        self.approved(vec![event]).await
    }

    fn batch_size(&self) -> usize {
        BATCH
    }

    async fn handle_batch(
        &self,
        events: Vec<(pb::OrderApproved, EventMeta)>,
        _tx: &mut PgConnection,
    ) -> Result<(), HandlerError> {
        self.approved(events.into_iter().map(|(event, _)| event).collect())
            .await
    }
}

impl EventHandler<pb::OrderRejected> for OnOrder {
    async fn handle(
        &self,
        event: pb::OrderRejected,
        _meta: &EventMeta,
        _tx: &mut PgConnection,
    ) -> Result<(), HandlerError> {
        self.at_once(&event.order_id, &event.company_id, &event.occurred_at)
            .await
    }
}

/// An order closed without a decision is redacted at once, as a rejected
/// one is.
impl EventHandler<pb::OrderClosed> for OnOrder {
    async fn handle(
        &self,
        event: pb::OrderClosed,
        _meta: &EventMeta,
        _tx: &mut PgConnection,
    ) -> Result<(), HandlerError> {
        self.at_once(&event.order_id, &event.company_id, &event.occurred_at)
            .await
    }
}

impl OnOrder {
    /// Redacts an order that has nothing to wait for.
    async fn at_once(
        &self,
        order_id: &str,
        company_id: &str,
        occurred_at: &Option<hms_proto::time::Timestamp>,
    ) -> Result<(), HandlerError> {
        let (order_id, company_id) = ids(order_id, company_id)?;
        let receipt = self
            .0
            .redact_one(order_id, company_id, Trigger::Event)
            .await
            .map_err(handler_error)?;
        record_lag(
            Stage::Redacted,
            decided_at(occurred_at),
            receipt.completed_at,
        );
        Ok(())
    }
}

impl EventHandler<pb::PrintHandedOver> for OnOrder {
    async fn handle(
        &self,
        event: pb::PrintHandedOver,
        _meta: &EventMeta,
        _tx: &mut PgConnection,
    ) -> Result<(), HandlerError> {
        self.handed_over(vec![event]).await
    }

    fn batch_size(&self) -> usize {
        BATCH
    }

    async fn handle_batch(
        &self,
        events: Vec<(pb::PrintHandedOver, EventMeta)>,
        _tx: &mut PgConnection,
    ) -> Result<(), HandlerError> {
        self.handed_over(events.into_iter().map(|(event, _)| event).collect())
            .await
    }
}
