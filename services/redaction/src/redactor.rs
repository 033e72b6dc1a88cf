//! Redacting orders: mask their national identity numbers (orders), then
//! destroy their documents (media), then keep a receipt and announce it. Each
//! step is idempotent, so a redaction interrupted anywhere is simply run
//! again, by the event's redelivery or by the reconciler.
//!
//! Orders go in batches: however many a backlog holds, each step is one
//! call to orders, one to media and one transaction here per batch, and
//! each order still succeeds or fails on its own.
//!
//! An approved order's cards are printed with its photos and signatures,
//! so its numbers are masked at once but its documents are destroyed only
//! once the card producer has them (cards announces the handover), or when
//! the print deadline has passed without it.

use std::collections::HashMap;
use std::time::Duration;

use chrono::Utc;
use hms_domain::{CompanyId, OrderId};
use hms_grpc::client::ServiceChannel;
use hms_proto::media::v1::media_service_client::MediaServiceClient;
use hms_proto::media::v1::{PurgeOrderMediaRequest, PurgeRefusal, purged_order};
use hms_proto::orders::v1::order_internal_service_client::OrderInternalServiceClient;
use hms_proto::orders::v1::{
    ClosureReason, ListOrdersAwaitingRedactionRequest, ListSubjectWorkersRequest,
    MaskNationalIdsRequest, MaskRefusal, MaskedNationalIds, OrderStatus, masked_order,
};
use tokio_util::sync::CancellationToken;

use crate::domain::{Cause, Receipt, Removed, Trigger};
use crate::error::RedactionError;
use crate::storage::{Completion, Store};

/// An order to redact, and its company if the caller knows it.
pub type OrderRef = (OrderId, Option<CompanyId>);

/// What became of each order of a batch, in the order given. The batch as a
/// whole fails only when this service's database or a callee as a whole
/// fails.
pub type Outcomes<T> = Vec<(OrderId, Result<T, RedactionError>)>;

/// The most orders one call to orders or media names (their limit).
const AT_ONCE: usize = 500;

/// What orders answered for one order: whose it is and how many workers
/// it has, all masked now.
#[derive(Debug, Clone, Copy)]
struct Masked {
    company_id: CompanyId,
    workers: u32,
    cause: Cause,
}

/// Why orders says the order's data had to go.
fn cause(masked: &MaskedNationalIds) -> Result<Cause, RedactionError> {
    let closed_because = ClosureReason::try_from(masked.closed_because);
    match (OrderStatus::try_from(masked.status), closed_because) {
        (Ok(OrderStatus::Approved), _) => Ok(Cause::Approved),
        (Ok(OrderStatus::Rejected), _) => Ok(Cause::Rejected),
        (Ok(OrderStatus::Closed), Ok(ClosureReason::DraftAbandoned)) => Ok(Cause::DraftAbandoned),
        (Ok(OrderStatus::Closed), Ok(ClosureReason::CorrectionAbandoned)) => {
            Ok(Cause::CorrectionAbandoned)
        }
        (Ok(OrderStatus::Closed), Ok(ClosureReason::CompanyIneligible)) => {
            Ok(Cause::CompanyIneligible)
        }
        _ => Err(RedactionError::Corrupt(format!(
            "orders masked an order in status {} (closed because {})",
            masked.status, masked.closed_because
        ))),
    }
}

/// What media answered for one order: all its objects and keys are gone.
#[derive(Debug, Clone, Copy)]
struct Purged {
    objects_deleted: u32,
    keys_destroyed: u32,
}

#[derive(Clone)]
pub struct Redactor {
    store: Store,
    orders: OrderInternalServiceClient<ServiceChannel>,
    media: MediaServiceClient<ServiceChannel>,
    print_deadline: Duration,
}

impl Redactor {
    pub fn new(
        store: Store,
        orders: OrderInternalServiceClient<ServiceChannel>,
        media: MediaServiceClient<ServiceChannel>,
        print_deadline: Duration,
    ) -> Self {
        Self {
            store,
            orders,
            media,
            print_deadline,
        }
    }

