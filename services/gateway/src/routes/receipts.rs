//! Deletion receipts: what the platform removed of an order's personal
//! data and when, signed so that the company (or anyone it shows the
//! receipt to) can check it offline against the published keys
//! (`hms-receipt-verify`).

use axum::Json;
use axum::extract::State;
use axum::response::Response;
use chrono::{DateTime, Utc};
use hms_proto::redaction::v1 as pb;
use serde::Serialize;
use utoipa::ToSchema;

use super::{Answered, non_empty, published_json, time};
use crate::auth::Person;
use crate::extract::PathParams;
use crate::problem::{ApiError, Problem};
use crate::state::AppState;

/// Why an order's personal data was deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeletionCause {
    /// Approved: the cards are made, the documents printed first.
    Approved,
    Rejected,
    /// A draft not submitted in time.
    DraftAbandoned,
    /// Returned for correction and not submitted again in time.
    CorrectionAbandoned,
    /// The company was rejected or suspended too long ago.
    CompanyIneligible,
}

hms_proto::proto_enum!(DeletionCause => pb::RedactionCause {
    Approved,
    Rejected,
    DraftAbandoned,
    CorrectionAbandoned,
    CompanyIneligible,
});

/// What was removed of one order's personal data, and when.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeletionReceipt {
    pub order_id: String,
    pub company_id: String,
    /// Absent on receipts from before causes were recorded.
    pub cause: Option<DeletionCause>,
    /// National identity numbers masked to their first six digits.
    pub workers_masked: u32,
    /// Documents deleted from the object store.
    pub documents_deleted: u32,
    /// Per-document encryption keys destroyed.
    pub keys_destroyed: u32,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    /// The same, as the platform attests it: a compact JWS (EdDSA, `typ`
    /// `hms-deletion-receipt+jwt`) to check against
    /// `/api/v1/public/receipts/keys`, e.g. with `hms-receipt-verify`. It
    /// proves that the platform states this, not that it is true.
    pub signed: Option<String>,
}

pub(crate) fn receipt_from(receipt: Option<pb::Receipt>) -> Result<DeletionReceipt, ApiError> {
    let receipt = receipt.ok_or_else(|| ApiError::bad_answer("a receipt"))?;
    Ok(DeletionReceipt {
        order_id: receipt.order_id,
        company_id: receipt.company_id,
        cause: match receipt.cause {
            0 => None,
            cause => Some(DeletionCause::answered(cause)?),
        },
        workers_masked: receipt.workers_masked,
        documents_deleted: receipt.objects_deleted,
        keys_destroyed: receipt.keys_destroyed,
        started_at: time(receipt.started_at.as_ref()),
        completed_at: time(receipt.completed_at.as_ref()),
        signed: non_empty(receipt.signed),
    })
}

/// The deletion receipt of an order, once its personal data is gone: to
/// the company's people who may read its orders, and the back office.
#[utoipa::path(
    get,
    path = "/api/v1/orders/{order_id}/receipt",
    tag = "orders",
    params(("order_id" = uuid::Uuid, Path)),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, body = DeletionReceipt),
        (status = 404, description = "No such order, or not redacted yet", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn receipt(
    State(state): State<AppState>,
    person: Person,
    PathParams(order_id): PathParams<String>,
) -> Result<Json<DeletionReceipt>, ApiError> {
    let answer = state
        .redaction
        .clone()
        .get_receipt(person.request(pb::GetReceiptRequest { order_id }))
        .await?
        .into_inner();
    receipt_from(answer.receipt).map(Json)
}

/// The public keys deletion receipts are signed with (a JWKS of Ed25519
/// keys), to check a receipt offline. Open to anyone.
#[utoipa::path(
    get,
    path = "/api/v1/public/receipts/keys",
    tag = "orders",
    responses(
        (status = 200, description = "A JWKS (RFC 7517) of OKP Ed25519 keys", content_type = "application/json"),
    )
)]
pub async fn keys(State(state): State<AppState>) -> Result<Response, ApiError> {
    let answer = state
        .redaction
        .clone()
        .get_receipt_keys(pb::GetReceiptKeysRequest {})
        .await?
        .into_inner();
    Ok(published_json(answer.key_set_json))
}
