//! Chaos: a stream of approvals while orders, media and redaction are
//! killed (SIGKILL) and started again, and PostgreSQL and NATS are
//! restarted; then the databases, the object store and the streams are
//! asked whether anything was lost. Run by `cargo xtask chaos`, which owns
//! the private PostgreSQL and NATS this restarts: a line `CHAOS restart
//! <postgres|nats>` on stdout asks it to, and it answers `done` on stdin.
//!
//! Prints what was done and what was found, and exits non-zero if any
//! order was not forgotten exactly once.

use std::collections::HashMap;
use std::io::BufRead;
use std::time::{Duration, Instant};

use futures::StreamExt;
use hms_events::{Domain, Event};
use hms_proto::events::v1 as events;
use hms_test_support::{ServiceName, TestEnv};
use rand::Rng;
use rand::seq::SliceRandom;
use uuid::Uuid;

// Shared with the benchmarks, whose plain approval this run does not use:
// it retries its own while the services are down.
#[allow(dead_code)]
mod common;
use common::{System, started, submitted_order};

/// Orders approved during the run (`HMS_CHAOS_ORDERS`).
const ORDERS: usize = 2_000;
/// Approvals a second.
const RATE: u32 = 100;
/// Orders prepared at once, and approvals in flight at most.
const IN_FLIGHT: usize = 8;
/// How long everything may take to settle after the last approval.
const PATIENCE: Duration = Duration::from_secs(600);

