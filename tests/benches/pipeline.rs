//! The forgetting pipeline: from an order's approval to its receipt (the
//! national identity numbers masked, the photo, ID copy and signature
//! destroyed once the card producer has the print job), against what the
//! database under it can commit. Run with `cargo xtask bench`.
//!
//! 1. **The floor**: single-row inserts, each its own commit, from 8
//!    clients for 5 s, in a scratch database on the same server; and the
//!    same with a `NOTIFY` in every commit, as the outbox's trigger did
//!    (it serialises commits server-wide, so the services no longer use it).
//! 2. **Full speed**: `BURST` submitted orders (one worker, three
//!    documents each) approved as fast as the back office's API takes
//!    them; orders redacted per second, from the first approval to the
//!    last receipt, and the ratio to the floor. Then what each order
//!    cost, service by service: commits in its database and CPU time of
//!    its process, beside PostgreSQL's, NATS's and the whole machine's.
//! 3. **The access log's share**: another `BURST` at full speed with the
//!    audit service stopped (the services still write their access
//!    records; nothing appends them to the chains), then how fast audit
//!    appends the records that waited once it is back.
//! 4. **Steady**: orders approved at each of `RATES` a second; the latency
//!    from approval to receipt.
//! 5. **Backlog**: `BACKLOG` orders approved and handed to the card
//!    producer while redaction is down, as after an outage; how fast they
//!    are redacted once it is back, from its start to the last receipt.
//!
//! Each steady run's distribution is drawn into
//! `target/pipeline-latency-<rate>.svg`.
//!
//! Times come from the services' own records (the order's `decided_at`,
//! the receipt's `completed_at`), on this machine's clock. Every order is
//! then checked: its numbers masked and its documents gone.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures::StreamExt;
use hms_test_support::latency::Latencies;
use hms_test_support::{ServiceName, TestEnv};
use sqlx::postgres::PgPoolOptions;
use uuid::Uuid;

mod common;
use common::{System, approve, started, submitted_order, times};

const BURST: usize = 300;
const BACKLOG: usize = 1_000;
/// The steady runs' approvals per second: a quiet day, and the target.
const RATES: [u32; 2] = [50, 200];
const STEADY_FOR: Duration = Duration::from_secs(4);
const FLOOR_CLIENTS: usize = 8;
const FLOOR_FOR: Duration = Duration::from_secs(5);
/// Settings taken from the bench's own environment, to compare.
const KNOBS: [&str; 4] = [
    "HMS_EVENT_CONCURRENCY",
    "HMS_EVENT_BATCH_SIZE",
    "HMS_PRINT_CONCURRENCY",
    "HMS_DATABASE_MAX_CONNECTIONS",
];
/// Orders prepared, and approvals sent, at once.
const IN_FLIGHT: usize = 8;
/// PostgreSQL's backends report their statistics within this of going idle.
const STATISTICS_FLUSHED: Duration = Duration::from_secs(11);

