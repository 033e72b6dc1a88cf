//! The data processing agreement (GDPR art. 28): a company orders nothing
//! until someone who manages its access has accepted the version in force;
//! who accepted which version, and when, is kept; a new version stops the
//! next order until it is accepted too.

use hms_proto::companies::v1 as companies;
use hms_proto::events::v1 as events;
use hms_proto::identity::v1 as identity;
use hms_proto::orders::v1 as orders;
use hms_test_support::{ExpectRefused, TestEnv, eventually, fixtures};
use tonic::Code;

use crate::common::*;

async fn agreement(
    person: &mut PersonClients,
    company_id: &str,
) -> companies::GetAgreementResponse {
    person
        .companies
        .get_agreement(companies::GetAgreementRequest {
            company_id: company_id.to_owned(),
        })
        .await
        .expect("the agreement")
        .into_inner()
}

async fn accept(
    person: &mut PersonClients,
    company_id: &str,
    version: u32,
) -> Result<companies::AgreementAcceptance, tonic::Status> {
    person
        .companies
        .accept_agreement(companies::AcceptAgreementRequest {
            company_id: company_id.to_owned(),
            version,
        })
        .await
        .map(|answer| answer.into_inner().acceptance.expect("an acceptance"))
}

async fn try_order(
    clients: &mut Clients,
    company_id: &str,
) -> Result<orders::Order, tonic::Status> {
    clients
        .owner
        .orders
        .create_order(orders::CreateOrderRequest {
            company_id: company_id.to_owned(),
            idempotency_key: uuid::Uuid::new_v4().to_string(),
            workers: vec![new_worker("Ola Arbeider", &fixtures::fodselsnummer())],
        })
        .await
        .map(|answer| answer.into_inner().order.expect("an order"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_order_before_the_agreement_in_force_is_accepted() {
    let mut env = TestEnv::new();
    env.start_all().await;
    let mut clients = Clients::connect(&env).await;
    let company_id = registered_and_approved_company(&env, &mut clients).await;

    // Approved, but the agreement is not accepted: nothing may be ordered.
    try_order(&mut clients, &company_id)
        .await
        .expect_refused(Code::FailedPrecondition, "data processing agreement");
    let first = agreement(&mut clients.owner, &company_id).await;
    let current = first.current.expect("a version in force");
    assert_eq!(current.version, 1);
    assert!(current.text.starts_with("# Databehandleravtale"));
    assert_eq!(current.sha256.len(), 64);
    assert!(!first.current_accepted);
    assert!(first.acceptances.is_empty());

    // The back office sees it but does not accept for the company; a
    // version not in force cannot be accepted.
    agreement(&mut clients.back_office, &company_id).await;
    accept(&mut clients.back_office, &company_id, 1)
        .await
        .expect_refused(Code::PermissionDenied, "");
    accept(&mut clients.owner, &company_id, 2)
        .await
        .expect_refused(Code::FailedPrecondition, "read version 1");

    let accepted = accept(&mut clients.owner, &company_id, 1)
        .await
        .expect("the owner accepts");
    let owner = clients
        .owner
        .identity
        .get_current_user(identity::GetCurrentUserRequest {})
        .await
        .expect("who the owner is")
        .into_inner()
        .user
        .expect("a user");
    assert_eq!(accepted.accepted_by_user_id, owner.user_id);
    assert_eq!(accepted.sha256, current.sha256);
    let again = accept(&mut clients.owner, &company_id, 1)
        .await
        .expect("accepting again changes nothing");
    assert_eq!(again.accepted_at, accepted.accepted_at);
    env.wait_for_agreement(&company_id).await;
    let draft = try_order(&mut clients, &company_id)
        .await
        .expect("an order once accepted");

    // A new version: the next order waits for its acceptance, and so does
    // the draft; publishing the same text again publishes nothing.
    let text = format!("{}\n## 8. Nytt punkt\n\nEndret.\n", current.text);
    let publish = |text: String| {
        let mut back_office = clients.back_office.clone();
        async move {
            back_office
                .companies
                .publish_agreement(companies::PublishAgreementRequest { text })
                .await
                .expect("publish")
                .into_inner()
                .agreement
                .expect("an agreement")
        }
    };
    assert_eq!(publish(text.clone()).await.version, 2);
    assert_eq!(publish(text).await.version, 2);
    clients
        .owner
        .companies
        .publish_agreement(companies::PublishAgreementRequest {
            text: "Vi bestemmer selv".to_owned(),
        })
        .await
        .expect_refused(Code::PermissionDenied, "");
    let owner_orders = clients.owner.orders.clone();
    let draft_id = draft.order_id.clone();
    eventually(
        "orders to refuse the draft under the old version",
        SOON,
        || {
            let mut orders = owner_orders.clone();
            let order_id = draft_id.clone();
            async move {
                let refused = orders
                    .add_worker(orders::AddWorkerRequest {
                        order_id,
                        worker: Some(new_worker("Kari Arbeider", &fixtures::fodselsnummer())),
                    })
                    .await
                    .err()?;
                refused.message().contains("new version (2)").then_some(())
            }
        },
    )
    .await;
    try_order(&mut clients, &company_id)
        .await
        .expect_refused(Code::FailedPrecondition, "new version (2)");
    accept(&mut clients.owner, &company_id, 1)
        .await
        .expect_refused(Code::FailedPrecondition, "read version 2");
    accept(&mut clients.owner, &company_id, 2)
        .await
        .expect("the owner accepts the new version");
    let now = agreement(&mut clients.owner, &company_id).await;
    assert!(now.current_accepted);
    let versions: Vec<u32> = now.acceptances.iter().map(|a| a.version).collect();
    assert_eq!(versions, [2, 1], "newest first");
    env.wait_for_agreement(&company_id).await;
    try_order(&mut clients, &company_id)
        .await
        .expect("an order under the new version");

    // Each publication and acceptance was announced once.
    let publications: Vec<u32> = published::<events::AgreementPublished>(&env)
        .await
        .iter()
        .map(|event| event.version)
        .collect();
    assert_eq!(publications, [1, 2]);
    let accepted: Vec<u32> = published::<events::AgreementAccepted>(&env)
        .await
        .iter()
        .filter(|event| event.company_id == company_id)
        .map(|event| event.version)
        .collect();
    assert_eq!(accepted, [1, 2]);
}
