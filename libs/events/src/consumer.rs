//! Durable pull consumers that handle each event once, retry failures with
//! growing delays, and park what keeps failing.

use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{self, AckKind, consumer::pull};
use futures::StreamExt;
use sqlx::{PgConnection, PgPool};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::{Domain, Event, EventsConfig, EventsError, Namespace, headers, streams};

/// What a handler learns about an event besides its payload.
#[derive(Debug, Clone)]
pub struct EventMeta {
    /// The event id (`Nats-Msg-Id`).
    pub event_id: String,
    /// How often it has been delivered, this time included.
    pub delivered: i64,
}

/// Why a handler did not finish. The text is logged and stored with parked
/// events, so it must never hold personal data.
#[derive(Debug, Clone, thiserror::Error)]
pub enum HandlerError {
    /// Might work later (a service is down, a timeout): redelivered with a
    /// delay, parked after `HMS_EVENT_MAX_DELIVER` deliveries.
    #[error("{0}")]
    Retry(String),
    /// Will never work (the event contradicts what we know): parked now.
    #[error("{0}")]
    Reject(String),
}

/// Handles one kind of event. Its database writes go through `tx`, the
/// transaction that also records the event as handled, so they commit
/// together. Work outside the database (calls to other services) must be
/// idempotent: after a crash the event is delivered again.
pub trait EventHandler<E: Event>: Send + Sync + 'static {
    fn handle<'a>(
        &'a self,
        event: E,
        meta: &'a EventMeta,
        tx: &'a mut PgConnection,
    ) -> impl Future<Output = Result<(), HandlerError>> + Send + 'a;
}

/// A durable consumer of one event type for one service.
pub struct Consumer<E, H> {
    /// The durable consumer's name: `<service>-<event>`.
    name: String,
    pool: PgPool,
    jetstream: jetstream::Context,
    namespace: Namespace,
    config: EventsConfig,
    handler: Arc<H>,
    _event: PhantomData<fn(E)>,
}

impl<E: Event, H: EventHandler<E>> Consumer<E, H> {
    pub fn new(
        service: &str,
        pool: PgPool,
        jetstream: jetstream::Context,
        config: &EventsConfig,
        handler: H,
    ) -> Result<Self, EventsError> {
        Ok(Self {
            name: format!("{service}-{}", E::TYPE.name),
            pool,
            jetstream,
            namespace: config.namespace()?,
            config: config.clone(),
            handler: Arc::new(handler),
            _event: PhantomData,
        })
    }

    /// The durable consumer's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Creates (or checks) the streams and the durable consumer. Fails when
    /// the server hands back a consumer with another filter subject.
    pub async fn prepare(&self) -> Result<jetstream::consumer::PullConsumer, EventsError> {
        streams::ensure_stream(
            &self.jetstream,
            &self.namespace,
            Domain::Parked,
            &self.config,
        )
        .await?;
        let stream = streams::ensure_stream(
            &self.jetstream,
            &self.namespace,
            E::TYPE.domain,
            &self.config,
        )
        .await?;
        let wanted = pull::Config {
            durable_name: Some(self.name.clone()),
            description: Some(format!("{} handled by {}", E::TYPE, self.name)),
            filter_subject: self.namespace.subject(E::TYPE),
            ack_policy: jetstream::consumer::AckPolicy::Explicit,
            ack_wait: Duration::from_secs(self.config.event_ack_wait_secs),
            // One more than we allow ourselves: a delivery beyond our limit
            // means the handler crashed or hung on this event, and it is
            // parked without being handled again.
            max_deliver: self.config.event_max_deliver + 1,
            deliver_policy: jetstream::consumer::DeliverPolicy::All,
            max_ack_pending: 1_000,
            ..Default::default()
        };
        let consumer = stream
            .get_or_create_consumer(&self.name, wanted.clone())
            .await
            .map_err(EventsError::jetstream)?;
        let actual = consumer.cached_info().config.clone();
        // A consumer whose filter lives in `filter_subjects` (2.10+) shows an
        // empty `filter_subject` here, and is refused too.
        if actual.filter_subject != wanted.filter_subject {
            return Err(EventsError::ConsumerMismatch {
                consumer: self.name.clone(),
                expected: wanted.filter_subject,
                actual: actual.filter_subject,
            });
        }
        if actual.max_deliver != wanted.max_deliver || actual.ack_wait != wanted.ack_wait {
            // Settings changed since the consumer was created: update it.
            return stream
                .create_consumer(wanted)
                .await
                .map_err(EventsError::jetstream);
        }
        Ok(consumer)
    }

