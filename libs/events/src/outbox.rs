//! The transactional outbox: events are rows written with the state change
//! they announce, and a relay moves them to JetStream.

use std::time::Duration;

use async_nats::jetstream;
use futures::future::join_all;
use sqlx::{PgConnection, PgPool};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::{Domain, Event, EventsConfig, EventsError, Namespace, headers, streams};

/// The id of an event: its outbox row, its `Nats-Msg-Id`, and what consumers
/// record to handle it once.
pub type EventId = Uuid;

/// Wakes this process's relay when a transaction that wrote events commits.
static OUTBOX: hms_db::wake::Signal = hms_db::wake::Signal::new("outbox");

/// Writes `event` to the outbox inside the caller's transaction; it is
/// published once that transaction commits. The current span's trace context
/// travels with it.
pub async fn enqueue<E: Event>(tx: &mut PgConnection, event: &E) -> Result<EventId, EventsError> {
    let ids = enqueue_all(tx, std::slice::from_ref(event)).await?;
    Ok(ids[0])
}

/// Writes `events` to the outbox inside the caller's transaction, in one
/// statement, in their order; as [`enqueue`] does one.
pub async fn enqueue_all<E: Event>(
    tx: &mut PgConnection,
    events: &[E],
) -> Result<Vec<EventId>, EventsError> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<Uuid> = events.iter().map(|_| Uuid::now_v7()).collect();
    let payloads: Vec<Vec<u8>> = events.iter().map(prost::Message::encode_to_vec).collect();
    let trace_context = serde_json::to_value(hms_telemetry::current_trace_context())
        .unwrap_or_else(|_| serde_json::json!({}));
    sqlx::query(
        "INSERT INTO hms_outbox (id, event_type, payload, trace_context) \
         SELECT id, $3, payload, $4 FROM unnest($1::uuid[], $2::bytea[]) AS e(id, payload)",
    )
    .bind(&ids)
    .bind(payloads)
    .bind(E::TYPE.subject())
    .bind(trace_context)
    .execute(tx)
    .await?;
    OUTBOX.arm();
    Ok(ids)
}

/// Publishes outbox rows to JetStream. Several replicas may run one each:
/// rows are claimed with `FOR UPDATE SKIP LOCKED`.
pub struct Relay {
    pool: PgPool,
    jetstream: jetstream::Context,
    namespace: Namespace,
    retention: Duration,
    batch_size: i64,
}

#[derive(sqlx::FromRow)]
struct OutboxRow {
    id: Uuid,
    event_type: String,
    payload: Vec<u8>,
    trace_context: serde_json::Value,
}

/// How often the relay looks for rows nobody woke it for (written by
/// another process, or by a transaction slow to commit).
const POLL_INTERVAL: Duration = Duration::from_secs(2);
const PRUNE_INTERVAL: Duration = Duration::from_secs(600);

impl Relay {
    /// Makes sure the streams of `domains` exist, so the first publish does
    /// not fail.
    pub async fn new(
        pool: PgPool,
        jetstream: jetstream::Context,
        config: &EventsConfig,
        domains: &[Domain],
    ) -> Result<Self, EventsError> {
        let namespace = config.namespace()?;
        for domain in domains {
            streams::ensure_stream(&jetstream, &namespace, *domain, config).await?;
        }
        Ok(Self {
            pool,
            jetstream,
            namespace,
            retention: config.outbox_retention,
            batch_size: 100,
        })
    }

    /// Publishes until `shutdown` is cancelled, woken when a transaction of
    /// this process that wrote events commits.
    pub async fn run(self, shutdown: CancellationToken) {
        crate::describe_metrics();
        metrics::counter!("hms_outbox_published_total").absolute(0);
        tokio::join!(
            self.relay(shutdown.clone()),
            sample_backlog(self.pool.clone(), shutdown),
        );
    }

