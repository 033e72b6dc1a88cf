//! What the benchmarks share: an approved company, submitted orders, and
//! the services' own timestamps.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use hms_test_support::fakes::{orgs, persons};
use hms_test_support::{ServiceName, TestEnv, fixtures};
use serde_json::{Value, json};
use uuid::Uuid;

/// The running system as a benchmark drives it: through the gateway, as
/// Kari (who owns the approved company) and Siri of the back office.
pub struct System {
    pub http: reqwest::Client,
    pub api: String,
    pub kari: String,
    pub siri: String,
    pub company_id: String,
}

/// Starts every service of `env` (at the services' own pool size, logging
/// warnings only, beyond what the caller set) and registers and approves
/// the company.
pub async fn started(env: &mut TestEnv) -> System {
    // The services' own pool size, not the tests' small ones (unless the
    // bench was told another).
    let pool = std::env::var("HMS_DATABASE_MAX_CONNECTIONS").unwrap_or_else(|_| "10".to_owned());
    env.set("HMS_DATABASE_MAX_CONNECTIONS", &pool);
    env.set("HMS_LOG_FILTER", "warn");
    env.start_all().await;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::new();
    let api = env.gateway_url();
    let kari = env.access_token(persons::KARI_NORDMANN).await;
    let siri = env.access_token(persons::SIRI_SAKSBEHANDLER).await;
    let company_id = approved_company(env, &http, &api, &kari, &siri).await;
    System {
        http,
        api,
        kari,
        siri,
        company_id,
    }
}

/// The back office approves an order.
pub async fn approve(http: &reqwest::Client, api: &str, siri: &str, order_id: &str) {
    let approved = http
        .post(format!("{api}/api/v1/backoffice/orders/{order_id}/approve"))
        .bearer_auth(siri)
        .send()
        .await
        .expect("approve");
    assert!(approved.status().is_success(), "{}", approved.status());
}

async fn approved_company(
    env: &TestEnv,
    http: &reqwest::Client,
    api: &str,
    kari: &str,
    siri: &str,
) -> String {
    let company: Value = http
        .post(format!("{api}/api/v1/companies"))
        .bearer_auth(kari)
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
    let approved = http
        .post(format!(
            "{api}/api/v1/backoffice/companies/{company_id}/approve"
        ))
        .bearer_auth(siri)
        .send()
        .await
        .expect("approve");
    assert!(approved.status().is_success(), "{}", approved.status());
    env.wait_for_standing(&company_id, "approved").await;
    hms_test_support::api::Api::at(api)
        .accept_agreement(kari, &company_id)
        .await;
    env.wait_for_agreement(&company_id).await;
    company_id
}

/// An order of one worker with a photo, an ID copy and a signature,
/// submitted; its id.
pub async fn submitted_order(
    http: &reqwest::Client,
    api: &str,
    kari: &str,
    company_id: &str,
    n: usize,
) -> String {
    let order: Value = http
        .post(format!("{api}/api/v1/companies/{company_id}/orders"))
        .bearer_auth(kari)
        .header("idempotency-key", format!("bench-{n}"))
        .json(&json!({"workers": [{
            "name": format!("Arbeider {n}"),
            "national_id": fixtures::fodselsnummer(),
            "phone": "+4798765432",
            "card_type": "construction",
        }]}))
        .send()
        .await
        .expect("order")
        .json()
        .await
        .expect("an order");
    let order_id = order["order_id"].as_str().expect("an id").to_owned();
    let worker_id = order["workers"][0]["worker_id"].as_str().expect("a worker");
    for (kind, content_type, bytes) in [
        (
            "passport_photo",
            "image/jpeg",
            fixtures::jpeg_with_exif(90, 120, b"BENCH"),
        ),
        ("id_document", "image/png", fixtures::png(120, 80)),
        ("signature", "image/png", fixtures::png(200, 60)),
    ] {
        let uploaded = http
            .put(format!(
                "{api}/api/v1/orders/{order_id}/workers/{worker_id}/documents/{kind}"
            ))
            .bearer_auth(kari)
            .header("content-type", content_type)
            .body(bytes)
            .send()
            .await
            .expect("upload");
        assert!(uploaded.status().is_success(), "{}", uploaded.status());
    }
    let submitted = http
        .post(format!("{api}/api/v1/orders/{order_id}/submit"))
        .bearer_auth(kari)
        .send()
        .await
        .expect("submit");
    assert!(submitted.status().is_success(), "{}", submitted.status());
    order_id
}

/// `(order id, time)` rows of a service's database, by order.
pub async fn times(
    env: &TestEnv,
    service: ServiceName,
    query: &str,
) -> HashMap<Uuid, DateTime<Utc>> {
    let rows: Vec<(Uuid, Option<DateTime<Utc>>)> = sqlx::query_as(query)
        .fetch_all(&env.db(service).await)
        .await
        .expect("times");
    rows.into_iter()
        .filter_map(|(order, at)| Some((order, at?)))
        .collect()
}
