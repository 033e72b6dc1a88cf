//! Durable pull consumers that handle each event once, retry failures with
//! growing delays, and park what keeps failing.

use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{self, AckKind, consumer::pull};
use futures::stream::FuturesUnordered;
use futures::{FutureExt, StreamExt};
use sqlx::{PgConnection, PgPool};
use tokio::sync::Semaphore;
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
    /// Something this service depends on is down (its database, a service
    /// it calls). The event waits and is tried again in place, as long as it
    /// takes, without counting as a failed delivery: an outage must not park
    /// events.
    #[error("{0}")]
    Unavailable(String),
    /// Might be the event's fault: redelivered with a growing delay, parked
    /// after `HMS_EVENT_MAX_DELIVER` deliveries.
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

    /// How many events that arrived together the consumer may hand to
    /// [`handle_batch`](Self::handle_batch) at once. One, the default,
    /// hands each to [`handle`](Self::handle) alone.
    fn batch_size(&self) -> usize {
        1
    }

    /// Handles events that arrived together, none of them handled before,
    /// in one transaction that records them all as handled: one commit,
    /// and one call to another service for many events where the handler
    /// can. If it fails, the consumer hands each event to
    /// [`handle`](Self::handle) alone, so one bad event neither holds up
    /// nor parks the others. The default handles them one after another.
    fn handle_batch<'a>(
        &'a self,
        events: Vec<(E, EventMeta)>,
        tx: &'a mut PgConnection,
    ) -> impl Future<Output = Result<(), HandlerError>> + Send + 'a {
        async move {
            for (event, meta) in events {
                self.handle(event, &meta, tx).await?;
            }
            Ok(())
        }
    }
}

/// Whether an event's work was done by this delivery or an earlier one.
enum Handled {
    Now,
    Before,
}

impl Handled {
    fn outcome(&self) -> Outcome {
        match self {
            Self::Now => Outcome::Handled,
            Self::Before => Outcome::Duplicate,
        }
    }
}

/// What became of a delivered event: the `outcome` label of
/// `hms_events_total`.
#[derive(Debug, Clone, Copy)]
enum Outcome {
    Handled,
    Duplicate,
    Retried,
    Parked,
}

impl Outcome {
    const ALL: [Self; 4] = [Self::Handled, Self::Duplicate, Self::Retried, Self::Parked];

    fn as_str(self) -> &'static str {
        match self {
            Self::Handled => "handled",
            Self::Duplicate => "duplicate",
            Self::Retried => "retried",
            Self::Parked => "parked",
        }
    }
}

/// How often a consumer's backlog is sampled for `hms_events_pending`.
const SAMPLE_INTERVAL: Duration = Duration::from_secs(5);

/// How often handled-event records are pruned, and how much older than the
/// streams' retention they must be: by then no redelivery can bring them back.
const PRUNE_INTERVAL: Duration = Duration::from_secs(3600);
const PRUNE_MARGIN: Duration = Duration::from_secs(24 * 3600);
/// Waits for a dependency after which a batch is split and its events
/// handled one by one.
const BATCH_WAITS: i64 = 2;
/// Pull failures in a row after which the consumer is set up again (it may
/// have been deleted, or NATS restarted without its state).
const REPREPARE_AFTER: u32 = 5;

/// A durable consumer of one event type for one service.
pub struct Consumer<E, H> {
    /// The durable consumer's name: `<service>-<event>`.
    name: String,
    pool: PgPool,
    jetstream: jetstream::Context,
    namespace: Namespace,
    config: EventsConfig,
    handler: Arc<H>,
    /// Events handled at once, shared by a service's consumers.
    slots: Arc<Semaphore>,
    _event: PhantomData<fn(E)>,
}

