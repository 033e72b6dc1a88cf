//! Printing before forgetting. The physical card carries the holder's photo
//! and signature, and redaction destroys them once the order is decided, so
//! between approval and the purge the print material goes to the card
//! producer, exactly once per order:
//!
//! 1. Issuing the order's cards queues its print job in the same
//!    transaction (and wakes this worker through `NOTIFY`).
//! 2. The worker leases due jobs and reads their cards together, then for
//!    each job reads each card's photo and signature from media (only this
//!    service may), and sends the job with the order as its idempotency
//!    key: a crash anywhere sends the same job again, which the producer
//!    takes as the one it has.
//! 3. Accepted: the job and its cards are marked handed over and
//!    `print_handed_over` goes out with them (jobs accepted while another
//!    is being recorded are recorded together, in one transaction);
//!    redaction purges on it.
//!    Not now: tried again later, waiting longer each time.
//! 4. The photos gone first (redaction's deadline passed, `order_redacted`
//!    arrived, or media says so): the job is abandoned, its cards need a
//!    new photo, and `print_abandoned` tells the company and the back
//!    office.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use hms_db::work::Backoff;
use hms_domain::OrderId;
use hms_grpc::client::ServiceChannel;
use hms_proto::events::v1 as events;
use hms_proto::media::v1::GetPrintMaterialRequest;
use hms_proto::media::v1::media_service_client::MediaServiceClient;
use sqlx::PgConnection;
use tokio::sync::{Semaphore, oneshot};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use uuid::Uuid;

use crate::error::CardsError;
use crate::producer::{Handover, Image, PrintCard, PrintJob, Producer};
use crate::storage::{CardToPrint, PRINT_JOBS, PrintJobLease, Store};

/// Why a job cannot be sent now, or ever.
enum Failure {
    /// Tried again later.
    NotNow(String),
    /// Never: the job is abandoned and its cards need a new photo.
    Never(String),
}

/// Photos are up to a few megabytes; media sends one card's at a time.
const MAX_MATERIAL_BYTES: usize = 32 * 1024 * 1024;

#[derive(Clone)]
pub struct Printer {
    store: Store,
    media: MediaServiceClient<ServiceChannel>,
    producer: Producer,
    backoff: Backoff,
    /// The longest one attempt may take: the reads from media and the send.
    attempt_timeout: Duration,
    /// A lease outlasts an attempt.
    lease: Duration,
    /// Jobs sent side by side (`HMS_PRINT_CONCURRENCY`): each waits mostly
    /// on media and the producer, so one at a time would make the
    /// producer's round trip the pace of every purge behind it. Their
    /// print material is held meanwhile, so this also bounds memory.
    concurrency: usize,
    /// A slot for each job on its way, shared by the printer's clones.
    slots: Arc<Semaphore>,
    /// Handovers the producer accepted, waiting to be recorded.
    accepted: Arc<std::sync::Mutex<Vec<Accepted>>>,
    /// Held by the job recording the accepted handovers, for all of them.
    recording: Arc<tokio::sync::Mutex<()>>,
}

/// A handover to record, and where to say how that went.
struct Accepted {
    order_id: OrderId,
    producer_job_id: String,
    recorded: oneshot::Sender<Result<(), String>>,
}

impl Printer {
    pub fn new(
        store: Store,
        media: ServiceChannel,
        producer: Producer,
        backoff: Backoff,
        send_timeout: Duration,
        concurrency: usize,
    ) -> Self {
        Self {
            store,
            media: MediaServiceClient::new(media).max_decoding_message_size(MAX_MATERIAL_BYTES),
            producer,
            backoff,
            attempt_timeout: send_timeout * 2,
            lease: send_timeout * 2 + Duration::from_secs(10),
            concurrency,
            slots: Arc::new(Semaphore::new(concurrency)),
            accepted: Arc::default(),
            recording: Arc::default(),
        }
    }

    /// Sends due print jobs until shutdown, up to `concurrency` at once,
    /// then lets those in hand finish (within an attempt's timeout).
    pub async fn run(self, shutdown: CancellationToken) {
        metrics::describe_histogram!(
            "hms_print_seconds",
            metrics::Unit::Seconds,
            "Attempts to hand a print job to the card producer (reading its photos and sending it), by outcome (handed_over, later, abandoned)"
        );
        hms_db::work::run_woken(&PRINT_JOBS, shutdown, || self.round()).await;
        let everything = u32::try_from(self.concurrency).unwrap_or(u32::MAX);
        // Not finished in time: the lease runs out and the job is sent
        // again, which the producer recognises by its key.
        let _ =
            tokio::time::timeout(self.attempt_timeout, self.slots.acquire_many(everything)).await;
    }