#[tokio::main]
async fn main() {
    let mut env = TestEnv::new();
    // `HMS_EVENT_CONCURRENCY=1` shows the pipeline as it was: one event
    // at a time per consumer; `HMS_EVENT_BATCH_SIZE=1` without batches.
    let mut settings = Vec::new();
    for knob in KNOBS {
        if let Ok(value) = std::env::var(knob) {
            env.set(knob, &value);
            settings.push(format!("{knob}={value}"));
        }
    }
    let settings = if settings.is_empty() {
        "default settings".to_owned()
    } else {
        settings.join(", ")
    };
    let System {
        http,
        api,
        kari,
        siri,
        company_id,
    } = started(&mut env).await;

    let steady_total: usize = RATES.into_iter().map(steady_count).sum();
    let prepared_at = Instant::now();
    let orders: Vec<String> = futures::stream::iter(0..2 * BURST + steady_total + BACKLOG)
        .map(|n| submitted_order(&http, &api, &kari, &company_id, n))
        .buffer_unordered(IN_FLIGHT)
        .collect()
        .await;
    println!(
        "pipeline ({settings}): {} orders of one worker and three documents prepared in {:.1?}",
        orders.len(),
        prepared_at.elapsed()
    );
    analyze(&env).await;
    let (burst, rest) = orders.split_at(BURST);
    let (unlogged, rest) = rest.split_at(BURST);
    let (steady, backlog) = rest.split_at(steady_total);

    let floor = database_floor(false).await;
    let notifying = database_floor(true).await;
    println!(
        "database floor: {floor:.0} single-row commits/s ({FLOOR_CLIENTS} clients, {} s); \
         {notifying:.0}/s when each commit also NOTIFYs",
        FLOOR_FOR.as_secs()
    );

    // Full speed.
    let before = Costs::read(&env).await;
    futures::stream::iter(burst)
        .map(|order_id| approve(&http, &api, &siri, order_id))
        .buffer_unordered(IN_FLIGHT)
        .collect::<Vec<()>>()
        .await;
    let burst_times = redacted(&env, orders_of(burst), Duration::from_secs(300)).await;
    let first = burst_times
        .iter()
        .map(|(approved, _)| approved)
        .min()
        .expect("approvals");
    let last = burst_times
        .iter()
        .map(|(_, receipt)| receipt)
        .max()
        .expect("receipts");
    let span = (*last - *first).to_std().unwrap_or_default();
    let per_second = BURST as f64 / span.as_secs_f64();
    println!(
        "full speed: {BURST} orders approved → redacted in {span:.2?}: {per_second:.0} orders/s, \
         {:.2} % of the floor",
        100.0 * per_second / floor
    );
    stages(&env, &orders_of(burst), *first).await;
    Costs::print_settled(&env, &before, BURST).await;
    access_log_share(&mut env, &http, &api, &siri, unlogged, per_second).await;

    let mut unapproved = steady;
    for rate in RATES {
        let (these, rest) = unapproved.split_at(steady_count(rate));
        unapproved = rest;
        steady_run(&env, &http, &api, &siri, these, rate).await;
    }

    drain(&mut env, &http, &api, &siri, backlog).await;

    verify_forgotten(&env, &orders_of(&orders)).await;
    println!("every order: numbers masked, documents destroyed, one receipt");
}

/// The entries in every company's access log.
async fn log_entries(env: &TestEnv) -> i64 {
    let db = env.db(ServiceName::Audit).await;
    sqlx::query_scalar("SELECT count(*) FROM access_log")
        .fetch_one(&db)
        .await
        .expect("count the access log")
}

/// Waits until the access log stops growing; its size then.
async fn log_settled(env: &TestEnv) -> i64 {
    let mut last = log_entries(env).await;
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = log_entries(env).await;
        if now == last {
            return now;
        }
        last = now;
    }
}

/// The same full-speed run with the audit service stopped, and how fast it
/// appends the records that waited.
async fn access_log_share(
    env: &mut TestEnv,
    http: &reqwest::Client,
    api: &str,
    siri: &str,
    orders: &[String],
    with_log: f64,
) {
    let before = log_settled(env).await;
    env.stop(ServiceName::Audit).await;
    futures::stream::iter(orders)
        .map(|order_id| approve(http, api, siri, order_id))
        .buffer_unordered(IN_FLIGHT)
        .collect::<Vec<()>>()
        .await;
    let times = redacted(env, orders_of(orders), Duration::from_secs(300)).await;
    let first = times
        .iter()
        .map(|(approved, _)| approved)
        .min()
        .expect("approvals");
    let last = times
        .iter()
        .map(|(_, receipt)| receipt)
        .max()
        .expect("receipts");
    let span = (*last - *first).to_std().unwrap_or_default();
    let without_log = orders.len() as f64 / span.as_secs_f64();
    let restarted = Instant::now();
    env.start(ServiceName::Audit).await;
    let after = log_settled(env).await;
    // The last half second only showed that nothing more came.
    let took = restarted
        .elapsed()
        .saturating_sub(Duration::from_millis(500));
    let appended = after - before;
    println!(
        "access log: full speed {with_log:.0} orders/s with audit appending, \
         {without_log:.0} orders/s with it stopped (records still written); then {appended} \
         waiting records ({:.1} per order) appended in {took:.2?}, its start-up included: \
         {:.0} records/s",
        appended as f64 / orders.len() as f64,
        appended as f64 / took.as_secs_f64()
    );
}