/// How many events a service's consumers may handle at once: at most
/// `HMS_EVENT_CONCURRENCY`, and few enough that each may hold two of the
/// pool's connections (the handled-event record's transaction and its own
/// work) with one left for everything else. More would wait for
/// connections that the waiting handlers themselves hold.
pub fn handler_slots(config: &EventsConfig, pool: &PgPool) -> usize {
    let connections = usize::try_from(pool.options().get_max_connections()).unwrap_or(1);
    config
        .event_concurrency
        .clamp(1, (connections.saturating_sub(1) / 2).max(1))
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
            jetstream,
            namespace: config.namespace()?,
            config: config.clone(),
            handler: Arc::new(handler),
            slots: Arc::new(Semaphore::new(handler_slots(config, &pool))),
            pool,
            _event: PhantomData,
        })
    }

    /// Shares the bound on events in hand with the service's other
    /// consumers.
    pub fn sharing_slots(mut self, slots: Arc<Semaphore>) -> Self {
        self.slots = slots;
        self
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
            ack_wait: self.config.event_ack_wait,
            // Unlimited on the server: we count deliveries ourselves and
            // park, so the server never silently drops a message we failed
            // to park.
            max_deliver: -1,
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
        crate::describe_metrics();
        // Every outcome is a series from the start, so a rate over it is
        // defined before the first event.
        for outcome in Outcome::ALL {
            metrics::counter!("hms_events_total", "consumer" => self.name.clone(), "outcome" => outcome.as_str())
                .absolute(0);
        }
        metrics::counter!("hms_event_dependency_waits_total", "consumer" => self.name.clone())
            .absolute(0);
        let sampler = tokio::spawn(sample_pending(
            consumer.clone(),
            self.name.clone(),
            shutdown.clone(),
        ));
        let run = tokio::spawn(self.run(consumer, shutdown));
        Ok(tokio::spawn(async move {
            let _ = run.await;
            let _ = sampler.await;
        }))
    }

    /// Handles events until `shutdown` is cancelled, up to
    /// `HMS_EVENT_CONCURRENCY` events (or batches) at once; those in hand
    /// are finished first.
    ///
    /// Events of one type are independent of each other (distinct orders,
    /// companies or grants; projections keep only the newest version), so
    /// they are handled side by side, and those that arrive together in
    /// batches where the handler takes them. Each still commits with its
    /// handled-event record, so a duplicate delivered meanwhile waits on
    /// that row and then does nothing.
    pub async fn run(
        self,
        mut consumer: jetstream::consumer::PullConsumer,
        shutdown: CancellationToken,
    ) {
        let mut failures: u32 = 0;
        let mut last_prune = tokio::time::Instant::now();
        let concurrency = handler_slots(&self.config, &self.pool);
        let batch_size = self.batch_size();
        loop {
            if failures >= REPREPARE_AFTER {
                match self.prepare().await {
                    Ok(prepared) => {
                        consumer = prepared;
                        failures = 0;
                    }
                    Err(error) => {
                        tracing::warn!(consumer = %self.name, %error, "cannot set the consumer up again")
                    }
                }
            }
            // Pull no more than can be handled at once, and one batch more:
            // a pulled message then waits for a free slot at most, not
            // behind a long buffer, and cannot age past the ack wait on the
            // client.
            let messages = match consumer
                .stream()
                .max_messages_per_batch(concurrency + batch_size - 1)
                .messages()
                .await
            {
                Ok(messages) => messages,
                Err(error) => {
                    failures += 1;
                    tracing::warn!(consumer = %self.name, %error, failures, "cannot pull events; retrying");
                    tokio::select! {
                        () = shutdown.cancelled() => return,
                        () = tokio::time::sleep(Duration::from_secs(1)) => continue,
                    }
                }
            };
            // What has arrived together is handled together, up to the
            // batch size: an event that comes alone is handled at once.
            let mut chunks = messages.ready_chunks(batch_size);
            let mut in_hand = FuturesUnordered::new();
            loop {
                if last_prune.elapsed() >= PRUNE_INTERVAL {
                    last_prune = tokio::time::Instant::now();
                    self.prune().await;
                }
                tokio::select! {
                    () = shutdown.cancelled() => {
                        while in_hand.next().await.is_some() {}
                        return;
                    }
                    Some(()) = in_hand.next(), if !in_hand.is_empty() => {}
                    next = chunks.next(), if in_hand.len() < concurrency => match next {
                        Some(chunk) => {
                            let mut pulled = Vec::with_capacity(chunk.len());
                            for next in chunk {
                                match next {
                                    Ok(message) => {
                                        failures = 0;
                                        pulled.push(message);
                                    }
                                    Err(error) => {
                                        failures += 1;
                                        tracing::warn!(consumer = %self.name, %error, failures, "pulling events failed");
                                    }
                                }
                            }
                            if !pulled.is_empty() {
                                in_hand.push(self.process(pulled, &shutdown));
                            }
                            if failures >= REPREPARE_AFTER {
                                break;
                            }
                        }
                        None => {
                            failures += 1;
                            break;
                        }
                    }
                }
            }
            // Pulled again (or set up again) only once those in hand are done.
            while in_hand.next().await.is_some() {}
        }
    }

    /// How many events that arrived together go to the handler at once.
    fn batch_size(&self) -> usize {
        self.handler
            .batch_size()
            .min(self.config.event_batch_size)
            .max(1)
    }

    /// Handles messages that were pulled together, in one slot: those that
    /// can go together in one batch, the rest (and a lone message) alone.
    async fn process(&self, messages: Vec<jetstream::Message>, shutdown: &CancellationToken) {
        // Closed only if the service drops its semaphore, which it never
        // does while consumers run.
        let Ok(_slot) = self.slots.acquire().await else {
            return;
        };
        if messages.len() == 1 {
            if self.batch_size() > 1 {
                self.count_batch(1);
            }
            for message in messages {
                self.process_alone(message, shutdown).await;
            }
            return;
        }
        // Every message the slot holds is kept from redelivery until it is
        // answered: the batch, and then events handled one by one, may take
        // longer than the ack wait together.
        let held = messages.clone();
        let held: Vec<&jetstream::Message> = held.iter().collect();
        self.keep_alive(&held, async {
            let (together, alone) = self.sort_out(messages);
            if !together.is_empty() {
                self.process_together(together, shutdown).await;
            }
            // Duplicates of the batch's events come after it, and find them
            // handled.
            for message in alone {
                self.process_alone(message, shutdown).await;
            }
        })
        .await;
    }

    /// Counts a batch that committed, of `events` events.
    fn count_batch(&self, events: usize) {
        metrics::histogram!("hms_event_batch_size", "consumer" => self.name.clone())
            .record(events as f64);
    }

    /// Splits pulled messages into events that can be handled in one batch
    /// and messages that need handling alone: without an id, undecodable,
    /// delivered too often, or a second copy of an event in the batch.
    fn sort_out(
        &self,
        messages: Vec<jetstream::Message>,
    ) -> (Vec<Pulled<E>>, Vec<jetstream::Message>) {
        let mut together: Vec<Pulled<E>> = Vec::with_capacity(messages.len());
        let mut alone = Vec::new();
        for message in messages {
            let delivered = message.info().map(|info| info.delivered).unwrap_or(1);
            let Some(event_id) = event_id_of(&message) else {
                alone.push(message);
                continue;
            };
            let copy = together
                .iter()
                .any(|pulled| pulled.meta.event_id == event_id);
            if copy || delivered > self.config.event_max_deliver {
                alone.push(message);
                continue;
            }
            match E::decode(message.payload.clone()) {
                Ok(event) => together.push(Pulled {
                    message,
                    event,
                    meta: EventMeta {
                        event_id,
                        delivered,
                    },
                }),
                Err(_) => alone.push(message),
            }
        }
        (together, alone)
    }

    /// Handles a batch in one transaction; if the handler fails it, each
    /// event alone, so retries and parking work as for single events.
    async fn process_together(&self, batch: Vec<Pulled<E>>, shutdown: &CancellationToken) {
        let span = tracing::info_span!(
            "consume",
            otel.name = %format!("consume {}", E::TYPE),
            otel.kind = "consumer",
            messaging.system = "nats",
            messaging.destination.name = %batch[0].message.subject,
            messaging.consumer.group.name = %self.name,
            messaging.batch.message_count = batch.len(),
        );
        // The batch continues the first event's trace and links the others.
        let _ = span.set_parent(hms_telemetry::extract_from_nats(
            batch[0].message.headers.as_ref(),
        ));
        for pulled in &batch[1..] {
            hms_telemetry::link_to_nats(&span, pulled.message.headers.as_ref());
        }
        let started = std::time::Instant::now();
        let handled = self
            .handle_together(&batch, shutdown)
            .instrument(span)
            .await;
        let elapsed = started.elapsed().as_secs_f64();
        match handled {
            Some(Ok(first_time)) => {
                self.count_batch(batch.len());
                futures::future::join_all(batch.iter().map(|pulled| self.ack(&pulled.message)))
                    .await;
                for pulled in &batch {
                    if first_time.contains(&pulled.meta.event_id) {
                        self.count(Outcome::Handled, Some(&pulled.message));
                    } else {
                        self.count(Outcome::Duplicate, None);
                    }
                    metrics::histogram!("hms_event_handling_seconds", "consumer" => self.name.clone())
                        .record(elapsed);
                }
            }
            Some(Err(reason)) => {
                tracing::info!(consumer = %self.name, %reason, events = batch.len(), "a batch failed; handling its events one by one");
                for pulled in batch {
                    self.process_alone(pulled.message, shutdown).await;
                }
            }
            // Shut down while a dependency was away: the events are offered
            // again.
            None => {}
        }
    }

    /// Runs the batch until it commits (`Some(Ok(ids handled now))`), fails
    /// (`Some(Err)`), or shutdown interrupts the wait for a dependency.
    async fn handle_together(
        &self,
        batch: &[Pulled<E>],
        shutdown: &CancellationToken,
    ) -> Option<Result<Vec<String>, String>> {
        let messages: Vec<&jetstream::Message> =
            batch.iter().map(|pulled| &pulled.message).collect();
        let mut waited: i64 = 0;
        loop {
            let work = self.handle_batch_once(batch);
            match self.with_progress(&messages, work).await {
                Ok(first_time) => return Some(Ok(first_time)),
                // Still unavailable after waiting: perhaps for one event's
                // sake only, so each waits (or not) on its own.
                Err(HandlerError::Unavailable(reason)) if waited >= BATCH_WAITS => {
                    return Some(Err(reason));
                }
                Err(HandlerError::Unavailable(reason)) => {
                    waited += 1;
                    metrics::counter!("hms_event_dependency_waits_total", "consumer" => self.name.clone())
                        .increment(1);
                    let pause = self.config.retry_delay(waited);
                    tracing::warn!(%reason, retry_in = ?pause, "a dependency is unavailable; the batch waits");
                    futures::future::join_all(
                        messages
                            .iter()
                            .map(|message| message.ack_with(AckKind::Progress)),
                    )
                    .await;
                    tokio::select! {
                        () = shutdown.cancelled() => {
                            futures::future::join_all(
                                messages.iter().map(|message| message.ack_with(AckKind::Nak(None))),
                            )
                            .await;
                            return None;
                        }
                        () = tokio::time::sleep(pause) => {}
                    }
                }
                Err(HandlerError::Retry(reason) | HandlerError::Reject(reason)) => {
                    return Some(Err(reason));
                }
            }
        }
    }

    /// Records the batch's events as handled and runs the handler on those
    /// that were not, in one transaction. Returns the ids handled now.
    async fn handle_batch_once(&self, batch: &[Pulled<E>]) -> Result<Vec<String>, HandlerError> {
        let unavailable =
            |error: sqlx::Error| HandlerError::Unavailable(format!("database: {error}"));
        let mut ids: Vec<&str> = batch
            .iter()
            .map(|pulled| pulled.meta.event_id.as_str())
            .collect();
        // One order of row locks, so two batches never wait on each other
        // in a circle.
        ids.sort_unstable();
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        let first_time: Vec<String> = sqlx::query_scalar(
            "INSERT INTO hms_processed_events (consumer, event_id) \
             SELECT $1, event_id FROM unnest($2::text[]) AS event_id \
             ON CONFLICT DO NOTHING RETURNING event_id",
        )
        .bind(&self.name)
        .bind(&ids)
        .fetch_all(&mut *tx)
        .await
        .map_err(unavailable)?;
        let events: Vec<(E, EventMeta)> = batch
            .iter()
            .filter(|pulled| first_time.contains(&pulled.meta.event_id))
            .map(|pulled| (pulled.event.clone(), pulled.meta.clone()))
            .collect();
        if events.len() < batch.len() {
            tracing::info!(
                duplicates = batch.len() - events.len(),
                "events already handled; acknowledging the duplicates"
            );
        }
        if !events.is_empty() {
            self.handler.handle_batch(events, &mut tx).await?;
        }
        tx.commit().await.map_err(unavailable)?;
        Ok(first_time)
    }

    /// Handles one message on its own.
    async fn process_alone(&self, message: jetstream::Message, shutdown: &CancellationToken) {
        let delivered = message.info().map(|info| info.delivered).unwrap_or(1);
        let event_id = event_id_of(&message);
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
        let started = std::time::Instant::now();
        self.process_in_span(message, event_id, delivered, shutdown)
            .instrument(span)
            .await;
        metrics::histogram!("hms_event_handling_seconds", "consumer" => self.name.clone())
            .record(started.elapsed().as_secs_f64());
    }

    /// Counts what became of an event; for one handled now, also how long
    /// after its publication (`message`).
    fn count(&self, outcome: Outcome, message: Option<&jetstream::Message>) {
        metrics::counter!(
            "hms_events_total",
            "consumer" => self.name.clone(),
            "outcome" => outcome.as_str(),
        )
        .increment(1);
        let published = message
            .and_then(|message| message.info().ok())
            .map(|info| info.published.unix_timestamp_nanos());
        if let Some(published) = published {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|since| since.as_nanos() as i128)
                .unwrap_or(published);
            let lag = (now - published).max(0) as f64 / 1e9;
            metrics::histogram!("hms_event_lag_seconds", "consumer" => self.name.clone())
                .record(lag);
        }
    }

    async fn process_in_span(
        &self,
        message: jetstream::Message,
        event_id: Option<String>,
        delivered: i64,
        shutdown: &CancellationToken,
    ) {
        let Some(event_id) = event_id else {
            return self
                .park(&message, "", delivered, "message has no Nats-Msg-Id")
                .await;
        };
        if delivered > self.config.event_max_deliver {
            // Delivered again after our last attempt: the handler crashed or
            // hung on it. Unless an earlier attempt did finish, park it
            // without running the handler once more.
            match self.already_handled(&event_id).await {
                Ok(true) => {
                    self.ack(&message).await;
                    return self.count(Outcome::Duplicate, None);
                }
                Ok(false) => {
                    let reason = format!(
                        "gave up after {} deliveries without an answer from the handler",
                        delivered - 1
                    );
                    return self.park(&message, &event_id, delivered, &reason).await;
                }
                Err(error) => {
                    tracing::warn!(%error, "cannot check whether the event was handled; will retry");
                    return self.nak(&message, delivered).await;
                }
            }
        }
        let Ok(event) = E::decode(message.payload.clone()) else {
            let reason = format!("payload is not a valid {}", E::TYPE);
            return self.park(&message, &event_id, delivered, &reason).await;
        };
        let meta = EventMeta {
            event_id: event_id.clone(),
            delivered,
        };
        let mut waited: i64 = 0;
        loop {
            let outcome = self
                .handle_with_progress(&message, event.clone(), &meta)
                .await;
            match outcome {
                Ok(handled) => {
                    self.ack(&message).await;
                    return self.count(handled.outcome(), Some(&message));
                }
                Err(HandlerError::Reject(reason)) => {
                    return self.park(&message, &event_id, delivered, &reason).await;
                }
                Err(HandlerError::Retry(reason)) if delivered >= self.config.event_max_deliver => {
                    let reason = format!("failed {delivered} times; last error: {reason}");
                    return self.park(&message, &event_id, delivered, &reason).await;
                }
                Err(HandlerError::Retry(reason)) => {
                    tracing::warn!(%reason, retry_in = ?self.config.retry_delay(delivered), "event handling failed; will retry");
                    self.nak(&message, delivered).await;
                    return self.count(Outcome::Retried, None);
                }
                Err(HandlerError::Unavailable(reason)) => {
                    waited += 1;
                    metrics::counter!("hms_event_dependency_waits_total", "consumer" => self.name.clone())
                        .increment(1);
                    let pause = self.config.retry_delay(waited);
                    tracing::warn!(%reason, retry_in = ?pause, "a dependency is unavailable; the event waits");
                    let _ = message.ack_with(AckKind::Progress).await;
                    tokio::select! {
                        () = shutdown.cancelled() => {
                            // Another instance (or the next start) takes it.
                            let _ = message.ack_with(AckKind::Nak(None)).await;
                            return;
                        }
                        () = tokio::time::sleep(pause) => {}
                    }
                }
            }
        }
    }

    /// Runs the handler, telling JetStream it is still at work so a slow
    /// handler does not see its event delivered a second time meanwhile.
    async fn handle_with_progress(
        &self,
        message: &jetstream::Message,
        event: E,
        meta: &EventMeta,
    ) -> Result<Handled, HandlerError> {
        self.with_progress(&[message], self.handle_once(event, meta))
            .await
    }

    /// Runs `work` on `messages`' events, telling JetStream every so often
    /// that it is still at work on them. A panic is a failure to retry.
    async fn with_progress<T>(
        &self,
        messages: &[&jetstream::Message],
        work: impl Future<Output = Result<T, HandlerError>>,
    ) -> Result<T, HandlerError> {
        let work = std::panic::AssertUnwindSafe(work).catch_unwind();
        self.keep_alive(messages, work)
            .await
            .unwrap_or_else(|_| Err(HandlerError::Retry("the handler panicked".to_owned())))
    }

    /// Runs `work`, telling JetStream every so often that `messages` are
    /// still being worked on, so none is delivered a second time meanwhile.
    async fn keep_alive<T>(
        &self,
        messages: &[&jetstream::Message],
        work: impl Future<Output = T>,
    ) -> T {
        tokio::pin!(work);
        let period = (self.config.event_ack_wait / 3).max(Duration::from_secs(1));
        let mut progress = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        loop {
            tokio::select! {
                outcome = &mut work => return outcome,
                _ = progress.tick() => {
                    futures::future::join_all(
                        messages.iter().map(|message| message.ack_with(AckKind::Progress)),
                    )
                    .await;
                }
            }
        }
    }

    /// Runs the handler inside the transaction that records the event as
    /// handled. A concurrent duplicate waits on the record's row lock, then
    /// finds it and does nothing.
    async fn handle_once(&self, event: E, meta: &EventMeta) -> Result<Handled, HandlerError> {
        let unavailable =
            |error: sqlx::Error| HandlerError::Unavailable(format!("database: {error}"));
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        let first_time = sqlx::query(
            "INSERT INTO hms_processed_events (consumer, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(&self.name)
        .bind(&meta.event_id)
        .execute(&mut *tx)
        .await
        .map_err(unavailable)?
        .rows_affected()
            == 1;
        if first_time {
            self.handler.handle(event, meta, &mut tx).await?;
        } else {
            tracing::info!("event already handled; acknowledging the duplicate");
        }
        tx.commit().await.map_err(unavailable)?;
        Ok(if first_time {
            Handled::Now
        } else {
            Handled::Before
        })
    }

    async fn already_handled(&self, event_id: &str) -> Result<bool, sqlx::Error> {
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM hms_processed_events WHERE consumer = $1 AND event_id = $2)")
            .bind(&self.name)
            .bind(event_id)
            .fetch_one(&self.pool)
            .await
    }

    async fn ack(&self, message: &jetstream::Message) {
        if let Err(error) = message.double_ack().await {
            // The work is committed; a redelivery finds it recorded.
            tracing::warn!(%error, "could not acknowledge a handled event");
        }
    }

    async fn nak(&self, message: &jetstream::Message, delivered: i64) {
        if let Err(error) = message
            .ack_with(AckKind::Nak(Some(self.config.retry_delay(delivered))))
            .await
        {
            tracing::warn!(%error, "could not nak an event; it is redelivered after the ack wait");
        }
    }

    /// Forgets handled-event records older than any message the stream can
    /// still hold.
    async fn prune(&self) {
        let keep = self.config.nats_stream_max_age + PRUNE_MARGIN;
        let cutoff =
            chrono::Utc::now() - chrono::Duration::from_std(keep).unwrap_or(chrono::Duration::MAX);
        let pruned = sqlx::query(
            "DELETE FROM hms_processed_events WHERE consumer = $1 AND processed_at < $2",
        )
        .bind(&self.name)
        .bind(cutoff)
        .execute(&self.pool)
        .await;
        if let Err(error) = pruned {
            tracing::warn!(%error, "could not prune handled-event records");
        }
    }

    /// Copies the message to the parking stream, then terminates it. If the
    /// copy fails the message is redelivered later (the server's delivery
    /// limit is unlimited): nothing is dropped.
    async fn park(
        &self,
        message: &jetstream::Message,
        event_id: &str,
        delivered: i64,
        reason: &str,
    ) {
        tracing::warn!(%reason, "parking event");
        let mut parked_headers = message.headers.clone().unwrap_or_default();
        let sequence = message.info().map(|info| info.stream_sequence).unwrap_or(0);
        let dedupe_id = format!("{}:{}:{}", self.name, event_id, sequence);
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
                self.count(Outcome::Parked, None);
            }
            Err(error) => {
                tracing::warn!(%error, "could not park an event; it is redelivered later");
                self.nak(message, delivered).await;
            }
        }
    }
}

