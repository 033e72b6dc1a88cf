use std::time::Duration;

use serde::Deserialize;

use crate::{Namespace, NamespaceError};

/// Messaging settings every service reads (`HMS_NATS_*`, `HMS_EVENT_*`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct EventsConfig {
    pub nats_url: String,
    /// Prefix for every subject and stream, so several deployments (or
    /// tests) can share one NATS. Empty in production.
    pub nats_namespace: String,
    #[serde(
        rename = "nats_connect_timeout_secs",
        deserialize_with = "hms_config::duration::seconds"
    )]
    pub nats_connect_timeout: Duration,
    /// Replicas of each stream this service creates (3 in a NATS cluster).
    pub nats_stream_replicas: usize,
    /// How long streams keep events.
    #[serde(
        rename = "nats_stream_max_age_hours",
        deserialize_with = "hms_config::duration::hours"
    )]
    pub nats_stream_max_age: Duration,
    /// Deliveries of one event before it is parked.
    pub event_max_deliver: i64,
    /// Delay before the first redelivery of a failed event; it doubles with
    /// every further failure.
    #[serde(
        rename = "event_retry_base_ms",
        deserialize_with = "hms_config::duration::millis"
    )]
    pub event_retry_base: Duration,
    /// Longest delay between redeliveries.
    #[serde(
        rename = "event_retry_max_ms",
        deserialize_with = "hms_config::duration::millis"
    )]
    pub event_retry_max: Duration,
    /// How long a consumer may work on one event before JetStream offers it
    /// again.
    #[serde(
        rename = "event_ack_wait_secs",
        deserialize_with = "hms_config::duration::seconds"
    )]
    pub event_ack_wait: Duration,
    /// Events a service's consumers handle at once, together; at most half
    /// the pool less one (see `consumer::handler_slots`).
    pub event_concurrency: usize,
    /// The most events that arrived together a consumer handles in one
    /// batch, where its handler takes batches; 1 handles each alone.
    pub event_batch_size: usize,
    /// How long published outbox rows are kept before they are deleted.
    #[serde(
        rename = "outbox_retention_hours",
        deserialize_with = "hms_config::duration::hours"
    )]
    pub outbox_retention: Duration,
}

impl Default for EventsConfig {
    fn default() -> Self {
        Self {
            nats_url: "nats://127.0.0.1:4222".to_owned(),
            nats_namespace: String::new(),
            nats_connect_timeout: Duration::from_secs(30),
            nats_stream_replicas: 1,
            nats_stream_max_age: Duration::from_secs(14 * 24 * 3600),
            event_max_deliver: 5,
            event_retry_base: Duration::from_secs(1),
            event_retry_max: Duration::from_secs(60),
            event_ack_wait: Duration::from_secs(60),
            event_concurrency: 8,
            event_batch_size: 100,
            outbox_retention: Duration::from_secs(72 * 3600),
        }
    }
}

impl EventsConfig {
    pub fn namespace(&self) -> Result<Namespace, NamespaceError> {
        Namespace::new(&self.nats_namespace)
    }

    /// The delay before delivery number `delivered + 1`.
    pub fn retry_delay(&self, delivered: i64) -> Duration {
        let exponent = u32::try_from(delivered.saturating_sub(1).clamp(0, 20)).unwrap_or(20);
        let delay = self.event_retry_base.saturating_mul(1u32 << exponent);
        delay.min(self.event_retry_max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_delays_double_up_to_the_cap() {
        let config = EventsConfig {
            event_retry_base: Duration::from_millis(100),
            event_retry_max: Duration::from_secs(1),
            ..EventsConfig::default()
        };
        let delays: Vec<u128> = (1..=6).map(|n| config.retry_delay(n).as_millis()).collect();
        assert_eq!(delays, [100, 200, 400, 800, 1_000, 1_000]);
        assert_eq!(config.retry_delay(i64::MAX).as_millis(), 1_000);
    }
}
