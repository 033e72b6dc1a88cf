//! The review loop: the back office rejects a document, the order goes back
//! to the company, the rejected document is destroyed at once, a
//! replacement is uploaded and the order resubmitted, approved and
//! redacted; and a worker taken off an order takes their data along.

use hms_proto::events::v1 as events;
use hms_proto::media::v1 as media;
use hms_proto::orders::v1 as orders;
use hms_test_support::{ExpectRefused, ServiceName, TestEnv, eventually, fixtures};
use sqlx::PgPool;
use tonic::Code;

use crate::common::*;

/// The back office's note: it may name the person, so it must not travel
/// in events or reach a log.
const NOTE: &str = "Ansiktet til Kari Testesen er uskarpt";

fn rejection(
    document_id: &str,
    reason: orders::DocumentRejectionReason,
    note: &str,
) -> orders::DocumentRejection {
    orders::DocumentRejection {
        document_id: document_id.to_owned(),
        reason: reason as i32,
        note: note.to_owned(),
    }
}

async fn return_for_correction(
    clients: &mut Clients,
    order_id: &str,
    rejections: Vec<orders::DocumentRejection>,
) -> Result<orders::Order, tonic::Status> {
    clients
        .back_office
        .orders
        .return_order_for_correction(orders::ReturnOrderForCorrectionRequest {
            order_id: order_id.to_owned(),
            rejections,
        })
        .await
        .map(|answer| answer.into_inner().order.expect("an order"))
}