/// A pulled message whose event can be handled in a batch.
struct Pulled<E> {
    message: jetstream::Message,
    event: E,
    meta: EventMeta,
}

/// The event id a message carries (`Nats-Msg-Id`), if any.
fn event_id_of(message: &jetstream::Message) -> Option<String> {
    message
        .headers
        .as_ref()
        .and_then(|headers| headers.get(headers::MESSAGE_ID))
        .map(|id| id.as_str().to_owned())
}

/// Keeps `hms_events_pending{consumer}` (messages not yet delivered plus
/// those delivered and not yet acknowledged) up to date.
async fn sample_pending(
    mut consumer: jetstream::consumer::PullConsumer,
    name: String,
    shutdown: CancellationToken,
) {
    let mut ticks = tokio::time::interval(SAMPLE_INTERVAL);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = ticks.tick() => {}
        }
        // NATS being away shows as a stale gauge and in the logs elsewhere.
        if let Ok(info) = consumer.info().await {
            let pending = info.num_pending as f64 + info.num_ack_pending as f64;
            metrics::gauge!("hms_events_pending", "consumer" => name.clone()).set(pending);
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
    slots: Arc<Semaphore>,
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
            slots: Arc::new(Semaphore::new(handler_slots(config, &pool))),
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
        )?
        .sharing_slots(self.slots.clone());
        self.tasks
            .push(consumer.start(self.shutdown.clone()).await?);
        Ok(())
    }

    /// The consumers' tasks, to wait for at shutdown.
    pub fn into_tasks(self) -> Vec<tokio::task::JoinHandle<()>> {
        self.tasks
    }
}
