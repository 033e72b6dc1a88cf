//! Orders of cards for a company's workers: created with an
//! `Idempotency-Key`, filled with workers, submitted; and the back office's
//! decisions on them. National identity numbers go in and only ever come
//! back masked.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, NaiveDate, Utc};
use hms_proto::ProtoEnum;
use hms_proto::orders::v1 as pb;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::documents::DocumentKind;
use super::{Answered, PageSize, Reason, non_empty, time};
use crate::auth::Person;
use crate::extract::{JsonBody, PathParams, QueryParams};
use crate::problem::{ApiError, Problem};
use crate::state::AppState;

/// Which HMS card a worker gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CardType {
    Construction,
    Cleaning,
}

hms_proto::proto_enum!(CardType => pb::CardType { Construction, Cleaning });

/// Where an order is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    Draft,
    Submitted,
    /// Sent back: rejected documents to replace, then submitted again.
    NeedsCorrection,
    Approved,
    /// Rejected for good.
    Rejected,
    /// Closed without a decision, having waited too long
    /// (`closed_because`); its personal data is deleted.
    Closed,
}

hms_proto::proto_enum!(OrderStatus => pb::OrderStatus { Draft, Submitted, NeedsCorrection, Approved, Rejected, Closed });

/// Why an order was closed without a decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ClosureReason {
    /// Not submitted in time (`HMS_DRAFT_RETENTION_DAYS`).
    DraftAbandoned,
    /// Not corrected and submitted again in time.
    CorrectionAbandoned,
    /// The company was rejected or suspended too long ago.
    CompanyIneligible,
}

hms_proto::proto_enum!(ClosureReason => pb::ClosureReason {
    DraftAbandoned,
    CorrectionAbandoned,
    CompanyIneligible,
});

/// Why the back office rejects a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RejectionReason {
    PhotoUnclear,
    NotAPassportPhoto,
    IdDocumentUnreadable,
    IdDocumentExpired,
    SignatureMissing,
    /// The name on the document is not the worker's.
    NameMismatch,
    /// Said in the note, which is then required.
    Other,
}

hms_proto::proto_enum!(RejectionReason => pb::DocumentRejectionReason {
    PhotoUnclear,
    NotAPassportPhoto,
    IdDocumentUnreadable,
    IdDocumentExpired,
    SignatureMissing,
    NameMismatch,
    Other,
});

/// The back office's decision on a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Accepted,
    /// Destroyed; the company uploads another.
    Rejected,
}

hms_proto::proto_enum!(Decision => pb::DocumentDecision { Accepted, Rejected });

/// A document the back office has decided on. A document of the order
/// with no review is new since the last one.
#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentReview {
    pub document_id: String,
    pub worker_id: String,
    pub kind: DocumentKind,
    pub decision: Decision,
    /// Rejected documents only.
    pub reason: Option<RejectionReason>,
    /// The back office's words to the company, if any.
    pub note: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
}

/// One document the back office rejects.
#[derive(Debug, Deserialize, ToSchema)]
pub struct DocumentRejection {
    /// A document of the order.
    pub document_id: String,
    pub reason: RejectionReason,
    /// Shown to the company: at most 1,000 characters; required when the
    /// reason is `other`.
    #[serde(default)]
    pub note: Option<String>,
}

/// The documents the back office sends an order back for.
#[derive(Debug, Deserialize, ToSchema)]
pub struct Correction {
    /// At least one; each document once.
    pub rejections: Vec<DocumentRejection>,
}

/// A worker as the client sends them.
// Not Debug: it holds a secret or a national id.
#[derive(Deserialize, ToSchema)]
pub struct NewWorker {
    /// Full name as on the ID document.
    pub name: String,
    /// Fødselsnummer, D-number or H-number: 11 digits. Never shown again
    /// except masked.
    pub national_id: String,
    /// E.164, for example `+4791234567`.
    pub phone: String,
    pub card_type: CardType,
    /// The last day of the employment, when the company knows it: the card
    /// is then valid through that day instead of two years. Not in the
    /// past.
    #[serde(default)]
    pub employment_ends_on: Option<NaiveDate>,
}

/// What kind of Norwegian identity number a worker has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NationalIdKind {
    Fodselsnummer,
    /// Day + 40, for people without permanent residence.
    DNumber,
    /// Month + 40, an auxiliary number from health care.
    HNumber,
}

