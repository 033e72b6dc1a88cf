//! The gateway under load: requests per second and latency of an
//! authenticated read (`GET /api/v1/companies/{id}`, which the gateway
//! checks, forwards to companies, and companies authorizes with identity),
//! and the gateway's peak memory while 20 clients each stream a 10 MB
//! upload through it at once. Run with `cargo xtask bench`.

use std::time::{Duration, Instant};

use hms_test_support::fakes::{orgs, persons};
use hms_test_support::latency::Latencies;
use hms_test_support::{ServiceName, TestEnv, fixtures};
use serde_json::{Value, json};

const CONCURRENCY: usize = 16;
const UPLOADS: usize = 20;
const UPLOAD_BYTES: usize = 10_000_000;

#[tokio::main]
async fn main() {
    let mut env = TestEnv::new();
    // The services' own pool size, not the small pools that let many
    // tests share one PostgreSQL.
    env.set("HMS_DATABASE_MAX_CONNECTIONS", "10");
    env.set("HMS_LOG_FILTER", "warn");
    env.set("HMS_RATE_LIMIT_PER_CLIENT", "100000000");
    env.set("HMS_RATE_LIMIT_PER_USER", "100000000");
    env.set("HMS_REQUEST_TIMEOUT_SECS", "300");
    // Every upload of the burst gets its place in media at once: the
    // figure is the gateway's memory with all of them streaming, not
    // media's back-pressure (which the bad-input tests cover).
    env.set(
        "HMS_MEDIA_MAX_CONCURRENT_UPLOADS",
        &(UPLOADS * 2).to_string(),
    );
    env.set("HMS_MEDIA_DECODE_WAIT_SECS", "120");
    env.start_all().await;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::new();
    let api = env.gateway_url();
    let kari = env.access_token(persons::KARI_NORDMANN).await;
    let siri = env.access_token(persons::SIRI_SAKSBEHANDLER).await;

    let company: Value = http
        .post(format!("{api}/api/v1/companies"))
        .bearer_auth(&kari)
        .json(&json!({
            "org_number": orgs::NORDMANN_BYGG,
            "name": "Nordmann Bygg AS",
            "contact": {"email": "post@nordmannbygg.no", "phone": "+4791234567"},
            "industry": "construction",
        }))
        .send()
        .await
        .expect("register")
        .json()
        .await
        .expect("a company");
    let company_id = company["company_id"].as_str().expect("an id").to_owned();

    read_benchmark(&http, &api, &kari, &company_id).await;

    // An approved company with a draft order, to upload to.
    let approved = http
        .post(format!(
            "{api}/api/v1/backoffice/companies/{company_id}/approve"
        ))
        .bearer_auth(&siri)
        .send()
        .await
        .expect("approve");
    assert!(approved.status().is_success(), "{}", approved.status());
    env.wait_for_standing(&company_id, "approved").await;
    hms_test_support::api::Api::at(&api)
        .accept_agreement(&kari, &company_id)
        .await;
    env.wait_for_agreement(&company_id).await;
    let order: Value = http
        .post(format!("{api}/api/v1/companies/{company_id}/orders"))
        .bearer_auth(&kari)
        .header("idempotency-key", "bench")
        .json(&json!({"workers": [{"name": "Ola Arbeider", "national_id": fixtures::fodselsnummer(), "phone": "+4798765432", "card_type": "construction"}]}))
        .send()
        .await
        .expect("order")
        .json()
        .await
        .expect("an order");
    let order_id = order["order_id"].as_str().expect("an id").to_owned();
    let worker_id = order["workers"][0]["worker_id"]
        .as_str()
        .expect("a worker")
        .to_owned();
    upload_benchmark(&env, &http, &api, &kari, &order_id, &worker_id).await;
}

