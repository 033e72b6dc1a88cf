//! The steps of the ordering journey, and ways to look inside the services'
//! stores.

use std::time::Duration;

use hms_proto::audit::v1::audit_service_client::AuditServiceClient;
use hms_proto::cards::v1::card_service_client::CardServiceClient;
use hms_proto::companies::v1 as companies;
use hms_proto::companies::v1::company_service_client::CompanyServiceClient;
use hms_proto::identity::v1 as identity;
use hms_proto::identity::v1::identity_service_client::IdentityServiceClient;
use hms_proto::media::v1 as media;
use hms_proto::media::v1::media_service_client::MediaServiceClient;
use hms_proto::notifications::v1::notification_service_client::NotificationServiceClient;
use hms_proto::orders::v1 as orders;
use hms_proto::orders::v1::order_internal_service_client::OrderInternalServiceClient;
use hms_proto::orders::v1::order_service_client::OrderServiceClient;
use hms_proto::redaction::v1::redaction_service_client::RedactionServiceClient;
use hms_test_support::fakes::persons;
use hms_test_support::{Authed, ServiceAuth, ServiceName, TestEnv, eventually, fixtures};
use sqlx::PgPool;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

pub const SOON: Duration = Duration::from_secs(15);

/// Clients of every API, all presenting one caller's credentials: a
/// logged-in person's, a service's, or none.
#[derive(Clone)]
pub struct PersonClients {
    pub identity: IdentityServiceClient<Authed>,
    pub companies: CompanyServiceClient<Authed>,
    pub orders: OrderServiceClient<Authed>,
    pub orders_internal: OrderInternalServiceClient<Authed>,
    pub media: MediaServiceClient<Authed>,
    pub redaction: RedactionServiceClient<Authed>,
    pub notifications: NotificationServiceClient<Authed>,
    pub cards: CardServiceClient<Authed>,
    pub audit: AuditServiceClient<Authed>,
}

impl PersonClients {
    /// Logs `national_id` (a simulator test person) in; clients that
    /// present their token. Clients connect lazily, so services may start
    /// later.
    pub async fn login(env: &TestEnv, national_id: &str) -> Self {
        Self::with_token(env, &env.access_token(national_id).await).await
    }

    /// Clients that present `token` (or nothing, when it is empty).
    pub async fn with_token(env: &TestEnv, token: &str) -> Self {
        Self::presenting(env, |_| token.to_owned()).await
    }

    /// Clients that present the service `name`'s identity, with a token
    /// for each callee.
    pub async fn as_service(env: &TestEnv, name: &str) -> Self {
        let mut tokens = std::collections::HashMap::new();
        // The gateway has no gRPC API to call.
        for service in ServiceName::ALL
            .into_iter()
            .filter(|s| *s != ServiceName::Gateway)
        {
            tokens.insert(service.as_str(), env.service_token(name, service).await);
        }
        Self::presenting(env, |service| {
            tokens.get(service.as_str()).cloned().unwrap_or_default()
        })
        .await
    }

    async fn presenting(env: &TestEnv, token: impl Fn(ServiceName) -> String) -> Self {
        let channel = |service: ServiceName| {
            let endpoint = Channel::from_shared(env.url(service)).expect("valid url");
            InterceptedService::new(endpoint.connect_lazy(), ServiceAuth::new(&token(service)))
        };
        Self {
            identity: IdentityServiceClient::new(channel(ServiceName::Identity)),
            companies: CompanyServiceClient::new(channel(ServiceName::Companies)),
            orders: OrderServiceClient::new(channel(ServiceName::Orders)),
            orders_internal: OrderInternalServiceClient::new(channel(ServiceName::Orders)),
            media: MediaServiceClient::new(channel(ServiceName::Media)),
            redaction: RedactionServiceClient::new(channel(ServiceName::Redaction)),
            notifications: NotificationServiceClient::new(channel(ServiceName::Notifications)),
            cards: CardServiceClient::new(channel(ServiceName::Cards)),
            audit: AuditServiceClient::new(channel(ServiceName::Audit)),
        }
    }
}

/// The two sides of the journey: Kari Nordmann, owner of NORDMANN BYGG AS
/// in the register, orders cards; Siri Saksbehandler of the back office
/// decides.
pub struct Clients {
    pub owner: PersonClients,
    pub back_office: PersonClients,
}

impl Clients {
    /// Logs both in through the BankID simulator.
    pub async fn connect(env: &TestEnv) -> Self {
        Self {
            owner: PersonClients::login(env, persons::KARI_NORDMANN).await,
            back_office: PersonClients::login(env, persons::SIRI_SAKSBEHANDLER).await,
        }
    }
}

