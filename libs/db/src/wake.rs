//! Waking a service's own background workers (the outbox relay, the
//! printer, the deliveries, the object sweeper) when new work commits,
//! without PostgreSQL `NOTIFY`.
//!
//! A transaction that `NOTIFY`s takes one lock for the whole database
//! server while it commits, flush to disk included, so every transaction
//! that wrote an event committed after the one before it, across all
//! services: the pipeline ran at the pace of one disk flush per event. The
//! work is always written by the process that also runs its worker, so the
//! wake-up stays in the process: a writer [`arm`](Signal::arm)s the work's
//! signal inside its transaction, and the pool wakes the signal's worker as
//! connections come back to it (after the commit). A worker also looks on
//! its own clock, so work written by another process, or by a transaction
//! that took longer than [`ARMED_FOR`] to commit, waits at most that long.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

/// How long after being armed a signal is given to the worker at each
/// connection the pool gets back: about the time a transaction takes
/// from writing work to its commit.
pub const ARMED_FOR: Duration = Duration::from_secs(2);

/// One kind of background work a writer can announce.
pub struct Signal {
    name: &'static str,
    notify: Notify,
    /// When it was last armed, in milliseconds since [`epoch`]; 0 never.
    armed_at: AtomicU64,
    /// In the registry: arming, once per transaction that writes work,
    /// then takes no lock.
    registered: AtomicBool,
}

impl Signal {
    pub const fn new(name: &'static str) -> Self {
        Self {
            name,
            notify: Notify::const_new(),
            armed_at: AtomicU64::new(0),
            registered: AtomicBool::new(false),
        }
    }

    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Announces work written in a transaction not yet committed: its
    /// worker is woken as connections go back to the pool for the next
    /// [`ARMED_FOR`], the commit's among them.
    pub fn arm(&'static self) {
        register(self);
        // At least 1, so an arm in the first millisecond is not "never".
        let now = u64::try_from(epoch().elapsed().as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        self.armed_at.store(now, Ordering::Relaxed);
    }

    /// Waits until the signal is given; a signal given while nobody waited
    /// is kept for the next wait, so work committed during a round is
    /// looked for in the next.
    pub async fn woken(&'static self) {
        register(self);
        self.notify.notified().await;
    }

    fn is_armed(&self, now: Duration) -> bool {
        let armed_at = self.armed_at.load(Ordering::Relaxed);
        armed_at != 0 && Duration::from_millis(armed_at) + ARMED_FOR >= now
    }
}

/// The signals armed or waited for in this process.
fn registry() -> &'static Mutex<Vec<&'static Signal>> {
    static SIGNALS: OnceLock<Mutex<Vec<&'static Signal>>> = OnceLock::new();
    SIGNALS.get_or_init(|| Mutex::new(Vec::new()))
}

fn register(signal: &'static Signal) {
    if signal.registered.swap(true, Ordering::AcqRel) {
        return;
    }
    registry()
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .push(signal);
}

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// A connection came back to the pool: gives every armed signal to its
/// worker. Called by the pools [`DbConfig::connect`](crate::DbConfig::connect)
/// makes.
pub fn connection_released() {
    let now = epoch().elapsed();
    let signals = registry()
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    for signal in signals.iter().filter(|signal| signal.is_armed(now)) {
        signal.notify.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static WORK: Signal = Signal::new("test work");
    static OTHER: Signal = Signal::new("other work");

    #[tokio::test]
    async fn an_armed_signal_is_given_at_the_next_release_and_kept_until_waited_for() {
        OTHER.arm();
        connection_released();
        // Not armed: a release gives nothing.
        let early = tokio::time::timeout(Duration::from_millis(50), WORK.woken()).await;
        assert!(early.is_err(), "woken before anything was armed");

        WORK.arm();
        connection_released();
        // Given while nobody waited: the next wait returns at once.
        tokio::time::timeout(Duration::from_millis(50), WORK.woken())
            .await
            .expect("woken by the release after arming");
        futures::FutureExt::now_or_never(OTHER.notify.notified())
            .expect("the other armed signal was given too");
    }

    #[test]
    fn an_arm_lasts_for_its_window_only() {
        let signal = Signal::new("window");
        assert!(!signal.is_armed(Duration::from_secs(10)), "never armed");
        signal.armed_at.store(1_000, Ordering::Relaxed);
        assert!(signal.is_armed(Duration::from_millis(1_000)));
        assert!(signal.is_armed(Duration::from_millis(1_000) + ARMED_FOR));
        assert!(!signal.is_armed(Duration::from_millis(1_001) + ARMED_FOR));
    }
}
