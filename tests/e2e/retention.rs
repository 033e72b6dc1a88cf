//! Storage limitation: orders that wait too long for the company, or whose
//! company was rejected or suspended long ago, are closed without a
//! decision and redacted, with a receipt that says why; and no phone number
//! or needless name outlives an order's redaction.

use std::time::Duration;

use hms_proto::companies::v1 as companies;
use hms_proto::events::v1 as events;
use hms_proto::orders::v1 as orders;
use hms_proto::redaction::v1 as redaction;
use hms_test_support::{ServiceName, TestEnv, eventually, fixtures};

use crate::common::*;

/// About 17 seconds: long enough to submit an order first, short enough
/// to wait for.
const RETENTION_DAYS: &str = "0.0002";
const RETENTION: Duration = Duration::from_millis(17_280);

async fn order(clients: &mut Clients, order_id: &str) -> orders::Order {
    clients
        .owner
        .orders
        .get_order(orders::GetOrderRequest {
            order_id: order_id.to_owned(),
        })
        .await
        .expect("get the order")
        .into_inner()
        .order
        .expect("an order")
}

/// Waits until the order is closed for `why` and redacted; its receipt.
async fn closed_and_redacted(
    clients: &mut Clients,
    order_id: &str,
    why: orders::ClosureReason,
) -> redaction::Receipt {
    let within = RETENTION + SOON;
    let receipt = receipt(clients, order_id, within).await;
    let closed = order(clients, order_id).await;
    assert_eq!(closed.status, orders::OrderStatus::Closed as i32);
    assert_eq!(closed.closed_because, why as i32);
    assert!(closed.national_ids_masked_at.is_some());
    for worker in &closed.workers {
        assert!(worker.name.is_empty(), "a closed order keeps no name");
        assert!(worker.phone.is_empty(), "a closed order keeps no phone");
    }
    receipt
}

/// A draft of one worker with all three documents.
async fn new_order(clients: &mut Clients, company_id: &str) -> String {
    let order = create_order(clients, company_id, &[fixtures::fodselsnummer()]).await;
    upload_all_documents(clients, &order).await;
    order.order_id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_left_too_long_are_closed_and_redacted_with_a_receipt_that_says_why() {
    let mut env = TestEnv::new();
    env.set("HMS_DRAFT_RETENTION_DAYS", RETENTION_DAYS)
        .set("HMS_CORRECTION_RETENTION_DAYS", RETENTION_DAYS)
        .set("HMS_INELIGIBLE_COMPANY_RETENTION_DAYS", RETENTION_DAYS);
    env.start_all().await;
    let mut clients = Clients::connect(&env).await;
    let company_id = approved_company(&env, &mut clients).await;

    // Approved in time: its cards need the name, nothing needs the phone.
    let approved = new_order(&mut clients, &company_id).await;
    submit(&mut clients, &approved).await.expect("submit");
    // Left as a draft.
    let draft = new_order(&mut clients, &company_id).await;
    // Returned for correction and left there.
    let corrected = new_order(&mut clients, &company_id).await;
    submit(&mut clients, &corrected).await.expect("submit");
    let photo = list_documents(&mut clients, &corrected).await[0]
        .document_id
        .clone();
    clients
        .back_office
        .orders
        .return_order_for_correction(orders::ReturnOrderForCorrectionRequest {
            order_id: corrected.clone(),
            rejections: vec![orders::DocumentRejection {
                document_id: photo,
                reason: orders::DocumentRejectionReason::PhotoUnclear as i32,
                note: String::new(),
            }],
        })
        .await
        .expect("return the order");
    // Waiting for the back office, which takes its time.
    let waiting = new_order(&mut clients, &company_id).await;
    submit(&mut clients, &waiting).await.expect("submit");
    approve(&mut clients, &approved).await;

    let receipt_of_approved = receipt(&mut clients, &approved, SOON).await;
    assert_eq!(
        receipt_of_approved.cause,
        redaction::RedactionCause::Approved as i32
    );
    let kept = order(&mut clients, &approved).await;
    assert!(!kept.workers[0].name.is_empty(), "the card's name stays");
    assert!(kept.workers[0].phone.is_empty(), "the phone goes");

    let receipt =
        closed_and_redacted(&mut clients, &draft, orders::ClosureReason::DraftAbandoned).await;
    assert_eq!(
        receipt.cause,
        redaction::RedactionCause::DraftAbandoned as i32
    );
    assert_eq!((receipt.workers_masked, receipt.objects_deleted), (1, 3));
    let receipt = closed_and_redacted(
        &mut clients,
        &corrected,
        orders::ClosureReason::CorrectionAbandoned,
    )
    .await;
    assert_eq!(
        receipt.cause,
        redaction::RedactionCause::CorrectionAbandoned as i32
    );
    for order_id in [&draft, &corrected] {
        let objects = env.objects_dir().join("orders").join(order_id);
        assert!(files_below(&objects).is_empty(), "documents left behind");
    }

    // An order waiting for the back office is not the company's delay...
    assert_eq!(
        order(&mut clients, &waiting).await.status,
        orders::OrderStatus::Submitted as i32
    );
    // ...until the company is suspended and stays so.
    clients
        .back_office
        .companies
        .suspend_company(companies::SuspendCompanyRequest {
            company_id: company_id.clone(),
            reason: "Mangler dokumentasjon".to_owned(),
        })
        .await
        .expect("suspend the company");
    env.wait_for_standing(&company_id, "suspended").await;
    let receipt = closed_and_redacted(
        &mut clients,
        &waiting,
        orders::ClosureReason::CompanyIneligible,
    )
    .await;
    assert_eq!(
        receipt.cause,
        redaction::RedactionCause::CompanyIneligible as i32
    );

    // Each closed once, announced once; the approved order left alone.
    let closed = published::<events::OrderClosed>(&env).await;
    let mut reasons: Vec<(String, String)> = closed
        .into_iter()
        .map(|event| (event.order_id, event.reason))
        .collect();
    reasons.sort();
    let mut expected = vec![
        (draft.clone(), "draft_abandoned".to_owned()),
        (corrected.clone(), "correction_abandoned".to_owned()),
        (waiting.clone(), "company_ineligible".to_owned()),
    ];
    expected.sort();
    assert_eq!(reasons, expected);
    assert_eq!(
        order(&mut clients, &approved).await.status,
        orders::OrderStatus::Approved as i32
    );
    // Nothing of the closed orders' workers is left in orders' database but
    // the masked numbers.
    let orders_db = env.db(ServiceName::Orders).await;
    for order_id in [&draft, &corrected, &waiting] {
        let left = count(
            &orders_db,
            "SELECT count(*) FROM workers WHERE order_id = $1 \
             AND (name IS NOT NULL OR phone IS NOT NULL OR national_id_sealed IS NOT NULL)",
            order_id,
        )
        .await;
        assert_eq!(left, 0);
    }
    eventually("the company told of each closure", SOON, || async {
        let told = env
            .mail()
            .messages()
            .iter()
            .filter(|mail| mail.subject.contains("lukket") || mail.subject.contains("closed"))
            .count();
        (told >= 3).then_some(())
    })
    .await;
}