/// How many orders a steady run at `rate` approvals/s takes.
fn steady_count(rate: u32) -> usize {
    (rate * u32::try_from(STEADY_FOR.as_secs()).unwrap_or(1)) as usize
}

/// Approves `orders` at `rate` a second, once the emails of what came
/// before are out (they would otherwise share the two cores with the
/// orders measured); prints the latency from approval to receipt and
/// draws its distribution.
async fn steady_run(
    env: &TestEnv,
    http: &reqwest::Client,
    api: &str,
    siri: &str,
    orders: &[String],
    rate: u32,
) {
    quiet(env).await;
    let started = Instant::now();
    let every = Duration::from_secs(1) / rate;
    let approvals: Vec<_> = orders
        .iter()
        .enumerate()
        .map(|(n, order_id)| {
            let (http, api, siri, order_id) = (
                http.clone(),
                api.to_owned(),
                siri.to_owned(),
                order_id.clone(),
            );
            let at = started + every * u32::try_from(n).unwrap_or(0);
            tokio::spawn(async move {
                tokio::time::sleep_until(at.into()).await;
                approve(&http, &api, &siri, &order_id).await;
            })
        })
        .collect();
    for approval in approvals {
        approval.await.expect("an approval");
    }
    let times = redacted(env, orders_of(orders), Duration::from_secs(300)).await;
    let elapsed = started.elapsed();
    if let Some(first) = times.iter().map(|(approved, _)| approved).min() {
        stages(env, &orders_of(orders), *first).await;
    }
    let samples: Vec<Duration> = times
        .iter()
        .map(|(approved, receipt)| (*receipt - *approved).to_std().unwrap_or_default())
        .collect();
    let figures = Latencies::of(samples.clone(), elapsed);
    println!(
        "steady {rate} approvals/s for {} s: approval → receipt p50 {:.1?}, p90 {:.1?}, \
         p99 {:.1?}, max {:.1?}",
        STEADY_FOR.as_secs(),
        figures.p50,
        figures.p90,
        figures.p99,
        figures.max
    );
    match plot_latencies(samples, &figures, rate) {
        Ok(path) => println!("latency distribution: {}", path.display()),
        Err(error) => println!("latency distribution not drawn: {error}"),
    }
}

/// Approves `backlog` while redaction is down and waits until the card
/// producer has every print job; then starts redaction and prints how fast
/// it catches up.
async fn drain(
    env: &mut TestEnv,
    http: &reqwest::Client,
    api: &str,
    siri: &str,
    backlog: &[String],
) {
    quiet(env).await;
    env.stop(ServiceName::Redaction).await;
    futures::stream::iter(backlog)
        .map(|order_id| approve(http, api, siri, order_id))
        .buffer_unordered(IN_FLIGHT)
        .collect::<Vec<()>>()
        .await;
    let orders = orders_of(backlog);
    let cards = env.db(ServiceName::Cards).await;
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let handed_over: i64 = sqlx::query_scalar(
            "SELECT count(DISTINCT order_id) FROM print_jobs \
             WHERE order_id = ANY($1) AND handed_over_at IS NOT NULL",
        )
        .bind(&orders)
        .fetch_one(&cards)
        .await
        .expect("print jobs");
        if usize::try_from(handed_over).unwrap_or(0) == orders.len() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "only {handed_over} of {} print jobs handed over",
            orders.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    quiet(env).await;
    let before = Costs::read(env).await;
    let restarted = Utc::now();
    env.start(ServiceName::Redaction).await;
    let receipts: Vec<DateTime<Utc>> = redacted(env, orders, Duration::from_secs(300))
        .await
        .into_iter()
        .map(|(_, receipt)| receipt)
        .collect();
    let (Some(first), Some(last)) = (receipts.iter().min(), receipts.iter().max()) else {
        return;
    };
    let caught_up = (*last - restarted).to_std().unwrap_or_default();
    let draining = (*last - *first).to_std().unwrap_or_default();
    println!(
        "backlog: {BACKLOG} orders approved and handed over while redaction was down, \
         redacted {caught_up:.2?} after it started: {:.0} orders/s ({:.0} orders/s from its \
         first receipt)",
        BACKLOG as f64 / caught_up.as_secs_f64(),
        BACKLOG as f64 / draining.as_secs_f64().max(0.001)
    );
    // What catching up cost, redaction's start-up included.
    Costs::print_settled(env, &before, BACKLOG).await;
}

