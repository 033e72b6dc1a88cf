//! The authorization matrix: every RPC the platform serves, called by every
//! kind of caller, each getting exactly the expected answer. A new RPC
//! without a row fails the test.

use std::collections::BTreeSet;
use std::fmt;
use std::time::Duration;

use hms_proto::audit::v1 as audit;
use hms_proto::cards::v1 as cards;
use hms_proto::companies::v1 as companies;
use hms_proto::identity::v1 as identity;
use hms_proto::media::v1 as media;
use hms_proto::notifications::v1 as notifications;
use hms_proto::orders::v1 as orders;
use hms_proto::redaction::v1 as redaction;
use hms_test_support::fakes::{orgs, persons};
use hms_test_support::{TestEnv, fixtures};
use prost::Message;
use tonic::{Code, Status};

use crate::common::*;

/// Who calls, in the order of the matrix's columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Anonymous,
    /// Nils Annen: owner of another company, nothing on this one.
    OtherCompany,
    /// Tore Tidligere: was granted `cards:order`, then revoked.
    RevokedDelegate,
    /// Unni Utløpt: was granted `cards:order` until a moment ago.
    ExpiredGrant,
    /// Eva Eier: her company supplies with `workers:read` only, which she
    /// passed on to herself.
    SupplierWithoutScope,
    /// Ola Leverandør: manages the supplier's grant, holds none himself.
    SupplierManager,
    /// Per Ansatt: the supplier passed `cards:order` on to him.
    SupplierEmployee,
    /// Kari Nordmann: daglig leder in the register.
    Owner,
    /// Siri Saksbehandler: the back office.
    BackOffice,
    /// The gateway's service identity: a service, not a person.
    ServiceIdentity,
}

const EVERYONE: [Who; 10] = [
    Who::Anonymous,
    Who::OtherCompany,
    Who::RevokedDelegate,
    Who::ExpiredGrant,
    Who::SupplierWithoutScope,
    Who::SupplierManager,
    Who::SupplierEmployee,
    Who::Owner,
    Who::BackOffice,
    Who::ServiceIdentity,
];

/// What a caller gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Past authorization: an answer, or a refusal on the merits
    /// (`FAILED_PRECONDITION`, `ALREADY_EXISTS`).
    A,
    /// `NOT_FOUND`: the caller learns nothing, not even that it exists.
    H,
    /// `PERMISSION_DENIED`.
    D,
    /// `UNAUTHENTICATED`.
    U,
}

use Outcome::{A, D, H, U};

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

fn outcome(rpc: &str, who: Who, result: Result<(), Status>) -> Outcome {
    match result {
        Ok(()) => A,
        Err(status) => match status.code() {
            Code::FailedPrecondition | Code::AlreadyExists => A,
            Code::NotFound => H,
            Code::PermissionDenied => D,
            Code::Unauthenticated => U,
            code => panic!(
                "{rpc} as {who:?}: unexpected {code:?}: {}",
                status.message()
            ),
        },
    }
}

// The patterns of the matrix, columns in the order of `EVERYONE`:
//            anon oth  rev  exp  sup- mgr  emp  own  back svc
/// Anyone with access to the company; the back office.
const READ: [Outcome; 10] = [U, H, H, H, A, H, A, A, A, D];
/// `cards:order`: the owner and those given it.
const ORDER: [Outcome; 10] = [U, H, H, H, D, H, A, A, D, D];
/// The owner alone: never a supplier, not the back office.
const OWNER_ONLY: [Outcome; 10] = [U, H, H, H, D, H, D, A, D, D];
/// Only the company's owners in the register may register it.
const REGISTER: [Outcome; 10] = [U, D, D, D, D, D, D, A, D, D];
/// The back office, on one company.
const BACK_OFFICE: [Outcome; 10] = [U, H, H, H, D, H, D, D, A, D];
/// The back office, across companies.
const PLATFORM: [Outcome; 10] = [U, D, D, D, D, D, D, D, A, D];
/// Anyone logged in, about themselves.
const PERSON: [Outcome; 10] = [U, A, A, A, A, A, A, A, A, D];
/// Open to all.
const OPEN: [Outcome; 10] = [A; 10];
/// Other services only (each internal call's own service is tested where
/// it is used).
const INTERNAL: [Outcome; 10] = [U, D, D, D, D, D, D, D, D, D];
/// Services only.
const SERVICES: [Outcome; 10] = [U, D, D, D, D, D, D, D, D, A];
/// Blocking or deactivating a card: those who order cards for the
/// company, and the back office.
const CARD_MANAGE: [Outcome; 10] = [U, H, H, H, D, H, A, A, A, D];
/// The supplier's access managers pass its grant on.
const SUPPLIER_MANAGER: [Outcome; 10] = [U, H, H, H, H, A, H, H, H, D];