/// Registers NORDMANN BYGG AS as its owner and lets the back office approve
/// it; returns once orders and media have heard of the approval.
pub async fn approved_company(env: &TestEnv, clients: &mut Clients) -> String {
    let company_id = registered_and_approved_company(env, clients).await;
    accept_agreement(env, &mut clients.owner, &company_id).await;
    company_id
}

/// Kari registers Nordmann Bygg and the back office approves it; its data
/// processing agreement is not yet accepted. Returns once orders knows.
pub async fn registered_and_approved_company(env: &TestEnv, clients: &mut Clients) -> String {
    let company = clients
        .owner
        .companies
        .register_company(fixtures::nordmann_bygg())
        .await
        .expect("register a company")
        .into_inner()
        .company
        .expect("a company");
    clients
        .back_office
        .companies
        .approve_company(companies::ApproveCompanyRequest {
            company_id: company.company_id.clone(),
        })
        .await
        .expect("approve the company");
    env.wait_for_standing(&company.company_id, "approved").await;
    company.company_id
}

/// `person` accepts the current data processing agreement for the company,
/// as its owner must before it orders; returns once orders knows.
pub async fn accept_agreement(env: &TestEnv, person: &mut PersonClients, company_id: &str) {
    let current = person
        .companies
        .get_agreement(companies::GetAgreementRequest {
            company_id: company_id.to_owned(),
        })
        .await
        .expect("the agreement")
        .into_inner()
        .current
        .expect("a current version");
    person
        .companies
        .accept_agreement(companies::AcceptAgreementRequest {
            company_id: company_id.to_owned(),
            version: current.version,
        })
        .await
        .expect("accept the agreement");
    env.wait_for_agreement(company_id).await;
}

pub fn new_worker(name: &str, national_id: &str) -> orders::NewWorker {
    orders::NewWorker {
        name: name.to_owned(),
        national_id: national_id.to_owned(),
        phone: "+4798765432".to_owned(),
        card_type: orders::CardType::Construction as i32,
        employment_ends_on: String::new(),
    }
}

pub async fn create_order(
    clients: &mut Clients,
    company_id: &str,
    national_ids: &[String],
) -> orders::Order {
    create_order_with_key(
        clients,
        company_id,
        &uuid::Uuid::new_v4().to_string(),
        national_ids,
    )
    .await
}

