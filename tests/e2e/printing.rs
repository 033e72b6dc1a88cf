//! Printing before forgetting: between approval and the purge, each order's
//! print material goes to the card producer exactly once, and the purge
//! follows the handover, or a deadline if the handover never comes.

use std::time::{Duration, Instant};

use hms_proto::cards::v1 as cards;
use hms_proto::events::v1 as events;
use hms_proto::redaction::v1 as redaction;
use hms_test_support::fakes::{BACK_OFFICE_EMAIL, PrintJob};
use hms_test_support::{ServiceName, TestEnv, eventually};
use serde_json::json;

use crate::common::*;

/// The documents of an order still in media: stored objects and rows.
async fn documents_left(env: &TestEnv, order_id: &str) -> (usize, i64) {
    let media_db = env.db(ServiceName::Media).await;
    let rows = count(
        &media_db,
        "SELECT count(*) FROM documents WHERE order_id = $1::uuid",
        order_id,
    )
    .await;
    (files_below(&env.objects_dir()).len(), rows)
}

async fn one_job(env: &TestEnv) -> PrintJob {
    eventually("the print job at the producer", SOON, || async {
        let jobs = env.print_jobs().await;
        (jobs.len() == 1).then(|| jobs[0].clone())
    })
    .await
}

fn print_state(card: &cards::Card) -> cards::PrintState {
    cards::PrintState::try_from(card.print_state).expect("a print state")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_producer_down_for_30_s_gets_the_job_once_and_the_purge_follows_it() {
    let mut env = TestEnv::new();
    env.set("HMS_PRINT_RETRY_MAX_MS", "2000");
    env.start_all().await;
    env.producer_fail(json!({"status": 503, "for_ms": 30_000}))
        .await;
    let down_since = Instant::now();
    let mut clients = Clients::connect(&env).await;
    let (order, national_ids) = submitted_order(&env, &mut clients).await;
    approve(&mut clients, &order.order_id).await;
    let issued = issued_cards(&clients.owner, &order.company_id, 2).await;

    // While the producer is down, the numbers are masked at once, but every
    // photo, ID copy and signature stays: nothing is purged before the
    // handover.
    let orders_db = env.db(ServiceName::Orders).await;
    eventually("the numbers to be masked", SOON, || async {
        let sealed = count(
            &orders_db,
            "SELECT count(*) FROM workers WHERE order_id = $1::uuid AND national_id_sealed IS NOT NULL",
            &order.order_id,
        )
        .await;
        (sealed == 0).then_some(())
    })
    .await;
    while down_since.elapsed() < Duration::from_secs(28) {
        let (objects, rows) = documents_left(&env, &order.order_id).await;
        assert_eq!((objects, rows), (6, 6), "purged before the handover");
        assert!(env.print_jobs().await.is_empty());
        tokio::time::sleep(Duration::from_secs(2)).await;
    }

    // Back: the job goes out once, with every card and its images.
    let job = one_job(&env).await;
    assert_eq!(job.sent, 1, "sent once, not once per retry");
    assert_eq!(job.idempotency_key, order.order_id);
    let mut printed: Vec<&str> = job.cards.iter().map(|c| c.card_number.as_str()).collect();
    printed.sort_unstable();
    let mut numbers: Vec<&str> = issued.iter().map(|c| c.card_number.as_str()).collect();
    numbers.sort_unstable();
    assert_eq!(printed, numbers);
    for card in &job.cards {
        assert!(card.photo_bytes > 1000 && card.signature_bytes > 100);
        assert_eq!(card.employer_org_number, "310100005");
        assert_eq!(card.card_type, "construction");
    }

    // And the purge follows within seconds of the handover.
    let receipt = receipt(&mut clients, &order.order_id, SOON).await;
    assert_eq!(receipt.trigger, redaction::Trigger::Handover as i32);
    assert_eq!(receipt.objects_deleted, 6);
    let purged_at = hms_proto::time::from_timestamp(receipt.completed_at.as_ref().expect("done"))
        .expect("a time")
        .timestamp_millis();
    let after_handover = purged_at - i64::try_from(job.accepted_at_ms).expect("a time");
    assert!(
        (0..5_000).contains(&after_handover),
        "purged {after_handover} ms after the handover"
    );
    assert_eq!(documents_left(&env, &order.order_id).await, (0, 0));
    for card in issued_cards(&clients.owner, &order.company_id, 2).await {
        assert_eq!(print_state(&card), cards::PrintState::HandedOver);
    }
    outbox_drained(&env, ServiceName::Cards).await;
    assert_eq!(published::<events::PrintHandedOver>(&env).await.len(), 1);
    assert_eq!(redacted_events(&env).await.len(), 1);
    let logs = env.logs();
    for national_id in &national_ids {
        assert!(!logs.contains(national_id.as_str()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_deadline_the_photos_are_purged_anyway_and_the_cards_need_a_new_one() {
    let mut env = TestEnv::new();
    env.set("HMS_REDACTION_PRINT_DEADLINE_SECS", "4");
    env.set("HMS_RECONCILE_INTERVAL_SECS", "1");
    env.set("HMS_RECONCILE_DELAY_SECS", "1");
    env.start_all().await;
    env.producer_fail(json!({"status": 503, "for_ms": 600_000}))
        .await;
    let mut clients = Clients::connect(&env).await;
    let (order, _) = submitted_order(&env, &mut clients).await;
    let approved_at = Instant::now();
    approve(&mut clients, &order.order_id).await;
    issued_cards(&clients.owner, &order.company_id, 2).await;

    let receipt = receipt(&mut clients, &order.order_id, SOON).await;
    let waited = approved_at.elapsed();
    assert_eq!(receipt.trigger, redaction::Trigger::Deadline as i32);
    assert!(
        (Duration::from_secs(4)..Duration::from_secs(12)).contains(&waited),
        "purged {waited:?} after the approval"
    );
    assert_eq!(documents_left(&env, &order.order_id).await, (0, 0));

    // The cards need a new photo; the company and the back office are told
    // which, and the producer never gets a job without photos.
    let issued = eventually("the cards to need a new photo", SOON, || async {
        let issued = issued_cards(&clients.owner, &order.company_id, 2).await;
        issued
            .iter()
            .all(|card| print_state(card) == cards::PrintState::NeedsPhoto)
            .then_some(issued)
    })
    .await;
    for to in [BACK_OFFICE_EMAIL, "post@nordmannbygg.no"] {
        let mail = eventually(&format!("the message to {to}"), SOON, || async {
            env.mail()
                .to(to)
                .into_iter()
                .find(|mail| mail.subject.contains("Nytt bilde"))
        })
        .await;
        for card in &issued {
            assert!(mail.text.contains(&card.holder_name), "{}", mail.text);
        }
    }
    env.producer_fail(json!({"status": 503, "for_ms": 0})).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(env.print_jobs().await.is_empty());
}

/// Kills `service` at the worst moment the test can arrange, starts it
/// again, and checks the order still ends in one job, one purge and one
/// receipt.
async fn crash_and_recover(service: ServiceName) {
    let mut env = TestEnv::new();
    env.set("HMS_PRINT_TIMEOUT_SECS", "2");
    env.set("HMS_PRINT_RETRY_MAX_MS", "1000");
    env.start_all().await;
    let mut clients = Clients::connect(&env).await;
    let (order, _) = submitted_order(&env, &mut clients).await;
    match service {
        // The producer has taken the job, its answer is on the way: cards
        // dies before it records the handover, and sends again on restart.
        ServiceName::Cards => {
            env.producer_delay(10_000).await;
            approve(&mut clients, &order.order_id).await;
            one_job(&env).await;
            env.crash(ServiceName::Cards).await;
            env.producer_delay(0).await;
            env.start(ServiceName::Cards).await;
        }
        // Media dies while cards reads the photos; cards waits for it.
        ServiceName::Media => {
            env.crash(ServiceName::Media).await;
            approve(&mut clients, &order.order_id).await;
            issued_cards(&clients.owner, &order.company_id, 2).await;
            tokio::time::sleep(Duration::from_secs(2)).await;
            assert!(env.print_jobs().await.is_empty());
            env.start(ServiceName::Media).await;
        }
        // Redaction dies before it hears of the approval or the handover.
        ServiceName::Redaction => {
            env.crash(ServiceName::Redaction).await;
            approve(&mut clients, &order.order_id).await;
            one_job(&env).await;
            env.start(ServiceName::Redaction).await;
        }
        other => panic!("no crash arranged for {}", other.as_str()),
    }
    let receipt = receipt(&mut clients, &order.order_id, SOON).await;
    assert_eq!(receipt.objects_deleted, 6);
    let job = one_job(&env).await;
    assert_eq!(job.cards.len(), 2);
    if service == ServiceName::Cards {
        assert_eq!(
            job.sent, 2,
            "sent again after the crash, taken as the same job"
        );
    }
    outbox_drained(&env, ServiceName::Redaction).await;
    outbox_drained(&env, ServiceName::Cards).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(env.print_jobs().await.len(), 1, "one print job");
    assert_eq!(redacted_events(&env).await.len(), 1, "one receipt");
    assert_eq!(published::<events::PrintHandedOver>(&env).await.len(), 1);
    let media_db = env.db(ServiceName::Media).await;
    let (purged, keys_destroyed): (bool, i32) = sqlx::query_as(
        "SELECT purged_at IS NOT NULL, total_keys_destroyed FROM media_orders WHERE order_id = $1::uuid",
    )
    .bind(&order.order_id)
    .fetch_one(&media_db)
    .await
    .expect("the order in media");
    assert!(purged);
    assert_eq!(keys_destroyed, 6, "each key destroyed once");
    assert_eq!(receipt.keys_destroyed, 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cards_killed_before_it_records_the_handover_sends_the_same_job_again() {
    crash_and_recover(ServiceName::Cards).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_killed_before_the_photos_are_read_delays_the_job_only() {
    crash_and_recover(ServiceName::Media).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redaction_killed_before_the_handover_purges_once_when_it_returns() {
    crash_and_recover(ServiceName::Redaction).await;
}