/// What a row expects.
enum Expect {
    Each([Outcome; 10]),
    /// The credentials are in the request (bogus here): who calls does not
    /// matter, and everyone gets this answer (`Ok` for logging out, which
    /// succeeds whether or not the session existed).
    Same(Code),
}

/// Every RPC, and what each caller gets. `SuspendCompany` comes last: it
/// changes what the calls after it would see.
fn matrix() -> Vec<(&'static str, Expect)> {
    use Expect::*;
    vec![
        ("hms.identity.v1.IdentityService/BeginLogin", Each(OPEN)),
        (
            "hms.identity.v1.IdentityService/CompleteLogin",
            Same(Code::FailedPrecondition),
        ),
        (
            "hms.identity.v1.IdentityService/RefreshSession",
            Same(Code::Unauthenticated),
        ),
        // Asked with a refresh token of no session: nothing is ended, and
        // nobody is told otherwise.
        (
            "hms.identity.v1.IdentityService/Logout",
            Same(Code::Unauthenticated),
        ),
        (
            "hms.identity.v1.IdentityService/GetCurrentUser",
            Each(PERSON),
        ),
        ("hms.identity.v1.IdentityService/GetJwks", Each(OPEN)),
        (
            "hms.identity.v1.IdentityService/IssueServiceToken",
            Same(Code::Unauthenticated),
        ),
        (
            "hms.identity.v1.IdentityService/GrantAccess",
            Each(OWNER_ONLY),
        ),
        (
            "hms.identity.v1.IdentityService/DelegateGrant",
            Each(SUPPLIER_MANAGER),
        ),
        (
            "hms.identity.v1.IdentityService/RevokeAccess",
            Each(OWNER_ONLY),
        ),
        ("hms.identity.v1.IdentityService/ListAccess", Each(READ)),
        (
            "hms.identity.v1.IdentityService/ListSupplierGrants",
            Each(SUPPLIER_MANAGER),
        ),
        ("hms.identity.v1.IdentityService/Authorize", Each(SERVICES)),
        // The notifications service's own call (tested where it is used).
        (
            "hms.identity.v1.IdentityService/DescribePeople",
            Each(INTERNAL),
        ),
        // Orders' own call (used by every order created).
        (
            "hms.identity.v1.IdentityService/SubjectKeys",
            Each(INTERNAL),
        ),
        (
            "hms.companies.v1.CompanyService/RegisterCompany",
            Each(REGISTER),
        ),
        ("hms.companies.v1.CompanyService/GetCompany", Each(READ)),
        (
            "hms.companies.v1.CompanyService/ListCompanies",
            Each(PLATFORM),
        ),
        (
            "hms.companies.v1.CompanyService/UpdateContactInfo",
            Each(OWNER_ONLY),
        ),
        (
            "hms.companies.v1.CompanyService/ListContactHistory",
            Each(READ),
        ),
        (
            "hms.companies.v1.CompanyService/ApproveCompany",
            Each(BACK_OFFICE),
        ),
        ("hms.companies.v1.CompanyService/GetAgreement", Each(READ)),
        // The version the company accepted already: accepting it again
        // changes nothing.
        (
            "hms.companies.v1.CompanyService/AcceptAgreement",
            Each(OWNER_ONLY),
        ),
        (
            "hms.companies.v1.CompanyService/RejectCompany",
            Each(BACK_OFFICE),
        ),
        ("hms.orders.v1.OrderService/CreateOrder", Each(ORDER)),
        ("hms.orders.v1.OrderService/AddWorker", Each(ORDER)),
        ("hms.orders.v1.OrderService/GetOrder", Each(READ)),
        ("hms.orders.v1.OrderService/ListMyRecords", Each(PERSON)),
        ("hms.orders.v1.OrderService/ListOrders", Each(READ)),
        ("ListOrders of every company", Each(PLATFORM)),
        ("hms.orders.v1.OrderService/SubmitOrder", Each(ORDER)),
        ("hms.orders.v1.OrderService/ApproveOrder", Each(BACK_OFFICE)),
        ("hms.orders.v1.OrderService/RejectOrder", Each(BACK_OFFICE)),
        // Both on the decided order: past authorization, refused on the
        // merits, so nothing changes for the rows after them.
        ("hms.orders.v1.OrderService/RemoveWorker", Each(ORDER)),
        (
            "hms.orders.v1.OrderService/ReturnOrderForCorrection",
            Each(BACK_OFFICE),
        ),
        (
            "hms.orders.v1.OrderInternalService/ResolveUploadTarget",
            Each(INTERNAL),
        ),
        (
            "hms.orders.v1.OrderInternalService/GetOrderStates",
            Each(INTERNAL),
        ),
        (
            "hms.orders.v1.OrderInternalService/MaskNationalIds",
            Each(INTERNAL),
        ),
        (
            "hms.orders.v1.OrderInternalService/ListOrdersAwaitingRedaction",
            Each(INTERNAL),
        ),
        (
            "hms.orders.v1.OrderInternalService/ListApprovedWorkers",
            Each(INTERNAL),
        ),
        (
            "hms.orders.v1.OrderInternalService/ListApprovedOrders",
            Each(INTERNAL),
        ),
        (
            "hms.orders.v1.OrderInternalService/ListSubjectWorkers",
            Each(INTERNAL),
        ),
        ("hms.media.v1.MediaService/UploadDocument", Each(ORDER)),
        ("hms.media.v1.MediaService/ListDocuments", Each(READ)),
        (
            "hms.media.v1.MediaService/DownloadDocument",
            Each(BACK_OFFICE),
        ),
        ("hms.media.v1.MediaService/PurgeOrderMedia", Each(INTERNAL)),
        ("hms.media.v1.MediaService/GetPrintMaterial", Each(INTERNAL)),
        ("hms.redaction.v1.RedactionService/GetReceipt", Each(READ)),
        (
            "hms.redaction.v1.RedactionService/GetReceiptKeys",
            Each(OPEN),
        ),
        (
            "hms.redaction.v1.RedactionService/RedactOrder",
            Each(PLATFORM),
        ),
        ("hms.audit.v1.AuditService/ListAccessLog", Each(READ)),
        ("hms.audit.v1.AuditService/GetCheckpointKeys", Each(OPEN)),
        ("hms.audit.v1.AuditService/ListMyAccessLog", Each(PERSON)),
        ("hms.cards.v1.CardService/ListMyCards", Each(PERSON)),
        (
            "hms.notifications.v1.NotificationService/ListDeliveries",
            Each(READ),
        ),
        ("ListDeliveries of every company", Each(PLATFORM)),
        ("hms.cards.v1.CardService/ListCards", Each(READ)),
        ("hms.cards.v1.CardService/GetCard", Each(READ)),
        ("hms.cards.v1.CardService/CheckCard", Each(OPEN)),
        ("hms.cards.v1.CardService/GetCardCredential", Each(READ)),
        ("hms.cards.v1.CardService/GetCredentialKeys", Each(OPEN)),
        ("hms.cards.v1.CardService/GetStatusList", Each(OPEN)),
        ("hms.cards.v1.CardService/BlockCard", Each(CARD_MANAGE)),
        ("hms.cards.v1.CardService/DeactivateCard", Each(CARD_MANAGE)),
        ("hms.cards.v1.CardService/GetRenewal", Each(CARD_MANAGE)),
        // A new version of the agreement stops the company's ordering
        // until it accepts it: late, like the suspension.
        (
            "hms.companies.v1.CompanyService/PublishAgreement",
            Each(PLATFORM),
        ),
        (
            "hms.companies.v1.CompanyService/SuspendCompany",
            Each(BACK_OFFICE),
        ),
    ]
}