/// Draws a steady run's latencies as a distribution (the share of orders
/// redacted within each time) into `target/pipeline-latency-<rate>.svg`.
fn plot_latencies(
    mut samples: Vec<Duration>,
    figures: &Latencies,
    rate: u32,
) -> Result<std::path::PathBuf, Box<dyn std::error::Error>> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("target")
        .join(format!("pipeline-latency-{rate}.svg"));
    samples.sort_unstable();
    draw(&path, &samples, figures, rate)?;
    Ok(path)
}

fn millis(at: Duration) -> f64 {
    at.as_secs_f64() * 1000.0
}

fn draw(
    path: &std::path::Path,
    samples: &[Duration],
    figures: &Latencies,
    rate: u32,
) -> Result<(), Box<dyn std::error::Error>> {
    use plotters::prelude::*;
    let most = millis(figures.max).max(1.0) * 1.05;
    let root = SVGBackend::new(path, (800, 480)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!(
                "Approval → receipt at {rate} approvals/s: p50 {:.0} ms, p90 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
                millis(figures.p50),
                millis(figures.p90),
                millis(figures.p99),
                millis(figures.max)
            ),
            ("sans-serif", 16),
        )
        .margin(16)
        .x_label_area_size(40)
        .y_label_area_size(56)
        .build_cartesian_2d(0.0..most, 0.0..100.0)?;
    chart
        .configure_mesh()
        .x_desc("milliseconds from approval to receipt")
        .y_desc("% of orders redacted within")
        .draw()?;
    let count = samples.len() as f64;
    chart.draw_series(LineSeries::new(
        samples
            .iter()
            .enumerate()
            .map(|(n, at)| (millis(*at), 100.0 * (n + 1) as f64 / count)),
        &BLUE,
    ))?;
    for (label, at) in [("p50", figures.p50), ("p99", figures.p99)] {
        let x = millis(at);
        chart.draw_series(LineSeries::new([(x, 0.0), (x, 100.0)], &RED.mix(0.5)))?;
        chart.draw_series([Text::new(label, (x, 4.0), ("sans-serif", 14))])?;
    }
    root.present()?;
    Ok(())
}

/// Where the burst's time went: for each stage an order passes, how long
/// after its approval orders reached it (p50, max), and when the last one
/// did, counted from the first approval.
async fn stages(env: &TestEnv, orders: &[Uuid], first: DateTime<Utc>) {
    let approved = times(
        env,
        ServiceName::Orders,
        "SELECT id, decided_at FROM orders",
    )
    .await;
    for (stage, service, query) in [
        (
            "card issued",
            ServiceName::Cards,
            "SELECT order_id, min(issued_at) FROM cards GROUP BY order_id",
        ),
        (
            "print handed over",
            ServiceName::Cards,
            "SELECT order_id, max(handed_over_at) FROM print_jobs GROUP BY order_id",
        ),
        (
            "numbers masked",
            ServiceName::Orders,
            "SELECT id, national_ids_masked_at FROM orders",
        ),
        (
            "receipt",
            ServiceName::Redaction,
            "SELECT order_id, completed_at FROM redactions",
        ),
    ] {
        let reached = times(env, service, query).await;
        let mut after: Vec<Duration> = orders
            .iter()
            .filter_map(|order| {
                Some(
                    (*reached.get(order)? - *approved.get(order)?)
                        .to_std()
                        .unwrap_or_default(),
                )
            })
            .collect();
        after.sort_unstable();
        let last = orders.iter().filter_map(|order| reached.get(order)).max();
        if let (Some(p50), Some(max), Some(last)) = (after.get(after.len() / 2), after.last(), last)
        {
            println!(
                "  {stage:<18} after approval p50 {p50:>8.1?}, max {max:>8.1?}; last at {:>8.1?}",
                (*last - first).to_std().unwrap_or_default()
            );
        }
    }
    print_attempts(env, orders).await;
}