    /// Approved orders: their numbers are masked now; their documents wait
    /// for the handover, unless that came first.
    #[tracing::instrument(name = "redaction.approved", skip_all, fields(orders = approved.len()))]
    pub async fn approved(&self, approved: &[OrderRef]) -> Result<Outcomes<()>, RedactionError> {
        let approved = &distinct(approved);
        let ids: Vec<OrderId> = approved.iter().map(|(order_id, _)| *order_id).collect();
        let handed_over = self.store.handed_over(&ids).await?;
        let receipts = self.store.receipts(&ids).await?;
        let (ready, waiting): (Vec<OrderRef>, Vec<OrderRef>) = approved
            .iter()
            .filter(|(order_id, _)| !receipts.contains_key(order_id))
            .partition(|(order_id, _)| handed_over.contains(order_id));
        let mut outcomes: HashMap<OrderId, Result<(), RedactionError>> = HashMap::new();
        if !ready.is_empty() {
            for (order_id, redacted) in self.redact(&ready, Trigger::Handover).await? {
                outcomes.insert(order_id, redacted.map(drop));
            }
        }
        if !waiting.is_empty() {
            self.store.await_print(&waiting).await?;
            let waiting: Vec<OrderId> = waiting.iter().map(|(order_id, _)| *order_id).collect();
            for (order_id, masked) in self.mask(&waiting).await? {
                if masked.is_ok() {
                    tracing::info!(%order_id, "numbers masked; the documents wait for the print handover");
                }
                outcomes.insert(order_id, masked.map(drop));
            }
        }
        Ok(in_order(&ids, outcomes, |_| Ok(())))
    }

    /// The card producer has these orders' print material: nothing keeps
    /// their documents now.
    pub async fn handed_over(
        &self,
        handed_over: &[OrderRef],
    ) -> Result<Outcomes<Receipt>, RedactionError> {
        self.store.record_handovers(handed_over).await?;
        self.redact(handed_over, Trigger::Handover).await
    }

    /// When approved orders began waiting for their print handover.
    pub async fn approved_at(
        &self,
        order_ids: &[OrderId],
    ) -> Result<HashMap<OrderId, chrono::DateTime<Utc>>, RedactionError> {
        self.store.approved_at(order_ids).await
    }

    pub async fn receipt(&self, order_id: OrderId) -> Result<Option<Receipt>, RedactionError> {
        let Some(mut receipt) = self.store.receipts(&[order_id]).await?.remove(&order_id) else {
            return Ok(None);
        };
        if receipt.signed.is_none() {
            self.store.attest(&mut receipt).await?;
        }
        Ok(Some(receipt))
    }

    /// Whether the person with this subject key is a worker of the order.
    pub async fn is_subject_of(
        &self,
        subject_key: &str,
        order_id: OrderId,
    ) -> Result<bool, RedactionError> {
        let workers = self
            .orders
            .clone()
            .list_subject_workers(ListSubjectWorkersRequest {
                subject_key: subject_key.to_owned(),
            })
            .await
            .map_err(|status| RedactionError::from_call("orders", status))?
            .into_inner()
            .workers;
        let order = order_id.to_string();
        Ok(workers.iter().any(|worker| worker.order_id == order))
    }

    /// The keys receipts are signed with, as published.
    pub async fn receipt_keys(&self) -> Result<hms_attestation::KeySet, RedactionError> {
        self.store.signer().key_set().await
    }

    /// Redacts one decided order, or returns its receipt if that was done.
    pub async fn redact_one(
        &self,
        order_id: OrderId,
        company_id: Option<CompanyId>,
        trigger: Trigger,
    ) -> Result<Receipt, RedactionError> {
        self.redact(&[(order_id, company_id)], trigger)
            .await?
            .pop()
            .map_or(Err(RedactionError::NoReceipt), |(_, receipt)| receipt)
    }

