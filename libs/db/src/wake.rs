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
//! connections come back to it (after the commit).
//!
//! The pool cannot tell which connection wrote the work, and the worker's
//! own connections come back too. So a connection coming back wakes the
//! worker only for arms it has not looked past yet (it says when it starts
//! to look: [`looking`](Signal::looking)); were every release to wake it,
//! its own would wake it again, and it would look without pause. A
//! transaction armed just before a look but committed after it is then
//! found by looking again shortly after, at growing intervals while arms
//! are recent ([`FOLLOW_UP`]). A worker also looks on its own clock, for
//! work another process wrote.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

/// How long after an arm a transaction may still commit the work it
/// announced: looks this soon after an arm are followed up.
pub const ARMED_FOR: Duration = Duration::from_secs(2);

/// The first follow-up comes this long after a look that an arm shortly
/// preceded; each following one waits twice as long, so a quiet worker
/// looks about nine more times in the [`ARMED_FOR`] after the last arm.
pub const FOLLOW_UP: Duration = Duration::from_millis(5);

/// One kind of background work a writer can announce.
pub struct Signal {
    name: &'static str,
    notify: Notify,
    /// Arms so far.
    arms: AtomicU64,
    /// When it was last armed, in milliseconds since [`epoch`]; 0 never.
    armed_at: AtomicU64,
    /// `arms` when the worker last started to look for work.
    looked_past: AtomicU64,
    /// When it did, in milliseconds since [`epoch`].
    looked_at: AtomicU64,
    /// Looks in a row that no new arm preceded: the next follow-up waits
    /// [`FOLLOW_UP`] doubled this many times.
    follow_ups: AtomicU32,
    /// In the registry: arming, once per transaction that writes work,
    /// then takes no lock.
    registered: AtomicBool,
}

impl Signal {
    pub const fn new(name: &'static str) -> Self {
        Self {
            name,
            notify: Notify::const_new(),
            arms: AtomicU64::new(0),
            armed_at: AtomicU64::new(0),
            looked_past: AtomicU64::new(0),
            looked_at: AtomicU64::new(0),
            follow_ups: AtomicU32::new(0),
            registered: AtomicBool::new(false),
        }
    }

    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Announces work written in a transaction not yet committed: its
    /// worker is woken when a connection next comes back to the pool, the
    /// commit's among them.
    pub fn arm(&'static self) {
        register(self);
        self.armed_at.store(now_millis(), Ordering::Relaxed);
        self.arms.fetch_add(1, Ordering::AcqRel);
    }

    /// The worker is about to look for work: what was armed so far is
    /// looked past, unless its transaction commits only after the look
    /// (a follow-up finds that).
    pub fn looking(&self) {
        let arms = self.arms.load(Ordering::Acquire);
        let before = self.looked_past.swap(arms, Ordering::AcqRel);
        self.looked_at.store(now_millis(), Ordering::Relaxed);
        if arms == before {
            self.follow_ups.fetch_add(1, Ordering::Relaxed);
        } else {
            self.follow_ups.store(0, Ordering::Relaxed);
        }
    }

    /// Waits until work armed since the last look may have committed, or
    /// until a follow-up is due; a connection that came back while nobody
    /// waited counts, so work committed during a look is looked for next.
    pub async fn woken(&'static self) {
        register(self);
        loop {
            let follow_up = self.follow_up_in(now_millis());
            tokio::select! {
                () = self.notify.notified() => {
                    // A wake-up given before the last look started is stale.
                    if self.unseen() {
                        return;
                    }
                }
                () = sleep_or_never(follow_up) => return,
            }
        }
    }

    fn unseen(&self) -> bool {
        self.arms.load(Ordering::Acquire) > self.looked_past.load(Ordering::Acquire)
    }