/// Print jobs of `orders` that took more than one attempt. The producer
/// fake takes every job here, so each should go at the first: more means
/// jobs leased and not sent (each waits for its lease to run out).
async fn print_attempts(env: &TestEnv, orders: &[Uuid]) {
    let (again, all): (i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE attempts > 1), count(*) FROM print_jobs \
         WHERE order_id = ANY($1)",
    )
    .bind(orders)
    .fetch_one(&env.db(ServiceName::Cards).await)
    .await
    .expect("print attempts");
    println!("  print jobs attempted more than once: {again} of {all}");
}

/// Waits until notifications has sent everything it queued and nothing
/// new arrives for a second.
async fn quiet(env: &TestEnv) {
    let notifications = env.db(ServiceName::Notifications).await;
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut last = (-1, -1);
    while Instant::now() < deadline {
        let now: (i64, i64) = sqlx::query_as(
            "SELECT count(*) FILTER (WHERE status = 'pending'), count(*) FROM deliveries",
        )
        .fetch_one(&notifications)
        .await
        .expect("deliveries");
        if now.0 == 0 && now == last {
            return;
        }
        last = now;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    println!("(notifications still busy after two minutes)");
}

fn orders_of(ids: &[String]) -> Vec<Uuid> {
    ids.iter()
        .map(|id| Uuid::parse_str(id).expect("an order id"))
        .collect()
}

/// Waits until every order has its receipt; when each was approved and
/// when its receipt was made.
async fn redacted(
    env: &TestEnv,
    orders: Vec<Uuid>,
    patience: Duration,
) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    let redaction = env.db(ServiceName::Redaction).await;
    let deadline = Instant::now() + patience;
    loop {
        let done: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM redactions WHERE order_id = ANY($1) AND completed_at IS NOT NULL",
        )
        .bind(&orders)
        .fetch_one(&redaction)
        .await
        .expect("receipts");
        if usize::try_from(done).unwrap_or(0) == orders.len() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "only {done} of {} orders redacted",
            orders.len()
        );
        // The figures come from the services' own timestamps, so looking
        // seldom costs no precision, and takes less of the two cores from
        // the pipeline being measured.
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let approved = times(
        env,
        ServiceName::Orders,
        "SELECT id, decided_at FROM orders",
    )
    .await;
    let receipts = times(
        env,
        ServiceName::Redaction,
        "SELECT order_id, completed_at FROM redactions",
    )
    .await;
    orders
        .iter()
        .map(|order| (approved[order], receipts[order]))
        .collect()
}

/// Nothing of the orders is left to forget, and each has one receipt.
async fn verify_forgotten(env: &TestEnv, orders: &[Uuid]) {
    let sealed: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM workers WHERE order_id = ANY($1) AND national_id_sealed IS NOT NULL",
    )
    .bind(orders)
    .fetch_one(&env.db(ServiceName::Orders).await)
    .await
    .expect("workers");
    assert_eq!(sealed, 0, "numbers left unmasked");
    let documents: i64 =
        sqlx::query_scalar("SELECT count(*) FROM documents WHERE order_id = ANY($1)")
            .bind(orders)
            .fetch_one(&env.db(ServiceName::Media).await)
            .await
            .expect("documents");
    assert_eq!(documents, 0, "documents left");
    let receipts: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM redactions WHERE order_id = ANY($1) AND completed_at IS NOT NULL",
    )
    .bind(orders)
    .fetch_one(&env.db(ServiceName::Redaction).await)
    .await
    .expect("receipts");
    assert_eq!(usize::try_from(receipts).unwrap_or(0), orders.len());
}

