//! Cards: the public card check's rate and latency through the gateway,
//! for a card that exists and for a number no card has (the same, by
//! design: the answer waits for `HMS_CARD_LOOKUP_FLOOR_MS`), and the
//! latency from an order's approval to its cards' issue, their print
//! handover to the card producer (its fake, answering at once) and the
//! purge of the photos, at a steady rate of approvals. Run with
//! `cargo xtask bench`.
//!
//! The approval-to-purge figures come from the services' own records
//! (the order's `decided_at`, the card's `issued_at`, the print job's
//! `handed_over_at`, the receipt's `completed_at`), all on this machine's
//! clock, so no polling adds to them.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use hms_domain::CardNumber;
use hms_test_support::latency::Latencies;
use hms_test_support::{ServiceName, TestEnv};
use serde_json::Value;
use uuid::Uuid;

mod common;
use common::{System, approve, started, submitted_order, times};

const CONCURRENCY: usize = 16;
const CHECK_FOR: Duration = Duration::from_secs(10);
/// Orders approved at a steady rate, one worker each.
const ORDERS: usize = 20;
const APPROVAL_EVERY: Duration = Duration::from_millis(500);

#[tokio::main]
async fn main() {
    let mut env = TestEnv::new();
    let System {
        http,
        api,
        kari,
        siri,
        company_id,
    } = started(&mut env).await;
    let mut orders = Vec::with_capacity(ORDERS);
    for n in 0..ORDERS {
        orders.push(submitted_order(&http, &api, &kari, &company_id, n).await);
    }
    approval_to_purge(&env, &http, &api, &siri, &orders).await;

    let cards_db = env.db(ServiceName::Cards).await;
    let known: Vec<String> = sqlx::query_scalar("SELECT card_number FROM cards")
        .fetch_all(&cards_db)
        .await
        .expect("the issued cards");
    let unknown: Vec<String> = std::iter::repeat_with(|| {
        CardNumber::from_body(rand::random_range(100_000_000..1_000_000_000)).to_string()
    })
    .filter(|number| !known.contains(number))
    .take(1000)
    .collect();
    println!(
        "public card check through the gateway ({CONCURRENCY} concurrent clients, {} s each)",
        CHECK_FOR.as_secs()
    );
    check_benchmark(&http, &api, "a card that exists", &known, true).await;
    check_benchmark(&http, &api, "a number no card has", &unknown, false).await;
    offline_benchmark(&http, &api, &kari, &known).await;
}

/// QR payloads verified with a saved key set and status list, on one
/// core, with no network: what a site's scanner does.
async fn offline_benchmark(http: &reqwest::Client, api: &str, token: &str, numbers: &[String]) {
    let mut payloads = Vec::new();
    for number in numbers {
        let credential: Value = http
            .get(format!("{api}/api/v1/cards/{number}/credential"))
            .bearer_auth(token)
            .send()
            .await
            .expect("a credential")
            .json()
            .await
            .expect("json");
        payloads.push(
            credential["payload"]
                .as_str()
                .expect("a payload")
                .to_owned(),
        );
    }
    let fetch = |path: &'static str| async move {
        http.get(format!("{api}{path}"))
            .send()
            .await
            .expect("published")
            .bytes()
            .await
            .expect("bytes")
    };
    let keys = hms_card_credential::KeySet::from_json(
        &fetch("/api/v1/public/card-credentials/keys").await,
    )
    .expect("keys");
    let list_bytes = fetch("/api/v1/public/card-credentials/status-list").await;
    let list = hms_card_credential::StatusListToken::verify(&list_bytes, &keys).expect("a list");
    let started = Instant::now();
    let mut verified = 0usize;
    while started.elapsed() < Duration::from_secs(3) {
        for payload in &payloads {
            let outcome =
                hms_card_credential::verify(payload, &keys, &list, Utc::now()).expect("verified");
            assert_eq!(outcome.standing, hms_card_credential::Standing::Valid);
            verified += 1;
        }
    }
    let elapsed = started.elapsed();
    let longest = payloads.iter().map(String::len).max().unwrap_or(0);
    println!(
        "offline QR verification (one core, saved keys and a {} byte status list of {} entries)",
        list_bytes.len(),
        list.list.len()
    );
    println!(
        "  {verified} verifications, {:.0} per second, {:.1?} each; payloads up to {longest} characters",
        verified as f64 / elapsed.as_secs_f64(),
        elapsed / u32::try_from(verified.max(1)).unwrap_or(u32::MAX),
    );
}

