//! Events that arrive late, twice, never, or broken.

use std::time::Duration;

use async_nats::jetstream;
use hms_events::{Domain, Event};
use hms_proto::events::v1 as events;
use hms_proto::media::v1 as media;
use hms_proto::orders::v1 as orders;
use hms_proto::redaction::v1 as redaction;
use hms_test_support::{ServiceName, TestEnv, eventually};
use prost::Message;

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_approved_while_redaction_is_down_is_redacted_when_it_starts() {
    let mut env = TestEnv::new();
    env.start(ServiceName::Companies).await;
    env.start(ServiceName::Orders).await;
    env.start(ServiceName::Media).await;
    env.start(ServiceName::Cards).await;
    let mut clients = Clients::connect(&env).await;
    let (order, _) = submitted_order(&env, &mut clients).await;
    approve(&mut clients, &order.order_id).await;

    // Nothing redacts while redaction is down, though the card producer
    // has the print material.
    eventually("the print job", SOON, || async {
        (env.print_jobs().await.len() == 1).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let orders_db = env.db(ServiceName::Orders).await;
    let sealed =
        "SELECT count(*) FROM workers WHERE order_id = $1 AND national_id_sealed IS NOT NULL";
    assert_eq!(count(&orders_db, sealed, &order.order_id).await, 2);

    env.start(ServiceName::Redaction).await;
    let receipt = receipt(&mut clients, &order.order_id, SOON).await;
    assert_eq!(receipt.trigger, redaction::Trigger::Handover as i32);
    assert_eq!(count(&orders_db, sealed, &order.order_id).await, 0);
    let media_db = env.db(ServiceName::Media).await;
    assert_eq!(
        count(
            &media_db,
            "SELECT count(*) FROM documents WHERE order_id = $1",
            &order.order_id
        )
        .await,
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_approval_event_is_redacted_by_the_reconciler_at_the_print_deadline() {
    let mut env = TestEnv::new();
    env.set("HMS_RECONCILE_DELAY_SECS", "1");
    // No card is issued without the approval, so no handover comes: the
    // reconciler purges at the print deadline.
    env.set("HMS_REDACTION_PRINT_DEADLINE_SECS", "2");
    env.start(ServiceName::Companies).await;
    env.start(ServiceName::Orders).await;
    env.start(ServiceName::Media).await;
    let mut clients = Clients::connect(&env).await;
    let (order, _) = submitted_order(&env, &mut clients).await;
    approve(&mut clients, &order.order_id).await;

    lose_the_published_approval(&env).await;

    env.start(ServiceName::Redaction).await;
    let receipt = receipt(&mut clients, &order.order_id, SOON).await;
    assert_eq!(receipt.trigger, redaction::Trigger::Deadline as i32);
    assert_eq!(
        (
            receipt.workers_masked,
            receipt.objects_deleted,
            receipt.keys_destroyed
        ),
        (2, 6, 6)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duplicate_event_and_repeated_calls_change_nothing_twice() {
    let mut env = TestEnv::new();
    env.start_all().await;
    let mut clients = Clients::connect(&env).await;
    let (order, _) = submitted_order(&env, &mut clients).await;
    approve(&mut clients, &order.order_id).await;
    let first = receipt(&mut clients, &order.order_id, SOON).await;

    // The very same message again: JetStream drops it (same Nats-Msg-Id).
    let ack = publish_again::<events::OrderApproved>(&env, false).await;
    assert!(ack.duplicate, "JetStream recognised the duplicate");

    // The same event under another id (as after the duplicate window): the
    // consumer handles it, and nothing changes.
    let ack = publish_again::<events::OrderApproved>(&env, true).await;
    assert!(!ack.duplicate);
    wait_until_consumed(
        &env,
        Domain::Orders,
        "redaction-order_approved",
        ack.sequence,
    )
    .await;

    // Repeated calls to orders and media, as redaction would make them.
    let masked = mask_as(&env, "redaction", &[&order.order_id])
        .await
        .expect("mask again");
    let [(_, orders::masked_order::Outcome::Masked(masked))] = masked.as_slice() else {
        panic!("masked again: {masked:?}");
    };
    assert_eq!((masked.workers_masked, masked.workers_total), (0, 2));
    let purged = purge_as(&env, "redaction", &[&order.order_id])
        .await
        .expect("purge again");
    let [(_, media::purged_order::Outcome::Purged(purged))] = purged.as_slice() else {
        panic!("purged again: {purged:?}");
    };
    assert_eq!((purged.objects_deleted, purged.keys_destroyed), (0, 0));
    assert_eq!(
        (purged.total_objects_deleted, purged.total_keys_destroyed),
        (6, 6)
    );
    let manual = clients
        .back_office
        .redaction
        .redact_order(redaction::RedactOrderRequest {
            order_id: order.order_id.clone(),
        })
        .await
        .expect("redact again")
        .into_inner()
        .receipt
        .expect("a receipt");
    assert_eq!(manual, first, "the receipt is unchanged");

    assert_eq!(
        redacted_events(&env).await.len(),
        1,
        "OrderRedacted was published once"
    );
    let redaction_db = env.db(ServiceName::Redaction).await;
    let receipts: i64 = sqlx::query_scalar("SELECT count(*) FROM redactions")
        .fetch_one(&redaction_db)
        .await
        .expect("count");
    assert_eq!(receipts, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poison_event_is_parked_without_blocking_the_events_behind_it() {
    let mut env = TestEnv::new();
    env.set("HMS_EVENT_MAX_DELIVER", "3");
    // Slow retries, so the poison is still being retried when the good
    // event behind it is handled.
    env.set("HMS_EVENT_RETRY_BASE_MS", "4000");
    env.set("HMS_EVENT_RETRY_MAX_MS", "4000");
    // Notifications consumes approvals too and would park copies of its
    // own; this test watches redaction's consumer alone.
    for service in ServiceName::ALL
        .into_iter()
        .filter(|service| *service != ServiceName::Notifications)
    {
        env.start(service).await;
    }
    let mut clients = Clients::connect(&env).await;
    let (order, _) = submitted_order(&env, &mut clients).await;

    let jetstream = env.jetstream().await;
    let subject = env.subject(events::OrderApproved::TYPE);
    // Undecodable bytes: parked at once.
    publish(&jetstream, &subject, vec![0xFF, 0xFF, 0xFF, 0xFF]).await;
    // A well-formed approval of an order nobody knows: fails every time.
    let unknown_order = uuid::Uuid::now_v7().to_string();
    let poison = events::OrderApproved {
        order_id: unknown_order.clone(),
        company_id: uuid::Uuid::now_v7().to_string(),
        worker_count: 1,
        occurred_at: None,
    };
    publish(&jetstream, &subject, poison.encode_to_vec()).await;

    approve(&mut clients, &order.order_id).await;
    receipt(&mut clients, &order.order_id, SOON).await;
    // The good event was handled while the poison still waited for its
    // second delivery: only the undecodable message is parked so far.
    assert_eq!(
        parked_by_redaction(&jetstream, &env).await.len(),
        1,
        "the good event did not wait for the poison"
    );

    let reasons = eventually("two parked events", Duration::from_secs(30), || {
        let jetstream = jetstream.clone();
        let env = &env;
        async move {
            let parked = parked_by_redaction(&jetstream, env).await;
            (parked.len() == 2).then_some(parked)
        }
    })
    .await;
    assert!(
        reasons
            .iter()
            .any(|(reason, deliveries)| reason.contains("not a valid") && deliveries == "1"),
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .any(|(reason, deliveries)| reason.contains("failed 3 times") && deliveries == "3"),
        "{reasons:?}"
    );
    // Parking does not leave the poison half-handled in redaction.
    let redaction_db = env.db(ServiceName::Redaction).await;
    assert_eq!(
        count(
            &redaction_db,
            "SELECT count(*) FROM redactions WHERE order_id = $1",
            &unknown_order
        )
        .await,
        0
    );
}

/// The reason and the delivery count of each event redaction's approval
/// consumer parked (cards parks its own copies of bad approvals too).
async fn parked_by_redaction(
    jetstream: &jetstream::Context,
    env: &TestEnv,
) -> Vec<(String, String)> {
    let parked = parked_by(jetstream, env, "redaction-order_approved").await;
    parked
        .into_iter()
        .map(|(reason, deliveries, subject)| {
            assert_eq!(subject, env.subject(events::OrderApproved::TYPE));
            (reason, deliveries)
        })
        .collect()
}

/// The reason, the delivery count and the subject of each event `consumer`
/// parked.
async fn parked_by(
    jetstream: &jetstream::Context,
    env: &TestEnv,
    consumer: &str,
) -> Vec<(String, String, String)> {
    let Ok(mut stream) = jetstream.get_stream(env.stream_name(Domain::Parked)).await else {
        return Vec::new();
    };
    let last = stream
        .info()
        .await
        .map(|info| info.state.last_sequence)
        .unwrap_or(0);
    let mut parked = Vec::new();
    for sequence in 1..=last {
        let Ok(message) = stream.get_raw_message(sequence).await else {
            continue;
        };
        let header = |name: &str| {
            message
                .headers
                .get(name)
                .map(|v| v.as_str().to_owned())
                .unwrap_or_default()
        };
        if header(hms_events::headers::PARKED_CONSUMER) != consumer {
            continue;
        }
        parked.push((
            header(hms_events::headers::PARKED_REASON),
            header(hms_events::headers::PARKED_DELIVERIES),
            header(hms_events::headers::PARKED_SUBJECT),
        ));
    }
    parked
}

/// Waits until the approval left orders' outbox, then purges it from the
/// stream: an event nobody will ever be delivered.
async fn lose_the_published_approval(env: &TestEnv) {
    let orders_db = env.db(ServiceName::Orders).await;
    eventually("the approval to be published", SOON, || {
        let db = orders_db.clone();
        async move {
            let published: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM hms_outbox WHERE event_type = 'hms.orders.v1.order_approved' AND published_at IS NOT NULL",
            )
            .fetch_one(&db)
            .await
            .ok()?;
            (published == 1).then_some(())
        }
    })
    .await;
    let purged = env
        .jetstream()
        .await
        .get_stream(env.stream_name(Domain::Orders))
        .await
        .expect("the orders stream")
        .purge()
        .filter(env.subject(events::OrderApproved::TYPE))
        .await
        .expect("purge the approval");
    assert_eq!(purged.purged, 1);
}

async fn publish(jetstream: &jetstream::Context, subject: &str, payload: Vec<u8>) {
    let mut headers = async_nats::HeaderMap::new();
    headers.insert(
        hms_events::headers::MESSAGE_ID,
        uuid::Uuid::now_v7().to_string().as_str(),
    );
    jetstream
        .publish_with_headers(subject.to_owned(), headers, payload.into())
        .await
        .expect("publish")
        .await
        .expect("acknowledged");
}

/// Counts how many events are inside the handler at once, and which.
#[derive(Default)]
struct Overlap {
    inside: std::sync::atomic::AtomicUsize,
    most: std::sync::atomic::AtomicUsize,
    handled: std::sync::Mutex<Vec<String>>,
}

struct SlowHandler(std::sync::Arc<Overlap>);

impl hms_events::EventHandler<events::AccessGranted> for SlowHandler {
    async fn handle(
        &self,
        event: events::AccessGranted,
        _meta: &hms_events::EventMeta,
        _tx: &mut sqlx::PgConnection,
    ) -> Result<(), hms_events::HandlerError> {
        use std::sync::atomic::Ordering::SeqCst;
        let now = self.0.inside.fetch_add(1, SeqCst) + 1;
        self.0.most.fetch_max(now, SeqCst);
        // Long enough for the consumer to take the next events meanwhile.
        tokio::time::sleep(Duration::from_millis(300)).await;
        self.0
            .handled
            .lock()
            .expect("not poisoned")
            .push(event.grant_id);
        self.0.inside.fetch_sub(1, SeqCst);
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_of_one_type_are_handled_side_by_side_within_the_bound_and_each_once() {
    let mut env = TestEnv::new();
    // Any service, for a database with the handled-event records.
    env.start(ServiceName::Companies).await;
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(9)
        .connect(&env.database_url(ServiceName::Companies))
        .await
        .expect("the database");
    let config = hms_events::EventsConfig {
        nats_url: env.setting("HMS_NATS_URL").expect("nats").to_owned(),
        nats_namespace: env.id().to_owned(),
        event_concurrency: 4,
        ..hms_events::EventsConfig::default()
    };
    // Nine connections: four handlers with two each, and one to spare.
    let bound = hms_events::consumer::handler_slots(&config, &pool);
    assert_eq!(bound, 4);
    let overlap = std::sync::Arc::new(Overlap::default());
    let jetstream = env.jetstream().await;
    let consumer = hms_events::Consumer::new(
        "probe",
        pool,
        jetstream.clone(),
        &config,
        SlowHandler(overlap.clone()),
    )
    .expect("a consumer");
    let shutdown = tokio_util::sync::CancellationToken::new();
    let task = consumer.start(shutdown.clone()).await.expect("consuming");

    let subject = env.subject(events::AccessGranted::TYPE);
    let grants: Vec<String> = (0..12).map(|n| format!("grant-{n}")).collect();
    for grant in &grants {
        let event = events::AccessGranted {
            grant_id: grant.clone(),
            ..Default::default()
        };
        publish(&jetstream, &subject, event.encode_to_vec()).await;
    }
    eventually("every event handled", SOON, || async {
        (overlap.handled.lock().expect("not poisoned").len() >= grants.len()).then_some(())
    })
    .await;
    shutdown.cancel();
    task.await.expect("the consumer stops");

    let mut handled = overlap.handled.lock().expect("not poisoned").clone();
    handled.sort();
    let mut expected = grants.clone();
    expected.sort();
    assert_eq!(handled, expected, "each event once");
    let most = overlap.most.load(std::sync::atomic::Ordering::SeqCst);
    assert!(
        (2..=bound).contains(&most),
        "{most} events were handled at once; side by side, at most {bound}"
    );
}

/// The grant that no batch takes and that is refused alone.
const POISON: &str = "grant-poison";

/// Writes each grant it handles into `probe_handled`, in the consumer's
/// transaction, and counts its batches.
struct BatchProbe(std::sync::Arc<std::sync::Mutex<Vec<usize>>>);

async fn record_grants(
    tx: &mut sqlx::PgConnection,
    grants: Vec<String>,
) -> Result<(), hms_events::HandlerError> {
    sqlx::query("INSERT INTO probe_handled (grant_id) SELECT unnest($1::text[])")
        .bind(grants)
        .execute(tx)
        .await
        .map(drop)
        .map_err(|error| hms_events::HandlerError::Unavailable(error.to_string()))
}

impl hms_events::EventHandler<events::AccessGranted> for BatchProbe {
    async fn handle(
        &self,
        event: events::AccessGranted,
        _meta: &hms_events::EventMeta,
        tx: &mut sqlx::PgConnection,
    ) -> Result<(), hms_events::HandlerError> {
        if event.grant_id == POISON {
            return Err(hms_events::HandlerError::Reject("poison".to_owned()));
        }
        record_grants(tx, vec![event.grant_id]).await
    }

    fn batch_size(&self) -> usize {
        8
    }

    async fn handle_batch(
        &self,
        events: Vec<(events::AccessGranted, hms_events::EventMeta)>,
        tx: &mut sqlx::PgConnection,
    ) -> Result<(), hms_events::HandlerError> {
        self.0.lock().expect("not poisoned").push(events.len());
        let grants: Vec<String> = events
            .into_iter()
            .map(|(event, _)| event.grant_id)
            .collect();
        // Written before failing: the rollback must undo it.
        record_grants(tx, grants.clone()).await?;
        if grants.iter().any(|grant| grant == POISON) {
            return Err(hms_events::HandlerError::Retry(
                "a poisoned batch".to_owned(),
            ));
        }
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_that_arrive_together_are_handled_in_batches_each_once_and_poison_alone() {
    let mut env = TestEnv::new();
    // Any service, for a database with the handled-event records.
    env.start(ServiceName::Companies).await;
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(5)
        .connect(&env.database_url(ServiceName::Companies))
        .await
        .expect("the database");
    sqlx::query("CREATE TABLE probe_handled (grant_id text NOT NULL)")
        .execute(&pool)
        .await
        .expect("a probe table");
    let config = hms_events::EventsConfig {
        nats_url: env.setting("HMS_NATS_URL").expect("nats").to_owned(),
        nats_namespace: env.id().to_owned(),
        event_concurrency: 2,
        ..hms_events::EventsConfig::default()
    };
    // Every event is waiting before the consumer starts, so they arrive
    // together.
    let jetstream = env.jetstream().await;
    let subject = env.subject(events::AccessGranted::TYPE);
    let mut grants: Vec<String> = (0..39).map(|n| format!("grant-{n:02}")).collect();
    grants.insert(20, POISON.to_owned());
    for grant in &grants {
        let event = events::AccessGranted {
            grant_id: grant.clone(),
            ..Default::default()
        };
        publish(&jetstream, &subject, event.encode_to_vec()).await;
    }
    let batches = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let consumer = hms_events::Consumer::new(
        "probe",
        pool.clone(),
        jetstream.clone(),
        &config,
        BatchProbe(batches.clone()),
    )
    .expect("a consumer");
    let shutdown = tokio_util::sync::CancellationToken::new();
    let task = consumer.start(shutdown.clone()).await.expect("consuming");

    let parked = eventually("the poison parked", SOON, || {
        let jetstream = jetstream.clone();
        let env = &env;
        async move {
            let parked = parked_by(&jetstream, env, "probe-access_granted").await;
            (!parked.is_empty()).then_some(parked)
        }
    })
    .await;
    eventually("every good grant handled", SOON, || {
        let pool = pool.clone();
        async move {
            let handled: i64 = sqlx::query_scalar("SELECT count(*) FROM probe_handled")
                .fetch_one(&pool)
                .await
                .ok()?;
            (handled >= 39).then_some(())
        }
    })
    .await;
    shutdown.cancel();
    task.await.expect("the consumer stops");

    let handled: Vec<String> =
        sqlx::query_scalar("SELECT grant_id FROM probe_handled ORDER BY grant_id")
            .fetch_all(&pool)
            .await
            .expect("the handled grants");
    let mut expected: Vec<String> = grants
        .iter()
        .filter(|grant| *grant != POISON)
        .cloned()
        .collect();
    expected.sort();
    assert_eq!(handled, expected, "each good grant once, the poison never");
    assert_eq!(parked.len(), 1, "{parked:?}");
    assert_eq!(parked[0].0, "poison");
    let records: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM hms_processed_events WHERE consumer = 'probe-access_granted'",
    )
    .fetch_one(&pool)
    .await
    .expect("the handled-event records");
    assert_eq!(records, 39, "recorded as handled: the good grants");
    let batches = batches.lock().expect("not poisoned").clone();
    assert!(
        batches.iter().any(|size| *size > 1) && batches.iter().all(|size| *size <= 8),
        "batches of up to 8: {batches:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_approval_event_still_gets_its_cards_from_the_reconciler() {
    let mut env = TestEnv::new();
    env.set("HMS_RECONCILE_DELAY_SECS", "1");
    env.start(ServiceName::Companies).await;
    env.start(ServiceName::Orders).await;
    env.start(ServiceName::Media).await;
    let mut clients = Clients::connect(&env).await;
    let (order, _) = submitted_order(&env, &mut clients).await;
    approve(&mut clients, &order.order_id).await;

    lose_the_published_approval(&env).await;

    // Cards never hears of the approval, yet issues the cards and hands
    // the print job over.
    env.start(ServiceName::Cards).await;
    let cards = issued_cards(&clients.owner, &order.company_id, 2).await;
    assert!(cards.iter().all(|card| card.order_id == order.order_id));
    eventually("the print job", SOON, || async {
        (env.print_jobs().await.len() == 1).then_some(())
    })
    .await;
    assert!(
        env.logs()
            .contains("issued the cards of an approval whose event was missed")
    );
}