/// Services in the contracts that nothing serves yet. Once one is built,
/// this test fails until its calls have rows.
const NOT_SERVED_YET: [(&str, &str); 0] = [];

/// Every RPC in the contracts, as `package.Service/Method`.
fn every_rpc() -> BTreeSet<String> {
    let set = prost_types::FileDescriptorSet::decode(hms_proto::FILE_DESCRIPTOR_SET)
        .expect("the descriptor set decodes");
    let mut rpcs = BTreeSet::new();
    for file in set.file {
        let package = file.package().to_owned();
        if !package.starts_with("hms.") {
            continue;
        }
        for service in &file.service {
            let service_name = format!("{package}.{}", service.name());
            if let Some((_, folder)) = NOT_SERVED_YET
                .iter()
                .find(|(name, _)| *name == service_name)
            {
                let built = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("..")
                    .join(folder)
                    .exists();
                assert!(!built, "{service_name} is served now: give its calls rows");
                continue;
            }
            for method in &service.method {
                rpcs.insert(format!("{service_name}/{}", method.name()));
            }
        }
    }
    rpcs
}

/// What the calls act on, all of NORDMANN BYGG AS.
struct Fixtures {
    company: String,
    /// A draft order with one worker and their photo.
    draft: String,
    worker: String,
    document: String,
    /// An approved, redacted order, and its worker.
    decided: String,
    decided_worker: String,
    /// The number of the card issued for the decided order.
    card: String,
    /// The supplier HMS LEVERANDØREN's grant of `cards:order`.
    supplier_grant: String,
    /// A grant to someone else, for the revocation row.
    spare_grant: String,
}

impl Fixtures {
    /// Ids of nothing at all, to compare "hidden" with "missing".
    fn nothing() -> Self {
        let id = || uuid::Uuid::now_v7().to_string();
        Self {
            company: id(),
            draft: id(),
            worker: id(),
            document: id(),
            decided: id(),
            decided_worker: id(),
            card: hms_domain::CardNumber::from_body(rand::random_range(100_000_000..1_000_000_000))
                .to_string(),
            supplier_grant: id(),
            spare_grant: id(),
        }
    }
}

