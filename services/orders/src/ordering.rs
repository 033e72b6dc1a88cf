//! Ordering, the use cases: an order is created (once per idempotency
//! key), filled, submitted once every worker has every document, and
//! decided by the back office, which may first send it back with documents
//! to replace. Who may ask is checked before these are
//! called ([`crate::grpc`]); the rules of the order's life are in
//! [`crate::domain`].

use hms_auth::UserCaller;
use hms_domain::{OrderId, Reason, WorkerId};

use crate::checking::Checker;
use crate::domain::{
    DocumentRejection, NewOrder, NewWorker, NotApprovable, Order, OrderStatus, ReviewError,
    Transition, describe_missing, missing_documents, register_verdict, review,
};
use crate::error::OrderError;
use crate::identity::Subjects;
use crate::media::Media;
use crate::storage::Store;

#[derive(Clone)]
pub struct Ordering {
    store: Store,
    media: Media,
    subjects: Subjects,
    checker: Checker,
    /// The oldest register check an approval may rest on.
    check_max_age: std::time::Duration,
}

impl Ordering {
    pub fn new(
        store: Store,
        media: Media,
        subjects: Subjects,
        checker: Checker,
        check_max_age: std::time::Duration,
    ) -> Self {
        Self {
            store,
            media,
            subjects,
            checker,
            check_max_age,
        }
    }

    /// Runs the order's due register checks now, so that registers that
    /// answer have answered before anyone looks; what they could not
    /// answer the checker tries again later.
    async fn check_now(&self, order_id: OrderId) {
        if let Err(error) = self.checker.check_order(order_id).await {
            tracing::warn!(%order_id, %error, "register checks left to the checker");
        }
    }

    /// A draft order, or the one an earlier call with the same key made.
    pub async fn create(&self, new: NewOrder, by: &UserCaller) -> Result<Order, OrderError> {
        let subjects = self
            .subjects
            .keys(new.workers.iter().map(|worker| &worker.national_id))
            .await?;
        self.store.create(new, &subjects, by).await
    }

    /// Adds a worker to a draft; the order and the new worker's id.
    pub async fn add_worker(
        &self,
        order_id: OrderId,
        worker: NewWorker,
        by: &UserCaller,
    ) -> Result<(Order, WorkerId), OrderError> {
        let subject = self.subjects.keys([&worker.national_id]).await?;
        let subject = subject
            .into_iter()
            .next()
            .ok_or_else(|| OrderError::Corrupt("no subject key for the worker".to_owned()))?;
        self.store.add_worker(order_id, worker, &subject, by).await
    }

    /// Takes a worker off an order not yet decided.
    pub async fn remove_worker(
        &self,
        order_id: OrderId,
        worker_id: WorkerId,
    ) -> Result<Order, OrderError> {
        self.store.remove_worker(order_id, worker_id).await
    }

    /// Submits an order once media holds a passport photo, an ID document
    /// and a signature for every worker, none of them rejected, and its
    /// company is approved. A worker added meanwhile makes the submit fail
    /// rather than slip through unchecked.
    pub async fn submit(&self, order: Order, by: &UserCaller) -> Result<Order, OrderError> {
        let checked = self.documents_complete(&order).await?;
        if order.status.is_open() {
            self.store.ensure_company_approved(order.company_id).await?;
        }
        let submitted = self
            .store
            .transition(order.id, Transition::Submit, &by.into(), |now| {
                let workers: Vec<WorkerId> = now.workers.iter().map(|w| w.id).collect();
                if workers == checked {
                    Ok(())
                } else {
                    Err(OrderError::Transition(
                        "workers changed while submitting; try again",
                    ))
                }
            })
            .await?;
        if submitted.status != OrderStatus::Submitted {
            return Ok(submitted);
        }
        self.check_now(submitted.id).await;
        self.store.get(submitted.id).await
    }

    /// Approves a submitted order on its workers' register checks: done,
    /// none refusing, and fresh; checks grown too old are done again first.
    pub async fn approve(&self, order_id: OrderId, by: &UserCaller) -> Result<Order, OrderError> {
        match self.approve_on_checks(order_id, by).await {
            Err(OrderError::NotApprovable(NotApprovable::Stale)) => {
                self.store.recheck(order_id).await?;
                self.check_now(order_id).await;
                self.approve_on_checks(order_id, by).await
            }
            decided => decided,
        }
    }

    /// The approval itself, judged on the checks with the order locked.
    async fn approve_on_checks(
        &self,
        order_id: OrderId,
        by: &UserCaller,
    ) -> Result<Order, OrderError> {
        let max_age = self.check_max_age;
        self.store
            .transition(order_id, Transition::Approve, &by.into(), |now| {
                register_verdict(&now.workers, chrono::Utc::now(), max_age).map_err(Into::into)
            })
            .await
    }

    /// Sends a submitted order back with the documents to replace; the
    /// others are accepted. Media is asked which documents the order has,
    /// so only those can be named.
    pub async fn return_for_correction(
        &self,
        order_id: OrderId,
        rejections: Vec<DocumentRejection>,
        by: &UserCaller,
    ) -> Result<Order, OrderError> {
        let order = self.store.get(order_id).await?;
        // Refused (or a retry answered) before media is asked anything.
        if Transition::ReturnForCorrection
            .next_status(order.status)?
            .is_none()
        {
            return Ok(order);
        }
        let documents = self.media.documents(order_id).await?;
        let decisions = review(&documents, rejections).map_err(|error| match error {
            ReviewError::NothingRejected => OrderError::Review("rejections".to_owned(), error),
            ReviewError::UnknownDocument(index) | ReviewError::SameDocumentTwice(index) => {
                OrderError::Review(format!("rejections[{index}].document_id"), error)
            }
        })?;
        self.store
            .return_for_correction(order_id, decisions, &by.into())
            .await
    }

    pub async fn reject(
        &self,
        order_id: OrderId,
        reason: Reason,
        by: &UserCaller,
    ) -> Result<Order, OrderError> {
        self.store
            .transition(order_id, Transition::Reject(reason), &by.into(), |_| Ok(()))
            .await
    }

    /// Asks media which documents each worker has and refuses if any lacks
    /// one. The worker ids checked, so the submit can make sure nobody was
    /// added in between.
    async fn documents_complete(&self, order: &Order) -> Result<Vec<WorkerId>, OrderError> {
        if !order.status.is_open() {
            return Ok(order.workers.iter().map(|w| w.id).collect());
        }
        if order.workers.is_empty() {
            return Err(OrderError::NoWorkers);
        }
        // A rejected document may not be destroyed yet: it counts as
        // missing all the same.
        let rejected: Vec<_> = order.rejected_documents().collect();
        let stored: Vec<_> = self
            .media
            .documents(order.id)
            .await?
            .into_iter()
            .filter(|doc| !rejected.contains(&doc.id))
            .map(|doc| (doc.worker_id, doc.kind))
            .collect();
        let missing = missing_documents(&order.workers, &stored);
        if !missing.is_empty() {
            return Err(OrderError::DocumentsMissing(describe_missing(&missing)));
        }
        Ok(order.workers.iter().map(|w| w.id).collect())
    }
}
