//! Register checks: each worker of a submitted order is looked up in
//! Folkeregisteret (exists, alive, the name on the order is theirs) and
//! Aa-registeret (employed by the company today). Submitting queues the
//! checks and runs them at once, so an answering register settles them
//! before the back office looks; this worker takes what that left (a
//! register that did not answer, a crash in between). A register that does not answer leaves a
//! check pending, tried again later, waiting longer each time: a check
//! never passes for want of an answer, and an order is not approved on a
//! pending one.

use std::time::Duration;

use chrono::Utc;
use futures::StreamExt;
use hms_db::work::Backoff;
use hms_domain::OrderId;
use tokio_util::sync::CancellationToken;

use crate::domain::{RegisterCheck, names_match};
use crate::error::OrderError;
use crate::registers::Registers;
use crate::storage::{CheckJob, Store};

/// Checks taken per round, and looked up side by side.
const ROUND: u32 = 50;
const AT_ONCE: usize = 8;
/// A lease outlasts both lookups.
const LEASE: Duration = Duration::from_secs(60);

#[derive(Clone)]
pub struct Checker {
    store: Store,
    registers: Registers,
    backoff: Backoff,
}

impl Checker {
    pub fn new(store: Store, registers: Registers) -> Self {
        Self {
            store,
            registers,
            backoff: Backoff {
                base: Duration::from_secs(2),
                max: Duration::from_secs(300),
            },
        }
    }

    /// Runs the due checks of one order now; how many were taken.
    pub async fn check_order(&self, order_id: OrderId) -> Result<usize, OrderError> {
        self.round_of(Some(order_id)).await
    }

    async fn round_of(&self, order: Option<OrderId>) -> Result<usize, OrderError> {
        let jobs = self.store.claim_checks(order, ROUND, LEASE).await?;
        let taken = jobs.len();
        let outcomes: Vec<Result<(), OrderError>> = futures::stream::iter(jobs)
            .map(|job| self.check(job))
            .buffer_unordered(AT_ONCE)
            .collect()
            .await;
        outcomes.into_iter().collect::<Result<(), _>>()?;
        Ok(taken)
    }

    /// Looks one worker up in both registers and records what they said,
    /// or when to ask again.
    async fn check(&self, job: CheckJob) -> Result<(), OrderError> {
        let Some(org_number) = job.org_number.as_deref() else {
            let wait = self
                .backoff
                .wait(u32::try_from(job.attempts).unwrap_or(1), rand::random());
            return self
                .store
                .check_later(job.worker_id, wait, "the company's organisation number")
                .await;
        };
        let today = Utc::now().date_naive();
        let (person, employment) = tokio::join!(
            self.registers.person(&job.national_id),
            self.registers
                .employment(&job.national_id, org_number, today),
        );
        match (person, employment) {
            (Ok(person), Ok(employment)) => {
                let check = RegisterCheck {
                    person: person.finding,
                    name_matches: person
                        .name
                        .as_deref()
                        .is_some_and(|registered| names_match(&job.name, registered)),
                    employment,
                    checked_at: Utc::now(),
                };
                tracing::info!(
                    worker_id = %job.worker_id,
                    person = check.person.as_str(),
                    name_matches = check.name_matches,
                    employment = check.employment.as_str(),
                    "worker checked against the registers"
                );
                self.store.record_check(job.worker_id, &check).await
            }
            (Err(unanswered), _) | (_, Err(unanswered)) => {
                let wait = self
                    .backoff
                    .wait(u32::try_from(job.attempts).unwrap_or(1), rand::random());
                tracing::warn!(worker_id = %job.worker_id, reason = %unanswered, "register check waits");
                self.store
                    .check_later(job.worker_id, wait, &unanswered.to_string())
                    .await
            }
        }
    }

    /// Runs due checks every `interval`, and again at once while it finds
    /// some, until shutdown.
    pub async fn run(self, interval: Duration, shutdown: CancellationToken) {
        hms_db::work::run_every(interval, shutdown, || self.round_of(None)).await;
    }
}
