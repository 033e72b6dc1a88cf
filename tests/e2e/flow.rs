//! The flagship flow: approve an order and watch its personal data vanish.

use std::time::Instant;

use hms_proto::events::v1 as events;
use hms_proto::media::v1 as media;
use hms_proto::orders::v1 as orders;
use hms_proto::redaction::v1 as redaction;
use hms_test_support::{ExpectRefused, ServiceAuth, ServiceName, TestEnv, fixtures};
use tonic::Code;

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approving_an_order_masks_its_numbers_and_destroys_its_documents() {
    let mut env = TestEnv::new();
    env.start_all().await;
    let mut clients = Clients::connect(&env).await;

    let company_id = approved_company(&env, &mut clients).await;
    let national_ids = vec![fixtures::fodselsnummer(), fixtures::fodselsnummer()];
    // The client may choose any idempotency key, even a worker's number:
    // only a keyed digest of it is kept, and erased with the numbers.
    let order =
        create_order_with_key(&mut clients, &company_id, &national_ids[0], &national_ids).await;
    assert_eq!(order.status, orders::OrderStatus::Draft as i32);
    for (worker, national_id) in order.workers.iter().zip(&national_ids) {
        assert_eq!(
            worker.national_id_masked,
            format!("{}*****", &national_id[..6])
        );
    }
    let price = order.price.clone().expect("a price");
    assert_eq!(
        (price.net_ore, price.vat_ore, price.gross_ore),
        (26_580, 6_645, 33_225)
    );

    // Submitting without documents is refused, naming who lacks what.
    clients
        .owner
        .orders
        .submit_order(orders::SubmitOrderRequest {
            order_id: order.order_id.clone(),
        })
        .await
        .expect_refused(Code::FailedPrecondition, "passport photo");

    let documents = upload_all_documents(&mut clients, &order).await;
    assert_eq!(documents.len(), 6);
    let media_db = env.db(ServiceName::Media).await;
    let orders_db = env.db(ServiceName::Orders).await;
    let order_objects = env.objects_dir().join("orders").join(&order.order_id);
    let stored = files_below(&order_objects);
    assert_eq!(stored.len(), 6, "one object per document");
    for object in &stored {
        let bytes = std::fs::read(object).expect("read an object");
        // Sealed: neither the EXIF marker nor any file header is readable.
        for plain in [
            &b"GPS-SECRET-MARKER"[..],
            b"Exif",
            b"%PDF",
            b"\x89PNG",
            b"JFIF",
        ] {
            assert!(
                !bytes.windows(plain.len()).any(|w| w == plain),
                "{} leaks {plain:?}",
                object.display()
            );
        }
    }
    assert_eq!(count(&media_db, "SELECT count(*) FROM document_keys k JOIN documents d ON d.id = k.document_id WHERE d.order_id = $1", &order.order_id).await, 6);
    // The photo came back from media re-encoded, without its EXIF.
    let photo = documents
        .iter()
        .find(|d| d.kind == media::DocumentKind::PassportPhoto as i32)
        .expect("a photo");
    // Decrypted documents need an identity.
    PersonClients::with_token(&env, "")
        .await
        .media
        .download_document(media::DownloadDocumentRequest {
            document_id: photo.document_id.clone(),
        })
        .await
        .expect_refused(Code::Unauthenticated, "");
    // Only the back office reads documents back.
    clients
        .owner
        .media
        .download_document(media::DownloadDocumentRequest {
            document_id: photo.document_id.clone(),
        })
        .await
        .expect_refused(Code::PermissionDenied, "");
    let mut trusted = clients.back_office.media.clone();
    let downloaded = download(&mut trusted, &photo.document_id).await;
    assert!(downloaded.starts_with(&[0xFF, 0xD8]), "a JPEG");
    assert!(!downloaded.windows(17).any(|w| w == b"GPS-SECRET-MARKER"));

    let stored = stored_secrets(&orders_db, &order.order_id).await;
    assert_eq!(stored.sealed.len(), 2);
    for (bytes, national_id) in stored.sealed.iter().zip(&national_ids) {
        let bytes = bytes.as_ref().expect("sealed while the order is open");
        assert!(
            !bytes.windows(11).any(|w| w == national_id.as_bytes()),
            "the number is sealed, not stored"
        );
    }
    assert_eq!(
        stored.fingerprint.map(|f| f.len()),
        Some(32),
        "a keyed fingerprint"
    );
    assert_eq!(
        stored.key_digest.map(|d| d.len()),
        Some(32),
        "the idempotency key only as a keyed digest"
    );
    let before = everything_in(&orders_db).await;
    for national_id in &national_ids {
        assert!(
            !before.contains(national_id.as_str()),
            "the number is sealed at rest"
        );
    }
    assert_eq!(
        count(
            &orders_db,
            "SELECT count(*) FROM workers WHERE order_id = $1 AND national_id_sealed IS NOT NULL",
            &order.order_id
        )
        .await,
        2
    );

    let submitted = clients
        .owner
        .orders
        .submit_order(orders::SubmitOrderRequest {
            order_id: order.order_id.clone(),
        })
        .await
        .expect("submit")
        .into_inner()
        .order
        .expect("an order");
    assert_eq!(submitted.status, orders::OrderStatus::Submitted as i32);

    let approved_at = Instant::now();
    let approved = approve(&mut clients, &order.order_id).await;
    assert_eq!(approved.status, orders::OrderStatus::Approved as i32);
    let receipt = receipt(&mut clients, &order.order_id, SOON).await;
    println!("redacted {:?} after approval", approved_at.elapsed());

    assert_eq!(receipt.workers_masked, 2);
    assert_eq!(receipt.objects_deleted, 6);
    assert_eq!(receipt.keys_destroyed, 6);
    // Purged once the card producer had the photos and signatures.
    assert_eq!(receipt.trigger, redaction::Trigger::Handover as i32);
    assert_eq!(env.print_jobs().await.len(), 1);

    // No clear (or sealed) number of the order remains in orders.
    let after = everything_in(&orders_db).await;
    for national_id in &national_ids {
        assert!(!after.contains(national_id.as_str()));
    }
    assert_eq!(
        count(
            &orders_db,
            "SELECT count(*) FROM workers WHERE order_id = $1 AND national_id_sealed IS NOT NULL",
            &order.order_id
        )
        .await,
        0
    );
    let stored = stored_secrets(&orders_db, &order.order_id).await;
    assert!(
        stored.sealed.iter().all(Option::is_none),
        "the sealed numbers are erased"
    );
    assert_eq!(
        stored.fingerprint, None,
        "the fingerprint derived from them is erased"
    );
    assert_eq!(
        stored.key_digest, None,
        "so is the digest of the idempotency key"
    );
    let order_now = clients
        .owner
        .orders
        .get_order(orders::GetOrderRequest {
            order_id: order.order_id.clone(),
        })
        .await
        .expect("get the order")
        .into_inner()
        .order
        .expect("an order");
    assert!(order_now.national_ids_masked_at.is_some());
    for (worker, national_id) in order_now.workers.iter().zip(&national_ids) {
        assert_eq!(
            worker.national_id_masked,
            format!("{}*****", &national_id[..6])
        );
    }

    // No object of the order remains, in the store or in media's database,
    // and not even the order's folder, named by its id.
    assert!(
        files_below(&order_objects).is_empty(),
        "objects left: {:?}",
        files_below(&order_objects)
    );
    assert!(!order_objects.exists(), "the order's folder is left behind");
    assert_eq!(
        count(
            &media_db,
            "SELECT count(*) FROM documents WHERE order_id = $1",
            &order.order_id
        )
        .await,
        0
    );
    assert_eq!(
        count(
            &media_db,
            "SELECT count(*) FROM object_deletions WHERE order_id = $1",
            &order.order_id
        )
        .await,
        0
    );
    let keys: i64 = sqlx::query_scalar("SELECT count(*) FROM document_keys")
        .fetch_one(&media_db)
        .await
        .expect("count");
    assert_eq!(keys, 0, "every key is destroyed");
    let listed = list_documents(&mut clients, &order.order_id).await;
    assert!(listed.is_empty());
    // The photo is gone.
    trusted
        .download_document(media::DownloadDocumentRequest {
            document_id: photo.document_id.clone(),
        })
        .await
        .expect_refused(Code::NotFound, "");

    // The redaction was announced once.
    let events = redacted_events(&env).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].order_id, order.order_id);
    assert_eq!(
        (events[0].workers_masked, events[0].objects_deleted),
        (2, 6)
    );

    // Nothing personal reached a log line (the services log at debug here).
    let logs = env.logs();
    assert!(logs.contains("order redacted"), "the logs are read");
    for national_id in &national_ids {
        assert!(
            !logs.contains(national_id.as_str()),
            "a national identity number was logged"
        );
    }
    assert!(!logs.contains("GPS-SECRET-MARKER"));

    // The order takes no more documents.
    upload(
        &mut clients,
        &order.order_id,
        &order.workers[0].worker_id,
        media::DocumentKind::Signature,
        fixtures::png(10, 10),
        4096,
    )
    .await
    .expect_refused(Code::FailedPrecondition, "");
    assert!(files_below(&order_objects).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_order_is_redacted_too() {
    let mut env = TestEnv::new();
    env.start_all().await;
    let mut clients = Clients::connect(&env).await;
    let (order, _) = submitted_order(&env, &mut clients).await;
    let rejected = clients
        .back_office
        .orders
        .reject_order(orders::RejectOrderRequest {
            order_id: order.order_id.clone(),
            reason: "Passfotoet er uskarpt".to_owned(),
        })
        .await
        .expect("reject")
        .into_inner()
        .order
        .expect("an order");
    assert_eq!(rejected.status, orders::OrderStatus::Rejected as i32);
    assert_eq!(rejected.rejection_reason, "Passfotoet er uskarpt");
    let receipt = receipt(&mut clients, &order.order_id, SOON).await;
    assert_eq!(
        (
            receipt.workers_masked,
            receipt.objects_deleted,
            receipt.keys_destroyed
        ),
        (2, 6, 6)
    );
    assert_eq!(receipt.trigger, redaction::Trigger::Event as i32);
    // Nothing to print: the producer never hears of it.
    assert!(env.print_jobs().await.is_empty());
    outbox_drained(&env, ServiceName::Cards).await;
    assert!(published::<events::PrintHandedOver>(&env).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_create_returns_the_same_order() {
    let mut env = TestEnv::new();
    env.start(ServiceName::Companies).await;
    env.start(ServiceName::Orders).await;
    env.start(ServiceName::Media).await;
    let mut clients = Clients::connect(&env).await;
    let company_id = approved_company(&env, &mut clients).await;
    let request = orders::CreateOrderRequest {
        company_id: company_id.clone(),
        idempotency_key: "order-2026-11-23-001".to_owned(),
        workers: vec![new_worker("Kari Nordmann", &fixtures::fodselsnummer())],
    };
    let first = clients
        .owner
        .orders
        .create_order(request.clone())
        .await
        .expect("create")
        .into_inner()
        .order
        .expect("order");
    let again = clients
        .owner
        .orders
        .create_order(request.clone())
        .await
        .expect("retry")
        .into_inner()
        .order
        .expect("order");
    assert_eq!(first.order_id, again.order_id);
    assert_eq!(again.workers.len(), 1);

    let mut different = request;
    different.workers = vec![new_worker("Ola Nordmann", &fixtures::fodselsnummer())];
    clients
        .owner
        .orders
        .create_order(different)
        .await
        .expect_refused(Code::FailedPrecondition, "");
    let orders_db = env.db(ServiceName::Orders).await;
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM orders")
        .fetch_one(&orders_db)
        .await
        .expect("count");
    assert_eq!(total, 1);
}

type TrustedMedia = media::media_service_client::MediaServiceClient<
    tonic::service::interceptor::InterceptedService<tonic::transport::Channel, ServiceAuth>,
>;

async fn download(client: &mut TrustedMedia, document_id: &str) -> Vec<u8> {
    use futures::StreamExt;
    let mut stream = client
        .download_document(media::DownloadDocumentRequest {
            document_id: document_id.to_owned(),
        })
        .await
        .expect("download")
        .into_inner();
    let mut bytes = Vec::new();
    while let Some(message) = stream.next().await {
        if let Some(media::download_document_response::Part::Chunk(chunk)) =
            message.expect("a message").part
        {
            bytes.extend_from_slice(&chunk);
        }
    }
    bytes
}
