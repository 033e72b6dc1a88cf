//! Ordering, the use cases: an order is created (once per idempotency
//! key), filled, submitted once every worker has every document, and
//! decided by the back office. Who may ask is checked before these are
//! called ([`crate::grpc`]); the rules of the order's life are in
//! [`crate::domain`].

use hms_auth::UserCaller;
use hms_domain::{OrderId, Reason, WorkerId};

use crate::domain::{
    NewOrder, NewWorker, Order, OrderStatus, Transition, describe_missing, missing_documents,
};
use crate::error::OrderError;
use crate::media::Media;
use crate::storage::Store;

#[derive(Clone)]
pub struct Ordering {
    store: Store,
    media: Media,
}

impl Ordering {
    pub fn new(store: Store, media: Media) -> Self {
        Self { store, media }
    }

    /// A draft order, or the one an earlier call with the same key made.
    pub async fn create(&self, new: NewOrder) -> Result<Order, OrderError> {
        self.store.create(new).await
    }

    /// Adds a worker to a draft; the order and the new worker's id.
    pub async fn add_worker(
        &self,
        order_id: OrderId,
        worker: NewWorker,
    ) -> Result<(Order, WorkerId), OrderError> {
        self.store.add_worker(order_id, worker).await
    }

    /// Submits an order once media holds a passport photo, an ID document
    /// and a signature for every worker, and its company is approved. A
    /// worker added meanwhile makes the submit fail rather than slip
    /// through unchecked.
    pub async fn submit(&self, order: Order, by: &UserCaller) -> Result<Order, OrderError> {
        let checked = self.documents_complete(&order).await?;
        if order.status == OrderStatus::Draft {
            self.store.ensure_company_approved(order.company_id).await?;
        }
        self.store
            .transition(order.id, Transition::Submit, by, |now| {
                let workers: Vec<WorkerId> = now.workers.iter().map(|w| w.id).collect();
                if workers == checked {
                    Ok(())
                } else {
                    Err(OrderError::Transition(
                        "workers changed while submitting; try again",
                    ))
                }
            })
            .await
    }

    pub async fn approve(&self, order_id: OrderId, by: &UserCaller) -> Result<Order, OrderError> {
        self.store
            .transition(order_id, Transition::Approve, by, |_| Ok(()))
            .await
    }

    pub async fn reject(
        &self,
        order_id: OrderId,
        reason: Reason,
        by: &UserCaller,
    ) -> Result<Order, OrderError> {
        self.store
            .transition(order_id, Transition::Reject(reason), by, |_| Ok(()))
            .await
    }

    /// Asks media which documents each worker has and refuses if any lacks
    /// one. The worker ids checked, so the submit can make sure nobody was
    /// added in between.
    async fn documents_complete(&self, order: &Order) -> Result<Vec<WorkerId>, OrderError> {
        if order.status != OrderStatus::Draft {
            return Ok(order.workers.iter().map(|w| w.id).collect());
        }
        if order.workers.is_empty() {
            return Err(OrderError::NoWorkers);
        }
        let stored = self.media.documents(order.id).await?;
        let missing = missing_documents(&order.workers, &stored);
        if !missing.is_empty() {
            return Err(OrderError::DocumentsMissing(describe_missing(&missing)));
        }
        Ok(order.workers.iter().map(|w| w.id).collect())
    }
}
