//! The records of processing (GDPR art. 30) are kept in the repository as
//! `docs/processing-register.json`. This test holds them to the code: every
//! column of every service's database that can hold personal data is
//! named in a category, every column named exists, and every category said
//! to be erased when an order is redacted is gone from the databases once a
//! real order (approved, and rejected) has been.

use std::collections::{BTreeMap, BTreeSet};

use hms_proto::orders::v1 as orders;
use hms_test_support::{ServiceName, TestEnv, fixtures};
use serde::Deserialize;

use crate::common::*;

#[derive(Debug, Deserialize)]
struct Register {
    activities: Vec<Activity>,
    processors: Vec<Processor>,
    categories: Vec<Category>,
}

#[derive(Debug, Deserialize)]
struct Activity {
    id: String,
    purpose: String,
    legal_basis: String,
    data_subjects: Vec<String>,
    security_measures: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct Processor {
    name: String,
    receives: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct Category {
    id: String,
    description: String,
    data_subjects: Vec<String>,
    activities: Vec<String>,
    erasure: Erasure,
    stored_in: Vec<Location>,
}

#[derive(Debug, Deserialize)]
struct Erasure {
    /// `at_redaction`, `pruned` or `retained`.
    rule: String,
    /// What a person reads: when it goes, or why it stays.
    time_limit: String,
    /// `pruned`: the setting that says after how long.
    #[serde(default)]
    setting: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Location {
    service: String,
    table: String,
    column: String,
    /// `at_redaction`: SQL counting what is left of order `$1` here;
    /// must be 0 once the order is redacted.
    #[serde(default)]
    left_after_redaction: Option<String>,
}

/// Column names that hold, or are derived from, a person's data.
const PERSONAL: [&str; 17] = [
    "name",
    "national_id_",
    "phone",
    "email",
    "person_key",
    "register_key",
    "subject_key",
    "holder_key",
    "label",
    "note",
    "recipient",
    "body_",
    "actor",
    "worker_ids",
    "_by_",
    "fingerprint",
    "payload",
];

fn register() -> Register {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../docs/processing-register.json"
    ))
    .expect("docs/processing-register.json");
    serde_json::from_str(&text).expect("the register reads")
}

#[test]
fn the_register_says_what_article_30_asks_for_each_category() {
    let register = register();
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .expect("README.md");
    let activities: BTreeSet<&str> = register.activities.iter().map(|a| a.id.as_str()).collect();
    assert!(!activities.is_empty());
    for activity in &register.activities {
        assert!(
            !activity.purpose.is_empty() && !activity.legal_basis.is_empty(),
            "{activity:?}"
        );
        assert!(!activity.data_subjects.is_empty() && !activity.security_measures.is_empty());
    }
    for processor in &register.processors {
        assert!(!processor.name.is_empty() && !processor.receives.is_empty());
    }
    let mut ids = BTreeSet::new();
    for category in &register.categories {
        assert!(ids.insert(category.id.as_str()), "{} twice", category.id);
        assert!(!category.description.is_empty() && !category.data_subjects.is_empty());
        assert!(!category.erasure.time_limit.is_empty(), "{}", category.id);
        assert!(
            category
                .activities
                .iter()
                .all(|id| activities.contains(id.as_str())),
            "{}: an activity not in the register",
            category.id
        );
        match category.erasure.rule.as_str() {
            "at_redaction" => assert!(
                category
                    .stored_in
                    .iter()
                    .all(|location| location.left_after_redaction.is_some()),
                "{}: erased at redaction, so each place says how to check",
                category.id
            ),
            "pruned" => {
                let setting = category.erasure.setting.as_deref().unwrap_or_default();
                assert!(
                    readme.contains(&format!("| `{setting}` |")),
                    "{}: pruned after {setting:?}, which is no setting",
                    category.id
                );
            }
            "retained" => {}
            other => panic!("{}: no such erasure rule {other}", category.id),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_personal_column_is_registered_and_erased_as_the_register_says() {
    let mut env = TestEnv::new();
    env.start_all().await;
    let mut clients = Clients::connect(&env).await;
    let (approved, _) = submitted_order(&env, &mut clients).await;
    approve(&mut clients, &approved.order_id).await;
    let rejected = create_order(
        &mut clients,
        &approved.company_id,
        &[fixtures::fodselsnummer()],
    )
    .await;
    upload_all_documents(&mut clients, &rejected).await;
    submit(&mut clients, &rejected.order_id)
        .await
        .expect("submit");
    clients
        .back_office
        .orders
        .reject_order(orders::RejectOrderRequest {
            order_id: rejected.order_id.clone(),
            reason: "Mangler dokumentasjon".to_owned(),
        })
        .await
        .expect("reject");
    receipt(&mut clients, &approved.order_id, SOON).await;
    receipt(&mut clients, &rejected.order_id, SOON).await;

    let register = register();
    let mut registered: BTreeMap<(String, String, String), Option<String>> = BTreeMap::new();
    for category in &register.categories {
        for location in &category.stored_in {
            registered.insert(
                (
                    location.service.clone(),
                    location.table.clone(),
                    location.column.clone(),
                ),
                location.left_after_redaction.clone(),
            );
        }
    }

    let mut unregistered = Vec::new();
    let mut existing = BTreeSet::new();
    for service in ServiceName::ALL {
        if service.database().is_none() {
            continue;
        }
        let db = env.db(service).await;
        let columns: Vec<(String, String)> = sqlx::query_as(
            "SELECT table_name::text, column_name::text FROM information_schema.columns \
             WHERE table_schema = 'public' AND table_name NOT LIKE '\\_sqlx%' ORDER BY 1, 2",
        )
        .fetch_all(&db)
        .await
        .expect("the columns");
        for (table, column) in columns {
            let key = (service.as_str().to_owned(), table, column);
            let personal =
                PERSONAL.iter().any(|pattern| key.2.contains(pattern)) || key.2.ends_with("_by");
            if personal && !registered.contains_key(&key) {
                unregistered.push(format!("{}.{}.{}", key.0, key.1, key.2));
            }
            existing.insert(key);
        }
    }
    assert!(
        unregistered.is_empty(),
        "personal data the register does not name: {unregistered:#?}"
    );
    let stale: Vec<_> = registered
        .keys()
        .filter(|key| !existing.contains(*key))
        .collect();
    assert!(
        stale.is_empty(),
        "the register names columns that do not exist: {stale:?}"
    );

    // What the register says goes at redaction is gone, in both outcomes.
    for ((service, table, column), check) in &registered {
        let Some(check) = check else { continue };
        let service = ServiceName::parse(service).expect("a service");
        let db = env.db(service).await;
        for order in [&approved.order_id, &rejected.order_id] {
            let left: i64 = sqlx::query_scalar(check)
                .bind(uuid::Uuid::parse_str(order).expect("a uuid"))
                .fetch_one(&db)
                .await
                .unwrap_or_else(|error| panic!("{service}.{table}.{column}: {error}"));
            assert_eq!(
                left, 0,
                "{service}.{table}.{column} outlives the redaction of {order}"
            );
        }
    }
}