async fn approval_to_purge(
    env: &TestEnv,
    http: &reqwest::Client,
    api: &str,
    siri: &str,
    orders: &[String],
) {
    let started = Instant::now();
    for (n, order_id) in orders.iter().enumerate() {
        tokio::time::sleep_until((started + APPROVAL_EVERY * u32::try_from(n).unwrap_or(0)).into())
            .await;
        approve(http, api, siri, order_id).await;
    }
    let redaction_db = env.db(ServiceName::Redaction).await;
    let deadline = Instant::now() + Duration::from_secs(120);
    let purged: HashMap<Uuid, DateTime<Utc>> = loop {
        let rows: Vec<(Uuid, DateTime<Utc>)> = sqlx::query_as(
            "SELECT order_id, completed_at FROM redactions WHERE completed_at IS NOT NULL",
        )
        .fetch_all(&redaction_db)
        .await
        .expect("receipts");
        if rows.len() == orders.len() {
            break rows.into_iter().collect();
        }
        assert!(
            Instant::now() < deadline,
            "only {} of {} orders purged",
            rows.len(),
            orders.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let elapsed = started.elapsed();
    let decided = times(
        env,
        ServiceName::Orders,
        "SELECT id, decided_at FROM orders",
    )
    .await;
    let issued = times(
        env,
        ServiceName::Cards,
        "SELECT order_id, min(issued_at) FROM cards GROUP BY order_id",
    )
    .await;
    let handed_over = times(
        env,
        ServiceName::Cards,
        "SELECT order_id, handed_over_at FROM print_jobs WHERE handed_over_at IS NOT NULL",
    )
    .await;
    let since_approval = |times: &HashMap<Uuid, DateTime<Utc>>| {
        let samples = decided
            .iter()
            .map(|(order, approved_at)| {
                let at = times.get(order).expect("every order reached this step");
                (*at - *approved_at).to_std().unwrap_or_default()
            })
            .collect();
        Latencies::of(samples, elapsed)
    };
    println!(
        "cards: from approval, {ORDERS} orders approved one every {} ms",
        APPROVAL_EVERY.as_millis()
    );
    println!("{:<34} {:>10} {:>10} {:>10}", "", "p50", "p99", "max");
    for (step, figures) in [
        ("card issued", since_approval(&issued)),
        ("print job handed over", since_approval(&handed_over)),
        ("photos purged (receipt)", since_approval(&purged)),
    ] {
        println!(
            "{step:<34} {:>10.1?} {:>10.1?} {:>10.1?}",
            figures.p50, figures.p99, figures.max
        );
    }
}

/// One instant per order, from a service's database.
async fn check_benchmark(
    http: &reqwest::Client,
    api: &str,
    what: &str,
    numbers: &[String],
    valid: bool,
) {
    let started = Instant::now();
    let workers: Vec<_> = (0..CONCURRENCY)
        .map(|worker| {
            let http = http.clone();
            let urls: Vec<String> = numbers
                .iter()
                .map(|number| format!("{api}/api/v1/public/cards/{number}"))
                .collect();
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut n = worker;
                while started.elapsed() < CHECK_FOR {
                    let begun = Instant::now();
                    let response = http.get(&urls[n % urls.len()]).send().await.expect("check");
                    assert!(response.status().is_success(), "{}", response.status());
                    let answer: Value = response.json().await.expect("an answer");
                    assert_eq!(answer["valid"], valid);
                    latencies.push(begun.elapsed());
                    n += CONCURRENCY;
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for worker in workers {
        latencies.extend(worker.await.expect("a worker"));
    }
    let figures = Latencies::of(latencies, started.elapsed());
    println!(
        "  {what:<22} {} checks, {:.0} per second, p50 {:.1?}, p99 {:.1?}, max {:.1?}",
        figures.count, figures.per_second, figures.p50, figures.p99, figures.max,
    );
}
