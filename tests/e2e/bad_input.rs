//! Client mistakes get a clear error and leave nothing behind.

use hms_proto::companies::v1 as companies;
use hms_proto::media::v1 as media;
use hms_proto::orders::v1 as orders;
use hms_test_support::{ExpectRefused, ServiceName, TestEnv, fixtures};
use tonic::Code;

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_national_id_is_refused_by_field_and_nothing_is_stored() {
    let mut env = TestEnv::new();
    env.start(ServiceName::Companies).await;
    env.start(ServiceName::Orders).await;
    env.start(ServiceName::Media).await;
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
        .expect_refused(Code::InvalidArgument, "workers[1].national_id:");
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
            .expect_refused(Code::InvalidArgument, field);
        assert!(
            refused.message().starts_with(field),
            "{}",
            refused.message()
        );
    }

    // A name that reads differently from what it is: a right-to-left
    // override, a zero-width space.
    for name in ["Kari \u{202E}nnamdroN", "Ka\u{200B}ri Nordmann"] {
        clients
            .owner
            .orders
            .create_order(orders::CreateOrderRequest {
                company_id: company_id.clone(),
                idempotency_key: uuid::Uuid::new_v4().to_string(),
                workers: vec![new_worker(name, &fixtures::fodselsnummer())],
            })
            .await
            .expect_refused(
                Code::InvalidArgument,
                "workers[0].name: must not contain invisible formatting characters",
            );
    }

    let orders_db = env.db(ServiceName::Orders).await;
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
            language: companies::Language::Nb as i32,
        })
        .await
        .expect_refused(Code::InvalidArgument, "org_number:");
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
    env.start(ServiceName::Companies).await;
    env.start(ServiceName::Orders).await;
    env.start(ServiceName::Media).await;
    let mut clients = Clients::connect(&env).await;
    let company_id = approved_company(&env, &mut clients).await;
    let order = create_order(&mut clients, &company_id, &[fixtures::fodselsnummer()]).await;
    let worker_id = order.workers[0].worker_id.clone();

    // Too large: refused while streaming, before the whole file is read.
    let oversized = vec![0xAB; 2 * 1024 * 1024];
    upload(
        &mut clients,
        &order.order_id,
        &worker_id,
        media::DocumentKind::PassportPhoto,
        oversized,
        64 * 1024,
    )
    .await
    .expect_refused(
        Code::InvalidArgument,
        "larger than the limit of 1048576 bytes",
    );

    // Not an image at all.
    upload(
        &mut clients,
        &order.order_id,
        &worker_id,
        media::DocumentKind::PassportPhoto,
        b"this is not a photo, it is text".to_vec(),
        1024,
    )
    .await
    .expect_refused(Code::InvalidArgument, "not a JPEG or PNG image");

    // No PDF anywhere: not where a photo belongs, and not as an ID copy,
    // where a script in it, an HTML page around it or a number in its
    // metadata would reach the back office's viewer.
    for (kind, pdf) in [
        (media::DocumentKind::Signature, fixtures::pdf()),
        (media::DocumentKind::IdDocument, fixtures::pdf()),
        (
            media::DocumentKind::IdDocument,
            fixtures::hostile_pdf(&fixtures::fodselsnummer()),
        ),
    ] {
        upload(&mut clients, &order.order_id, &worker_id, kind, pdf, 1024)
            .await
            .expect_refused(Code::InvalidArgument, "not a JPEG or PNG image");
    }

    // A tiny PNG that declares a gigantic image: refused before decoding.
    let bomb = fixtures::png_declaring(60_000, 60_000);
    assert!(bomb.len() < 200);
    upload(
        &mut clients,
        &order.order_id,
        &worker_id,
        media::DocumentKind::PassportPhoto,
        bomb,
        1024,
    )
    .await
    .expect_refused(Code::InvalidArgument, "the image is larger than");

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
    .expect_refused(Code::NotFound, "worker not found on this order");
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
    upload(
        &mut clients,
        &order.order_id,
        &worker_id,
        media::DocumentKind::Signature,
        fixtures::png(10, 10),
        1024,
    )
    .await
    .expect_refused(Code::FailedPrecondition, "suspended");
    // A suspended company orders nothing either.
    clients
        .owner
        .orders
        .create_order(orders::CreateOrderRequest {
            company_id: company_id.clone(),
            idempotency_key: "after-suspension".to_owned(),
            workers: vec![],
        })
        .await
        .expect_refused(Code::FailedPrecondition, "");

    // Nothing of all that was stored.
    let media_db = env.db(ServiceName::Media).await;
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
    env.start(ServiceName::Orders).await;
    env.start(ServiceName::Media).await;
    let order_id = uuid::Uuid::now_v7().to_string();

    let mut anonymous =
        hms_proto::orders::v1::order_internal_service_client::OrderInternalServiceClient::new(
            env.channel(ServiceName::Orders).await,
        );
    anonymous
        .mask_national_ids(orders::MaskNationalIdsRequest {
            order_ids: vec![order_id.clone()],
        })
        .await
        .expect_refused(Code::Unauthenticated, "");
    // Media may not mask, and orders may not purge.
    mask_as(&env, "media", &[&order_id])
        .await
        .expect_refused(Code::PermissionDenied, "");
    purge_as(&env, "orders", &[&order_id])
        .await
        .expect_refused(Code::PermissionDenied, "");

    // A forged or damaged token is refused before any handler runs, and the
    // answer says nothing about why.
    let mut forged = hms_proto::orders::v1::order_service_client::OrderServiceClient::new(
        env.channel(ServiceName::Orders).await,
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
    let refused = forged
        .get_order(request)
        .await
        .expect_refused(Code::Unauthenticated, "invalid or expired credentials");
    assert_eq!(refused.message(), "invalid or expired credentials");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_in_progress_cannot_be_redacted() {
    let mut env = TestEnv::new();
    env.start(ServiceName::Companies).await;
    env.start(ServiceName::Orders).await;
    env.start(ServiceName::Media).await;
    let mut clients = Clients::connect(&env).await;
    let company_id = approved_company(&env, &mut clients).await;
    let order = create_order(&mut clients, &company_id, &[fixtures::fodselsnummer()]).await;
    upload_all_documents(&mut clients, &order).await;

    // Even with redaction's identity, nothing of a draft is destroyed.
    let purged = purge_as(&env, "redaction", &[&order.order_id])
        .await
        .expect("an answer per order");
    assert_eq!(
        purged,
        [(
            order.order_id.clone(),
            media::purged_order::Outcome::Refused(media::PurgeRefusal::NotDecided as i32)
        )]
    );
    let masked = mask_as(&env, "redaction", &[&order.order_id])
        .await
        .expect("an answer per order");
    assert_eq!(
        masked,
        [(
            order.order_id.clone(),
            orders::masked_order::Outcome::Refused(orders::MaskRefusal::NotDecided as i32)
        )]
    );

    let documents = list_documents(&mut clients, &order.order_id).await;
    assert_eq!(documents.len(), 3, "the draft's documents are all there");
    let orders_db = env.db(ServiceName::Orders).await;
    let stored = stored_secrets(&orders_db, &order.order_id).await;
    assert!(
        stored.sealed.iter().all(Option::is_some),
        "the draft's numbers are still sealed, not erased"
    );
    let media_db = env.db(ServiceName::Media).await;
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

/// The most memory a process has used since it started, from Linux's
/// `/proc/<pid>/status`.
fn peak_memory_mib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("the process");
    let kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM");
    kib / 1024
}

/// The bound media's memory stays under while 20 of the largest photos it
/// accepts are uploaded at once: two decoders (this machine's cores) of
/// about 50 MiB each, the service itself, and the uploads waiting in line.
const MEDIA_PEAK_MIB: u64 = 400;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_costly_images_at_once_keep_media_within_its_memory_bound() {
    let mut env = TestEnv::new();
    env.set("HMS_MEDIA_DECODE_CONCURRENCY", "2");
    // Waiting in line is what is measured here, not giving up.
    env.set("HMS_MEDIA_DECODE_WAIT_SECS", "300");
    env.start(ServiceName::Companies).await;
    env.start(ServiceName::Orders).await;
    env.start(ServiceName::Media).await;
    let mut clients = Clients::connect(&env).await;
    let company_id = approved_company(&env, &mut clients).await;
    let numbers: Vec<String> = (0..20).map(|_| fixtures::fodselsnummer()).collect();
    let order = create_order(&mut clients, &company_id, &numbers).await;

    // The review's image, 6000×6000 with alpha, is more than a card photo
    // needs: refused from its header, before anything is decoded.
    upload(
        &mut clients,
        &order.order_id,
        &order.workers[0].worker_id,
        media::DocumentKind::PassportPhoto,
        fixtures::png_declaring(6_000, 6_000),
        64 * 1024,
    )
    .await
    .expect_refused(Code::InvalidArgument, "pixels");

    // The largest photo accepted (12.6 megapixels, with alpha), for every
    // worker at once.
    let photo = fixtures::png_rgba(4_096, 3_072);
    println!("each upload is {} KiB", photo.len() / 1024);
    let pid = env.pid(ServiceName::Media).expect("media runs");
    let before = peak_memory_mib(pid);
    let uploads = order.workers.iter().map(|worker| {
        let mut media = clients.owner.media.clone();
        let messages = vec![
            media::UploadDocumentRequest {
                part: Some(media::upload_document_request::Part::Metadata(
                    media::UploadMetadata {
                        order_id: order.order_id.clone(),
                        worker_id: worker.worker_id.clone(),
                        kind: media::DocumentKind::PassportPhoto as i32,
                    },
                )),
            },
            media::UploadDocumentRequest {
                part: Some(media::upload_document_request::Part::Chunk(photo.clone())),
            },
        ];
        async move { media.upload_document(futures::stream::iter(messages)).await }
    });
    let started = std::time::Instant::now();
    let results = futures::future::join_all(uploads).await;
    let took = started.elapsed();
    for result in &results {
        assert!(result.is_ok(), "{result:?}");
    }
    let peak = peak_memory_mib(pid);
    println!(
        "20 uploads of 4096×3072 RGBA in {took:?}: media's peak memory {before} MiB before, {peak} MiB after (bound {MEDIA_PEAK_MIB} MiB)"
    );
    assert!(
        peak < MEDIA_PEAK_MIB,
        "media peaked at {peak} MiB, over {MEDIA_PEAK_MIB} MiB"
    );
    assert_eq!(
        list_documents(&mut clients, &order.order_id).await.len(),
        20
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_masks_and_purges_the_decided_orders_and_answers_for_each() {
    let mut env = TestEnv::new();
    env.start(ServiceName::Companies).await;
    env.start(ServiceName::Orders).await;
    env.start(ServiceName::Media).await;
    let mut clients = Clients::connect(&env).await;
    let (decided, _) = submitted_order(&env, &mut clients).await;
    approve(&mut clients, &decided.order_id).await;
    let draft = create_order(
        &mut clients,
        &decided.company_id,
        &[fixtures::fodselsnummer()],
    )
    .await;
    upload_all_documents(&mut clients, &draft).await;
    let unknown = uuid::Uuid::now_v7().to_string();

    // Named twice, answered once; each order for itself, in the order asked.
    let masked = mask_as(
        &env,
        "redaction",
        &[
            &decided.order_id,
            &draft.order_id,
            &unknown,
            &decided.order_id,
        ],
    )
    .await
    .expect("an answer per order");
    let ids: Vec<&str> = masked.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(ids, [&decided.order_id, &draft.order_id, &unknown]);
    let orders::masked_order::Outcome::Masked(numbers) = &masked[0].1 else {
        panic!("the decided order is masked: {masked:?}");
    };
    assert_eq!((numbers.workers_masked, numbers.workers_total), (2, 2));
    assert_eq!(numbers.company_id, decided.company_id);
    assert_eq!(
        masked[1].1,
        orders::masked_order::Outcome::Refused(orders::MaskRefusal::NotDecided as i32)
    );
    assert_eq!(
        masked[2].1,
        orders::masked_order::Outcome::Refused(orders::MaskRefusal::NotFound as i32)
    );
    // Asked again (at the print handover): the same answer, and the order
    // is not written again.
    let orders_db = env.db(ServiceName::Orders).await;
    let row_version = || async {
        sqlx::query_scalar::<_, String>("SELECT xmin::text FROM orders WHERE id = $1::uuid")
            .bind(&decided.order_id)
            .fetch_one(&orders_db)
            .await
            .expect("the order's row")
    };
    let written = row_version().await;
    let again = mask_as(&env, "redaction", &[&decided.order_id])
        .await
        .expect("an answer");
    let orders::masked_order::Outcome::Masked(again) = &again[0].1 else {
        panic!("the decided order is still masked: {again:?}");
    };
    assert_eq!((again.workers_masked, again.workers_total), (0, 2));
    assert_eq!(again.masked_at, numbers.masked_at);
    assert_eq!(row_version().await, written);

    // Cards asks for many orders' workers at once: the approved ones
    // answer, each once, names and card types only; the others are told
    // apart.
    let approved = orders_client_as(&env, "cards")
        .await
        .list_approved_workers(orders::ListApprovedWorkersRequest {
            order_ids: vec![
                decided.order_id.clone(),
                draft.order_id.clone(),
                unknown.clone(),
                decided.order_id.clone(),
            ],
        })
        .await
        .expect("the approved orders")
        .into_inner();
    // The draft is known but not approved; the unknown order is in neither.
    assert_eq!(approved.not_approved, std::slice::from_ref(&draft.order_id));
    let approved = approved.orders;
    assert_eq!(approved.len(), 1, "{approved:?}");
    assert_eq!(approved[0].order_id, decided.order_id);
    assert_eq!(approved[0].company_id, decided.company_id);
    let names: Vec<&str> = approved[0]
        .workers
        .iter()
        .map(|worker| worker.name.as_str())
        .collect();
    assert_eq!(names, ["Arbeider 0", "Arbeider 1"]);
    for (request, refusal) in [
        (Vec::new(), "order_ids: is required"),
        (
            (0..501).map(|_| uuid::Uuid::now_v7().to_string()).collect(),
            "order_ids: at most 500 at once",
        ),
        (
            vec![decided.order_id.clone(), "not-an-id".to_owned()],
            "order_ids[1]",
        ),
    ] {
        orders_client_as(&env, "cards")
            .await
            .list_approved_workers(orders::ListApprovedWorkersRequest { order_ids: request })
            .await
            .expect_refused(Code::InvalidArgument, refusal);
    }

    let purged = purge_as(
        &env,
        "redaction",
        &[&draft.order_id, &decided.order_id, &unknown],
    )
    .await
    .expect("an answer per order");
    assert_eq!(
        purged[0].1,
        media::purged_order::Outcome::Refused(media::PurgeRefusal::NotDecided as i32)
    );
    let media::purged_order::Outcome::Purged(documents) = &purged[1].1 else {
        panic!("the decided order is purged: {purged:?}");
    };
    assert_eq!(
        (documents.objects_deleted, documents.keys_destroyed),
        (6, 6)
    );
    assert_eq!(
        purged[2].1,
        media::purged_order::Outcome::Refused(media::PurgeRefusal::NotFound as i32)
    );
    assert_eq!(list_documents(&mut clients, &draft.order_id).await.len(), 3);
    let draft_secrets = stored_secrets(&orders_db, &draft.order_id).await;
    assert!(draft_secrets.sealed.iter().all(Option::is_some));
    let decided_secrets = stored_secrets(&orders_db, &decided.order_id).await;
    assert!(decided_secrets.sealed.iter().all(Option::is_none));

    // A batch names 1 to 500 orders, each a valid id.
    mask_as(&env, "redaction", &[])
        .await
        .expect_refused(Code::InvalidArgument, "order_ids: is required");
    let many: Vec<String> = (0..501).map(|_| uuid::Uuid::now_v7().to_string()).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    purge_as(&env, "redaction", &many)
        .await
        .expect_refused(Code::InvalidArgument, "order_ids: at most 500 at once");
    mask_as(&env, "redaction", &[&decided.order_id, "not-an-id"])
        .await
        .expect_refused(Code::InvalidArgument, "order_ids[1]");
}

async fn orders_client_as(
    env: &TestEnv,
    caller: &str,
) -> orders::order_internal_service_client::OrderInternalServiceClient<hms_test_support::Authed> {
    orders::order_internal_service_client::OrderInternalServiceClient::new(
        env.channel_as(ServiceName::Orders, caller).await,
    )
}
