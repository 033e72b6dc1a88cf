//! Redacting one order: mask its national identity numbers (orders), then
//! destroy its documents (media), then keep a receipt and announce it. Each
//! step is idempotent, so a redaction interrupted anywhere is simply run
//! again, by the event's redelivery or by the reconciler.
//!
//! An approved order's cards are printed with its photos and signatures,
//! so its numbers are masked at once but its documents are destroyed only
//! once the card producer has them (cards announces the handover), or when
//! the print deadline has passed without it.

use std::time::Duration;

use chrono::Utc;
use hms_domain::{CompanyId, OrderId};
use hms_grpc::client::ServiceChannel;
use hms_proto::media::v1::PurgeOrderMediaRequest;
use hms_proto::media::v1::media_service_client::MediaServiceClient;
use hms_proto::orders::v1::order_internal_service_client::OrderInternalServiceClient;
use hms_proto::orders::v1::{
    ListOrdersAwaitingRedactionRequest, MaskNationalIdsRequest, OrderStatus,
};
use tokio_util::sync::CancellationToken;

use crate::domain::{Receipt, Removed, Trigger};
use crate::error::RedactionError;
use crate::storage::Store;

/// How far a failed attempt got.
enum Failure {
    /// Nothing was removed: orders refused or does not know the order.
    BeforeRemoving(RedactionError),
    /// Some personal data may be gone; the attempt must be finished.
    Removing(RedactionError),
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

    /// An approved order: its numbers are masked now; its documents wait
    /// for the handover, unless that came first.
    #[tracing::instrument(name = "redaction.approved", skip(self, company_id), fields(%order_id))]
    pub async fn approved(
        &self,
        order_id: OrderId,
        company_id: Option<CompanyId>,
    ) -> Result<(), RedactionError> {
        if self.store.handed_over(order_id).await? {
            return self
                .redact(order_id, company_id, Trigger::Handover)
                .await
                .map(drop);
        }
        if self.store.receipt(order_id).await?.is_some() {
            return Ok(());
        }
        self.store.await_print(order_id, company_id).await?;
        self.orders
            .clone()
            .mask_national_ids(MaskNationalIdsRequest {
                order_id: order_id.to_string(),
            })
            .await
            .map_err(|status| RedactionError::from_call("orders", status))?;
        tracing::info!("numbers masked; the documents wait for the print handover");
        Ok(())
    }

    /// The card producer has the order's print material: nothing keeps its
    /// documents now.
    pub async fn handed_over(
        &self,
        order_id: OrderId,
        company_id: Option<CompanyId>,
    ) -> Result<Receipt, RedactionError> {
        self.store.record_handover(order_id, company_id).await?;
        self.redact(order_id, company_id, Trigger::Handover).await
    }

    /// When an approved order began waiting for its print handover.
    pub async fn approved_at(
        &self,
        order_id: OrderId,
    ) -> Result<Option<chrono::DateTime<Utc>>, RedactionError> {
        self.store.approved_at(order_id).await
    }

    pub async fn receipt(&self, order_id: OrderId) -> Result<Option<Receipt>, RedactionError> {
        self.store.receipt(order_id).await
    }

    /// Redacts a decided order, or returns its receipt if that was done.
    #[tracing::instrument(name = "redaction.redact", skip(self, company_id), fields(%order_id, trigger = trigger.as_str()))]
    pub async fn redact(
        &self,
        order_id: OrderId,
        company_id: Option<CompanyId>,
        trigger: Trigger,
    ) -> Result<Receipt, RedactionError> {
        if let Some(receipt) = self.store.receipt(order_id).await? {
            tracing::info!("already redacted");
            return Ok(receipt);
        }
        self.store.begin(order_id, company_id, trigger).await?;
        let outcome = self.remove(order_id).await;
        match outcome {
            Ok((company_id, removed)) => {
                let receipt = self.store.complete(order_id, company_id, removed).await?;
                tracing::info!(
                    workers_masked = removed.workers_masked,
                    objects_deleted = removed.objects_deleted,
                    keys_destroyed = removed.keys_destroyed,
                    "order redacted"
                );
                Ok(receipt)
            }
            Err(Failure::BeforeRemoving(error)) => {
                // orders does not know the order or it is not decided:
                // nothing was removed, so there is nothing to re-drive.
                self.store.abandon(order_id).await?;
                Err(error)
            }
            Err(Failure::Removing(error)) => {
                self.store.failed(order_id, &error.to_string()).await?;
                Err(error)
            }
        }
    }

    /// Masks first: orders refuses orders that are not decided, so nothing
    /// is destroyed for an order that is still in progress.
    async fn remove(&self, order_id: OrderId) -> Result<(CompanyId, Removed), Failure> {
        let masked = self
            .orders
            .clone()
            .mask_national_ids(MaskNationalIdsRequest {
                order_id: order_id.to_string(),
            })
            .await
            .map_err(|status| {
                let untouched = matches!(
                    status.code(),
                    tonic::Code::NotFound | tonic::Code::FailedPrecondition
                );
                let error = RedactionError::from_call("orders", status);
                if untouched {
                    Failure::BeforeRemoving(error)
                } else {
                    Failure::Removing(error)
                }
            })?
            .into_inner();
        let company_id = CompanyId::parse(&masked.company_id).map_err(|_| {
            Failure::Removing(RedactionError::Corrupt(
                "orders answered with an invalid company id".to_owned(),
            ))
        })?;
        let purged = self
            .media
            .clone()
            .purge_order_media(PurgeOrderMediaRequest {
                order_id: order_id.to_string(),
            })
            .await
            .map_err(|status| Failure::Removing(RedactionError::from_call("media", status)))?
            .into_inner();
        Ok((
            company_id,
            Removed {
                workers_masked: masked.workers_total,
                objects_deleted: purged.total_objects_deleted,
                keys_destroyed: purged.total_keys_destroyed,
            },
        ))
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
        let mut candidates: Vec<(OrderId, Option<CompanyId>, Trigger)> = self
            .store
            .unfinished(cutoff)
            .await?
            .into_iter()
            .map(|(order_id, company_id)| (order_id, company_id, Trigger::Reconciler))
            .collect();
        for (order_id, company_id) in self.store.past_print_deadline(deadline_cutoff).await? {
            if !candidates.iter().any(|(id, ..)| *id == order_id) {
                candidates.push((order_id, company_id, Trigger::Deadline));
            }
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
        for order in awaiting {
            let (Ok(order_id), company_id) = (
                OrderId::parse(&order.order_id),
                CompanyId::parse(&order.company_id).ok(),
            ) else {
                continue;
            };
            if candidates.iter().any(|(id, ..)| *id == order_id) {
                continue;
            }
            let trigger = if order.status != OrderStatus::Approved as i32
                || self.store.handed_over(order_id).await?
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
            candidates.push((order_id, company_id, trigger));
        }
        let mut redacted = 0;
        for (order_id, company_id, trigger) in candidates {
            match self.redact(order_id, company_id, trigger).await {
                Ok(_) => redacted += 1,
                Err(error) => {
                    tracing::warn!(%order_id, %error, "reconciler could not redact an order")
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
