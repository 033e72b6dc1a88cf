//! The worker's own view (GDPR art. 15): a person logs in with BankID as
//! themselves, with no company role, and sees the records of them as a
//! worker, what is held of them there now, their card, the deletion
//! receipt and every access to their data; nothing of anyone else.

use hms_test_support::api::Api;
use hms_test_support::fakes::persons;
use hms_test_support::{TestEnv, eventually, fixtures};
use reqwest::StatusCode;
use serde_json::Value;

use crate::common::*;

async fn mine(api: &Api, token: &str) -> Value {
    api.get("/api/v1/me/records")
        .token(token)
        .expect(StatusCode::OK)
        .await
}

async fn my_log(api: &Api, token: &str) -> Vec<Value> {
    api.get("/api/v1/me/access-log")
        .token(token)
        .expect(StatusCode::OK)
        .await["entries"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_sees_what_is_held_about_them_and_nothing_of_anyone_else() {
    let mut env = TestEnv::new();
    env.start_all().await;
    let mut clients = Clients::connect(&env).await;
    let api = Api::new(&env);
    let company_id = approved_company(&env, &mut clients).await;
    // Per Ansatt is ordered a card with a colleague.
    let colleague = fixtures::fodselsnummer();
    let order = create_order(
        &mut clients,
        &company_id,
        &[persons::PER_ANSATT.to_owned(), colleague],
    )
    .await;
    upload_all_documents(&mut clients, &order).await;
    submit(&mut clients, &order.order_id).await.expect("submit");
    // Another order, without Per.
    let other = create_order(&mut clients, &company_id, &[fixtures::fodselsnummer()]).await;
    let per_worker = order.workers[0].worker_id.clone();
    let colleague_worker = order.workers[1].worker_id.clone();

    let per = api.token(persons::PER_ANSATT).await;
    let held = mine(&api, &per).await;
    let records = held["records"].as_array().cloned().unwrap_or_default();
    assert_eq!(records.len(), 1, "{held}");
    let record = &records[0];
    assert_eq!(record["order_id"], order.order_id.as_str());
    assert_eq!(record["worker_id"], per_worker.as_str());
    assert_eq!(record["company_id"], company_id.as_str());
    assert_eq!(record["order_status"], "submitted");
    assert_eq!(record["name"], "Arbeider 0");
    assert_eq!(record["phone_held"], true);
    assert_eq!(record["national_id_held"], true);
    assert_eq!(
        record["national_id_masked"],
        format!("{}*****", &persons::PER_ANSATT[..6])
    );
    assert!(
        !held.to_string().contains(persons::PER_ANSATT),
        "never the full number"
    );

    // Their log: taken in, documents uploaded, the registers asked; only
    // their own worker id in any entry.
    let log = eventually("Per's register check in their log", SOON, || {
        let api = api.clone();
        let per = per.clone();
        async move {
            let log = my_log(&api, &per).await;
            log.iter()
                .any(|entry| entry["action"] == "register_checked")
                .then_some(log)
        }
    })
    .await;
    for entry in &log {
        assert_eq!(
            entry["worker_ids"],
            serde_json::json!([per_worker]),
            "{entry}"
        );
    }
    assert!(
        log.iter()
            .any(|entry| entry["action"] == "worker_data_created")
    );
    assert_eq!(
        log.iter()
            .filter(|entry| entry["action"] == "document_uploaded")
            .count(),
        3
    );
    assert!(
        !serde_json::to_string(&log)
            .unwrap_or_default()
            .contains(&colleague_worker)
    );

    // Approved, printed, forgotten: what is held now, the card, the
    // signed receipt.
    approve(&mut clients, &order.order_id).await;
    receipt(&mut clients, &order.order_id, SOON).await;
    let held = eventually("Per's card and receipt", SOON, || {
        let api = api.clone();
        let per = per.clone();
        async move {
            let held = mine(&api, &per).await;
            let card = held["cards"]
                .as_array()
                .is_some_and(|cards| cards.len() == 1);
            let receipt = held["receipts"]
                .as_array()
                .is_some_and(|receipts| receipts.len() == 1);
            (card && receipt).then_some(held)
        }
    })
    .await;
    let record = &held["records"][0];
    assert_eq!(record["order_status"], "approved");
    assert_eq!(record["national_id_held"], false);
    assert_eq!(record["phone_held"], false);
    assert_eq!(record["register_findings_held"], false);
    assert!(record["national_id_masked_at"].is_string());
    assert_eq!(held["cards"][0]["holder_name"], "Arbeider 0");
    assert_eq!(held["receipts"][0]["order_id"], order.order_id.as_str());
    assert!(held["receipts"][0]["signed"].is_string());
    let log = eventually("the masking in Per's log", SOON, || {
        let api = api.clone();
        let per = per.clone();
        async move {
            let log = my_log(&api, &per).await;
            let seen = |action: &str| log.iter().any(|entry| entry["action"] == action);
            (seen("national_id_masked") && seen("documents_destroyed")).then_some(log)
        }
    })
    .await;
    assert!(
        log.iter()
            .all(|entry| entry["worker_ids"] == serde_json::json!([per_worker]))
    );

    // The receipt of their order is theirs to read; anyone else's is not,
    // and neither is the order itself, which is the company's.
    api.get(&format!("/api/v1/orders/{}/receipt", order.order_id))
        .token(&per)
        .expect(StatusCode::OK)
        .await;
    upload_all_documents(&mut clients, &other).await;
    submit(&mut clients, &other.order_id).await.expect("submit");
    clients
        .back_office
        .orders
        .reject_order(hms_proto::orders::v1::RejectOrderRequest {
            order_id: other.order_id.clone(),
            reason: "Ikke aktuelt".to_owned(),
        })
        .await
        .expect("reject the other order");
    receipt(&mut clients, &other.order_id, SOON).await;
    api.get(&format!("/api/v1/orders/{}/receipt", other.order_id))
        .token(&per)
        .expect_problem(StatusCode::NOT_FOUND, "not-found")
        .await;
    api.get(&format!("/api/v1/orders/{}", order.order_id))
        .token(&per)
        .expect_problem(StatusCode::NOT_FOUND, "not-found")
        .await;
    let nils = api.token(persons::NILS_ANNEN).await;
    api.get(&format!("/api/v1/orders/{}/receipt", order.order_id))
        .token(&nils)
        .expect_problem(StatusCode::NOT_FOUND, "not-found")
        .await;

    // Someone who was never a worker has nothing held; the owner who
    // ordered is not a worker either.
    for token in [&nils, &api.token(persons::KARI_NORDMANN).await] {
        let held = mine(&api, token).await;
        assert_eq!(held["records"].as_array().map(Vec::len), Some(0), "{held}");
        assert_eq!(held["cards"].as_array().map(Vec::len), Some(0));
        assert!(my_log(&api, token).await.is_empty());
    }
}