    /// How long until the next follow-up look: none if the last look came
    /// more than [`ARMED_FOR`] after the last arm (or nothing was armed).
    fn follow_up_in(&self, now: u64) -> Option<Duration> {
        let armed_at = self.armed_at.load(Ordering::Relaxed);
        let looked_at = self.looked_at.load(Ordering::Relaxed);
        // Not looked yet: the worker's first look is its own business.
        if looked_at == 0 {
            return None;
        }
        let window = u64::try_from(ARMED_FOR.as_millis()).unwrap_or(u64::MAX);
        if armed_at == 0 || armed_at.saturating_add(window) < looked_at {
            return None;
        }
        let doublings = self.follow_ups.load(Ordering::Relaxed).min(16);
        let due = Duration::from_millis(looked_at) + FOLLOW_UP * 2u32.pow(doublings);
        Some(due.saturating_sub(Duration::from_millis(now)))
    }
}

async fn sleep_or_never(duration: Option<Duration>) {
    match duration {
        Some(duration) => tokio::time::sleep(duration).await,
        None => std::future::pending().await,
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

/// Milliseconds since [`epoch`], at least 1 so that 0 can mean "never".
fn now_millis() -> u64 {
    u64::try_from(epoch().elapsed().as_millis())
        .unwrap_or(u64::MAX)
        .max(1)
}

/// A connection came back to the pool: wakes the worker of every signal
/// armed since its worker last looked. Called by the pools
/// [`DbConfig::connect`](crate::DbConfig::connect) makes.
pub fn connection_released() {
    let signals = registry()
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    for signal in signals.iter().filter(|signal| signal.unseen()) {
        signal.notify.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_armed_signal_is_given_at_the_next_release_and_kept_until_waited_for() {
        static WORK: Signal = Signal::new("test work");
        static OTHER: Signal = Signal::new("other work");
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

    #[tokio::test]
    async fn a_worker_is_not_woken_by_its_own_connections_coming_back() {
        static WORK: Signal = Signal::new("own releases");
        WORK.arm();
        connection_released();
        // A worker that looks, gives its connection back, and waits again,
        // for as long as the window after the arm lasts: only follow-ups
        // wake it, not its own releases.
        let started = Instant::now();
        let mut looks = 0;
        while started.elapsed() < ARMED_FOR + Duration::from_millis(500) {
            let woken = tokio::time::timeout(Duration::from_millis(600), WORK.woken()).await;
            if woken.is_err() {
                continue;
            }
            looks += 1;
            WORK.looking();
            connection_released();
        }
        assert!(
            (2..=12).contains(&looks),
            "{looks} looks in {:?} after one arm",
            started.elapsed()
        );
    }

    #[tokio::test]
    async fn work_committed_just_after_a_look_is_found_by_a_follow_up() {
        static WORK: Signal = Signal::new("late commit");
        WORK.arm();
        // Another connection came back before the transaction committed:
        // the worker looks too early and finds nothing.
        connection_released();
        WORK.woken().await;
        WORK.looking();
        // The commit's own release wakes nobody now ...
        connection_released();
        // ... but the follow-up comes soon.
        tokio::time::timeout(Duration::from_secs(1), WORK.woken())
            .await
            .expect("a follow-up look soon after the early one");
    }

    #[test]
    fn follow_ups_end_a_window_after_the_last_arm_and_slow_down_until_then() {
        let signal = Signal::new("window");
        assert_eq!(signal.follow_up_in(10_000), None, "never armed");
        signal.armed_at.store(1_000, Ordering::Relaxed);
        signal.looked_at.store(1_000, Ordering::Relaxed);
        assert_eq!(signal.follow_up_in(1_000), Some(FOLLOW_UP));
        signal.follow_ups.store(3, Ordering::Relaxed);
        assert_eq!(signal.follow_up_in(1_000), Some(FOLLOW_UP * 8));
        assert_eq!(signal.follow_up_in(1_000_000), Some(Duration::ZERO));
        let window = u64::try_from(ARMED_FOR.as_millis()).expect("a window of milliseconds");
        signal.looked_at.store(1_001 + window, Ordering::Relaxed);
        assert_eq!(signal.follow_up_in(1_001 + window), None);
    }
}