/// One call of `rpc` by `caller`, on the fixtures.
async fn call(rpc: &str, caller: &PersonClients, fx: &Fixtures) -> Result<(), Status> {
    let mut c = caller.clone();
    let company_id = fx.company.clone();
    let order_id = fx.draft.clone();
    match rpc {
        "hms.identity.v1.IdentityService/BeginLogin" => c
            .identity
            .begin_login(identity::BeginLoginRequest {})
            .await
            .map(drop),
        "hms.identity.v1.IdentityService/CompleteLogin" => c
            .identity
            .complete_login(identity::CompleteLoginRequest {
                state: "not-a-state".to_owned(),
                code: "not-a-code".to_owned(),
            })
            .await
            .map(drop),
        "hms.identity.v1.IdentityService/RefreshSession" => c
            .identity
            .refresh_session(identity::RefreshSessionRequest {
                refresh_token: "not-a-refresh-token".to_owned(),
            })
            .await
            .map(drop),
        "hms.identity.v1.IdentityService/Logout" => c
            .identity
            .logout(identity::LogoutRequest {
                refresh_token: "not-a-refresh-token".to_owned(),
            })
            .await
            .map(drop),
        "hms.identity.v1.IdentityService/GetCurrentUser" => c
            .identity
            .get_current_user(identity::GetCurrentUserRequest {})
            .await
            .map(drop),
        "hms.identity.v1.IdentityService/GetJwks" => c
            .identity
            .get_jwks(identity::GetJwksRequest {})
            .await
            .map(drop),
        "hms.identity.v1.IdentityService/IssueServiceToken" => c
            .identity
            .issue_service_token(identity::IssueServiceTokenRequest {
                service: "gateway".to_owned(),
                secret: "not-the-secret".to_owned(),
                audience: "orders".to_owned(),
            })
            .await
            .map(drop),
        "hms.identity.v1.IdentityService/GrantAccess" => c
            .identity
            .grant_access(identity::GrantAccessRequest {
                company_id,
                grantee: Some(person(&fixtures::fodselsnummer())),
                scopes: vec!["workers:read".to_owned()],
                valid_from: None,
                valid_until: None,
                grantee_name: String::new(),
                processor_agreement: None,
            })
            .await
            .map(drop),
        "hms.identity.v1.IdentityService/DelegateGrant" => c
            .identity
            .delegate_grant(identity::DelegateGrantRequest {
                grant_id: fx.supplier_grant.clone(),
                national_id: fixtures::fodselsnummer(),
                scopes: vec!["cards:order".to_owned()],
                valid_until: None,
                grantee_name: String::new(),
            })
            .await
            .map(drop),
        "hms.identity.v1.IdentityService/ListSupplierGrants" => c
            .identity
            .list_supplier_grants(identity::ListSupplierGrantsRequest {
                org_number: orgs::HMS_LEVERANDOREN.to_owned(),
            })
            .await
            .map(drop),
        "hms.identity.v1.IdentityService/RevokeAccess" => c
            .identity
            .revoke_access(identity::RevokeAccessRequest {
                grant_id: fx.spare_grant.clone(),
            })
            .await
            .map(drop),
        "hms.identity.v1.IdentityService/ListAccess" => c
            .identity
            .list_access(identity::ListAccessRequest { company_id })
            .await
            .map(drop),
        "hms.identity.v1.IdentityService/Authorize" => c
            .identity
            .authorize(identity::AuthorizeRequest {
                subject: uuid::Uuid::now_v7().to_string(),
                session_id: uuid::Uuid::now_v7().to_string(),
                company_id,
                org_number: String::new(),
                action: "company:read".to_owned(),
            })
            .await
            .map(drop),
        "hms.companies.v1.CompanyService/RegisterCompany" => c
            .companies
            .register_company(fixtures::nordmann_bygg())
            .await
            .map(drop),
        "hms.companies.v1.CompanyService/GetCompany" => c
            .companies
            .get_company(companies::GetCompanyRequest { company_id })
            .await
            .map(drop),
        "hms.companies.v1.CompanyService/ListCompanies" => c
            .companies
            .list_companies(companies::ListCompaniesRequest::default())
            .await
            .map(drop),
        "hms.companies.v1.CompanyService/UpdateContactInfo" => c
            .companies
            .update_contact_info(companies::UpdateContactInfoRequest {
                company_id,
                contact: Some(contact("ny@nordmannbygg.no")),
            })
            .await
            .map(drop),
        "hms.companies.v1.CompanyService/ListContactHistory" => c
            .companies
            .list_contact_history(companies::ListContactHistoryRequest { company_id })
            .await
            .map(drop),
        "hms.companies.v1.CompanyService/GetAgreement" => c
            .companies
            .get_agreement(companies::GetAgreementRequest { company_id })
            .await
            .map(drop),
        "hms.companies.v1.CompanyService/AcceptAgreement" => c
            .companies
            .accept_agreement(companies::AcceptAgreementRequest {
                company_id,
                version: 1,
            })
            .await
            .map(drop),
        "hms.companies.v1.CompanyService/PublishAgreement" => c
            .companies
            .publish_agreement(companies::PublishAgreementRequest {
                text: "# Databehandleravtale, versjon 2".to_owned(),
            })
            .await
            .map(drop),
        "hms.companies.v1.CompanyService/ApproveCompany" => c
            .companies
            .approve_company(companies::ApproveCompanyRequest { company_id })
            .await
            .map(drop),
        "hms.companies.v1.CompanyService/RejectCompany" => c
            .companies
            .reject_company(companies::RejectCompanyRequest {
                company_id,
                reason: "Mangler dokumentasjon".to_owned(),
            })
            .await
            .map(drop),
        "hms.companies.v1.CompanyService/SuspendCompany" => c
            .companies
            .suspend_company(companies::SuspendCompanyRequest {
                company_id,
                reason: "Mangler dokumentasjon".to_owned(),
            })
            .await
            .map(drop),
        "hms.orders.v1.OrderService/CreateOrder" => c
            .orders
            .create_order(orders::CreateOrderRequest {
                company_id,
                idempotency_key: uuid::Uuid::new_v4().to_string(),
                workers: vec![new_worker("Ny Arbeider", &fixtures::fodselsnummer())],
            })
            .await
            .map(drop),
        "hms.orders.v1.OrderService/AddWorker" => c
            .orders
            .add_worker(orders::AddWorkerRequest {
                order_id,
                worker: Some(new_worker("Ny Arbeider", &fixtures::fodselsnummer())),
            })
            .await
            .map(drop),
        "hms.orders.v1.OrderService/GetOrder" => c
            .orders
            .get_order(orders::GetOrderRequest { order_id })
            .await
            .map(drop),
        "hms.orders.v1.OrderService/ListOrders" => c
            .orders
            .list_orders(orders::ListOrdersRequest {
                company_id,
                ..Default::default()
            })
            .await
            .map(drop),
        "ListOrders of every company" => c
            .orders
            .list_orders(orders::ListOrdersRequest::default())
            .await
            .map(drop),
        "hms.orders.v1.OrderService/SubmitOrder" => c
            .orders
            .submit_order(orders::SubmitOrderRequest { order_id })
            .await
            .map(drop),
        "hms.orders.v1.OrderService/ApproveOrder" => c
            .orders
            .approve_order(orders::ApproveOrderRequest { order_id })
            .await
            .map(drop),
        "hms.orders.v1.OrderService/RejectOrder" => c
            .orders
            .reject_order(orders::RejectOrderRequest {
                order_id,
                reason: "Mangler signatur".to_owned(),
            })
            .await
            .map(drop),
        "hms.orders.v1.OrderService/RemoveWorker" => c
            .orders
            .remove_worker(orders::RemoveWorkerRequest {
                order_id: fx.decided.clone(),
                worker_id: fx.decided_worker.clone(),
            })
            .await
            .map(drop),
        "hms.orders.v1.OrderService/ReturnOrderForCorrection" => c
            .orders
            .return_order_for_correction(orders::ReturnOrderForCorrectionRequest {
                order_id: fx.decided.clone(),
                rejections: vec![orders::DocumentRejection {
                    document_id: fx.document.clone(),
                    reason: orders::DocumentRejectionReason::PhotoUnclear as i32,
                    note: String::new(),
                }],
            })
            .await
            .map(drop),
        "hms.orders.v1.OrderInternalService/ResolveUploadTarget" => c
            .orders_internal
            .resolve_upload_target(orders::ResolveUploadTargetRequest {
                order_id,
                worker_id: fx.worker.clone(),
            })
            .await
            .map(drop),
        "hms.orders.v1.OrderInternalService/GetOrderStates" => c
            .orders_internal
            .get_order_states(orders::GetOrderStatesRequest {
                order_ids: vec![order_id],
            })
            .await
            .map(drop),
        "hms.orders.v1.OrderInternalService/MaskNationalIds" => c
            .orders_internal
            .mask_national_ids(orders::MaskNationalIdsRequest {
                order_ids: vec![fx.decided.clone()],
            })
            .await
            .map(drop),
        "hms.orders.v1.OrderInternalService/ListOrdersAwaitingRedaction" => c
            .orders_internal
            .list_orders_awaiting_redaction(orders::ListOrdersAwaitingRedactionRequest {
                decided_before: Some(hms_proto::time::timestamp(chrono::Utc::now())),
                page_size: 10,
            })
            .await
            .map(drop),
        "hms.media.v1.MediaService/UploadDocument" => {
            let messages = vec![
                media::UploadDocumentRequest {
                    part: Some(media::upload_document_request::Part::Metadata(
                        media::UploadMetadata {
                            order_id,
                            worker_id: fx.worker.clone(),
                            kind: media::DocumentKind::Signature as i32,
                        },
                    )),
                },
                media::UploadDocumentRequest {
                    part: Some(media::upload_document_request::Part::Chunk(fixtures::png(
                        200, 60,
                    ))),
                },
            ];
            c.media
                .upload_document(futures::stream::iter(messages))
                .await
                .map(drop)
        }
        "hms.media.v1.MediaService/ListDocuments" => c
            .media
            .list_documents(media::ListDocumentsRequest { order_id })
            .await
            .map(drop),
        "hms.media.v1.MediaService/DownloadDocument" => c
            .media
            .download_document(media::DownloadDocumentRequest {
                document_id: fx.document.clone(),
            })
            .await
            .map(drop),
        "hms.media.v1.MediaService/PurgeOrderMedia" => c
            .media
            .purge_order_media(media::PurgeOrderMediaRequest {
                order_ids: vec![fx.decided.clone()],
            })
            .await
            .map(drop),
        "hms.media.v1.MediaService/GetPrintMaterial" => c
            .media
            .get_print_material(media::GetPrintMaterialRequest {
                order_id: fx.decided.clone(),
                worker_id: uuid::Uuid::now_v7().to_string(),
            })
            .await
            .map(drop),
        "hms.redaction.v1.RedactionService/GetReceipt" => c
            .redaction
            .get_receipt(redaction::GetReceiptRequest {
                order_id: fx.decided.clone(),
            })
            .await
            .map(drop),
        "hms.audit.v1.AuditService/ListAccessLog" => c
            .audit
            .list_access_log(audit::ListAccessLogRequest {
                company_id,
                ..Default::default()
            })
            .await
            .map(drop),
        "hms.audit.v1.AuditService/ListMyAccessLog" => c
            .audit
            .list_my_access_log(audit::ListMyAccessLogRequest {})
            .await
            .map(drop),
        "hms.cards.v1.CardService/ListMyCards" => c
            .cards
            .list_my_cards(cards::ListMyCardsRequest {})
            .await
            .map(drop),
        "hms.orders.v1.OrderService/ListMyRecords" => c
            .orders
            .list_my_records(orders::ListMyRecordsRequest {})
            .await
            .map(drop),
        "hms.orders.v1.OrderInternalService/ListSubjectWorkers" => c
            .orders_internal
            .list_subject_workers(orders::ListSubjectWorkersRequest {
                subject_key: "not-a-subject-key".to_owned(),
            })
            .await
            .map(drop),
        "hms.identity.v1.IdentityService/SubjectKeys" => c
            .identity
            .subject_keys(identity::SubjectKeysRequest {
                national_ids: vec![fixtures::fodselsnummer()],
            })
            .await
            .map(drop),
        "hms.audit.v1.AuditService/GetCheckpointKeys" => c
            .audit
            .get_checkpoint_keys(audit::GetCheckpointKeysRequest {})
            .await
            .map(drop),
        "hms.redaction.v1.RedactionService/GetReceiptKeys" => c
            .redaction
            .get_receipt_keys(redaction::GetReceiptKeysRequest {})
            .await
            .map(drop),
        "hms.redaction.v1.RedactionService/RedactOrder" => c
            .redaction
            .redact_order(redaction::RedactOrderRequest {
                order_id: fx.decided.clone(),
            })
            .await
            .map(drop),
        "hms.orders.v1.OrderInternalService/ListApprovedOrders" => c
            .orders_internal
            .list_approved_orders(orders::ListApprovedOrdersRequest {
                decided_from: Some(hms_proto::time::timestamp(chrono::DateTime::UNIX_EPOCH)),
                decided_before: Some(hms_proto::time::timestamp(chrono::Utc::now())),
                ..Default::default()
            })
            .await
            .map(drop),
        "hms.orders.v1.OrderInternalService/ListApprovedWorkers" => c
            .orders_internal
            .list_approved_workers(orders::ListApprovedWorkersRequest {
                order_ids: vec![fx.decided.clone()],
            })
            .await
            .map(drop),
        "hms.cards.v1.CardService/ListCards" => c
            .cards
            .list_cards(cards::ListCardsRequest {
                company_id,
                ..Default::default()
            })
            .await
            .map(drop),
        "hms.cards.v1.CardService/GetCard" => c
            .cards
            .get_card(cards::GetCardRequest {
                card_number: fx.card.clone(),
            })
            .await
            .map(drop),
        "hms.cards.v1.CardService/CheckCard" => c
            .cards
            .check_card(cards::CheckCardRequest {
                card_number: fx.card.clone(),
            })
            .await
            .map(drop),
        "hms.cards.v1.CardService/GetCardCredential" => c
            .cards
            .get_card_credential(cards::GetCardCredentialRequest {
                card_number: fx.card.clone(),
            })
            .await
            .map(drop),
        "hms.cards.v1.CardService/GetCredentialKeys" => c
            .cards
            .get_credential_keys(cards::GetCredentialKeysRequest {})
            .await
            .map(drop),
        "hms.cards.v1.CardService/GetRenewal" => c
            .cards
            .get_renewal(cards::GetRenewalRequest {
                card_number: fx.card.clone(),
            })
            .await
            .map(drop),
        "hms.cards.v1.CardService/GetStatusList" => c
            .cards
            .get_status_list(cards::GetStatusListRequest {})
            .await
            .map(drop),
        "hms.cards.v1.CardService/BlockCard" => c
            .cards
            .block_card(cards::BlockCardRequest {
                card_number: fx.card.clone(),
                reason: "Mistet på byggeplassen".to_owned(),
            })
            .await
            .map(drop),
        "hms.cards.v1.CardService/DeactivateCard" => c
            .cards
            .deactivate_card(cards::DeactivateCardRequest {
                card_number: fx.card.clone(),
                reason: "Sluttet".to_owned(),
            })
            .await
            .map(drop),
        "hms.identity.v1.IdentityService/DescribePeople" => c
            .identity
            .describe_people(identity::DescribePeopleRequest {
                people: vec![identity::PersonInCompany {
                    user_id: uuid::Uuid::now_v7().to_string(),
                    company_id,
                }],
            })
            .await
            .map(drop),
        "hms.notifications.v1.NotificationService/ListDeliveries" => c
            .notifications
            .list_deliveries(notifications::ListDeliveriesRequest {
                company_id,
                ..Default::default()
            })
            .await
            .map(drop),
        "ListDeliveries of every company" => c
            .notifications
            .list_deliveries(notifications::ListDeliveriesRequest::default())
            .await
            .map(drop),
        other => panic!("the matrix has a row for {other} but no call"),
    }
}