    /// Redacts decided orders; an order redacted before keeps its receipt.
    #[tracing::instrument(name = "redaction.redact", skip_all, fields(orders = orders.len(), trigger = trigger.as_str()))]
    pub async fn redact(
        &self,
        orders: &[OrderRef],
        trigger: Trigger,
    ) -> Result<Outcomes<Receipt>, RedactionError> {
        let orders = &distinct(orders);
        let ids: Vec<OrderId> = orders.iter().map(|(order_id, _)| *order_id).collect();
        let mut receipts: HashMap<OrderId, Result<Receipt, RedactionError>> = self
            .store
            .receipts(&ids)
            .await?
            .into_iter()
            .map(|(order_id, receipt)| (order_id, Ok(receipt)))
            .collect();
        let todo: Vec<OrderRef> = orders
            .iter()
            .filter(|(order_id, _)| !receipts.contains_key(order_id))
            .copied()
            .collect();
        if !todo.is_empty() {
            self.store.begin(&todo, trigger).await?;
            let todo: Vec<OrderId> = todo.iter().map(|(order_id, _)| *order_id).collect();
            receipts.extend(self.remove(&todo).await?);
        }
        Ok(in_order(&ids, receipts, |order_id| {
            Err(RedactionError::Corrupt(format!(
                "order {order_id} was lost in its redaction"
            )))
        }))
    }

    /// Masks first: orders refuses orders that are not decided, so nothing
    /// is destroyed for an order that is still in progress. Records how far
    /// each order got.
    async fn remove(
        &self,
        todo: &[OrderId],
    ) -> Result<HashMap<OrderId, Result<Receipt, RedactionError>>, RedactionError> {
        let mut outcomes = HashMap::new();
        let masked = match self.mask(todo).await {
            Ok(masked) => masked,
            Err(error) => {
                self.store.failed(todo, &error.to_string()).await?;
                return Err(error);
            }
        };
        let mut untouched = Vec::new();
        let mut ready: HashMap<OrderId, Masked> = HashMap::new();
        for (order_id, masked) in masked {
            match masked {
                Ok(masked) => {
                    ready.insert(order_id, masked);
                }
                // orders does not know the order or it is not decided:
                // nothing was removed, so there is nothing to re-drive.
                Err(error) if error.is_about_the_order() => {
                    untouched.push(order_id);
                    outcomes.insert(order_id, Err(error));
                }
                // Perhaps masked, perhaps not: the reconciler finishes it.
                Err(error) => {
                    self.store.failed(&[order_id], &error.to_string()).await?;
                    outcomes.insert(order_id, Err(error));
                }
            }
        }
        self.store.abandon(&untouched).await?;
        let masked_ids: Vec<OrderId> = ready.keys().copied().collect();
        if masked_ids.is_empty() {
            return Ok(outcomes);
        }
        let purged = match self.purge(&masked_ids).await {
            Ok(purged) => purged,
            Err(error) => {
                self.store.failed(&masked_ids, &error.to_string()).await?;
                return Err(error);
            }
        };
        let mut completions = Vec::with_capacity(purged.len());
        for (order_id, purged) in purged {
            match (purged, ready.get(&order_id)) {
                (Ok(purged), Some(masked)) => completions.push(Completion {
                    order_id,
                    company_id: masked.company_id,
                    cause: masked.cause,
                    removed: Removed {
                        workers_masked: masked.workers,
                        objects_deleted: purged.objects_deleted,
                        keys_destroyed: purged.keys_destroyed,
                    },
                }),
                (Ok(_), None) => {
                    outcomes.insert(
                        order_id,
                        Err(RedactionError::Corrupt(
                            "media purged an order it was not asked to".to_owned(),
                        )),
                    );
                }
                (Err(error), _) => {
                    self.store.failed(&[order_id], &error.to_string()).await?;
                    outcomes.insert(order_id, Err(error));
                }
            }
        }
        for receipt in self.store.complete(&completions).await? {
            tracing::info!(
                order_id = %receipt.order_id,
                workers_masked = receipt.removed.workers_masked,
                objects_deleted = receipt.removed.objects_deleted,
                keys_destroyed = receipt.removed.keys_destroyed,
                "order redacted"
            );
            outcomes.insert(receipt.order_id, Ok(receipt));
        }
        Ok(outcomes)
    }