hms_proto::proto_enum!(NationalIdKind => pb::NationalIdKind { Fodselsnummer, DNumber, HNumber });

/// A worker as stored.
#[derive(Debug, Serialize, ToSchema)]
pub struct Worker {
    pub worker_id: String,
    /// Absent once the order's personal data is deleted, unless the order
    /// was approved (its cards carry the name).
    pub name: Option<String>,
    /// The birth date part, then five asterisks: `010190*****`.
    pub national_id_masked: String,
    pub national_id_kind: NationalIdKind,
    /// Absent once the order's personal data is deleted.
    pub phone: Option<String>,
    pub card_type: CardType,
    /// The last day of the employment, when stated.
    pub employment_ends_on: Option<NaiveDate>,
    /// What Folkeregisteret and Aa-registeret say of the worker, once the
    /// order is submitted: shown instead of the full number.
    pub register_check: Option<RegisterCheck>,
}

/// Where a worker's register check stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CheckState {
    /// Not answered yet (a register did not answer): the order is not
    /// approved on it.
    Pending,
    Done,
}

hms_proto::proto_enum!(CheckState => pb::RegisterCheckState { Pending, Done });

/// What Folkeregisteret says of a worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PersonFinding {
    Resident,
    /// Moved abroad: shown, the back office decides.
    Emigrated,
    /// Refuses approval.
    Deceased,
    /// No such person: refuses approval.
    NotFound,
}

hms_proto::proto_enum!(PersonFinding => pb::PersonFinding { Resident, Emigrated, Deceased, NotFound });

/// What Aa-registeret says of the worker's employment with the company.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EmploymentFinding {
    Active,
    /// No employment with the company today: refuses approval.
    None,
}

hms_proto::proto_enum!(EmploymentFinding => pb::EmploymentFinding { Active, None });

/// A worker looked up in the registers.
#[derive(Debug, Serialize, ToSchema)]
pub struct RegisterCheck {
    pub state: CheckState,
    /// Once done.
    pub person: Option<PersonFinding>,
    /// Once done: the name on the order is the registered one.
    pub name_matches: Option<bool>,
    /// Once done.
    pub employment: Option<EmploymentFinding>,
    pub checked_at: Option<DateTime<Utc>>,
    /// A pending check: what it waits for.
    pub waiting_for: Option<String>,
}

/// The price, in øre (1/100 NOK); VAT on the net total, rounded half up.
#[derive(Debug, Serialize, ToSchema)]
pub struct Price {
    pub unit_net_ore: i64,
    pub quantity: u32,
    pub net_ore: i64,
    /// 2500 is 25 %.
    pub vat_rate_basis_points: u32,
    pub vat_ore: i64,
    pub gross_ore: i64,
    pub currency: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Order {
    pub order_id: String,
    pub company_id: String,
    pub status: OrderStatus,
    pub workers: Vec<Worker>,
    pub price: Option<Price>,
    pub created_at: Option<DateTime<Utc>>,
    pub submitted_at: Option<DateTime<Utc>>,
    pub decided_at: Option<DateTime<Utc>>,
    /// The back office's reason, when rejected.
    pub rejection_reason: Option<String>,
    /// When every national identity number of the order was masked (its
    /// personal data deleted).
    pub national_ids_masked_at: Option<DateTime<Utc>>,
    /// When the order was last sent back for correction.
    pub returned_at: Option<DateTime<Utc>>,
    /// Why a closed order was closed.
    pub closed_because: Option<ClosureReason>,
    /// The back office's latest decision on each document it reviewed.
    pub reviews: Vec<DocumentReview>,
}

// Not Debug: it holds a secret or a national id.
#[derive(Deserialize, ToSchema)]
pub struct NewOrder {
    /// May be empty; workers can be added later.
    #[serde(default)]
    pub workers: Vec<NewWorker>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WorkerAdded {
    pub order: Order,
    pub worker: Option<Worker>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrderPage {
    pub orders: Vec<Order>,
    /// Pass as `page_token` for the next page; absent on the last.
    pub next_page_token: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OrderQuery {
    /// Only orders in this status.
    pub status: Option<OrderStatus>,
    /// At most this many: 1 to 500, 50 when absent.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 500)]
    pub page_size: Option<PageSize>,
    pub page_token: Option<String>,
}

/// Creates an order. The `Idempotency-Key` header makes a retry return the
/// same order; the same key with other content is refused.
#[utoipa::path(
    post,
    path = "/api/v1/companies/{company_id}/orders",
    tag = "orders",
    params(
        ("company_id" = uuid::Uuid, Path, description = "The company ordering"),
        ("Idempotency-Key" = String, Header, description = "Unique per order, chosen by the client (at most 200 characters)"),
    ),
    request_body = NewOrder,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 201, body = Order),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Key reused for other content, or the company is not approved", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    person: Person,
    PathParams(company_id): PathParams<String>,
    headers: HeaderMap,
    JsonBody(new): JsonBody<NewOrder>,
) -> Result<(StatusCode, Json<Order>), ApiError> {
    let idempotency_key = headers
        .get("idempotency-key")
        .and_then(|value| value.to_str().ok())
        .map(str::trim)
        .filter(|key| !key.is_empty())
        .ok_or_else(|| ApiError::invalid("the Idempotency-Key header is required"))?
        .to_owned();
    let order = state
        .orders
        .clone()
        .create_order(person.request(pb::CreateOrderRequest {
            company_id,
            idempotency_key,
            workers: new.workers.into_iter().map(worker_to_proto).collect(),
        }))
        .await?
        .into_inner()
        .order;
    Ok((StatusCode::CREATED, Json(order_from(order)?)))
}

/// A company's orders, oldest first.
#[utoipa::path(
    get,
    path = "/api/v1/companies/{company_id}/orders",
    tag = "orders",
    params(("company_id" = uuid::Uuid, Path), OrderQuery),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, body = OrderPage),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    person: Person,
    PathParams(company_id): PathParams<String>,
    QueryParams(query): QueryParams<OrderQuery>,
) -> Result<Json<OrderPage>, ApiError> {
    list_orders(&state, &person, company_id, query)
        .await
        .map(Json)
}

