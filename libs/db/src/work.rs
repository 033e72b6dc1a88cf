//! Background work kept in a table: a worker woken when new work commits
//! (a [`Signal`] the writer armed), and by the clock for retries, and the backoff
//! between attempts. Notifications' deliveries and cards' print jobs both
//! run this way; work nothing announces runs on the clock alone
//! ([`run_every`]).

use std::future::Future;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::wake::Signal;

/// How often due work is looked for when nothing wakes the worker.
const POLL: Duration = Duration::from_secs(1);

/// Runs `round` until shutdown: again at once while it finds work, else
/// when `signal` is given or after the poll interval.
pub async fn run_woken<F, Fut, E>(signal: &'static Signal, shutdown: CancellationToken, round: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<usize, E>>,
    E: std::fmt::Display,
{
    run(Some(signal), POLL, shutdown, round).await;
}

/// Runs `round` until shutdown: again at once while it finds work, else
/// after `interval`. For work nothing announces (a deadline passing, a
/// register to ask again).
pub async fn run_every<F, Fut, E>(interval: Duration, shutdown: CancellationToken, round: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<usize, E>>,
    E: std::fmt::Display,
{
    run(None, interval, shutdown, round).await;
}

async fn run<F, Fut, E>(
    woken_by: Option<&'static Signal>,
    interval: Duration,
    shutdown: CancellationToken,
    mut round: F,
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<usize, E>>,
    E: std::fmt::Display,
{
    while !shutdown.is_cancelled() {
        if let Some(signal) = woken_by {
            signal.looking();
        }
        let found_work = match round().await {
            Ok(claimed) => claimed > 0,
            Err(error) => {
                tracing::warn!(%error, work = woken_by.map(Signal::name), "cannot claim work");
                false
            }
        };
        if found_work {
            // More may be due; a busy worker does not wait.
            continue;
        }
        let woken = async {
            match woken_by {
                Some(signal) => signal.woken().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = shutdown.cancelled() => break,
            () = tokio::time::sleep(interval) => {}
            () = woken => {}
        }
    }
}

/// How a service's reconciler runs (`HMS_RECONCILE_*`): redaction looks
/// for decided orders left unredacted, cards for approved orders left
/// without cards. Flattened into each one's own settings.
#[derive(Debug, Clone, Copy, serde::Deserialize)]
pub struct ReconcileSettings {
    /// `HMS_RECONCILE_INTERVAL_SECS`: how often it looks.
    #[serde(
        rename = "reconcile_interval_secs",
        default = "default_reconcile_interval",
        deserialize_with = "hms_config::duration::seconds"
    )]
    pub interval: Duration,
    /// `HMS_RECONCILE_DELAY_SECS`: how old a decision must be before what
    /// it should have caused counts as missed (its event lost or stuck),
    /// so the reconciler does not race the event.
    #[serde(
        rename = "reconcile_delay_secs",
        default = "default_reconcile_delay",
        deserialize_with = "hms_config::duration::seconds"
    )]
    pub delay: Duration,
}

impl ReconcileSettings {
    /// The interval, at least a second.
    pub fn interval(&self) -> Duration {
        self.interval.max(Duration::from_secs(1))
    }
}

fn default_reconcile_interval() -> Duration {
    Duration::from_secs(60)
}

fn default_reconcile_delay() -> Duration {
    Duration::from_secs(300)
}

/// Waits that double from `base` up to `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub base: Duration,
    pub max: Duration,
}

impl Backoff {
    /// The wait after attempt number `attempts` failed. `jitter` (0 to 1)
    /// spreads the retries of many jobs over the last fifth of the wait,
    /// so a party back from an outage is not hit by all of them at once.
    pub fn wait(&self, attempts: u32, jitter: f64) -> Duration {
        let doublings = attempts.saturating_sub(1).min(20);
        let wait = self.base.saturating_mul(1u32 << doublings).min(self.max);
        wait - wait.mul_f64(0.2 * jitter.clamp(0.0, 1.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_up_to_the_maximum_and_jitter_only_shortens() {
        let backoff = Backoff {
            base: Duration::from_secs(2),
            max: Duration::from_secs(60),
        };
        let waits: Vec<u64> = (1..=7).map(|n| backoff.wait(n, 0.0).as_secs()).collect();
        assert_eq!(waits, [2, 4, 8, 16, 32, 60, 60]);
        assert_eq!(backoff.wait(1, 1.0), Duration::from_millis(1600));
        assert_eq!(backoff.wait(u32::MAX, 0.5), Duration::from_secs(54));
    }
}