async fn read_benchmark(http: &reqwest::Client, api: &str, token: &str, company_id: &str) {
    let url = format!("{api}/api/v1/companies/{company_id}");
    for _ in 0..50 {
        let status = http
            .get(&url)
            .bearer_auth(token)
            .send()
            .await
            .expect("read")
            .status();
        assert!(status.is_success(), "{status}");
    }
    let length = Duration::from_secs(10);
    let started = Instant::now();
    let workers: Vec<_> = (0..CONCURRENCY)
        .map(|_| {
            let http = http.clone();
            let url = url.clone();
            let token = token.to_owned();
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                while started.elapsed() < length {
                    let begun = Instant::now();
                    let response = http
                        .get(&url)
                        .bearer_auth(&token)
                        .send()
                        .await
                        .expect("read");
                    assert!(response.status().is_success(), "{}", response.status());
                    response.bytes().await.expect("a body");
                    latencies.push(begun.elapsed());
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
        "authenticated read through the gateway ({CONCURRENCY} concurrent clients, {} s)",
        length.as_secs()
    );
    println!(
        "  {} requests, {:.0} per second, p50 {:.1?}, p99 {:.1?}, max {:.1?}",
        figures.count, figures.per_second, figures.p50, figures.p99, figures.max,
    );
}

async fn upload_benchmark(
    env: &TestEnv,
    http: &reqwest::Client,
    api: &str,
    token: &str,
    order_id: &str,
    worker_id: &str,
) {
    let pid = env.pid(ServiceName::Gateway).expect("the gateway runs");
    // The read benchmark ran in this process first: the high-water mark
    // starts afresh, so the peak is the uploads' own.
    reset_peak_memory(pid);
    let before = memory(pid);
    // Bytes that are not an image: media reads each to the end before it
    // refuses it, so every upload streams its full 10 MB through.
    let body = vec![0x5Au8; UPLOAD_BYTES];
    let started = Instant::now();
    let uploads: Vec<_> = (0..UPLOADS)
        .map(|_| {
            let request = http
                .put(format!(
                    "{api}/api/v1/orders/{order_id}/workers/{worker_id}/documents/passport_photo"
                ))
                .bearer_auth(token)
                .header("content-type", "application/octet-stream")
                .body(body.clone());
            tokio::spawn(async move {
                let response = request.send().await.expect("upload");
                let status = response.status();
                let problem: Value = response.json().await.unwrap_or(Value::Null);
                (
                    status,
                    problem["detail"].as_str().unwrap_or_default().to_owned(),
                )
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for upload in uploads {
        statuses.push(upload.await.expect("an upload"));
    }
    let elapsed = started.elapsed();
    let after = memory(pid);
    // Refused by media for what the bytes are, once it has read them all.
    assert!(
        statuses
            .iter()
            .all(|(status, detail)| status.as_u16() == 400 && detail.starts_with("the file is not")),
        "{statuses:?}"
    );
    println!(
        "{UPLOADS} concurrent uploads of {} MB through the gateway",
        UPLOAD_BYTES / 1_000_000
    );
    println!(
        "  done in {:.1?}; gateway memory: {} MiB resident before, {} MiB peak (VmHWM)",
        elapsed,
        before.resident_kib / 1024,
        after.peak_kib / 1024,
    );
}

/// Linux resets a process's VmHWM to its current resident size when 5 is
/// written to its `clear_refs`.
fn reset_peak_memory(pid: u32) {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5")
        .expect("reset the gateway's peak memory (/proc/<pid>/clear_refs)");
}

struct Memory {
    resident_kib: u64,
    peak_kib: u64,
}

/// Resident and peak resident memory of a process, from Linux's
/// `/proc/<pid>/status`.
fn memory(pid: u32) -> Memory {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    let field = |name: &str| {
        status
            .lines()
            .find(|line| line.starts_with(name))
            .and_then(|line| line.split_whitespace().nth(1))
            .and_then(|kib| kib.parse().ok())
            .unwrap_or(0)
    };
    Memory {
        resident_kib: field("VmRSS:"),
        peak_kib: field("VmHWM:"),
    }
}