    /// Prepares the consumer, then handles events in a task of its own until
    /// `shutdown` is cancelled.
    pub async fn start(
        self,
        shutdown: CancellationToken,
    ) -> Result<tokio::task::JoinHandle<()>, EventsError> {
        let consumer = self.prepare().await?;
        tracing::info!(consumer = %self.name, subject = %self.namespace.subject(E::TYPE), "consuming");
        Ok(tokio::spawn(self.run(consumer, shutdown)))
    }

    /// Handles events until `shutdown` is cancelled; the event in hand is
    /// finished first.
    pub async fn run(
        self,
        consumer: jetstream::consumer::PullConsumer,
        shutdown: CancellationToken,
    ) {
        loop {
            let mut messages = match consumer.messages().await {
                Ok(messages) => messages,
                Err(error) => {
                    tracing::warn!(consumer = %self.name, %error, "cannot pull events; retrying");
                    tokio::select! {
                        () = shutdown.cancelled() => return,
                        () = tokio::time::sleep(Duration::from_secs(1)) => continue,
                    }
                }
            };
            loop {
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    next = messages.next() => match next {
                        Some(Ok(message)) => self.process(message).await,
                        Some(Err(error)) => {
                            tracing::debug!(consumer = %self.name, %error, "pull stream hiccup");
                        }
                        None => break,
                    }
                }
            }
        }
    }

    async fn process(&self, message: jetstream::Message) {
        let delivered = message.info().map(|info| info.delivered).unwrap_or(1);
        let event_id = message
            .headers
            .as_ref()
            .and_then(|headers| headers.get(headers::MESSAGE_ID))
            .map(|id| id.as_str().to_owned());
        let span = tracing::info_span!(
            "consume",
            otel.name = %format!("consume {}", E::TYPE),
            otel.kind = "consumer",
            messaging.system = "nats",
            messaging.destination.name = %message.subject,
            messaging.consumer.group.name = %self.name,
            event.id = event_id.as_deref().unwrap_or(""),
            delivered,
        );
        let _ = span.set_parent(hms_telemetry::extract_from_nats(message.headers.as_ref()));
        self.process_in_span(message, event_id, delivered)
            .instrument(span)
            .await;
    }

    async fn process_in_span(
        &self,
        message: jetstream::Message,
        event_id: Option<String>,
        delivered: i64,
    ) {
        let Some(event_id) = event_id else {
            return self
                .park(&message, "", delivered, "message has no Nats-Msg-Id")
                .await;
        };
        if delivered > self.config.event_max_deliver {
            let reason = format!(
                "gave up after {} deliveries without an answer from the handler",
                delivered - 1
            );
            return self.park(&message, &event_id, delivered, &reason).await;
        }
        let Ok(event) = E::decode(message.payload.clone()) else {
            let reason = format!("payload is not a valid {}", E::TYPE);
            return self.park(&message, &event_id, delivered, &reason).await;
        };
        let meta = EventMeta {
            event_id: event_id.clone(),
            delivered,
        };
        match self.handle_once(event, &meta).await {
            Ok(()) => {
                if let Err(error) = message.double_ack().await {
                    // The work is committed; a redelivery finds it recorded.
                    tracing::warn!(%error, "could not acknowledge a handled event");
                }
            }
            Err(HandlerError::Reject(reason)) => {
                self.park(&message, &event_id, delivered, &reason).await;
            }
            Err(HandlerError::Retry(reason)) if delivered >= self.config.event_max_deliver => {
                let reason = format!("failed {delivered} times; last error: {reason}");
                self.park(&message, &event_id, delivered, &reason).await;
            }
            Err(HandlerError::Retry(reason)) => {
                let delay = self.config.retry_delay(delivered);
                tracing::warn!(%reason, retry_in = ?delay, "event handling failed; will retry");
                if let Err(error) = message.ack_with(AckKind::Nak(Some(delay))).await {
                    tracing::warn!(%error, "could not nak an event; it is redelivered after the ack wait");
                }
            }
        }
    }

    /// Runs the handler inside the transaction that records the event as
    /// handled. A concurrent duplicate waits on the record's row lock, then
    /// finds it and does nothing.
    async fn handle_once(&self, event: E, meta: &EventMeta) -> Result<(), HandlerError> {
        let retry = |error: sqlx::Error| HandlerError::Retry(format!("database: {error}"));
        let mut tx = self.pool.begin().await.map_err(retry)?;
        let first_time = sqlx::query(
            "INSERT INTO hms_processed_events (consumer, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(&self.name)
        .bind(&meta.event_id)
        .execute(&mut *tx)
        .await
        .map_err(retry)?
        .rows_affected()
            == 1;
        if first_time {
            self.handler.handle(event, meta, &mut tx).await?;
        } else {
            tracing::info!("event already handled; acknowledging the duplicate");
        }
        tx.commit().await.map_err(retry)
    }

    /// Copies the message to the parking stream, then terminates it. If the
    /// copy fails the message is redelivered later: nothing is dropped.
    async fn park(
        &self,
        message: &jetstream::Message,
        event_id: &str,
        delivered: i64,
        reason: &str,
    ) {
        tracing::warn!(%reason, "parking event");
        let mut parked_headers = message.headers.clone().unwrap_or_default();
        let dedupe_id = format!(
            "{}:{}:{}",
            self.name,
            event_id,
            message.info().map(|i| i.stream_sequence).unwrap_or(0)
        );
        parked_headers.insert(headers::MESSAGE_ID, dedupe_id.as_str());
        parked_headers.insert(headers::PARKED_REASON, reason);
        parked_headers.insert(headers::PARKED_CONSUMER, self.name.as_str());
        parked_headers.insert(headers::PARKED_SUBJECT, message.subject.as_str());
        parked_headers.insert(headers::PARKED_EVENT_ID, event_id);
        parked_headers.insert(headers::PARKED_DELIVERIES, delivered.to_string().as_str());
        let published = async {
            self.jetstream
                .publish_with_headers(
                    self.namespace.parked_subject(&self.name),
                    parked_headers,
                    message.payload.clone(),
                )
                .await?
                .await
        }
        .await;
        match published {
            Ok(_) => {
                if let Err(error) = message.ack_with(AckKind::Term).await {
                    tracing::warn!(%error, "parked an event but could not terminate it");
                }
            }
            Err(error) => {
                tracing::warn!(%error, "could not park an event; it is redelivered later");
                let _ = message
                    .ack_with(AckKind::Nak(Some(self.config.retry_delay(delivered))))
                    .await;
            }
        }
    }
}

/// Starts the durable consumers of one service and keeps their tasks.
pub struct Subscriber {
    service: String,
    pool: PgPool,
    jetstream: jetstream::Context,
    config: EventsConfig,
    shutdown: CancellationToken,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Subscriber {
    pub fn new(
        service: &str,
        pool: PgPool,
        jetstream: jetstream::Context,
        config: &EventsConfig,
        shutdown: CancellationToken,
    ) -> Self {
        Self {
            service: service.to_owned(),
            pool,
            jetstream,
            config: config.clone(),
            shutdown,
            tasks: Vec::new(),
        }
    }

    /// Starts a consumer of `E` handled by `handler`.
    pub async fn subscribe<E: Event, H: EventHandler<E>>(
        &mut self,
        handler: H,
    ) -> Result<(), EventsError> {
        let consumer = Consumer::<E, H>::new(
            &self.service,
            self.pool.clone(),
            self.jetstream.clone(),
            &self.config,
            handler,
        )?;
        self.tasks
            .push(consumer.start(self.shutdown.clone()).await?);
        Ok(())
    }

    /// The consumers' tasks, to wait for at shutdown.
    pub fn into_tasks(self) -> Vec<tokio::task::JoinHandle<()>> {
        self.tasks
    }
}
