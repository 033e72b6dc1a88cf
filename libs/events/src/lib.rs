//! How events move between services.
//!
//! A service writes an event with [`outbox::enqueue`] inside the transaction
//! that changes its state; the [`outbox::Relay`] publishes it to JetStream
//! with `Nats-Msg-Id` set to the event id (so JetStream drops duplicates) and
//! marks it sent only after the PubAck. Consumers run as durable pull
//! consumers ([`consumer::Consumer`]): each event is handled at most once per
//! consumer (its id is recorded in the same transaction as the handler's
//! writes), acknowledged only after that transaction commits, retried with
//! growing delays, and parked on the `HMS_PARKED` stream once it has failed
//! too often, without holding up the events behind it.
//!
//! Subjects and streams come from one [`catalog`]; a [`Namespace`] prefixes
//! both, so tests (or tenants of one NATS) never see each other's events.

pub mod catalog;
pub mod consumer;
pub mod outbox;
mod settings;
pub mod streams;

use std::time::{Duration, Instant};

pub use catalog::{Domain, Event, EventType, Namespace, NamespaceError};
pub use consumer::{Consumer, EventHandler, EventMeta, HandlerError, Subscriber};
pub use outbox::{EventId, Relay, enqueue, enqueue_all};
pub use settings::EventsConfig;

/// The tables the outbox and consumers need; run with the service's own
/// migrations through `hms_db::migrate`.
pub static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!();

/// The header names events carry besides the trace context.
pub mod headers {
    /// The event id; JetStream drops a second message with the same id
    /// within the stream's duplicate window.
    pub const MESSAGE_ID: &str = "Nats-Msg-Id";
    /// The event's subject without namespace, e.g.
    /// `hms.orders.v1.order_approved`.
    pub const EVENT_TYPE: &str = "Hms-Event-Type";
    /// On parked messages: why the consumer gave up.
    pub const PARKED_REASON: &str = "Hms-Parked-Reason";
    /// On parked messages: the consumer that gave up.
    pub const PARKED_CONSUMER: &str = "Hms-Parked-Consumer";
    /// On parked messages: the subject the event was published on.
    pub const PARKED_SUBJECT: &str = "Hms-Parked-Subject";
    /// On parked messages: the event id.
    pub const PARKED_EVENT_ID: &str = "Hms-Parked-Event-Id";
    /// On parked messages: how often it was delivered.
    pub const PARKED_DELIVERIES: &str = "Hms-Parked-Deliveries";
}

/// The help texts of the series this crate records, for `/metrics`.
pub(crate) fn describe_metrics() {
    static DESCRIBED: std::sync::Once = std::sync::Once::new();
    DESCRIBED.call_once(describe_all);
}

fn describe_all() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        "hms_outbox_published_total",
        "Events the outbox relay published to JetStream"
    );
    describe_gauge!("hms_outbox_pending", "Outbox rows not yet published");
    describe_gauge!(
        "hms_outbox_oldest_pending_seconds",
        "Age of the oldest outbox row not yet published"
    );
    describe_counter!(
        "hms_events_total",
        "Delivered events by what became of them (handled, duplicate, retried, parked)"
    );
    describe_gauge!(
        "hms_events_pending",
        "Messages of a consumer not yet delivered or not yet acknowledged"
    );
    describe_histogram!(
        "hms_event_handling_seconds",
        metrics::Unit::Seconds,
        "Time from taking an event to acknowledging, retrying or parking it"
    );
    describe_histogram!(
        "hms_event_batch_size",
        "Events handled together in one transaction, per batch of a consumer that batches"
    );
    describe_histogram!(
        "hms_event_lag_seconds",
        metrics::Unit::Seconds,
        "Time from an event's publication to its handling"
    );
    describe_counter!(
        "hms_event_dependency_waits_total",
        "Waits because the database or a called service was unavailable"
    );
}

#[derive(Debug, thiserror::Error)]
pub enum EventsError {
    #[error("could not connect to NATS within {0:?}: {1}")]
    Connect(Duration, String),
    #[error("JetStream: {0}")]
    JetStream(String),
    #[error(
        "consumer `{consumer}` exists with filter subject `{actual}`, expected `{expected}` \
         (a NATS server older than 2.10 ignores `filter_subjects`; delete the consumer to recreate it)"
    )]
    ConsumerMismatch {
        consumer: String,
        expected: String,
        actual: String,
    },
    #[error("stream `{stream}` exists with subjects {actual:?}, expected {expected:?}")]
    StreamMismatch {
        stream: String,
        expected: Vec<String>,
        actual: Vec<String>,
    },
    #[error(transparent)]
    Namespace(#[from] NamespaceError),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl EventsError {
    fn jetstream(error: impl std::fmt::Display) -> Self {
        Self::JetStream(error.to_string())
    }

    /// Whether the database or NATS could not serve now, so the same call
    /// may succeed later (see [`hms_db::is_unavailable`]).
    pub fn is_unavailable(&self) -> bool {
        match self {
            Self::Database(error) => hms_db::is_unavailable(error),
            Self::Connect(..) | Self::JetStream(_) => true,
            _ => false,
        }
    }
}

/// A JetStream context, once NATS accepts connections (retrying until the
/// configured timeout, so a service may start before NATS).
pub async fn connect(
    config: &EventsConfig,
    client_name: &str,
) -> Result<async_nats::jetstream::Context, EventsError> {
    let timeout = config.nats_connect_timeout;
    let deadline = Instant::now() + timeout;
    loop {
        let options = async_nats::ConnectOptions::new()
            .name(client_name)
            .connection_timeout(Duration::from_secs(5));
        match options.connect(config.nats_url.as_str()).await {
            Ok(client) => return Ok(async_nats::jetstream::new(client)),
            Err(error) if Instant::now() >= deadline => {
                return Err(EventsError::Connect(timeout, error.to_string()));
            }
            Err(error) => {
                tracing::info!(%error, "waiting for NATS");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
}