/// [`create_order`] under a chosen idempotency key.
pub async fn create_order_with_key(
    clients: &mut Clients,
    company_id: &str,
    idempotency_key: &str,
    national_ids: &[String],
) -> orders::Order {
    clients
        .owner
        .orders
        .create_order(orders::CreateOrderRequest {
            company_id: company_id.to_owned(),
            idempotency_key: idempotency_key.to_owned(),
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
        .owner
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
        // A photo or a scan of the ID document: JPEG or PNG.
        let id_document = if index % 2 == 0 {
            fixtures::jpeg_with_exif(160, 100, b"SCANNER-MODEL")
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
    submitted_order_of(clients, &company_id).await
}

/// The same, for a company approved before.
pub async fn submitted_order_of(
    clients: &mut Clients,
    company_id: &str,
) -> (orders::Order, Vec<String>) {
    let national_ids = vec![fixtures::fodselsnummer(), fixtures::fodselsnummer()];
    let order = create_order(clients, company_id, &national_ids).await;
    upload_all_documents(clients, &order).await;
    let order = clients
        .owner
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

/// Submits an order, or submits it again after a correction, as its owner.
pub async fn submit(clients: &mut Clients, order_id: &str) -> Result<orders::Order, tonic::Status> {
    clients
        .owner
        .orders
        .submit_order(orders::SubmitOrderRequest {
            order_id: order_id.to_owned(),
        })
        .await
        .map(|answer| answer.into_inner().order.expect("an order"))
}

pub async fn approve(clients: &mut Clients, order_id: &str) -> orders::Order {
    clients
        .back_office
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

pub use hms_test_support::files_below;

/// A key set the gateway publishes at `path`, fetched as anyone would,
/// without logging in, to check what the platform signed offline.
pub async fn published_keys(api: &hms_test_support::Api, path: &str) -> hms_attestation::KeySet {
    let document = api
        .http()
        .get(api.url(path))
        .send()
        .await
        .expect("the keys")
        .bytes()
        .await
        .expect("a body");
    hms_attestation::KeySet::from_json(&document).expect("a JWKS")
}

/// Waits for the order's redaction receipt.
pub async fn receipt(
    clients: &mut Clients,
    order_id: &str,
    within: Duration,
) -> hms_proto::redaction::v1::Receipt {
    let client = clients.owner.redaction.clone();
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
    published(env).await
}

/// Waits until `service` has published every event in its outbox.
pub async fn outbox_drained(env: &TestEnv, service: ServiceName) {
    let db = env.db(service).await;
    eventually(
        &format!("{}'s outbox to be published", service.as_str()),
        SOON,
        || {
            let db = db.clone();
            async move {
                let waiting: i64 = sqlx::query_scalar(
                    "SELECT count(*) FROM hms_outbox WHERE published_at IS NULL",
                )
                .fetch_one(&db)
                .await
                .ok()?;
                (waiting == 0).then_some(())
            }
        },
    )
    .await;
}

/// Every event of type `E` published in the test's namespace so far.
pub async fn published<E: hms_events::Event>(env: &TestEnv) -> Vec<E> {
    env.published().await
}

/// What orders keeps that is derived from personal data, as PostgreSQL
/// holds it.
pub struct StoredSecrets {
    /// Each worker's sealed national identity number.
    pub sealed: Vec<Option<Vec<u8>>>,
    /// The keyed fingerprint of the create request.
    pub fingerprint: Option<Vec<u8>>,
    /// The keyed digest of the client's idempotency key.
    pub key_digest: Option<Vec<u8>>,
}

pub async fn stored_secrets(db: &PgPool, order_id: &str) -> StoredSecrets {
    let order = uuid::Uuid::parse_str(order_id).expect("uuid");
    let sealed: Vec<Option<Vec<u8>>> = sqlx::query_scalar(
        "SELECT national_id_sealed FROM workers WHERE order_id = $1 ORDER BY position",
    )
    .bind(order)
    .fetch_all(db)
    .await
    .expect("read workers");
    let (fingerprint, key_digest) = sqlx::query_as(
        "SELECT request_fingerprint, idempotency_key_digest FROM orders WHERE id = $1",
    )
    .bind(order)
    .fetch_one(db)
    .await
    .expect("read the order");
    StoredSecrets {
        sealed,
        fingerprint,
        key_digest,
    }
}

/// The documents media lists for an order.
pub async fn list_documents(clients: &mut Clients, order_id: &str) -> Vec<media::Document> {
    clients
        .owner
        .media
        .list_documents(media::ListDocumentsRequest {
            order_id: order_id.to_owned(),
        })
        .await
        .expect("list documents")
        .into_inner()
        .documents
}

/// `MaskNationalIds` of `order_ids` called with the identity of the
/// service `caller`: what became of each order.
pub async fn mask_as(
    env: &TestEnv,
    caller: &str,
    order_ids: &[&str],
) -> Result<Vec<(String, orders::masked_order::Outcome)>, tonic::Status> {
    let answered =
        hms_proto::orders::v1::order_internal_service_client::OrderInternalServiceClient::new(
            env.channel_as(ServiceName::Orders, caller).await,
        )
        .mask_national_ids(orders::MaskNationalIdsRequest {
            order_ids: order_ids.iter().map(|id| (*id).to_owned()).collect(),
        })
        .await?
        .into_inner();
    Ok(answered
        .orders
        .into_iter()
        .map(|order| (order.order_id, order.outcome.expect("an outcome")))
        .collect())
}

/// `PurgeOrderMedia` of `order_ids` called with the identity of the
/// service `caller`: what became of each order.
pub async fn purge_as(
    env: &TestEnv,
    caller: &str,
    order_ids: &[&str],
) -> Result<Vec<(String, media::purged_order::Outcome)>, tonic::Status> {
    let answered = MediaServiceClient::new(env.channel_as(ServiceName::Media, caller).await)
        .purge_order_media(media::PurgeOrderMediaRequest {
            order_ids: order_ids.iter().map(|id| (*id).to_owned()).collect(),
        })
        .await?
        .into_inner();
    Ok(answered
        .orders
        .into_iter()
        .map(|order| (order.order_id, order.outcome.expect("an outcome")))
        .collect())
}

/// What a person is told when they read the company: nothing, or why not.
pub async fn company_answer(
    companies: &CompanyServiceClient<Authed>,
    company_id: &str,
) -> Result<(), tonic::Code> {
    companies
        .clone()
        .get_company(companies::GetCompanyRequest {
            company_id: company_id.to_owned(),
        })
        .await
        .map(drop)
        .map_err(|status| status.code())
}

/// A grant to a person, by national identity number.
pub fn person(national_id: &str) -> identity::Grantee {
    identity::Grantee {
        grantee: Some(identity::grantee::Grantee::NationalId(
            national_id.to_owned(),
        )),
    }
}

/// A grant to a supplier company.
pub fn supplier(org_number: &str) -> identity::Grantee {
    identity::Grantee {
        grantee: Some(identity::grantee::Grantee::SupplierOrgNumber(
            org_number.to_owned(),
        )),
    }
}

/// The company's confirmation that a data processing agreement with the
/// supplier it grants access is in place.
pub fn confirmed() -> Option<identity::ProcessorAgreement> {
    Some(identity::ProcessorAgreement {
        in_place: true,
        reference: "DBA-2026-017".to_owned(),
        confirmed_at: None,
    })
}

/// `owner` grants `scope` on the company; returns the grant id.
pub async fn grant(
    owner: &mut IdentityServiceClient<Authed>,
    company_id: &str,
    grantee: identity::Grantee,
    scope: &str,
    valid_until: Option<chrono::DateTime<chrono::Utc>>,
) -> String {
    owner
        .grant_access(identity::GrantAccessRequest {
            company_id: company_id.to_owned(),
            grantee: Some(grantee),
            scopes: vec![scope.to_owned()],
            valid_from: None,
            valid_until: valid_until.map(hms_proto::time::timestamp),
            grantee_name: String::new(),
            processor_agreement: confirmed(),
        })
        .await
        .expect("the owner grants access")
        .into_inner()
        .grant
        .expect("a grant")
        .grant_id
}

/// A supplier's access manager passes its grant on to one of its staff.
pub async fn delegate(
    manager: &mut IdentityServiceClient<Authed>,
    grant_id: &str,
    national_id: &str,
    scope: &str,
) {
    manager
        .delegate_grant(identity::DelegateGrantRequest {
            grant_id: grant_id.to_owned(),
            national_id: national_id.to_owned(),
            scopes: vec![scope.to_owned()],
            valid_until: None,
            grantee_name: String::new(),
        })
        .await
        .expect("the supplier's manager passes the grant on");
}

/// Waits until a durable consumer has acknowledged `domain`'s stream up to
/// `sequence`.
pub async fn wait_until_consumed(
    env: &TestEnv,
    domain: hms_events::Domain,
    consumer: &str,
    sequence: u64,
) {
    let stream = env
        .jetstream()
        .await
        .get_stream(env.stream_name(domain))
        .await
        .expect("the stream");
    eventually("the consumer to catch up", SOON, || {
        let stream = stream.clone();
        async move {
            let info = stream.consumer_info(consumer).await.ok()?;
            (info.ack_floor.stream_sequence >= sequence && info.num_ack_pending == 0).then_some(())
        }
    })
    .await;
}

/// Publishes the last `E` event on its subject again: under its own id
/// (`Nats-Msg-Id`), or under a new one, as a publisher retrying after
/// JetStream's duplicate window would.
pub async fn publish_again<E: hms_events::Event>(
    env: &TestEnv,
    new_id: bool,
) -> async_nats::jetstream::publish::PublishAck {
    let jetstream = env.jetstream().await;
    let original = jetstream
        .get_stream(env.stream_name(E::TYPE.domain))
        .await
        .expect("the stream")
        .get_last_raw_message_by_subject(&env.subject(E::TYPE))
        .await
        .expect("the event");
    let mut headers = original.headers.clone();
    if new_id {
        headers.insert(
            hms_events::headers::MESSAGE_ID,
            uuid::Uuid::now_v7().to_string().as_str(),
        );
    }
    jetstream
        .publish_with_headers(original.subject.to_string(), headers, original.payload)
        .await
        .expect("publish")
        .await
        .expect("acknowledged")
}

/// Waits until `count` cards are issued for the company, and lists them.
pub async fn issued_cards(
    client: &PersonClients,
    company_id: &str,
    count: usize,
) -> Vec<hms_proto::cards::v1::Card> {
    eventually(&format!("{count} card(s) to be issued"), SOON, || {
        let mut cards = client.cards.clone();
        let company_id = company_id.to_owned();
        async move {
            let listed = cards
                .list_cards(hms_proto::cards::v1::ListCardsRequest {
                    company_id,
                    ..Default::default()
                })
                .await
                .ok()?
                .into_inner()
                .cards;
            (listed.len() >= count).then_some(listed)
        }
    })
    .await
}