/// One order, to anyone who may see the company's orders.
#[utoipa::path(
    get,
    path = "/api/v1/orders/{order_id}",
    tag = "orders",
    params(("order_id" = uuid::Uuid, Path)),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, body = Order),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    person: Person,
    PathParams(order_id): PathParams<String>,
) -> Result<Json<Order>, ApiError> {
    let order = state
        .orders
        .clone()
        .get_order(person.request(pb::GetOrderRequest { order_id }))
        .await?
        .into_inner()
        .order;
    order_from(order).map(Json)
}

/// Adds a worker to a draft order.
#[utoipa::path(
    post,
    path = "/api/v1/orders/{order_id}/workers",
    tag = "orders",
    params(("order_id" = uuid::Uuid, Path)),
    request_body = NewWorker,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 201, body = WorkerAdded),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn add_worker(
    State(state): State<AppState>,
    person: Person,
    PathParams(order_id): PathParams<String>,
    JsonBody(worker): JsonBody<NewWorker>,
) -> Result<(StatusCode, Json<WorkerAdded>), ApiError> {
    let added = state
        .orders
        .clone()
        .add_worker(person.request(pb::AddWorkerRequest {
            order_id,
            worker: Some(worker_to_proto(worker)),
        }))
        .await?
        .into_inner();
    Ok((
        StatusCode::CREATED,
        Json(WorkerAdded {
            order: order_from(added.order)?,
            worker: added.worker.map(worker_from).transpose()?,
        }),
    ))
}

/// Takes a worker off an order not yet decided; their data, documents
/// included, is destroyed at once. A submitted order keeps at least one.
#[utoipa::path(
    delete,
    path = "/api/v1/orders/{order_id}/workers/{worker_id}",
    tag = "orders",
    params(("order_id" = uuid::Uuid, Path), ("worker_id" = uuid::Uuid, Path)),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, body = Order),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The order is decided, or this is its last worker", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn remove_worker(
    State(state): State<AppState>,
    person: Person,
    PathParams((order_id, worker_id)): PathParams<(String, String)>,
) -> Result<Json<Order>, ApiError> {
    let order = state
        .orders
        .clone()
        .remove_worker(person.request(pb::RemoveWorkerRequest {
            order_id,
            worker_id,
        }))
        .await?
        .into_inner()
        .order;
    order_from(order).map(Json)
}

