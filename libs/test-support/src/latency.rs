//! A benchmark's figures from the latencies it measured.

use std::time::Duration;

/// How many calls, how fast, and how long they took.
#[derive(Debug, Clone, Copy)]
pub struct Latencies {
    pub count: usize,
    pub per_second: f64,
    pub p50: Duration,
    pub p90: Duration,
    pub p99: Duration,
    pub max: Duration,
}

impl Latencies {
    /// The figures of `samples`, taken over `elapsed`. Panics on no samples:
    /// a benchmark that measured nothing has nothing to print.
    pub fn of(mut samples: Vec<Duration>, elapsed: Duration) -> Self {
        assert!(!samples.is_empty(), "no latencies measured");
        samples.sort_unstable();
        let at = |fraction: f64| samples[((samples.len() - 1) as f64 * fraction) as usize];
        Self {
            count: samples.len(),
            per_second: samples.len() as f64 / elapsed.as_secs_f64(),
            p50: at(0.50),
            p90: at(0.90),
            p99: at(0.99),
            max: samples[samples.len() - 1],
        }
    }
}