/// Single-row commits per second from `FLOOR_CLIENTS` clients, in a
/// scratch database dropped afterwards; with `notifying`, each insert also
/// sends a `NOTIFY` from a statement trigger.
async fn database_floor(notifying: bool) -> f64 {
    let server = std::env::var("HMS_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let admin = PgPoolOptions::new()
        .max_connections(1)
        .connect(&server)
        .await
        .expect("the database server");
    let name = format!("hms_bench_floor_{}", std::process::id());
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&admin)
        .await
        .expect("a scratch database");
    let mut url = url::Url::parse(&server).expect("a URL");
    url.set_path(&name);
    let pool = PgPoolOptions::new()
        .max_connections(u32::try_from(FLOOR_CLIENTS).unwrap_or(8))
        .connect(url.as_str())
        .await
        .expect("the scratch database");
    sqlx::query("CREATE TABLE floor (id bigserial PRIMARY KEY, value integer NOT NULL)")
        .execute(&pool)
        .await
        .expect("a table");
    if notifying {
        sqlx::raw_sql(
            "CREATE FUNCTION floor_notify() RETURNS trigger LANGUAGE plpgsql AS $$ \
             BEGIN PERFORM pg_notify('floor', ''); RETURN NULL; END $$; \
             CREATE TRIGGER floor_notify AFTER INSERT ON floor \
             FOR EACH STATEMENT EXECUTE FUNCTION floor_notify();",
        )
        .execute(&pool)
        .await
        .expect("a trigger");
    }
    let started = Instant::now();
    let clients: Vec<_> = (0..FLOOR_CLIENTS)
        .map(|_| {
            let pool = pool.clone();
            tokio::spawn(async move {
                let mut commits = 0u64;
                while started.elapsed() < FLOOR_FOR {
                    sqlx::query("INSERT INTO floor (value) VALUES ($1)")
                        .bind(1)
                        .execute(&pool)
                        .await
                        .expect("an insert");
                    commits += 1;
                }
                commits
            })
        })
        .collect();
    let mut commits = 0;
    for client in clients {
        commits += client.await.expect("a client");
    }
    let elapsed = started.elapsed();
    pool.close().await;
    sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .execute(&admin)
        .await
        .expect("dropped");
    commits as f64 / elapsed.as_secs_f64()
}

/// Gives the planner statistics of the prepared tables, as a running
/// system's have. They were empty a minute ago, and autovacuum visits a
/// database at most once a minute: without this the burst is planned for
/// tables the planner has never seen filled (a sequential scan where an
/// index is meant), and the figures would be of that guess.
async fn analyze(env: &TestEnv) {
    for service in ServiceName::ALL {
        if !service.spec().keeps_data {
            continue;
        }
        let pool = env.db(service).await;
        sqlx::query("ANALYZE")
            .execute(&pool)
            .await
            .expect("analysed");
        pool.close().await;
    }
}

/// What a stretch of the pipeline cost, read before and after it: the
/// commits in each service's database, the CPU time of each service's
/// process, of PostgreSQL's and NATS's processes, and of the whole machine.
struct Costs {
    commits: HashMap<ServiceName, i64>,
    cpu: HashMap<String, Duration>,
    /// The stand-ins for the outside world, by binary: not the platform's
    /// cost.
    fakes: HashMap<String, Duration>,
    machine: Duration,
}

/// CPU clock ticks a second (`getconf CLK_TCK`; 100 on Linux).
const TICKS_PER_SECOND: u64 = 100;

impl Costs {
    async fn read(env: &TestEnv) -> Self {
        let admin = env.db(ServiceName::Orders).await;
        let mut commits = HashMap::new();
        for service in ServiceName::ALL {
            let spec = service.spec();
            if !spec.keeps_data {
                continue;
            }
            let count: i64 =
                sqlx::query_scalar("SELECT xact_commit FROM pg_stat_database WHERE datname = $1")
                    .bind(env.database_name(service))
                    .fetch_one(&admin)
                    .await
                    .expect("pg_stat_database");
            commits.insert(service, count);
        }
        let mut cpu = HashMap::new();
        for service in ServiceName::ALL {
            if let Some(time) = env.pid(service).and_then(process_cpu) {
                cpu.insert(service.as_str().to_owned(), time);
            }
        }
        for (name, command) in [("PostgreSQL", "postgres"), ("NATS", "nats-server")] {
            cpu.insert(name.to_owned(), command_cpu(command));
        }
        // The card producer, the SMS and mail servers, the registers and
        // BankID.
        let fakes = env
            .fake_processes()
            .into_iter()
            .filter_map(|(name, pid)| Some((name, process_cpu(pid)?)))
            .collect();
        // Sending the approvals and watching for receipts.
        if let Some(time) = process_cpu(std::process::id()) {
            cpu.insert("bench client".to_owned(), time);
        }
        Self {
            commits,
            cpu,
            fakes,
            machine: machine_cpu(),
        }
    }