    /// Asks orders to mask the orders' numbers, `AT_ONCE` per call.
    async fn mask(&self, order_ids: &[OrderId]) -> Result<Outcomes<Masked>, RedactionError> {
        let mut outcomes = Vec::with_capacity(order_ids.len());
        for chunk in order_ids.chunks(AT_ONCE) {
            let answered = self
                .orders
                .clone()
                .mask_national_ids(MaskNationalIdsRequest {
                    order_ids: chunk.iter().map(ToString::to_string).collect(),
                })
                .await
                .map_err(|status| RedactionError::from_call("orders", status))?
                .into_inner()
                .orders
                .into_iter()
                .map(|answer| (answer.order_id, answer.outcome));
            outcomes.extend(per_order(
                chunk,
                answered,
                "orders",
                |outcome| match outcome {
                    masked_order::Outcome::Masked(masked) => {
                        let company_id = CompanyId::parse(&masked.company_id).map_err(|_| {
                            RedactionError::Corrupt(
                                "orders answered with an invalid company id".to_owned(),
                            )
                        })?;
                        Ok(Masked {
                            company_id,
                            workers: masked.workers_total,
                            cause: cause(&masked)?,
                        })
                    }
                    masked_order::Outcome::Refused(refusal) => {
                        Err(match MaskRefusal::try_from(refusal) {
                            Ok(MaskRefusal::NotFound) => RedactionError::UnknownOrder,
                            Ok(MaskRefusal::NotDecided) => RedactionError::NotDecided,
                            _ => RedactionError::Corrupt(format!(
                                "orders refused to mask for reason {refusal}"
                            )),
                        })
                    }
                },
            ));
        }
        Ok(outcomes)
    }

    /// Asks media to destroy the orders' documents, `AT_ONCE` per call.
    async fn purge(&self, order_ids: &[OrderId]) -> Result<Outcomes<Purged>, RedactionError> {
        let mut outcomes = Vec::with_capacity(order_ids.len());
        for chunk in order_ids.chunks(AT_ONCE) {
            let answered = self
                .media
                .clone()
                .purge_order_media(PurgeOrderMediaRequest {
                    order_ids: chunk.iter().map(ToString::to_string).collect(),
                })
                .await
                .map_err(|status| RedactionError::from_call("media", status))?
                .into_inner()
                .orders
                .into_iter()
                .map(|answer| (answer.order_id, answer.outcome));
            outcomes.extend(per_order(
                chunk,
                answered,
                "media",
                |outcome| match outcome {
                    purged_order::Outcome::Purged(purged) => Ok(Purged {
                        objects_deleted: purged.total_objects_deleted,
                        keys_destroyed: purged.total_keys_destroyed,
                    }),
                    purged_order::Outcome::Refused(refusal) => {
                        Err(match PurgeRefusal::try_from(refusal) {
                            Ok(PurgeRefusal::NotFound) => RedactionError::UnknownOrder,
                            Ok(PurgeRefusal::NotDecided) => RedactionError::NotDecided,
                            Ok(PurgeRefusal::ObjectsRemaining) => RedactionError::ObjectsRemaining,
                            _ => RedactionError::Corrupt(format!(
                                "media refused to purge for reason {refusal}"
                            )),
                        })
                    }
                },
            ));
        }
        Ok(outcomes)
    }