fn contact(email: &str) -> companies::ContactInfo {
    companies::ContactInfo {
        email: email.to_owned(),
        phone: "+4791234567".to_owned(),
    }
}

/// NORDMANN BYGG AS, approved, with a decided and redacted order, a draft
/// order with a document, and its grants: to two suppliers (passed on to
/// their people), to a person since revoked, and to a person until a moment
/// ago. Returns the fixtures and the callers in the order of `EVERYONE`.
async fn scene(env: &TestEnv) -> (Fixtures, Vec<PersonClients>) {
    let mut clients = Clients::connect(env).await;
    let company = approved_company(env, &mut clients).await;

    let decided = create_order(&mut clients, &company, &[fixtures::fodselsnummer()]).await;
    upload_all_documents(&mut clients, &decided).await;
    clients
        .owner
        .orders
        .submit_order(orders::SubmitOrderRequest {
            order_id: decided.order_id.clone(),
        })
        .await
        .expect("submit");
    approve(&mut clients, &decided.order_id).await;
    receipt(&mut clients, &decided.order_id, SOON).await;
    let card = issued_cards(&clients.owner, &company, 1).await[0]
        .card_number
        .clone();

    let draft = create_order(&mut clients, &company, &[fixtures::fodselsnummer()]).await;
    let worker = draft.workers[0].worker_id.clone();
    let document = upload(
        &mut clients,
        &draft.order_id,
        &worker,
        media::DocumentKind::PassportPhoto,
        fixtures::jpeg_with_exif(90, 120, b"marker"),
        16 * 1024,
    )
    .await
    .expect("upload a photo")
    .document_id;

    let owner = PersonClients::login(env, persons::KARI_NORDMANN).await;
    let mut kari = owner.identity.clone();
    let supplier_grant = grant(
        &mut kari,
        &company,
        supplier(orgs::HMS_LEVERANDOREN),
        "cards:order",
        None,
    )
    .await;
    let reader_grant = grant(
        &mut kari,
        &company,
        supplier(orgs::EVA_EIER_SNEKKERSERVICE),
        "workers:read",
        None,
    )
    .await;
    // Tore and Unni each use their grant once, so the columns show a grant
    // that worked and stopped working.
    let revoked = grant(
        &mut kari,
        &company,
        person(persons::TORE_TIDLIGERE),
        "cards:order",
        None,
    )
    .await;
    let tore = PersonClients::login(env, persons::TORE_TIDLIGERE).await;
    works_for(&tore, &company).await;
    kari.revoke_access(identity::RevokeAccessRequest {
        grant_id: revoked.clone(),
    })
    .await
    .expect("revoke");
    // Long enough for her login and one call on a busy machine; the matrix
    // waits for the rest of it below.
    let expires_at = chrono::Utc::now() + chrono::Duration::seconds(8);
    grant(
        &mut kari,
        &company,
        person(persons::UNNI_UTLOPT),
        "cards:order",
        Some(expires_at),
    )
    .await;
    let unni = PersonClients::login(env, persons::UNNI_UTLOPT).await;
    works_for(&unni, &company).await;
    let spare_grant = grant(
        &mut kari,
        &company,
        person(&fixtures::fodselsnummer()),
        "workers:read",
        None,
    )
    .await;

    let manager = PersonClients::login(env, persons::OLA_LEVERANDOR).await;
    delegate(
        &mut manager.identity.clone(),
        &supplier_grant,
        persons::PER_ANSATT,
        "cards:order",
    )
    .await;
    let eva = PersonClients::login(env, persons::EVA_EIER).await;
    delegate(
        &mut eva.identity.clone(),
        &reader_grant,
        persons::EVA_EIER,
        "workers:read",
    )
    .await;

    let callers = vec![
        PersonClients::with_token(env, "").await,
        PersonClients::login(env, persons::NILS_ANNEN).await,
        tore,
        unni,
        eva,
        manager,
        PersonClients::login(env, persons::PER_ANSATT).await,
        owner,
        PersonClients::login(env, persons::SIRI_SAKSBEHANDLER).await,
        PersonClients::as_service(env, "gateway").await,
    ];
    // Let Unni's grant run out, and any decision cached before that expire.
    let wait = (expires_at - chrono::Utc::now())
        .to_std()
        .unwrap_or_default();
    tokio::time::sleep(wait + Duration::from_millis(700)).await;

    let fixtures = Fixtures {
        company,
        draft: draft.order_id,
        worker,
        document,
        decided_worker: decided.workers[0].worker_id.clone(),
        decided: decided.order_id,
        card,
        supplier_grant,
        spare_grant,
    };
    (fixtures, callers)
}

