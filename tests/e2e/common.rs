//! The steps of the ordering journey, and ways to look inside the services'
//! stores.

use std::time::Duration;

use hms_proto::companies::v1 as companies;
use hms_proto::companies::v1::company_service_client::CompanyServiceClient;
use hms_proto::media::v1 as media;
use hms_proto::media::v1::media_service_client::MediaServiceClient;
use hms_proto::orders::v1 as orders;
use hms_proto::orders::v1::order_service_client::OrderServiceClient;
use hms_proto::redaction::v1::redaction_service_client::RedactionServiceClient;
use hms_test_support::{Service, TestEnv, eventually, fixtures};
use sqlx::PgPool;
use tonic::transport::Channel;

pub const SOON: Duration = Duration::from_secs(15);

/// Anonymous clients of every public API.
pub struct Clients {
    pub companies: CompanyServiceClient<Channel>,
    pub orders: OrderServiceClient<Channel>,
    pub media: MediaServiceClient<Channel>,
    pub redaction: Option<RedactionServiceClient<Channel>>,
}

impl Clients {
    /// Clients of the running services (redaction only if it runs).
    pub async fn connect(env: &TestEnv, with_redaction: bool) -> Self {
        Self {
            companies: CompanyServiceClient::new(env.channel(Service::Companies).await),
            orders: OrderServiceClient::new(env.channel(Service::Orders).await),
            media: MediaServiceClient::new(env.channel(Service::Media).await),
            redaction: if with_redaction {
                Some(RedactionServiceClient::new(
                    env.channel(Service::Redaction).await,
                ))
            } else {
                None
            },
        }
    }

    pub fn redaction(&mut self) -> &mut RedactionServiceClient<Channel> {
        self.redaction.as_mut().expect("redaction is running")
    }
}

/// Registers a company and lets the back office approve it; returns once
/// orders and media have heard of the approval.
pub async fn approved_company(env: &TestEnv, clients: &mut Clients) -> String {
    let company = clients
        .companies
        .register_company(companies::RegisterCompanyRequest {
            org_number: fixtures::org_number(),
            name: "Bygg og Vask AS".to_owned(),
            contact: Some(companies::ContactInfo {
                email: "post@byggogvask.no".to_owned(),
                phone: "+4791234567".to_owned(),
            }),
            industry: companies::Industry::Construction as i32,
        })
        .await
        .expect("register a company")
        .into_inner()
        .company
        .expect("a company");
    clients
        .companies
        .approve_company(companies::ApproveCompanyRequest {
            company_id: company.company_id.clone(),
        })
        .await
        .expect("approve the company");
    wait_for_standing(env, &company.company_id, "approved").await;
    company.company_id
}

/// Waits until the projections in orders and media show `status`.
pub async fn wait_for_standing(env: &TestEnv, company_id: &str, status: &str) {
    let company = uuid::Uuid::parse_str(company_id).expect("uuid");
    for service in [Service::Orders, Service::Media] {
        let db = env.db(service).await;
        eventually(
            &format!("{} to see the company {status}", service.name()),
            SOON,
            || {
                let db = db.clone();
                async move {
                    let seen: Option<String> = sqlx::query_scalar(
                        "SELECT status FROM hms_company_status WHERE company_id = $1",
                    )
                    .bind(company)
                    .fetch_optional(&db)
                    .await
                    .ok()
                    .flatten();
                    (seen.as_deref() == Some(status)).then_some(())
                }
            },
        )
        .await;
    }
}

pub fn new_worker(name: &str, national_id: &str) -> orders::NewWorker {
    orders::NewWorker {
        name: name.to_owned(),
        national_id: national_id.to_owned(),
        phone: "+4798765432".to_owned(),
        card_type: orders::CardType::Construction as i32,
    }
}

pub async fn create_order(
    clients: &mut Clients,
    company_id: &str,
    national_ids: &[String],
) -> orders::Order {
    clients
        .orders
        .create_order(orders::CreateOrderRequest {
            company_id: company_id.to_owned(),
            idempotency_key: uuid::Uuid::new_v4().to_string(),
            workers: national_ids
                .iter()
                .enumerate()
                .map(|(i, id)| new_worker(&format!("Arbeider {i}"), id))
                .collect(),
        })
        .await
        .expect("create an order")
        .into_inner()
        .order
        .expect("an order")
}