/// Submits a draft order to the back office, or resubmits one sent back
/// for correction; every worker needs a passport photo, an ID document and
/// a signature first, none of them rejected.
#[utoipa::path(
    post,
    path = "/api/v1/orders/{order_id}/submit",
    tag = "orders",
    params(("order_id" = uuid::Uuid, Path)),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, body = Order),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Documents missing, or already decided", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn submit(
    State(state): State<AppState>,
    person: Person,
    PathParams(order_id): PathParams<String>,
) -> Result<Json<Order>, ApiError> {
    let order = state
        .orders
        .clone()
        .submit_order(person.request(pb::SubmitOrderRequest { order_id }))
        .await?
        .into_inner()
        .order;
    order_from(order).map(Json)
}

/// Back office: orders of every company, oldest first; the queue is
/// `status=submitted`.
#[utoipa::path(
    get,
    path = "/api/v1/backoffice/orders",
    tag = "back office",
    params(OrderQuery),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, body = OrderPage),
    )
)]
pub async fn queue(
    State(state): State<AppState>,
    person: Person,
    QueryParams(query): QueryParams<OrderQuery>,
) -> Result<Json<OrderPage>, ApiError> {
    list_orders(&state, &person, String::new(), query)
        .await
        .map(Json)
}

/// Back office: approves a submitted order. Its personal data is deleted
/// shortly after.
#[utoipa::path(
    post,
    path = "/api/v1/backoffice/orders/{order_id}/approve",
    tag = "back office",
    params(("order_id" = uuid::Uuid, Path)),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, body = Order),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn approve(
    State(state): State<AppState>,
    person: Person,
    PathParams(order_id): PathParams<String>,
) -> Result<Json<Order>, ApiError> {
    decide(&state, &person, order_id, None).await
}

/// Back office: rejects a submitted order, with a reason for the company.
#[utoipa::path(
    post,
    path = "/api/v1/backoffice/orders/{order_id}/reject",
    tag = "back office",
    params(("order_id" = uuid::Uuid, Path)),
    request_body = Reason,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, body = Order),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn reject(
    State(state): State<AppState>,
    person: Person,
    PathParams(order_id): PathParams<String>,
    JsonBody(reason): JsonBody<Reason>,
) -> Result<Json<Order>, ApiError> {
    decide(&state, &person, order_id, Some(reason.reason)).await
}

/// Back office: sends a submitted order back to the company with the
/// documents it rejects. Those are destroyed at once; the others count as
/// accepted. The company uploads replacements and submits again.
#[utoipa::path(
    post,
    path = "/api/v1/backoffice/orders/{order_id}/return",
    tag = "back office",
    params(("order_id" = uuid::Uuid, Path)),
    request_body = Correction,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, body = Order),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn return_for_correction(
    State(state): State<AppState>,
    person: Person,
    PathParams(order_id): PathParams<String>,
    JsonBody(correction): JsonBody<Correction>,
) -> Result<Json<Order>, ApiError> {
    let rejections = correction
        .rejections
        .into_iter()
        .map(|rejection| pb::DocumentRejection {
            document_id: rejection.document_id,
            reason: rejection.reason.to_i32(),
            note: rejection.note.unwrap_or_default(),
        })
        .collect();
    let order = state
        .orders
        .clone()
        .return_order_for_correction(person.request(pb::ReturnOrderForCorrectionRequest {
            order_id,
            rejections,
        }))
        .await?
        .into_inner()
        .order;
    order_from(order).map(Json)
}

/// The back office's decision, asked of orders: approved without a reason,
/// rejected with one.
async fn decide(
    state: &AppState,
    person: &Person,
    order_id: String,
    rejected_because: Option<String>,
) -> Result<Json<Order>, ApiError> {
    let mut orders = state.orders.clone();
    let order = match rejected_because {
        None => {
            orders
                .approve_order(person.request(pb::ApproveOrderRequest { order_id }))
                .await?
                .into_inner()
                .order
        }
        Some(reason) => {
            orders
                .reject_order(person.request(pb::RejectOrderRequest { order_id, reason }))
                .await?
                .into_inner()
                .order
        }
    };
    order_from(order).map(Json)
}