    /// Re-drives what fell through: redactions that started but never
    /// finished, and decided orders that were never redacted (their event
    /// was lost or is stuck), once they are `delay` old. An approved order
    /// waits for its print handover, up to the print deadline.
    pub async fn reconcile(&self, delay: Duration) -> Result<usize, RedactionError> {
        let now = Utc::now();
        let cutoff = now - chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::MAX);
        let deadline_cutoff =
            now - chrono::Duration::from_std(self.print_deadline).unwrap_or(chrono::Duration::MAX);
        let mut candidates: HashMap<OrderId, (Option<CompanyId>, Trigger)> = self
            .store
            .unfinished(cutoff)
            .await?
            .into_iter()
            .map(|(order_id, company_id)| (order_id, (company_id, Trigger::Reconciler)))
            .collect();
        for (order_id, company_id) in self.store.past_print_deadline(deadline_cutoff).await? {
            candidates
                .entry(order_id)
                .or_insert((company_id, Trigger::Deadline));
        }
        let awaiting = self
            .orders
            .clone()
            .list_orders_awaiting_redaction(ListOrdersAwaitingRedactionRequest {
                decided_before: Some(hms_proto::time::timestamp(cutoff)),
                page_size: 500,
            })
            .await
            .map_err(|status| RedactionError::from_call("orders", status))?
            .into_inner()
            .orders;
        let listed: Vec<OrderId> = awaiting
            .iter()
            .filter_map(|order| OrderId::parse(&order.order_id).ok())
            .collect();
        let handed_over = self.store.handed_over(&listed).await?;
        for order in awaiting {
            let (Ok(order_id), company_id) = (
                OrderId::parse(&order.order_id),
                CompanyId::parse(&order.company_id).ok(),
            ) else {
                continue;
            };
            if candidates.contains_key(&order_id) {
                continue;
            }
            let trigger = if order.status != OrderStatus::Approved as i32
                || handed_over.contains(&order_id)
            {
                Trigger::Reconciler
            } else {
                let decided_at = order
                    .decided_at
                    .as_ref()
                    .and_then(hms_proto::time::from_timestamp)
                    .unwrap_or(now);
                if decided_at > deadline_cutoff {
                    // Still within its time for the card producer.
                    continue;
                }
                Trigger::Deadline
            };
            candidates.insert(order_id, (company_id, trigger));
        }
        let mut redacted = 0;
        for trigger in [Trigger::Reconciler, Trigger::Deadline] {
            let orders: Vec<OrderRef> = candidates
                .iter()
                .filter(|(_, (_, of))| *of == trigger)
                .map(|(order_id, (company_id, _))| (*order_id, *company_id))
                .collect();
            if orders.is_empty() {
                continue;
            }
            let outcomes = match self.redact(&orders, trigger).await {
                Ok(outcomes) => outcomes,
                // Perhaps for one order's sake: each on its own, so the
                // others are not held up.
                Err(error) => {
                    tracing::warn!(%error, orders = orders.len(), "reconciler batch failed; redacting its orders one by one");
                    let mut outcomes = Vec::with_capacity(orders.len());
                    for (order_id, company_id) in orders {
                        outcomes.push((
                            order_id,
                            self.redact_one(order_id, company_id, trigger).await,
                        ));
                    }
                    outcomes
                }
            };
            for (order_id, outcome) in outcomes {
                match outcome {
                    Ok(_) => redacted += 1,
                    Err(error) => {
                        tracing::warn!(%order_id, %error, "reconciler could not redact an order")
                    }
                }
            }
        }
        Ok(redacted)
    }

    /// Runs [`reconcile`](Self::reconcile) every `interval` until shutdown.
    pub async fn reconcile_forever(
        self,
        interval: Duration,
        delay: Duration,
        shutdown: CancellationToken,
    ) {
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(interval) => {}
            }
            match self.reconcile(delay).await {
                Ok(0) => {}
                Ok(redacted) => tracing::info!(redacted, "reconciler redacted missed orders"),
                Err(error) => tracing::warn!(%error, "reconciler run failed"),
            }
        }
    }
}

/// What a batch call to `service` answered for each order of `chunk`, in
/// order, read by `read`; an order it left out is an error.
fn per_order<A, T>(
    chunk: &[OrderId],
    answered: impl Iterator<Item = (String, Option<A>)>,
    service: &str,
    read: impl Fn(A) -> Result<T, RedactionError>,
) -> Outcomes<T> {
    let mut answers: HashMap<String, Option<A>> = answered.collect();
    chunk
        .iter()
        .map(|order_id| {
            let outcome = match answers.remove(&order_id.to_string()).flatten() {
                Some(answer) => read(answer),
                None => Err(RedactionError::Corrupt(format!(
                    "{service} did not answer for an order"
                ))),
            };
            (*order_id, outcome)
        })
        .collect()
}

/// Outcomes keyed by order, in the order of `ids`; an order without one
/// gets `missing`'s.
fn in_order<T>(
    ids: &[OrderId],
    mut outcomes: HashMap<OrderId, Result<T, RedactionError>>,
    missing: impl Fn(OrderId) -> Result<T, RedactionError>,
) -> Outcomes<T> {
    ids.iter()
        .map(|order_id| {
            let outcome = outcomes
                .remove(order_id)
                .unwrap_or_else(|| missing(*order_id));
            (*order_id, outcome)
        })
        .collect()
}

/// Each order once, the first time it is named (events may name an order
/// twice).
fn distinct(orders: &[OrderRef]) -> Vec<OrderRef> {
    let mut seen = std::collections::HashSet::new();
    orders
        .iter()
        .filter(|(order_id, _)| seen.insert(*order_id))
        .copied()
        .collect()
}