/// Waits until media holds no key, row or object of `document_id`, and
/// has recorded its destruction; the reason recorded.
async fn destroyed(env: &TestEnv, media_db: &PgPool, document_id: &str) -> String {
    let id = uuid::Uuid::parse_str(document_id).expect("uuid");
    let reason = eventually("the document destroyed", SOON, || async {
        let left: i64 = sqlx::query_scalar(
            "SELECT (SELECT count(*) FROM documents WHERE id = $1) + \
             (SELECT count(*) FROM document_keys WHERE document_id = $1)",
        )
        .bind(id)
        .fetch_one(media_db)
        .await
        .expect("count");
        let reason: Option<String> =
            sqlx::query_scalar("SELECT reason FROM document_destructions WHERE document_id = $1")
                .bind(id)
                .fetch_optional(media_db)
                .await
                .expect("read destructions");
        reason.filter(|_| left == 0)
    })
    .await;
    // The object follows at once: the sweep is woken, not waited for.
    eventually("the object deleted", SOON, || async {
        let named = files_below(&env.objects_dir())
            .iter()
            .any(|path| path.to_string_lossy().contains(document_id));
        let queued: i64 = sqlx::query_scalar("SELECT count(*) FROM object_deletions")
            .fetch_one(media_db)
            .await
            .expect("count");
        (!named && queued == 0).then_some(())
    })
    .await;
    reason
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_photo_is_destroyed_replaced_and_the_order_approved_and_redacted() {
    let mut env = TestEnv::new();
    env.start_all().await;
    let mut clients = Clients::connect(&env).await;
    let (order, national_ids) = submitted_order(&env, &mut clients).await;
    let order_id = order.order_id.clone();
    let documents = list_documents(&mut clients, &order_id).await;
    assert_eq!(documents.len(), 6);
    let first = order.workers[0].worker_id.clone();
    let photo = documents
        .iter()
        .find(|doc| doc.worker_id == first && doc.kind == media::DocumentKind::PassportPhoto as i32)
        .expect("the first worker's photo")
        .clone();
    let order_objects = env.objects_dir().join("orders").join(&order_id);
    let media_db = env.db(ServiceName::Media).await;
    let orders_db = env.db(ServiceName::Orders).await;

    // What cannot be taken leaves the order as it was.
    use orders::DocumentRejectionReason as Why;
    for (rejections, field) in [
        (vec![], "rejections"),
        (
            vec![rejection(
                &uuid::Uuid::new_v4().to_string(),
                Why::PhotoUnclear,
                "",
            )],
            "rejections[0].document_id",
        ),
        (
            vec![rejection("not-an-id", Why::PhotoUnclear, "")],
            "rejections[0].document_id",
        ),
        (
            vec![rejection(&photo.document_id, Why::Unspecified, "")],
            "rejections[0].reason",
        ),
        (
            vec![rejection(&photo.document_id, Why::Other, " ")],
            "rejections[0].note",
        ),
        (
            vec![
                rejection(&photo.document_id, Why::PhotoUnclear, ""),
                rejection(&photo.document_id, Why::NotAPassportPhoto, ""),
            ],
            "rejections[1].document_id",
        ),
    ] {
        return_for_correction(&mut clients, &order_id, rejections)
            .await
            .expect_refused(Code::InvalidArgument, field);
    }
    assert_eq!(list_documents(&mut clients, &order_id).await.len(), 6);

    // The back office rejects the first worker's photo.
    let returned = return_for_correction(
        &mut clients,
        &order_id,
        vec![rejection(&photo.document_id, Why::PhotoUnclear, NOTE)],
    )
    .await
    .expect("return the order");
    assert_eq!(returned.status, orders::OrderStatus::NeedsCorrection as i32);
    assert!(returned.returned_at.is_some());
    assert_eq!(returned.reviews.len(), 6, "a decision on every document");
    for review in &returned.reviews {
        if review.document_id == photo.document_id {
            assert_eq!(review.decision, orders::DocumentDecision::Rejected as i32);
            assert_eq!(review.reason, Why::PhotoUnclear as i32);
            assert_eq!(review.note, NOTE);
        } else {
            assert_eq!(review.decision, orders::DocumentDecision::Accepted as i32);
        }
    }
    // Asked again, nothing changes.
    let again = return_for_correction(
        &mut clients,
        &order_id,
        vec![rejection(&photo.document_id, Why::PhotoUnclear, NOTE)],
    )
    .await
    .expect("a retried return");
    assert_eq!(again.returned_at, returned.returned_at);

    // The rejected photo is destroyed at once; the rest stay.
    assert_eq!(
        destroyed(&env, &media_db, &photo.document_id).await,
        "rejected:photo_unclear"
    );
    assert_eq!(files_below(&order_objects).len(), 5);
    assert_eq!(list_documents(&mut clients, &order_id).await.len(), 5);
    clients
        .back_office
        .media
        .download_document(media::DownloadDocumentRequest {
            document_id: photo.document_id.clone(),
        })
        .await
        .expect_refused(Code::NotFound, "");
    // The event names what to destroy and why, never the note.
    let announced = published::<events::OrderReturnedForCorrection>(&env).await;
    assert_eq!(announced.len(), 1);
    assert_eq!(announced[0].rejected.len(), 1);
    assert_eq!(announced[0].rejected[0].document_id, photo.document_id);
    assert_eq!(announced[0].rejected[0].reason, "photo_unclear");

    // Not approvable while it waits, and not resubmitted without a new photo.
    clients
        .back_office
        .orders
        .approve_order(orders::ApproveOrderRequest {
            order_id: order_id.clone(),
        })
        .await
        .expect_refused(Code::FailedPrecondition, "corrections");
    submit(&mut clients, &order_id)
        .await
        .expect_refused(Code::FailedPrecondition, "passport photo");

    // The company uploads a new photo and submits again.
    let replacement = upload(
        &mut clients,
        &order_id,
        &first,
        media::DocumentKind::PassportPhoto,
        fixtures::jpeg_with_exif(90, 120, b"NEW-PHOTO"),
        16 * 1024,
    )
    .await
    .expect("upload a new photo");
    let resubmitted = submit(&mut clients, &order_id).await.expect("resubmit");
    assert_eq!(resubmitted.status, orders::OrderStatus::Submitted as i32);
    // The back office sees what changed: the new photo has no review yet.
    assert!(
        resubmitted
            .reviews
            .iter()
            .all(|review| review.document_id != replacement.document_id)
    );
    assert_eq!(
        resubmitted
            .reviews
            .iter()
            .filter(|review| review.decision == orders::DocumentDecision::Accepted as i32)
            .count(),
        5
    );

    approve(&mut clients, &order_id).await;
    let receipt = receipt(&mut clients, &order_id, SOON).await;
    assert_eq!(
        (
            receipt.workers_masked,
            receipt.objects_deleted,
            receipt.keys_destroyed
        ),
        (2, 6, 6)
    );
    assert!(files_below(&order_objects).is_empty());
    // The note went with the order's personal data.
    let notes: i64 = count(
        &orders_db,
        "SELECT count(note) FROM document_reviews WHERE order_id = $1",
        &order_id,
    )
    .await;
    assert_eq!(notes, 0);
    let logs = env.logs();
    assert!(!logs.contains(NOTE), "the back office's note was logged");
    for national_id in &national_ids {
        assert!(!logs.contains(national_id.as_str()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_taken_off_an_order_takes_their_data_along() {
    let mut env = TestEnv::new();
    env.start_all().await;
    let mut clients = Clients::connect(&env).await;
    let company_id = approved_company(&env, &mut clients).await;
    let national_ids = vec![fixtures::fodselsnummer(), fixtures::fodselsnummer()];
    let order = create_order(&mut clients, &company_id, &national_ids).await;
    let order_id = order.order_id.clone();
    let documents = upload_all_documents(&mut clients, &order).await;
    let leaving = order.workers[1].worker_id.clone();
    let staying = order.workers[0].worker_id.clone();
    let media_db = env.db(ServiceName::Media).await;
    let orders_db = env.db(ServiceName::Orders).await;

    let remove = |order_id: &str, worker_id: &str| orders::RemoveWorkerRequest {
        order_id: order_id.to_owned(),
        worker_id: worker_id.to_owned(),
    };
    let mut owner = clients.owner.orders.clone();
    owner
        .remove_worker(remove(&order_id, &uuid::Uuid::new_v4().to_string()))
        .await
        .expect_refused(Code::NotFound, "worker");
    owner
        .remove_worker(remove(&order_id, "nobody"))
        .await
        .expect_refused(Code::InvalidArgument, "worker_id");

    let after = owner
        .remove_worker(remove(&order_id, &leaving))
        .await
        .expect("remove a worker")
        .into_inner()
        .order
        .expect("an order");
    assert_eq!(after.workers.len(), 1);
    assert_eq!(after.workers[0].worker_id, staying);
    assert_eq!(after.price.expect("a price").quantity, 1);
    // Their row and sealed number are gone at once.
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM workers WHERE id = $1")
        .bind(uuid::Uuid::parse_str(&leaving).expect("uuid"))
        .fetch_one(&orders_db)
        .await
        .expect("count");
    assert_eq!(rows, 0);
    // And their documents, with a record of why.
    for document in documents.iter().filter(|doc| doc.worker_id == leaving) {
        assert_eq!(
            destroyed(&env, &media_db, &document.document_id).await,
            "worker_removed"
        );
    }
    assert_eq!(list_documents(&mut clients, &order_id).await.len(), 3);

    // The rest of the order goes on; its last worker stays once submitted.
    submit(&mut clients, &order_id).await.expect("submit");
    owner
        .remove_worker(remove(&order_id, &staying))
        .await
        .expect_refused(Code::FailedPrecondition, "last worker");
    approve(&mut clients, &order_id).await;
    owner
        .remove_worker(remove(&order_id, &staying))
        .await
        .expect_refused(Code::FailedPrecondition, "decided");
    let receipt = receipt(&mut clients, &order_id, SOON).await;
    assert_eq!((receipt.workers_masked, receipt.objects_deleted), (1, 3));
    let logs = env.logs();
    for national_id in &national_ids {
        assert!(!logs.contains(national_id.as_str()));
    }
}