/// Streams `bytes` as one document in chunks of `chunk` bytes.
pub async fn upload(
    clients: &mut Clients,
    order_id: &str,
    worker_id: &str,
    kind: media::DocumentKind,
    bytes: Vec<u8>,
    chunk: usize,
) -> Result<media::Document, tonic::Status> {
    let mut messages = vec![media::UploadDocumentRequest {
        part: Some(media::upload_document_request::Part::Metadata(
            media::UploadMetadata {
                order_id: order_id.to_owned(),
                worker_id: worker_id.to_owned(),
                kind: kind as i32,
            },
        )),
    }];
    messages.extend(
        bytes
            .chunks(chunk)
            .map(|piece| media::UploadDocumentRequest {
                part: Some(media::upload_document_request::Part::Chunk(piece.to_vec())),
            }),
    );
    clients
        .media
        .upload_document(futures::stream::iter(messages))
        .await
        .map(|response| response.into_inner().document.expect("a document"))
}

/// Uploads a photo (with EXIF), an ID document and a signature per worker.
pub async fn upload_all_documents(
    clients: &mut Clients,
    order: &orders::Order,
) -> Vec<media::Document> {
    let mut stored = Vec::new();
    for (index, worker) in order.workers.iter().enumerate() {
        let id_document = if index % 2 == 0 {
            fixtures::pdf()
        } else {
            fixtures::png(120, 80)
        };
        for (kind, bytes) in [
            (
                media::DocumentKind::PassportPhoto,
                fixtures::jpeg_with_exif(90, 120, b"GPS-SECRET-MARKER"),
            ),
            (media::DocumentKind::IdDocument, id_document),
            (media::DocumentKind::Signature, fixtures::png(200, 60)),
        ] {
            let document = upload(
                clients,
                &order.order_id,
                &worker.worker_id,
                kind,
                bytes,
                16 * 1024,
            )
            .await
            .expect("upload a document");
            stored.push(document);
        }
    }
    stored
}

/// Creates an order for two workers, uploads their documents and submits
/// it. Returns the order and the workers' national identity numbers.
pub async fn submitted_order(env: &TestEnv, clients: &mut Clients) -> (orders::Order, Vec<String>) {
    let company_id = approved_company(env, clients).await;
    let national_ids = vec![fixtures::fodselsnummer(), fixtures::fodselsnummer()];
    let order = create_order(clients, &company_id, &national_ids).await;
    upload_all_documents(clients, &order).await;
    let order = clients
        .orders
        .submit_order(orders::SubmitOrderRequest {
            order_id: order.order_id.clone(),
        })
        .await
        .expect("submit the order")
        .into_inner()
        .order
        .expect("an order");
    assert_eq!(order.status, orders::OrderStatus::Submitted as i32);
    (order, national_ids)
}

pub async fn approve(clients: &mut Clients, order_id: &str) -> orders::Order {
    clients
        .orders
        .approve_order(orders::ApproveOrderRequest {
            order_id: order_id.to_owned(),
        })
        .await
        .expect("approve the order")
        .into_inner()
        .order
        .expect("an order")
}

/// Every row of every table of a database, as text: to search for personal
/// data wherever it might hide.
pub async fn everything_in(db: &PgPool) -> String {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT quote_ident(table_name) FROM information_schema.tables \
         WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
    )
    .fetch_all(db)
    .await
    .expect("list tables");
    let mut text = String::new();
    for table in tables {
        let rows: Vec<String> =
            sqlx::query_scalar(&format!("SELECT row_to_json(t)::text FROM {table} t"))
                .fetch_all(db)
                .await
                .expect("read a table");
        text.push_str(&rows.join("\n"));
        text.push('\n');
    }
    text
}

/// How many rows a query counts.
pub async fn count(db: &PgPool, query: &str, order_id: &str) -> i64 {
    sqlx::query_scalar(query)
        .bind(uuid::Uuid::parse_str(order_id).expect("uuid"))
        .fetch_one(db)
        .await
        .expect("count")
}