/// The person's grant works: they see the company.
async fn works_for(person: &PersonClients, company_id: &str) {
    assert_eq!(
        company_answer(&person.companies, company_id).await,
        Ok(()),
        "the grant works"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rpc_answers_every_kind_of_caller_as_expected() {
    let matrix = matrix();
    let rows: BTreeSet<String> = matrix
        .iter()
        .map(|(rpc, _)| (*rpc).to_owned())
        .filter(|rpc| rpc.contains('/'))
        .collect();
    let rpcs = every_rpc();
    let missing: Vec<_> = rpcs.difference(&rows).collect();
    assert!(missing.is_empty(), "RPCs without a row: {missing:?}");
    let unknown: Vec<_> = rows.difference(&rpcs).collect();
    assert!(unknown.is_empty(), "rows for unknown RPCs: {unknown:?}");

    let mut env = TestEnv::new();
    env.start_all().await;
    let (fixtures, callers) = scene(&env).await;
    let ghost = Fixtures::nothing();

    let mut wrong = Vec::new();
    for (rpc, expect) in &matrix {
        let mut results = Vec::new();
        for (who, caller) in EVERYONE.iter().zip(&callers) {
            results.push((*who, call(rpc, caller, &fixtures).await));
        }
        match expect {
            Expect::Each(expected) => {
                for (((who, result), expected), caller) in
                    results.into_iter().zip(expected).zip(&callers)
                {
                    // Hidden must mean exactly what "does not exist" means.
                    let hidden_as = match &result {
                        Err(status) if status.code() == Code::NotFound => {
                            Some(status.message().to_owned())
                        }
                        _ => None,
                    };
                    let got = outcome(rpc, who, result);
                    if got != *expected {
                        wrong.push(format!("{rpc} as {who:?}: expected {expected}, got {got}"));
                    }
                    if let Some(message) = hidden_as {
                        let ghost = call(rpc, caller, &ghost).await;
                        let same = matches!(&ghost, Err(status)
                            if status.code() == Code::NotFound && status.message() == message);
                        if !same {
                            wrong.push(format!(
                                "{rpc} as {who:?}: hidden as {message:?}, but a missing one gets {ghost:?}"
                            ));
                        }
                    }
                }
            }
            Expect::Same(expected) => {
                for (who, result) in &results {
                    let code = result.as_ref().err().map_or(Code::Ok, Status::code);
                    if code != *expected {
                        wrong.push(format!(
                            "{rpc} as {who:?}: expected {expected:?}, got {code:?}"
                        ));
                    }
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} answers differ from the matrix:\n{}",
        wrong.len(),
        wrong.join("\n")
    );

    // Nobody's personal data reached a log on the way.
    let logs = env.logs();
    for national_id in [
        persons::KARI_NORDMANN,
        persons::PER_ANSATT,
        persons::TORE_TIDLIGERE,
        persons::UNNI_UTLOPT,
    ] {
        assert!(!logs.contains(national_id), "a national id was logged");
    }
}