async fn list_orders(
    state: &AppState,
    person: &Person,
    company_id: String,
    query: OrderQuery,
) -> Result<OrderPage, ApiError> {
    let page = state
        .orders
        .clone()
        .list_orders(
            person.request(pb::ListOrdersRequest {
                company_id,
                // Left out: any status.
                status: query
                    .status
                    .map_or(pb::OrderStatus::Unspecified.into(), ProtoEnum::to_i32),
                page_size: PageSize::requested(query.page_size),
                page_token: query.page_token.unwrap_or_default(),
            }),
        )
        .await?
        .into_inner();
    Ok(OrderPage {
        orders: page
            .orders
            .into_iter()
            .map(|order| order_from(Some(order)))
            .collect::<Result<_, _>>()?,
        next_page_token: non_empty(page.next_page_token),
    })
}

fn worker_to_proto(worker: NewWorker) -> pb::NewWorker {
    pb::NewWorker {
        name: worker.name,
        national_id: worker.national_id,
        phone: worker.phone,
        card_type: worker.card_type.to_i32(),
        employment_ends_on: worker
            .employment_ends_on
            .map(|day| day.to_string())
            .unwrap_or_default(),
    }
}

fn worker_from(worker: pb::Worker) -> Result<Worker, ApiError> {
    Ok(Worker {
        worker_id: worker.worker_id,
        name: non_empty(worker.name),
        national_id_masked: worker.national_id_masked,
        national_id_kind: NationalIdKind::answered(worker.national_id_kind)?,
        phone: non_empty(worker.phone),
        card_type: CardType::answered(worker.card_type)?,
        register_check: worker.register_check.map(check_from).transpose()?,
        employment_ends_on: match worker.employment_ends_on.as_str() {
            "" => None,
            day => Some(
                NaiveDate::parse_from_str(day, "%Y-%m-%d")
                    .map_err(|_| ApiError::bad_answer("a date"))?,
            ),
        },
    })
}

fn order_from(order: Option<pb::Order>) -> Result<Order, ApiError> {
    let order = order.ok_or_else(|| ApiError::bad_answer("no order"))?;
    let status = OrderStatus::answered(order.status)?;
    Ok(Order {
        created_at: time(order.created_at.as_ref()),
        submitted_at: time(order.submitted_at.as_ref()),
        decided_at: time(order.decided_at.as_ref()),
        national_ids_masked_at: time(order.national_ids_masked_at.as_ref()),
        order_id: order.order_id,
        company_id: order.company_id,
        status,
        workers: order
            .workers
            .into_iter()
            .map(worker_from)
            .collect::<Result<_, _>>()?,
        price: order.price.map(|price| Price {
            unit_net_ore: price.unit_net_ore,
            quantity: price.quantity,
            net_ore: price.net_ore,
            vat_rate_basis_points: price.vat_rate_basis_points,
            vat_ore: price.vat_ore,
            gross_ore: price.gross_ore,
            currency: price.currency,
        }),
        rejection_reason: non_empty(order.rejection_reason),
        returned_at: time(order.returned_at.as_ref()),
        closed_because: match status {
            OrderStatus::Closed => Some(ClosureReason::answered(order.closed_because)?),
            _ => None,
        },
        reviews: order
            .reviews
            .into_iter()
            .map(review_from)
            .collect::<Result<_, _>>()?,
    })
}

fn check_from(check: pb::RegisterCheck) -> Result<RegisterCheck, ApiError> {
    let state = CheckState::answered(check.state)?;
    let done = state == CheckState::Done;
    Ok(RegisterCheck {
        state,
        person: done
            .then(|| PersonFinding::answered(check.person))
            .transpose()?,
        name_matches: done.then_some(check.name_matches),
        employment: done
            .then(|| EmploymentFinding::answered(check.employment))
            .transpose()?,
        checked_at: time(check.checked_at.as_ref()),
        waiting_for: non_empty(check.waiting_for),
    })
}

fn review_from(review: pb::DocumentReview) -> Result<DocumentReview, ApiError> {
    let decision = Decision::answered(review.decision)?;
    Ok(DocumentReview {
        reason: match decision {
            Decision::Rejected => Some(RejectionReason::answered(review.reason)?),
            Decision::Accepted => None,
        },
        decided_at: time(review.decided_at.as_ref()),
        kind: DocumentKind::answered(review.kind)?,
        document_id: review.document_id,
        worker_id: review.worker_id,
        decision,
        note: non_empty(review.note),
    })
}