/// Files below a folder, recursively.
pub fn files_below(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                found.push(path);
            }
        }
    }
    found
}

/// Waits for the order's redaction receipt.
pub async fn receipt(
    clients: &mut Clients,
    order_id: &str,
    within: Duration,
) -> hms_proto::redaction::v1::Receipt {
    let client = clients.redaction().clone();
    eventually("a redaction receipt", within, || {
        let mut client = client.clone();
        async move {
            client
                .get_receipt(hms_proto::redaction::v1::GetReceiptRequest {
                    order_id: order_id.to_owned(),
                })
                .await
                .ok()
                .and_then(|response| response.into_inner().receipt)
        }
    })
    .await
}

/// The `OrderRedacted` events in the test's redaction stream.
pub async fn redacted_events(env: &TestEnv) -> Vec<hms_proto::events::v1::OrderRedacted> {
    use futures::StreamExt;
    use prost::Message;
    let jetstream = env.jetstream().await;
    let Ok(stream) = jetstream
        .get_stream(env.stream_name(hms_events::Domain::Redaction))
        .await
    else {
        return Vec::new();
    };
    let consumer = stream
        .create_consumer(async_nats::jetstream::consumer::pull::OrderedConfig {
            filter_subject: env
                .subject(<hms_proto::events::v1::OrderRedacted as hms_events::Event>::TYPE),
            ..Default::default()
        })
        .await
        .expect("an ordered consumer");
    let pending = consumer.cached_info().num_pending;
    let mut events = Vec::new();
    if pending == 0 {
        return events;
    }
    let mut messages = consumer.messages().await.expect("messages");
    while let Some(Ok(message)) = messages.next().await {
        events.push(
            hms_proto::events::v1::OrderRedacted::decode(message.payload.clone())
                .expect("an OrderRedacted"),
        );
        if events.len() as u64 >= pending {
            break;
        }
    }
    events
}

/// The raw bytes stored for an order's national identity numbers (sealed)
/// and its request fingerprint, as PostgreSQL holds them.
pub async fn stored_secrets(
    db: &PgPool,
    order_id: &str,
) -> (Vec<Option<Vec<u8>>>, Option<Vec<u8>>) {
    let order = uuid::Uuid::parse_str(order_id).expect("uuid");
    let sealed: Vec<Option<Vec<u8>>> = sqlx::query_scalar(
        "SELECT national_id_sealed FROM workers WHERE order_id = $1 ORDER BY position",
    )
    .bind(order)
    .fetch_all(db)
    .await
    .expect("read workers");
    let fingerprint: Option<Vec<u8>> =
        sqlx::query_scalar("SELECT request_fingerprint FROM orders WHERE id = $1")
            .bind(order)
            .fetch_one(db)
            .await
            .expect("read the order");
    (sealed, fingerprint)
}

/// The documents media lists for an order.
pub async fn list_documents(clients: &mut Clients, order_id: &str) -> Vec<media::Document> {
    clients
        .media
        .list_documents(media::ListDocumentsRequest {
            order_id: order_id.to_owned(),
        })
        .await
        .expect("list documents")
        .into_inner()
        .documents
}

/// `MaskNationalIds` called with the identity of the service `caller`.
pub async fn mask_as(
    env: &TestEnv,
    caller: &str,
    order_id: &str,
) -> Result<orders::MaskNationalIdsResponse, tonic::Status> {
    hms_proto::orders::v1::order_internal_service_client::OrderInternalServiceClient::new(
        env.channel_as(Service::Orders, caller).await,
    )
    .mask_national_ids(orders::MaskNationalIdsRequest {
        order_id: order_id.to_owned(),
    })
    .await
    .map(tonic::Response::into_inner)
}

/// `PurgeOrderMedia` called with the identity of the service `caller`.
pub async fn purge_as(
    env: &TestEnv,
    caller: &str,
    order_id: &str,
) -> Result<media::PurgeOrderMediaResponse, tonic::Status> {
    MediaServiceClient::new(env.channel_as(Service::Media, caller).await)
        .purge_order_media(media::PurgeOrderMediaRequest {
            order_id: order_id.to_owned(),
        })
        .await
        .map(tonic::Response::into_inner)
}