#[derive(Debug, Clone, Copy)]
enum Fault {
    Kill(ServiceName),
    Restart(&'static str),
}

impl Fault {
    fn describe(self) -> String {
        match self {
            Self::Kill(service) => format!("kill -9 {service}, start it again"),
            Self::Restart(what) => format!("restart {what}"),
        }
    }
}

#[tokio::main]
async fn main() {
    let count: usize = std::env::var("HMS_CHAOS_ORDERS")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(ORDERS);
    let mut env = TestEnv::new();
    // What a crash drops (an event handled but not acknowledged, a call
    // cut off), the reconcilers find again within seconds, as they would
    // within minutes in production.
    env.set("HMS_RECONCILE_DELAY_SECS", "5");
    env.set("HMS_RECONCILE_INTERVAL_SECS", "2");
    let System {
        http,
        api,
        kari,
        siri,
        company_id,
    } = started(&mut env).await;

    let prepared_at = Instant::now();
    let orders: Vec<String> = futures::stream::iter(0..count)
        .map(|n| submitted_order(&http, &api, &kari, &company_id, n))
        .buffer_unordered(IN_FLIGHT)
        .collect()
        .await;
    println!(
        "chaos: {count} orders of one worker and three documents prepared in {:.1?}",
        prepared_at.elapsed()
    );

    // Approvals at a steady rate, each retried until the back office's
    // API takes it (it answers 503 while orders or its database is away).
    let window = Duration::from_secs(1) / RATE * u32::try_from(count).unwrap_or(u32::MAX);
    let started_at = Instant::now();
    let approvals = {
        let (http, api, siri, orders) = (http.clone(), api.clone(), siri.clone(), orders.clone());
        tokio::spawn(async move {
            let every = Duration::from_secs(1) / RATE;
            let outcomes: Vec<Result<u32, String>> =
                futures::stream::iter(orders.into_iter().enumerate())
                    .map(|(n, order_id)| {
                        let (http, api, siri) = (http.clone(), api.clone(), siri.clone());
                        async move {
                            let at = started_at + every * u32::try_from(n).unwrap_or(0);
                            tokio::time::sleep_until(at.into()).await;
                            approve_until_taken(&http, &api, &siri, &order_id).await
                        }
                    })
                    .buffer_unordered(IN_FLIGHT * 4)
                    .collect()
                    .await;
            outcomes
        })
    };

    // The faults, each at a random moment of the approval window.
    let mut faults = vec![
        Fault::Kill(ServiceName::Orders),
        Fault::Kill(ServiceName::Media),
        Fault::Kill(ServiceName::Redaction),
        Fault::Kill(ServiceName::Redaction),
        Fault::Restart("postgres"),
        Fault::Restart("nats"),
    ];
    faults.shuffle(&mut rand::rng());
    let slot = window / u32::try_from(faults.len()).unwrap_or(1);
    let mut done: Vec<(Duration, String, Duration)> = Vec::new();
    for (n, fault) in faults.into_iter().enumerate() {
        // Somewhere in its own slice of the window, so faults do not pile up.
        let offset = rand::rng().random_range(0.1..0.7);
        let at = slot * u32::try_from(n).unwrap_or(0) + slot.mul_f64(offset);
        tokio::time::sleep_until((started_at + at).into()).await;
        let began = started_at.elapsed();
        match fault {
            Fault::Kill(service) => {
                env.crash(service).await;
                let down = Duration::from_millis(rand::rng().random_range(200..2_000));
                tokio::time::sleep(down).await;
                env.start(service).await;
            }
            Fault::Restart(what) => ask_xtask(&format!("restart {what}")).await,
        }
        done.push((began, fault.describe(), started_at.elapsed() - began));
    }

    let outcomes = approvals.await.expect("the approvals");
    let refused: Vec<&String> = outcomes.iter().filter_map(|o| o.as_ref().err()).collect();
    let retries: u32 = outcomes.iter().filter_map(|o| o.as_ref().ok()).sum();
    println!(
        "approvals: {} taken in {:.1?} ({} retries while something was down), {} refused",
        count - refused.len(),
        started_at.elapsed(),
        retries,
        refused.len()
    );
    for reason in refused.iter().take(5) {
        println!("  refused: {reason}");
    }

    let ids: Vec<Uuid> = orders
        .iter()
        .map(|id| Uuid::parse_str(id).expect("an order id"))
        .collect();
    settle(&env, &ids).await;

    println!();
    println!("{:>8}  {:<40}  {:>8}", "at", "done", "took");
    for (at, what, took) in &done {
        println!(
            "{:>7.1}s  {what:<40}  {:>7.1}s",
            at.as_secs_f64(),
            took.as_secs_f64()
        );
    }
    println!();
    let findings = findings(&env, &ids).await;
    println!("{:<52}  {:>8}  {:>8}  ", "checked", "expected", "found");
    let mut lost = false;
    for (what, expected, found) in &findings {
        let ok = expected == found;
        lost |= !ok;
        println!(
            "{what:<52}  {expected:>8}  {found:>8}  {}",
            if ok { "ok" } else { "LOST" }
        );
    }
    if lost || !refused.is_empty() {
        println!(
            "\nchaos: something was lost; the services' logs are in {}",
            env.dir().display()
        );
        std::process::exit(1);
    }
    println!("\nchaos: nothing lost");
}

/// Approves an order, retrying while the API is unavailable; how many
/// retries it took. A retry may find the order already approved by an
/// attempt whose answer was lost.
async fn approve_until_taken(
    http: &reqwest::Client,
    api: &str,
    siri: &str,
    order_id: &str,
) -> Result<u32, String> {
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut retries = 0;
    loop {
        let answer = http
            .post(format!("{api}/api/v1/backoffice/orders/{order_id}/approve"))
            .bearer_auth(siri)
            .timeout(Duration::from_secs(10))
            .send()
            .await;
        match answer {
            Ok(answer) if answer.status().is_success() => return Ok(retries),
            Ok(answer) if answer.status().as_u16() == 409 && retries > 0 => return Ok(retries),
            Ok(answer) if !answer.status().is_server_error() => {
                return Err(format!("{order_id}: {}", answer.status()));
            }
            _ if Instant::now() > deadline => {
                return Err(format!("{order_id}: not taken within two minutes"));
            }
            _ => {
                retries += 1;
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        }
    }
}

/// Asks `cargo xtask chaos` to do something to what it owns, and waits
/// for it to be done.
async fn ask_xtask(what: &str) {
    println!("CHAOS {what}");
    let answer = tokio::task::spawn_blocking(|| {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).map(|_| line)
    })
    .await
    .expect("read the answer");
    match answer {
        Ok(line) if line.trim() == "done" => {}
        other => panic!("`cargo xtask chaos` did not {what}: {other:?}"),
    }
}

/// Waits until every order has its receipt, or patience runs out, and
/// says which.
async fn settle(env: &TestEnv, orders: &[Uuid]) {
    let started = Instant::now();
    let redaction = env.db(ServiceName::Redaction).await;
    while started.elapsed() < PATIENCE {
        let done: Result<i64, _> = sqlx::query_scalar(
            "SELECT count(*) FROM redactions WHERE order_id = ANY($1) AND completed_at IS NOT NULL",
        )
        .bind(orders)
        .fetch_one(&redaction)
        .await;
        if done.is_ok_and(|done| usize::try_from(done).unwrap_or(0) == orders.len()) {
            println!(
                "every order redacted {:.1?} after the last approval was taken",
                started.elapsed()
            );
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!("not settled within {PATIENCE:?}");
}

/// What the databases, the object store and the streams hold:
/// (what, expected, found).
async fn findings(env: &TestEnv, orders: &[Uuid]) -> Vec<(String, i64, i64)> {
    let n = i64::try_from(orders.len()).unwrap_or(i64::MAX);
    let scalar = |service: ServiceName, query: &'static str| async move {
        sqlx::query_scalar::<_, i64>(query)
            .bind(orders)
            .fetch_one(&env.db(service).await)
            .await
            .unwrap_or(-1)
    };
    let mut found = vec![
        (
            "orders approved".to_owned(),
            n,
            scalar(ServiceName::Orders, "SELECT count(*) FROM orders WHERE id = ANY($1) AND status = 'approved'").await,
        ),
        (
            "workers whose number is still sealed".to_owned(),
            0,
            scalar(ServiceName::Orders, "SELECT count(*) FROM workers WHERE order_id = ANY($1) AND national_id_sealed IS NOT NULL").await,
        ),
        (
            "documents left in media's database".to_owned(),
            0,
            scalar(ServiceName::Media, "SELECT count(*) FROM documents WHERE order_id = ANY($1)").await,
        ),
        (
            "objects left in the object store".to_owned(),
            0,
            i64::try_from(hms_test_support::files_below(&env.objects_dir()).len()).unwrap_or(i64::MAX),
        ),
        (
            "receipts".to_owned(),
            n,
            scalar(ServiceName::Redaction, "SELECT count(*) FROM redactions WHERE order_id = ANY($1) AND completed_at IS NOT NULL").await,
        ),
        (
            "cards issued (one worker an order)".to_owned(),
            n,
            scalar(ServiceName::Cards, "SELECT count(*) FROM cards WHERE order_id = ANY($1)").await,
        ),
        (
            "workers with more than one card".to_owned(),
            0,
            scalar(ServiceName::Cards, "SELECT count(*) FROM (SELECT worker_id FROM cards WHERE order_id = ANY($1) GROUP BY worker_id HAVING count(*) > 1) twice").await,
        ),
    ];
    let approved = per_order::<events::OrderApproved>(env, |event| event.order_id.clone()).await;
    let redacted = per_order::<events::OrderRedacted>(env, |event| event.order_id.clone()).await;
    for (what, counts) in [("OrderApproved", approved), ("OrderRedacted", redacted)] {
        let once = orders
            .iter()
            .filter(|order| counts.get(&order.to_string()) == Some(&1))
            .count();
        found.push((
            format!("orders with exactly one {what} event"),
            n,
            i64::try_from(once).unwrap_or(i64::MAX),
        ));
    }
    found.push(("events parked".to_owned(), 0, parked(env).await));
    found
}

/// How many events of type `E` name each order.
async fn per_order<E: Event>(
    env: &TestEnv,
    order_of: impl Fn(&E) -> String,
) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for event in env.published::<E>().await {
        *counts.entry(order_of(&event)).or_insert(0) += 1;
    }
    counts
}

/// Messages on the parking stream of this run.
async fn parked(env: &TestEnv) -> i64 {
    let jetstream = env.jetstream().await;
    match jetstream.get_stream(env.stream_name(Domain::Parked)).await {
        Ok(mut stream) => match stream.info().await {
            Ok(info) => i64::try_from(info.state.messages).unwrap_or(i64::MAX),
            Err(_) => -1,
        },
        // Nobody ever needed it.
        Err(_) => 0,
    }
}