    /// Waits until everything set off since `before` has settled (deliveries
    /// sent, access records appended, PostgreSQL's backends' statistics
    /// reported: within 10 s of going idle), then prints what it cost.
    async fn print_settled(env: &TestEnv, before: &Self, orders: usize) {
        quiet(env).await;
        log_settled(env).await;
        tokio::time::sleep(STATISTICS_FLUSHED).await;
        Self::read(env).await.print_since(before, orders);
    }

    /// Prints what happened since `before`, per order.
    fn print_since(&self, before: &Self, orders: usize) {
        let per_order = |time: Duration| time.as_secs_f64() * 1_000.0 / orders as f64;
        let row = |name: &str, commits: &str, cpu: Duration| {
            println!(
                "    {name:<20} {commits:>14}  {:>6.2} ms CPU",
                per_order(cpu)
            );
        };
        println!("  cost per order (commits in its database; CPU of its processes):");
        let mut counted = Duration::ZERO;
        for (name, cpu) in grown(&self.cpu, &before.cpu) {
            counted += cpu;
            let commits = ServiceName::parse(name)
                .and_then(|service| {
                    Some(self.commits.get(&service)? - before.commits.get(&service)?)
                })
                .map_or_else(String::new, |commits| {
                    format!("{:>6.1} commits", commits as f64 / orders as f64)
                });
            row(name, &commits, cpu);
        }
        let fakes = grown(&self.fakes, &before.fakes);
        let all_fakes: Duration = fakes.iter().map(|(_, cpu)| *cpu).sum();
        counted += all_fakes;
        row("fakes", "", all_fakes);
        for (name, cpu) in fakes {
            row(&format!("  {name}"), "", cpu);
        }
        let machine = self.machine.saturating_sub(before.machine);
        // The kernel's own work (the loopback network, the disk), and
        // PostgreSQL backends that ended meanwhile.
        row("the rest", "", machine.saturating_sub(counted));
        row("machine", "", machine);
    }
}

/// How much each process's CPU time grew since `before` (all of it for a
/// process started meanwhile), by name.
fn grown<'a>(
    now: &'a HashMap<String, Duration>,
    before: &HashMap<String, Duration>,
) -> Vec<(&'a String, Duration)> {
    let mut grown: Vec<(&String, Duration)> = now
        .iter()
        .map(|(name, cpu)| {
            let before = before.get(name).copied().unwrap_or_default();
            (name, cpu.saturating_sub(before))
        })
        .collect();
    grown.sort();
    grown
}

/// User and system time of a process, from `/proc/<pid>/stat`.
fn process_cpu(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command may hold spaces; the fields after it do not.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 1_000 / TICKS_PER_SECOND))
}

/// The CPU time of every process running `command` (PostgreSQL's
/// backends come and go: those that ended meanwhile are missed).
fn command_cpu(command: &str) -> Duration {
    let Ok(processes) = std::fs::read_dir("/proc") else {
        return Duration::ZERO;
    };
    processes
        .filter_map(Result::ok)
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|comm| comm.trim() == command)
        })
        .filter_map(process_cpu)
        .sum()
}

/// Busy time of every core, from `/proc/stat` (idle and I/O wait left out).
fn machine_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let ticks: u64 = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .enumerate()
        .filter(|(field, _)| !matches!(field, 3 | 4))
        .take(6)
        .filter_map(|(_, value)| value.parse::<u64>().ok())
        .sum();
    Duration::from_millis(ticks * 1_000 / TICKS_PER_SECOND)
}