    /// Leases as many due jobs as there are free slots (waiting for one if
    /// none is) and sends each in a task of its own, so a job that becomes
    /// due while others are on their way waits for a slot, not for the
    /// slowest of a batch. How many it leased.
    pub async fn round(&self) -> Result<usize, CardsError> {
        let Ok(first) = self.slots.clone().acquire_owned().await else {
            return Ok(0);
        };
        let mut slots = vec![first];
        while let Ok(slot) = self.slots.clone().try_acquire_owned() {
            slots.push(slot);
        }
        let lease_id = Uuid::new_v4();
        let batch = i64::try_from(slots.len()).unwrap_or(i64::MAX);
        let due = self
            .store
            .lease_print_jobs(batch, self.lease, lease_id)
            .await?;
        let leased = due.len();
        if leased == 0 {
            return Ok(0);
        }
        // The round's cards in one read; a failed read fails each job's
        // attempt, as it would have failed alone.
        let order_ids: Vec<OrderId> = due.iter().map(|job| job.order_id).collect();
        let mut cards = self
            .store
            .cards_to_print(&order_ids)
            .await
            .map_err(|error| error.to_string());
        // Slots beyond the jobs found are given back as they drop here; a
        // job beyond the slots (the lease never gives more than asked for)
        // waits for one rather than being left leased and unsent.
        let mut slots = slots.into_iter();
        for job in due {
            let slot = match slots.next() {
                Some(slot) => slot,
                None => match self.slots.clone().acquire_owned().await {
                    Ok(slot) => slot,
                    Err(_) => break,
                },
            };
            let job_cards = match &mut cards {
                Ok(by_order) => Ok(by_order.remove(&job.order_id).unwrap_or_default()),
                Err(error) => Err(error.clone()),
            };
            let span = tracing::info_span!("cards.print", order_id = %job.order_id, attempt = job.attempts);
            hms_telemetry::continue_from_stored(&span, &job.trace_context);
            let printer = self.clone();
            tokio::spawn(
                async move {
                    printer.print(&job, job_cards, lease_id).await;
                    drop(slot);
                }
                .instrument(span),
            );
        }
        Ok(leased)
    }

    async fn print(
        &self,
        job: &PrintJobLease,
        cards: Result<Vec<CardToPrint>, String>,
        lease_id: Uuid,
    ) {
        let started = std::time::Instant::now();
        let attempt = tokio::time::timeout(self.attempt_timeout, self.hand_over(job, cards))
            .await
            .unwrap_or_else(|_| Err(Failure::NotNow("print attempt timed out".to_owned())));
        let outcome = match &attempt {
            Ok(_) => "handed_over",
            Err(Failure::NotNow(_)) => "later",
            Err(Failure::Never(_)) => "abandoned",
        };
        metrics::histogram!("hms_print_seconds", "outcome" => outcome)
            .record(started.elapsed().as_secs_f64());
        let recorded = match attempt {
            Ok(job_id) => self
                .handed_over(job.order_id, &job_id)
                .await
                .map(|()| "handed over"),
            Err(Failure::NotNow(reason)) => {
                tracing::warn!(%reason, "print job not handed over yet");
                let wait = self.backoff.wait(job.attempts, rand::random());
                self.store
                    .print_later(job.order_id, lease_id, wait, &reason)
                    .await
                    .map(|_| "tried again later")
                    .map_err(|error| error.to_string())
            }
            Err(Failure::Never(reason)) => {
                tracing::warn!(%reason, "print job abandoned");
                self.abandon(job.order_id, &reason)
                    .await
                    .map(|_| "abandoned")
                    .map_err(|error| error.to_string())
            }
        };
        match recorded {
            Ok(outcome) => tracing::info!(outcome, "print job attempted"),
            // The lease runs out and the job is sent again; the producer
            // knows it by its key.
            Err(error) => tracing::warn!(%error, "cannot record a print attempt"),
        }
    }

