//! Redacting one order: mask its national identity numbers (orders), then
//! destroy its documents (media), then keep a receipt and announce it. Each
//! step is idempotent, so a redaction interrupted anywhere is simply run
//! again, by the event's redelivery or by the reconciler.

use std::time::Duration;

use chrono::Utc;
use hms_domain::{CompanyId, OrderId};
use hms_grpc::client::ServiceChannel;
use hms_proto::media::v1::PurgeOrderMediaRequest;
use hms_proto::media::v1::media_service_client::MediaServiceClient;
use hms_proto::orders::v1::order_internal_service_client::OrderInternalServiceClient;
use hms_proto::orders::v1::{ListOrdersAwaitingRedactionRequest, MaskNationalIdsRequest};
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
}

impl Redactor {
    pub fn new(
        store: Store,
        orders: OrderInternalServiceClient<ServiceChannel>,
        media: MediaServiceClient<ServiceChannel>,
    ) -> Self {
        Self {
            store,
            orders,
            media,
        }
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
    /// was lost or is stuck), once they are `delay` old.
    pub async fn reconcile(&self, delay: Duration) -> Result<usize, RedactionError> {
        let cutoff =
            Utc::now() - chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::MAX);
        let mut candidates = self.store.unfinished(cutoff).await?;
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
            if !candidates.iter().any(|(id, _)| *id == order_id) {
                candidates.push((order_id, company_id));
            }
        }
        let mut redacted = 0;
        for (order_id, company_id) in candidates {
            match self.redact(order_id, company_id, Trigger::Reconciler).await {
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
