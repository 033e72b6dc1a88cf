//! A dependency that is down means "try again", never "broken": with a
//! service's database gone, its calls answer `UNAVAILABLE` (through the
//! gateway `503` with `Retry-After`), and everything works again once the
//! database is back.

use std::time::Duration;

use hms_proto::cards::v1 as cards;
use hms_proto::companies::v1 as companies;
use hms_proto::identity::v1 as identity;
use hms_proto::media::v1 as media;
use hms_proto::notifications::v1 as notifications;
use hms_proto::orders::v1 as orders;
use hms_proto::redaction::v1 as redaction;
use hms_test_support::fakes::persons;
use hms_test_support::{ServiceName, TestEnv, eventually};
use tonic::Code;

use crate::common::*;

/// The services that keep a database.
const WITH_A_DATABASE: [ServiceName; 8] = [
    ServiceName::Identity,
    ServiceName::Companies,
    ServiceName::Audit,
    ServiceName::Orders,
    ServiceName::Media,
    ServiceName::Redaction,
    ServiceName::Notifications,
    ServiceName::Cards,
];

fn assert_unavailable<T: std::fmt::Debug>(answer: Result<T, tonic::Status>, what: &str) {
    let status = answer.expect_err(what);
    assert_eq!(status.code(), Code::Unavailable, "{what}: {status:?}");
    assert!(
        status.message().contains("try again"),
        "{what}: {}",
        status.message()
    );
}

/// A call to `service` that needs its database.
async fn ask(
    clients: &Clients,
    service: ServiceName,
    company_id: &str,
    order_id: &str,
) -> Result<(), tonic::Status> {
    let owner = &clients.owner;
    match service {
        ServiceName::Identity => owner
            .identity
            .clone()
            .get_current_user(identity::GetCurrentUserRequest {})
            .await
            .map(drop),
        ServiceName::Companies => owner
            .companies
            .clone()
            .get_company(companies::GetCompanyRequest {
                company_id: company_id.to_owned(),
            })
            .await
            .map(drop),
        ServiceName::Orders => owner
            .orders
            .clone()
            .get_order(orders::GetOrderRequest {
                order_id: order_id.to_owned(),
            })
            .await
            .map(drop),
        ServiceName::Media => owner
            .media
            .clone()
            .list_documents(media::ListDocumentsRequest {
                order_id: order_id.to_owned(),
            })
            .await
            .map(drop),
        ServiceName::Redaction => owner
            .redaction
            .clone()
            .get_receipt(redaction::GetReceiptRequest {
                order_id: order_id.to_owned(),
            })
            .await
            .map(drop),
        ServiceName::Notifications => owner
            .notifications
            .clone()
            .list_deliveries(notifications::ListDeliveriesRequest {
                company_id: company_id.to_owned(),
                ..Default::default()
            })
            .await
            .map(drop),
        ServiceName::Cards => owner
            .cards
            .clone()
            .list_cards(cards::ListCardsRequest {
                company_id: company_id.to_owned(),
                ..Default::default()
            })
            .await
            .map(drop),
        ServiceName::Audit => owner
            .audit
            .clone()
            .list_access_log(hms_proto::audit::v1::ListAccessLogRequest {
                company_id: company_id.to_owned(),
                ..Default::default()
            })
            .await
            .map(drop),
        ServiceName::Gateway => unreachable!("the gateway keeps no database"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_that_is_down_means_try_again_everywhere_until_it_is_back() {
    let mut env = TestEnv::new();
    for service in WITH_A_DATABASE {
        env.database_through_cable(service);
    }
    // Calls give up on the database after 2 s instead of 5.
    env.set("HMS_DATABASE_ACQUIRE_TIMEOUT_SECS", "2");
    env.start_all().await;
    let mut clients = Clients::connect(&env).await;
    let (order, _) = submitted_order(&env, &mut clients).await;
    let company_id = order.company_id.clone();
    let approve = orders::ApproveOrderRequest {
        order_id: order.order_id.clone(),
    };

    // Orders' database goes away while the back office approves: over gRPC
    // and through the gateway alike, "try again".
    env.database_down(ServiceName::Orders);
    assert_unavailable(
        clients
            .back_office
            .orders
            .approve_order(approve.clone())
            .await,
        "approving without orders' database",
    );
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::new();
    let siri = env.access_token(persons::SIRI_SAKSBEHANDLER).await;
    let response = http
        .post(format!(
            "{}/api/v1/backoffice/orders/{}/approve",
            env.gateway_url(),
            order.order_id
        ))
        .bearer_auth(&siri)
        .send()
        .await
        .expect("the gateway answers");
    assert_eq!(response.status(), reqwest::StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        response
            .headers()
            .contains_key(reqwest::header::RETRY_AFTER),
        "{:?}",
        response.headers()
    );
    let problem: serde_json::Value = response.json().await.expect("problem+json");
    assert_eq!(problem["type"], "/problems/unavailable", "{problem}");

    // Back again: the approval goes through, and the order is redacted.
    env.database_up(ServiceName::Orders);
    let approved = eventually(
        "the approval to go through",
        Duration::from_secs(20),
        || {
            let mut orders = clients.back_office.orders.clone();
            let approve = approve.clone();
            async move { orders.approve_order(approve).await.ok() }
        },
    )
    .await;
    assert_eq!(
        approved.into_inner().order.expect("an order").status,
        orders::OrderStatus::Approved as i32
    );
    receipt(&mut clients, &order.order_id, SOON).await;

    // Every other service the same way, and all of it answers again once
    // its database is back.
    for service in [
        ServiceName::Companies,
        ServiceName::Media,
        ServiceName::Redaction,
        ServiceName::Notifications,
        ServiceName::Cards,
        ServiceName::Identity,
    ] {
        env.database_down(service);
        assert_unavailable(
            ask(&clients, service, &company_id, &order.order_id).await,
            &format!("{} without its database", service.as_str()),
        );
        env.database_up(service);
    }
    for service in WITH_A_DATABASE {
        let what = format!("{} to answer again", service.as_str());
        eventually(&what, Duration::from_secs(20), || {
            let clients = &clients;
            let (company_id, order_id) = (&company_id, &order.order_id);
            async move { ask(clients, service, company_id, order_id).await.ok() }
        })
        .await;
    }
    // No outage was reported as a bug.
    let logs = env.logs();
    assert!(
        !logs.contains("internal error"),
        "an outage logged as a bug"
    );
}
