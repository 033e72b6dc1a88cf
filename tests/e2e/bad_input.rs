//! Client mistakes get a clear error and leave nothing behind.

use hms_proto::companies::v1 as companies;
use hms_proto::media::v1 as media;
use hms_proto::orders::v1 as orders;
use hms_test_support::{Service, TestEnv, fixtures};

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_national_id_is_refused_by_field_and_nothing_is_stored() {
    let mut env = TestEnv::new();
    env.start(Service::Companies).await;
    env.start(Service::Orders).await;
    env.start(Service::Media).await;
    let mut clients = Clients::connect(&env).await;
    let company_id = approved_company(&env, &mut clients).await;

    let invalid = fixtures::invalid_fodselsnummer();
    let refused = clients
        .owner
        .orders
        .create_order(orders::CreateOrderRequest {
            company_id: company_id.clone(),
            idempotency_key: "first".to_owned(),
            workers: vec![
                new_worker("Kari Nordmann", &fixtures::fodselsnummer()),
                new_worker("Ola Nordmann", &invalid),
            ],
        })
        .await
        .expect_err("an invalid number");
    assert_eq!(refused.code(), tonic::Code::InvalidArgument);
    assert!(
        refused.message().starts_with("workers[1].national_id:"),
        "{}",
        refused.message()
    );
    assert!(
        !refused.message().contains(&invalid),
        "the number is not echoed"
    );

    for (input, field) in [
        ("", "workers[0].national_id"),
        ("3110829992", "workers[0].national_id"),
        ("32019012345", "workers[0].national_id"),
    ] {
        let refused = clients
            .owner
            .orders
            .create_order(orders::CreateOrderRequest {
                company_id: company_id.clone(),
                idempotency_key: format!("bad-{input}"),
                workers: vec![new_worker("Kari Nordmann", input)],
            })
            .await
            .expect_err("an invalid number");
        assert_eq!(refused.code(), tonic::Code::InvalidArgument);
        assert!(
            refused.message().starts_with(field),
            "{}",
            refused.message()
        );
    }

    let orders_db = env.db(Service::Orders).await;
    let stored: i64 =
        sqlx::query_scalar("SELECT (SELECT count(*) FROM orders) + (SELECT count(*) FROM workers)")
            .fetch_one(&orders_db)
            .await
            .expect("count");
    assert_eq!(stored, 0, "nothing half-written");

    // Other fields are checked the same way.
    let refused = clients
        .owner
        .companies
        .register_company(companies::RegisterCompanyRequest {
            org_number: "123456789".to_owned(),
            name: "Feil AS".to_owned(),
            contact: Some(companies::ContactInfo {
                email: "post@feil.no".to_owned(),
                phone: "+4791234567".to_owned(),
            }),
            industry: companies::Industry::Cleaning as i32,
        })
        .await
        .expect_err("a bad organisation number");
    assert_eq!(refused.code(), tonic::Code::InvalidArgument);
    assert!(
        refused.message().starts_with("org_number:"),
        "{}",
        refused.message()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_uploads_are_refused_and_leave_nothing_stored() {
    let mut env = TestEnv::new();
    env.set("HMS_MEDIA_MAX_UPLOAD_BYTES", "1048576");
    env.start(Service::Companies).await;
    env.start(Service::Orders).await;
    env.start(Service::Media).await;
    let mut clients = Clients::connect(&env).await;
    let company_id = approved_company(&env, &mut clients).await;
    let order = create_order(&mut clients, &company_id, &[fixtures::fodselsnummer()]).await;
    let worker_id = order.workers[0].worker_id.clone();

    // Too large: refused while streaming, before the whole file is read.
    let oversized = vec![0xAB; 2 * 1024 * 1024];
    let refused = upload(
        &mut clients,
        &order.order_id,
        &worker_id,
        media::DocumentKind::PassportPhoto,
        oversized,
        64 * 1024,
    )
    .await
    .expect_err("too large");
    assert_eq!(refused.code(), tonic::Code::InvalidArgument);
    assert!(
        refused
            .message()
            .contains("larger than the limit of 1048576 bytes"),
        "{}",
        refused.message()
    );

    // Not an image at all.
    let refused = upload(
        &mut clients,
        &order.order_id,
        &worker_id,
        media::DocumentKind::PassportPhoto,
        b"this is not a photo, it is text".to_vec(),
        1024,
    )
    .await
    .expect_err("not an image");
    assert_eq!(refused.code(), tonic::Code::InvalidArgument);
    assert!(
        refused.message().contains("not a JPEG or PNG image"),
        "{}",
        refused.message()
    );

    // A PDF where a photo belongs.
    let refused = upload(
        &mut clients,
        &order.order_id,
        &worker_id,
        media::DocumentKind::Signature,
        fixtures::pdf(),
        1024,
    )
    .await
    .expect_err("a PDF signature");
    assert_eq!(refused.code(), tonic::Code::InvalidArgument);

    // A tiny PNG that declares a gigantic image: refused before decoding.
    let bomb = fixtures::png_declaring(60_000, 60_000);
    assert!(bomb.len() < 200);
    let refused = upload(
        &mut clients,
        &order.order_id,
        &worker_id,
        media::DocumentKind::PassportPhoto,
        bomb,
        1024,
    )
    .await
    .expect_err("a decompression bomb");
    assert_eq!(refused.code(), tonic::Code::InvalidArgument);
    assert!(
        refused.message().contains("the image is larger than"),
        "{}",
        refused.message()
    );

    // A worker that is not on the order.
    let refused = upload(
        &mut clients,
        &order.order_id,
        &uuid::Uuid::now_v7().to_string(),
        media::DocumentKind::Signature,
        fixtures::png(10, 10),
        1024,
    )
    .await
    .expect_err("unknown worker");
    assert_eq!(refused.code(), tonic::Code::NotFound);
    assert_eq!(refused.message(), "worker not found on this order");

    // A company that is no longer approved.
    clients
        .back_office
        .companies
        .suspend_company(companies::SuspendCompanyRequest {
            company_id: company_id.clone(),
            reason: "Manglende dokumentasjon".to_owned(),
        })
        .await
        .expect("suspend");
    env.wait_for_standing(&company_id, "suspended").await;
    let refused = upload(
        &mut clients,
        &order.order_id,
        &worker_id,
        media::DocumentKind::Signature,
        fixtures::png(10, 10),
        1024,
    )
    .await
    .expect_err("a suspended company");
    assert_eq!(refused.code(), tonic::Code::FailedPrecondition);
    assert!(
        refused.message().contains("suspended"),
        "{}",
        refused.message()
    );
    let refused = clients
        .owner
        .orders
        .create_order(orders::CreateOrderRequest {
            company_id: company_id.clone(),
            idempotency_key: "after-suspension".to_owned(),
            workers: vec![],
        })
        .await
        .expect_err("a suspended company orders nothing");
    assert_eq!(refused.code(), tonic::Code::FailedPrecondition);

    // Nothing of all that was stored.
    let media_db = env.db(Service::Media).await;
    let documents: i64 = sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM documents) + (SELECT count(*) FROM document_keys)",
    )
    .fetch_one(&media_db)
    .await
    .expect("count");
    assert_eq!(documents, 0);
    assert!(
        files_below(&env.objects_dir()).is_empty(),
        "{:?}",
        files_below(&env.objects_dir())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn internal_calls_need_the_right_service_identity() {
    let mut env = TestEnv::new();
    env.start(Service::Orders).await;
    env.start(Service::Media).await;
    let order_id = uuid::Uuid::now_v7().to_string();

    let mut anonymous =
        hms_proto::orders::v1::order_internal_service_client::OrderInternalServiceClient::new(
            env.channel(Service::Orders).await,
        );
    let refused = anonymous
        .mask_national_ids(orders::MaskNationalIdsRequest {
            order_id: order_id.clone(),
        })
        .await
        .expect_err("anonymous");
    assert_eq!(refused.code(), tonic::Code::Unauthenticated);

    let refused = mask_as(&env, "media", &order_id)
        .await
        .expect_err("media may not mask");
    assert_eq!(refused.code(), tonic::Code::PermissionDenied);

    let refused = purge_as(&env, "orders", &order_id)
        .await
        .expect_err("orders may not purge");
    assert_eq!(refused.code(), tonic::Code::PermissionDenied);

    // A forged or damaged token is refused before any handler runs, and the
    // answer says nothing about why.
    let mut forged = hms_proto::orders::v1::order_service_client::OrderServiceClient::new(
        env.channel(Service::Orders).await,
    );
    let mut request = tonic::Request::new(orders::GetOrderRequest {
        order_id: uuid::Uuid::now_v7().to_string(),
    });
    request.metadata_mut().insert(
        "authorization",
        "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJyZWRhY3Rpb24ifQ."
            .parse()
            .expect("ascii"),
    );
    let refused = forged.get_order(request).await.expect_err("a forged token");
    assert_eq!(refused.code(), tonic::Code::Unauthenticated);
    assert_eq!(refused.message(), "invalid or expired credentials");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_in_progress_cannot_be_redacted() {
    let mut env = TestEnv::new();
    env.start(Service::Companies).await;
    env.start(Service::Orders).await;
    env.start(Service::Media).await;
    let mut clients = Clients::connect(&env).await;
    let company_id = approved_company(&env, &mut clients).await;
    let order = create_order(&mut clients, &company_id, &[fixtures::fodselsnummer()]).await;
    upload_all_documents(&mut clients, &order).await;

    // Even with redaction's identity, nothing of a draft is destroyed.
    let refused = purge_as(&env, "redaction", &order.order_id)
        .await
        .expect_err("the order is a draft");
    assert_eq!(refused.code(), tonic::Code::FailedPrecondition);
    let refused = mask_as(&env, "redaction", &order.order_id)
        .await
        .expect_err("the order is a draft");
    assert_eq!(refused.code(), tonic::Code::FailedPrecondition);

    let documents = list_documents(&mut clients, &order.order_id).await;
    assert_eq!(documents.len(), 3, "the draft's documents are all there");
    let orders_db = env.db(Service::Orders).await;
    let (sealed, _) = stored_secrets(&orders_db, &order.order_id).await;
    assert!(
        sealed.iter().all(Option::is_some),
        "the draft's numbers are still sealed, not erased"
    );
    let media_db = env.db(Service::Media).await;
    let purged: i64 =
        sqlx::query_scalar("SELECT count(*) FROM media_orders WHERE purged_at IS NOT NULL")
            .fetch_one(&media_db)
            .await
            .expect("count");
    assert_eq!(
        purged, 0,
        "no tombstone either: the draft still takes documents"
    );
}
