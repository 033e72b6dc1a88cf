//! Storage limitation: an order's personal data was given for one purpose,
//! a decision on a card, and does not outlive it. Orders that wait too long
//! for the company (a draft never submitted, a correction never made) or
//! for a company that was rejected or suspended are closed without a
//! decision; `order_closed` then has redaction mask their numbers and
//! destroy their documents, with a receipt that says why.

use std::time::Duration;

use chrono::Utc;
use tokio_util::sync::CancellationToken;

use crate::domain::Transition;
use crate::error::OrderError;
use crate::storage::{Actor, Store};

/// How long each kind of waiting order is kept.
#[derive(Debug, Clone, Copy)]
pub struct RetentionPeriods {
    pub draft: Duration,
    pub correction: Duration,
    pub ineligible_company: Duration,
}

/// Orders closed per round; the next round follows at once.
const ROUND: u32 = 100;

pub struct Retention {
    store: Store,
    periods: RetentionPeriods,
}

impl Retention {
    pub fn new(store: Store, periods: RetentionPeriods) -> Self {
        Self { store, periods }
    }

    /// Closes the orders due now, up to a round's worth; how many.
    pub async fn close_due(&self) -> Result<usize, OrderError> {
        let now = Utc::now();
        let before = |period: Duration| {
            now - chrono::Duration::from_std(period).unwrap_or(chrono::Duration::MAX)
        };
        let due = self
            .store
            .due_for_closing(
                before(self.periods.draft),
                before(self.periods.correction),
                before(self.periods.ineligible_company),
                ROUND,
            )
            .await?;
        let mut closed = 0;
        for (order_id, reason) in due {
            // Each on its own: an order submitted meanwhile is refused by
            // the state machine and stays.
            match self
                .store
                .transition(
                    order_id,
                    Transition::Close(reason),
                    &Actor::retention(),
                    |_| Ok(()),
                )
                .await
            {
                Ok(_) => {
                    closed += 1;
                    tracing::info!(%order_id, reason = reason.as_str(), "order closed without a decision");
                }
                Err(OrderError::Transition(why)) => {
                    tracing::debug!(%order_id, why, "order moved on before it was closed");
                }
                Err(error) => return Err(error),
            }
        }
        Ok(closed)
    }

    /// Runs [`close_due`](Self::close_due) every `interval`, and again at
    /// once while it closes orders, until shutdown.
    pub async fn run_forever(self, interval: Duration, shutdown: CancellationToken) {
        hms_db::work::run_every(interval, shutdown, || self.close_due()).await;
    }
}
