//! The worker that sends what the event handlers recorded: woken by each
//! new message (through `hms_db::work`) and by the clock for retries, it
//! leases due messages, sends a few at once, and records their outcomes
//! (those sent in one statement).
//! Replicas share the work: a leased message is skipped by the others, and
//! one leased by a crashed replica is taken again when its lease ends.

use std::time::Duration;

use futures::StreamExt;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::config::RetryPolicy;
use crate::domain::{Channel, Next, SendOutcome};
use crate::email::{Email, EmailSender};
use crate::error::NotificationsError;
use crate::sms::SmsSender;
use crate::storage::{Delivery, NEW_DELIVERIES, Store};

#[derive(Clone)]
pub struct Worker {
    pub store: Store,
    pub email: EmailSender,
    pub sms: SmsSender,
    pub retry: RetryPolicy,
    pub concurrency: usize,
    pub send_timeout: Duration,
}

impl Worker {
    pub async fn run(self, shutdown: CancellationToken) {
        hms_db::work::run_woken(&NEW_DELIVERIES, shutdown, || self.round()).await;
    }

    /// Sends one batch of due messages; how many there were.
    pub async fn round(&self) -> Result<usize, NotificationsError> {
        // A lease outlasts a batch: at most `concurrency` sends, each cut
        // off at the send timeout.
        let lease = self.send_timeout * 2 + Duration::from_secs(10);
        let lease_id = Uuid::new_v4();
        let due = self
            .store
            .claim_due(
                i64::try_from(self.concurrency).unwrap_or(i64::MAX),
                lease,
                lease_id,
            )
            .await?;
        let claimed = due.len();
        let attempted: Vec<(Delivery, SendOutcome)> = futures::stream::iter(due)
            .map(|delivery| async move {
                let outcome = tokio::time::timeout(self.send_timeout, self.send(&delivery))
                    .await
                    .unwrap_or_else(|_| SendOutcome::Transient("send timed out".to_owned()));
                (delivery, outcome)
            })
            .buffer_unordered(self.concurrency)
            .collect()
            .await;
        // What was sent is recorded together: a commit a round, not one a
        // message. The round waited for its slowest send anyway; a crash
        // before the record sends the round's messages again when their
        // lease ends (a duplicate rather than a message lost).
        let sent: Vec<(Uuid, Option<String>)> = attempted
            .iter()
            .filter_map(|(delivery, outcome)| match outcome {
                SendOutcome::Sent { reference } => Some((delivery.delivery_id, reference.clone())),
                _ => None,
            })
            .collect();
        let recorded_sent = self.store.sent_all(&sent, lease_id).await;
        for (delivery, outcome) in attempted {
            let recorded = match (&outcome, &recorded_sent) {
                (SendOutcome::Sent { .. }, Ok(recorded)) => {
                    Ok(recorded.contains(&delivery.delivery_id))
                }
                (SendOutcome::Sent { .. }, Err(error)) => Err(error.to_string()),
                (failure, _) => self
                    .record_failure(&delivery, failure, lease_id)
                    .await
                    .map_err(|error| error.to_string()),
            };
            report(&delivery, &outcome, recorded);
        }
        Ok(claimed)
    }

    /// Tries a message that was not sent again later, or gives it up.
    async fn record_failure(
        &self,
        delivery: &Delivery,
        failure: &SendOutcome,
        lease_id: Uuid,
    ) -> Result<bool, NotificationsError> {
        // Counted when claimed: this attempt included.
        let attempt = u32::try_from(delivery.attempts).unwrap_or(u32::MAX);
        let id = delivery.delivery_id;
        match self.retry.after(attempt, failure, rand::random()) {
            Next::RetryIn(wait) => {
                self.store
                    .retry_later(id, lease_id, wait, reason(failure))
                    .await
            }
            Next::GiveUp(why) => self.store.failed(id, lease_id, &why).await,
        }
    }

    async fn send(&self, delivery: &Delivery) -> SendOutcome {
        match Channel::parse(&delivery.channel) {
            Some(Channel::Email) => {
                self.email
                    .send(Email {
                        delivery_id: delivery.delivery_id,
                        to: &delivery.recipient,
                        subject: delivery.subject.as_deref().unwrap_or_default(),
                        text: &delivery.body_text,
                        html: delivery.body_html.as_deref().unwrap_or_default(),
                    })
                    .await
            }
            Some(Channel::Sms) => {
                self.sms
                    .send(
                        delivery.delivery_id,
                        &delivery.recipient,
                        &delivery.body_text,
                    )
                    .await
            }
            None => SendOutcome::Permanent("unknown channel".to_owned()),
        }
    }
}

/// Counts and logs an attempt and whether its outcome was recorded.
fn report(delivery: &Delivery, outcome: &SendOutcome, recorded: Result<bool, String>) {
    let attempt = u32::try_from(delivery.attempts).unwrap_or(u32::MAX);
    let id = delivery.delivery_id;
    metrics::counter!(
        "hms_notification_deliveries_total",
        "channel" => Channel::parse(&delivery.channel).map_or("unknown", Channel::as_str),
        "outcome" => outcome_name(outcome),
    )
    .increment(1);
    // Never the address or the text: the id finds them for who may see.
    tracing::info!(
        delivery_id = %id,
        kind = %delivery.kind,
        channel = %delivery.channel,
        attempt,
        outcome = outcome_name(outcome),
        reason = reason(outcome),
        "send attempted"
    );
    match recorded {
        Ok(true) => {}
        // Another replica took it over after our lease ran out; what it
        // records stands.
        Ok(false) => tracing::warn!(delivery_id = %id, "lease lost before the send was recorded"),
        // The lease runs out and the message is sent again: a duplicate is
        // better than a message lost.
        Err(error) => tracing::warn!(delivery_id = %id, %error, "cannot record a send"),
    }
}

/// The help text of the series [`Deliverer`] records, for `/metrics`.
pub fn describe_metrics() {
    metrics::describe_counter!(
        "hms_notification_deliveries_total",
        "Attempts to send an email or text message, by channel and outcome (sent, transient, permanent)"
    );
}

fn outcome_name(outcome: &SendOutcome) -> &'static str {
    match outcome {
        SendOutcome::Sent { .. } => "sent",
        SendOutcome::Transient(_) => "transient",
        SendOutcome::Permanent(_) => "permanent",
    }
}

fn reason(outcome: &SendOutcome) -> &str {
    match outcome {
        SendOutcome::Sent { .. } => "",
        SendOutcome::Transient(reason) | SendOutcome::Permanent(reason) => reason,
    }
}