    async fn relay(&self, shutdown: CancellationToken) {
        let mut last_prune = tokio::time::Instant::now();
        let mut failures: u32 = 0;
        loop {
            OUTBOX.looking();
            match self.publish_pending().await {
                Ok(_) => failures = 0,
                Err(error) => {
                    failures = failures.saturating_add(1);
                    tracing::warn!(%error, failures, "outbox relay could not publish");
                }
            }
            if last_prune.elapsed() >= PRUNE_INTERVAL {
                last_prune = tokio::time::Instant::now();
                if let Err(error) = self.prune().await {
                    tracing::warn!(%error, "could not prune the outbox");
                }
            }
            let pause = if failures == 0 {
                POLL_INTERVAL
            } else {
                Duration::from_millis(200 * 2u64.pow(failures.min(5)))
            };
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = OUTBOX.woken(), if failures == 0 => {}
                () = tokio::time::sleep(pause) => {}
            }
        }
        // Whatever committed before shutdown still goes out.
        if let Err(error) = self.publish_pending().await {
            tracing::warn!(%error, "outbox relay stopped with events unpublished; they go out at the next start");
        }
    }

    /// Publishes every unpublished row; returns how many went out.
    pub async fn publish_pending(&self) -> Result<usize, EventsError> {
        let mut total = 0;
        loop {
            let (published, claimed) = self.publish_batch().await?;
            total += published;
            if claimed < self.batch_size as usize || published < claimed {
                return Ok(total);
            }
        }
    }

    /// Claims a batch, publishes it (pipelined), and marks what JetStream
    /// acknowledged. Returns (published, claimed).
    async fn publish_batch(&self) -> Result<(usize, usize), EventsError> {
        let mut tx = self.pool.begin().await?;
        let rows: Vec<OutboxRow> = sqlx::query_as(
            "SELECT id, event_type, payload, trace_context FROM hms_outbox \
             WHERE published_at IS NULL ORDER BY created_at, id LIMIT $1 FOR UPDATE SKIP LOCKED",
        )
        .bind(self.batch_size)
        .fetch_all(&mut *tx)
        .await?;
        if rows.is_empty() {
            return Ok((0, 0));
        }

        let mut pending = Vec::with_capacity(rows.len());
        for row in &rows {
            pending.push(self.send(row).await);
        }
        let acks = join_all(pending.into_iter().map(|sent| async move {
            match sent {
                Ok(ack) => ack.await.map(|_| ()).map_err(|error| error.to_string()),
                Err(error) => Err(error),
            }
        }))
        .await;

        let mut published = Vec::new();
        for (row, ack) in rows.iter().zip(acks) {
            match ack {
                Ok(()) => published.push(row.id),
                Err(error) => {
                    tracing::warn!(event_id = %row.id, event_type = %row.event_type, %error, "event not acknowledged by JetStream");
                    sqlx::query("UPDATE hms_outbox SET attempts = attempts + 1, last_error = $2 WHERE id = $1")
                        .bind(row.id)
                        .bind(error)
                        .execute(&mut *tx)
                        .await?;
                }
            }
        }
        sqlx::query("UPDATE hms_outbox SET published_at = now(), attempts = attempts + 1 WHERE id = ANY($1)")
            .bind(&published)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        if !published.is_empty() {
            tracing::debug!(count = published.len(), "published events");
            metrics::counter!("hms_outbox_published_total").increment(published.len() as u64);
        }
        Ok((published.len(), rows.len()))
    }

    async fn send(&self, row: &OutboxRow) -> Result<jetstream::context::PublishAckFuture, String> {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(headers::MESSAGE_ID, row.id.to_string().as_str());
        headers.insert(headers::EVENT_TYPE, row.event_type.as_str());
        let trace_context: hms_telemetry::TraceContext =
            serde_json::from_value(row.trace_context.clone()).unwrap_or_default();
        hms_telemetry::inject_into_nats(&trace_context, &mut headers);
        self.jetstream
            .publish_with_headers(
                self.namespace.subject_for(&row.event_type),
                headers,
                row.payload.clone().into(),
            )
            .await
            .map_err(|error| error.to_string())
    }

    async fn prune(&self) -> Result<(), sqlx::Error> {
        let cutoff = chrono::Utc::now()
            - chrono::Duration::from_std(self.retention).unwrap_or(chrono::Duration::days(3));
        let deleted = sqlx::query("DELETE FROM hms_outbox WHERE published_at < $1")
            .bind(cutoff)
            .execute(&self.pool)
            .await?
            .rows_affected();
        if deleted > 0 {
            tracing::debug!(deleted, "pruned published outbox rows");
        }
        Ok(())
    }
}

/// How often the backlog is sampled.
const SAMPLE_INTERVAL: Duration = Duration::from_secs(5);

/// Keeps `hms_outbox_pending` (rows not yet published) and
/// `hms_outbox_oldest_pending_seconds` up to date: a relay that cannot
/// publish shows as both growing.
async fn sample_backlog(pool: PgPool, shutdown: CancellationToken) {
    let mut ticks = tokio::time::interval(SAMPLE_INTERVAL);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = ticks.tick() => {}
        }
        let sampled: Result<(i64, f64), sqlx::Error> = sqlx::query_as(
            "SELECT count(*), COALESCE(EXTRACT(EPOCH FROM now() - min(created_at))::float8, 0) \
             FROM hms_outbox WHERE published_at IS NULL",
        )
        .fetch_one(&pool)
        .await;
        if let Ok((pending, oldest)) = sampled {
            metrics::gauge!("hms_outbox_pending").set(pending as f64);
            metrics::gauge!("hms_outbox_oldest_pending_seconds").set(oldest.max(0.0));
        }
    }
}
