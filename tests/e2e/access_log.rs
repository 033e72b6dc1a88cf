//! The access log: every processing of the workers' data along the whole
//! journey lands in the company's hash chain, with ids and never a number;
//! the company reads, filters and exports it; checkpoints are signed; and
//! `hms-audit verify` finds a changed or removed entry.

use std::collections::BTreeMap;

use hms_attestation::AccessLogCheckpoint;
use hms_proto::media::v1 as media;
use hms_proto::orders::v1 as orders;
use hms_test_support::api::Api;
use hms_test_support::fakes::persons;
use hms_test_support::{ServiceName, TestEnv, eventually};
use reqwest::StatusCode;
use serde_json::Value;

use crate::common::*;

/// How many entries of each action the company's log holds.
fn actions(entries: &[Value]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for entry in entries {
        *counts
            .entry(entry["action"].as_str().unwrap_or_default().to_owned())
            .or_default() += 1;
    }
    counts
}

async fn log(api: &Api, token: &str, company_id: &str, query: &str) -> Value {
    api.get(&format!("/api/v1/companies/{company_id}/access-log{query}"))
        .token(token)
        .expect(StatusCode::OK)
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_journey_leaves_a_complete_chain_that_detects_tampering() {
    let mut env = TestEnv::new();
    env.start_all().await;
    let mut clients = Clients::connect(&env).await;
    let api = Api::new(&env);
    let owner = api.token(persons::KARI_NORDMANN).await;
    let (order, national_ids) = submitted_order(&env, &mut clients).await;
    let company_id = order.company_id.clone();
    let workers: Vec<String> = order.workers.iter().map(|w| w.worker_id.clone()).collect();

    // The back office reads the order and opens a passport photo.
    clients
        .back_office
        .orders
        .get_order(orders::GetOrderRequest {
            order_id: order.order_id.clone(),
        })
        .await
        .expect("the back office reads the order");
    let photo = list_documents(&mut clients, &order.order_id).await[0].clone();
    clients
        .back_office
        .media
        .download_document(media::DownloadDocumentRequest {
            document_id: photo.document_id.clone(),
        })
        .await
        .expect("the back office opens a document");
    approve(&mut clients, &order.order_id).await;
    receipt(&mut clients, &order.order_id, SOON).await;

    // Every step, recorded by the service that did it.
    let expected: BTreeMap<String, usize> = [
        ("worker_data_created", 1),
        ("document_uploaded", 6),
        ("register_checked", 2),
        ("document_downloaded", 1),
        ("print_material_sent", 2),
        ("national_id_masked", 1),
        ("documents_destroyed", 1),
    ]
    .into_iter()
    .map(|(action, count)| (action.to_owned(), count))
    .collect();
    let entries = eventually("the whole journey in the access log", SOON, || {
        let api = api.clone();
        let owner = owner.clone();
        let company_id = company_id.clone();
        let expected = expected.clone();
        async move {
            let page = log(&api, &owner, &company_id, "?page_size=500").await;
            let entries = page["entries"].as_array().cloned().unwrap_or_default();
            let counts = actions(&entries);
            // Cards read the names to print them.
            let printing_read = entries.iter().any(|entry| {
                entry["action"] == "worker_data_read"
                    && entry["purpose"] == "card_printing"
                    && entry["actor"] == "service:cards"
            });
            (printing_read
                && expected
                    .iter()
                    .all(|(action, count)| counts.get(action).copied().unwrap_or(0) >= *count))
            .then_some(entries)
        }
    })
    .await;
    let counts = actions(&entries);
    assert!(counts["worker_data_read"] >= 1, "{counts:?}");
    // Numbered one after another, each linked to the one before.
    for (index, entry) in entries.iter().enumerate() {
        assert_eq!(entry["seq"], index as u64 + 1);
        if index > 0 {
            assert_eq!(entry["previous_hash"], entries[index - 1]["hash"]);
        }
    }
    let download = entries
        .iter()
        .find(|entry| entry["action"] == "document_downloaded")
        .expect("the download");
    assert_eq!(download["purpose"], "case_review");
    assert_eq!(download["document_id"], photo.document_id.as_str());
    assert!(
        download["actor"]
            .as_str()
            .unwrap_or_default()
            .starts_with("user:"),
        "{download}"
    );
    let masked = entries
        .iter()
        .find(|entry| entry["action"] == "national_id_masked")
        .expect("the masking");
    assert_eq!(masked["actor"], "service:redaction");
    assert_eq!(masked["purpose"], "data_deletion");
    assert_eq!(masked["worker_ids"].as_array().map(Vec::len), Some(2));

    // Nothing in the log, or in its database, is a national identity number.
    let stored = everything_in(&env.db(ServiceName::Audit).await).await;
    for national_id in &national_ids {
        assert!(!stored.contains(national_id.as_str()));
        assert!(!stored.contains(&national_id[6..]));
    }

    // One worker's entries only.
    let theirs = log(
        &api,
        &owner,
        &company_id,
        &format!("?worker_id={}&page_size=500", workers[0]),
    )
    .await;
    let theirs = theirs["entries"].as_array().cloned().unwrap_or_default();
    assert!(!theirs.is_empty() && theirs.len() < entries.len());
    assert!(theirs.iter().all(|entry| {
        entry["worker_ids"]
            .as_array()
            .is_some_and(|ids| ids.iter().any(|id| *id == workers[0].as_str()))
    }));
    // A period before anything happened holds nothing.
    let before = log(&api, &owner, &company_id, "?until=2020-01-01T00:00:00Z").await;
    assert_eq!(before["entries"].as_array().map(Vec::len), Some(0));

    // Exported whole, as CSV and as JSON.
    let export = |format: &'static str| {
        let api = api.clone();
        let owner = owner.clone();
        let company_id = company_id.clone();
        async move {
            api.get(&format!(
                "/api/v1/companies/{company_id}/access-log/export?format={format}"
            ))
            .token(&owner)
            .send()
            .await
        }
    };
    let csv = api
        .http()
        .get(api.url(&format!(
            "/api/v1/companies/{company_id}/access-log/export?format=csv"
        )))
        .bearer_auth(&owner)
        .send()
        .await
        .expect("the export");
    assert_eq!(csv.status(), StatusCode::OK);
    assert!(
        csv.headers()[reqwest::header::CONTENT_DISPOSITION]
            .to_str()
            .unwrap_or_default()
            .starts_with("attachment")
    );
    let csv = csv.text().await.expect("CSV");
    let mut lines = csv.lines();
    assert!(
        lines
            .next()
            .unwrap_or_default()
            .starts_with("seq,occurred_at,")
    );
    let rows: Vec<&str> = lines.collect();
    assert!(rows.len() >= entries.len());
    assert!(rows[0].starts_with("1,"));
    let json = export("json").await;
    assert_eq!(json.status, StatusCode::OK);
    assert!(json.body.as_array().map(Vec::len).unwrap_or(0) >= entries.len());

    // Someone without access to the company sees nothing of it.
    let stranger = api.token(persons::NILS_ANNEN).await;
    api.get(&format!("/api/v1/companies/{company_id}/access-log"))
        .token(&stranger)
        .expect_problem(StatusCode::NOT_FOUND, "not-found")
        .await;

    // A signed checkpoint of the head, checked against the published keys.
    let checkpoint = eventually("a checkpoint", SOON, || {
        let api = api.clone();
        let owner = owner.clone();
        let company_id = company_id.clone();
        async move {
            let page = log(&api, &owner, &company_id, "?page_size=1").await;
            page["checkpoint"]["signed"].as_str().map(str::to_owned)
        }
    })
    .await;
    let keys = published_keys(&api, "/api/v1/public/access-log/keys").await;
    let attested: AccessLogCheckpoint = keys.verify(&checkpoint).expect("the checkpoint verifies");
    assert_eq!(attested.company_id, company_id);
    let at = usize::try_from(attested.seq).expect("a small number") - 1;
    let all = log(&api, &owner, &company_id, "?page_size=500").await;
    assert_eq!(all["entries"][at]["hash"], attested.head_hash.as_str());

    // The chain holds; changing or removing a row by hand breaks it.
    let verify = |args: Vec<String>| {
        let env = &env;
        async move {
            let mut command = vec!["verify"];
            command.extend(args.iter().map(String::as_str));
            env.command(ServiceName::Audit, &command).await
        }
    };
    let held = verify(vec!["--company".to_owned(), company_id.clone()]).await;
    let said = String::from_utf8_lossy(&held.stdout).into_owned();
    assert!(
        held.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&held.stderr)
    );
    assert!(said.contains(&company_id) && said.contains(" ok"), "{said}");

    let audit_db = env.db(ServiceName::Audit).await;
    let company = uuid::Uuid::parse_str(&company_id).expect("a uuid");
    sqlx::query(
        "UPDATE access_log SET actor = 'user:00000000-0000-0000-0000-000000000000' \
         WHERE company_id = $1 AND seq = 3",
    )
    .bind(company)
    .execute(&audit_db)
    .await
    .expect("tamper");
    let broken = verify(vec!["--company".to_owned(), company_id.clone()]).await;
    let said = String::from_utf8_lossy(&broken.stdout).into_owned();
    assert!(!broken.status.success(), "{said}");
    assert!(said.contains("entry 3 was changed"), "{said}");

    sqlx::query("DELETE FROM access_log WHERE company_id = $1 AND seq = 3")
        .bind(company)
        .execute(&audit_db)
        .await
        .expect("remove");
    let broken = verify(vec![]).await;
    let said = String::from_utf8_lossy(&broken.stdout).into_owned();
    assert!(!broken.status.success(), "{said}");
    assert!(said.contains("entry 3 is missing"), "{said}");
}
