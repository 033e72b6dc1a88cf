//! Deletion receipts that prove something: signed by the platform when an
//! order's personal data is gone, served by the gateway, and checked
//! offline against the published keys; a changed receipt fails.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hms_attestation::{DeletionReceipt, VerifyError};
use hms_test_support::TestEnv;
use hms_test_support::api::Api;
use hms_test_support::fakes::persons;
use reqwest::StatusCode;

use crate::common::*;

/// The receipt's JWS with one claim of its payload changed.
fn changed(signed: &str, from: &str, to: &str) -> String {
    let mut parts: Vec<String> = signed.split('.').map(str::to_owned).collect();
    let payload =
        String::from_utf8(URL_SAFE_NO_PAD.decode(&parts[1]).expect("base64url")).expect("JSON");
    assert!(payload.contains(from), "{payload}");
    parts[1] = URL_SAFE_NO_PAD.encode(payload.replace(from, to));
    parts.join(".")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deletion_receipt_is_signed_and_verifies_offline_until_changed() {
    let mut env = TestEnv::new();
    env.start_all().await;
    let mut clients = Clients::connect(&env).await;
    let api = Api::new(&env);
    let owner = api.token(persons::KARI_NORDMANN).await;
    let (order, _) = submitted_order(&env, &mut clients).await;
    let path = format!("/api/v1/orders/{}/receipt", order.order_id);

    // Nothing is deleted before the decision, so there is no receipt.
    api.get(&path)
        .token(&owner)
        .expect_problem(StatusCode::NOT_FOUND, "not-found")
        .await;

    approve(&mut clients, &order.order_id).await;
    receipt(&mut clients, &order.order_id, SOON).await;
    let answer = api.get(&path).token(&owner).expect(StatusCode::OK).await;
    assert_eq!(answer["order_id"], order.order_id);
    assert_eq!(answer["cause"], "approved");
    let workers = u32::try_from(order.workers.len()).expect("a few workers");
    assert!(workers > 0);
    assert_eq!(answer["workers_masked"], workers);
    assert_eq!(answer["documents_deleted"], 3 * workers);
    assert_eq!(answer["keys_destroyed"], 3 * workers);
    let signed = answer["signed"]
        .as_str()
        .expect("a signed receipt")
        .to_owned();

    // Anyone fetches the keys, once, and checks with no network after.
    let keys = published_keys(&api, "/api/v1/public/receipts/keys").await;
    let attested: DeletionReceipt = keys.verify(&signed).expect("the receipt verifies");
    assert_eq!(attested.order_id, order.order_id);
    assert_eq!(attested.company_id, order.company_id);
    assert_eq!(attested.cause.as_deref(), Some("approved"));
    assert_eq!(
        (
            attested.workers_masked,
            attested.objects_deleted,
            attested.keys_destroyed
        ),
        (workers, 3 * workers, 3 * workers)
    );
    assert_eq!(
        Some(
            attested
                .completed_at
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
        ),
        answer["completed_at"]
            .as_str()
            .and_then(|at| chrono::DateTime::parse_from_rfc3339(at).ok())
            .map(|at| at
                .to_utc()
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)),
        "the signed time is the one shown"
    );
    let payload = URL_SAFE_NO_PAD
        .decode(signed.split('.').nth(1).expect("a payload"))
        .expect("base64url");
    for worker in &order.workers {
        let birth_date = &worker.national_id_masked[..6];
        assert!(
            !String::from_utf8_lossy(&payload).contains(birth_date),
            "the receipt names no person"
        );
    }

    // The receipt is stored as signed: asked again, the same bytes.
    let again = api.get(&path).token(&owner).expect(StatusCode::OK).await;
    assert_eq!(again["signed"], signed.as_str());

    // Changed after signing: it no longer verifies.
    for (from, to) in [
        (
            &format!("\"objects_deleted\":{}", 3 * workers),
            "\"objects_deleted\":0",
        ),
        (
            &"\"cause\":\"approved\"".to_owned(),
            "\"cause\":\"rejected\"",
        ),
    ] {
        assert_eq!(
            keys.verify::<DeletionReceipt>(&changed(&signed, from, to)),
            Err(VerifyError::BadSignature)
        );
    }

    // Someone without access to the company is told there is no receipt;
    // the back office may read it.
    let stranger = api.token(persons::NILS_ANNEN).await;
    api.get(&path)
        .token(&stranger)
        .expect_problem(StatusCode::NOT_FOUND, "not-found")
        .await;
    let back_office = api.token(persons::SIRI_SAKSBEHANDLER).await;
    api.get(&path)
        .token(&back_office)
        .expect(StatusCode::OK)
        .await;
}