    /// Records the handover and announces it, once. Jobs accepted while
    /// another job records theirs are recorded together next, in one
    /// transaction: a commit per few jobs, not one each.
    async fn handed_over(&self, order_id: OrderId, producer_job_id: &str) -> Result<(), String> {
        let (recorded, outcome) = oneshot::channel();
        self.accepted
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(Accepted {
                order_id,
                producer_job_id: producer_job_id.to_owned(),
                recorded,
            });
        {
            // Whoever holds it records everything accepted so far, this job's
            // handover included unless an earlier holder took it.
            let _recording = self.recording.lock().await;
            let batch = std::mem::take(
                &mut *self
                    .accepted
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner),
            );
            if !batch.is_empty() {
                let result = self
                    .record_handovers(&batch)
                    .await
                    .map_err(|error| error.to_string());
                for accepted in batch {
                    let _ = accepted.recorded.send(result.clone());
                }
            }
        }
        outcome
            .await
            .unwrap_or_else(|_| Err("the handover was not recorded".to_owned()))
    }

    async fn record_handovers(&self, batch: &[Accepted]) -> Result<(), CardsError> {
        let handovers: Vec<(OrderId, String)> = batch
            .iter()
            .map(|accepted| (accepted.order_id, accepted.producer_job_id.clone()))
            .collect();
        let mut tx = self.store.pool.begin().await?;
        let now = Some(hms_proto::time::timestamp(Utc::now()));
        let announced: Vec<events::PrintHandedOver> = Store::mark_handed_over(&mut tx, &handovers)
            .await?
            .into_iter()
            .map(|handed| events::PrintHandedOver {
                order_id: handed.order_id.to_string(),
                company_id: handed.company_id.to_string(),
                producer_job_id: handed.producer_job_id,
                cards: handed.cards,
                occurred_at: now,
            })
            .collect();
        hms_events::enqueue_all(&mut tx, &announced).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn abandon(&self, order_id: OrderId, reason: &str) -> Result<(), CardsError> {
        let mut tx = self.store.pool.begin().await?;
        abandon(&mut tx, order_id, reason).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Reads the material and sends the job; the producer's id for it.
    async fn hand_over(
        &self,
        job: &PrintJobLease,
        cards: Result<Vec<CardToPrint>, String>,
    ) -> Result<String, Failure> {
        let cards = cards.map_err(Failure::NotNow)?;
        if cards.is_empty() {
            return Err(Failure::Never("the order has no cards".to_owned()));
        }
        let mut printed = Vec::with_capacity(cards.len());
        for card in cards {
            let material = self
                .media
                .clone()
                .get_print_material(GetPrintMaterialRequest {
                    order_id: job.order_id.to_string(),
                    worker_id: card.worker_id.to_string(),
                })
                .await
                .map_err(|status| match status.code() {
                    // Purged, or never there: waiting brings nothing back.
                    tonic::Code::FailedPrecondition | tonic::Code::NotFound => {
                        Failure::Never(format!("media: {}", status.message()))
                    }
                    code => Failure::NotNow(format!("media: {code:?}")),
                })?
                .into_inner();
            let (Some(photo), Some(signature)) = (material.photo, material.signature) else {
                return Err(Failure::Never("media answered without an image".to_owned()));
            };
            printed.push(PrintCard {
                card_number: card.card_number.to_string(),
                holder_name: card.holder_name,
                employer_name: card.employer_name,
                employer_org_number: card.employer_org_number,
                card_type: card.card_type.as_str(),
                valid_until: card.valid_until.date_naive().to_string(),
                photo: Image::new(photo.content_type, &photo.data),
                signature: Image::new(signature.content_type, &signature.data),
            });
        }
        let print_job = PrintJob {
            reference: job.order_id.to_string(),
            cards: printed,
        };
        match self.producer.submit(job.order_id, &print_job).await {
            Handover::Accepted { job_id } => Ok(job_id),
            Handover::NotNow(reason) => Err(Failure::NotNow(reason)),
            Handover::Refused(reason) => Err(Failure::Never(reason)),
        }
    }
}

/// Gives up an order's print job, in `tx`: its cards need a new photo, and
/// `print_abandoned` says so. Nothing if the job was handed over or given
/// up already.
pub async fn abandon(
    tx: &mut PgConnection,
    order_id: OrderId,
    reason: &str,
) -> Result<bool, CardsError> {
    let Some((company_id, cards)) = Store::abandon_print(tx, order_id, reason).await? else {
        return Ok(false);
    };
    hms_events::enqueue(
        tx,
        &events::PrintAbandoned {
            order_id: order_id.to_string(),
            company_id: company_id.to_string(),
            cards: cards
                .into_iter()
                .map(|(card_number, holder_name)| events::UnprintedCard {
                    card_number,
                    holder_name,
                })
                .collect(),
            reason: reason.to_owned(),
            occurred_at: Some(hms_proto::time::timestamp(Utc::now())),
        },
    )
    .await?;
    Ok(true)
}
