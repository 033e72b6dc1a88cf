//! A person about themselves (GDPR art. 15), logged in with BankID and
//! needing no company role: the records of them as a worker, whichever
//! company ordered them, what is held of them there now, their cards, the
//! deletion receipts, and every access to their data. Nothing about anyone
//! else.

use std::collections::BTreeSet;

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use hms_proto::orders::v1 as orders_pb;
use serde::Serialize;
use tonic::Code;
use utoipa::ToSchema;

use super::access_log::{AccessEntry, entry_from};
use super::cards::{Card, card_from};
use super::orders::{CardType, ClosureReason, OrderStatus};
use super::receipts::{DeletionReceipt, receipt_from};
use super::{Answered, non_empty, time};
use crate::auth::Person;
use crate::problem::ApiError;
use crate::state::AppState;

/// One order's record of the person, and what it holds of them now.
#[derive(Debug, Serialize, ToSchema)]
pub struct MyRecord {
    pub order_id: String,
    pub worker_id: String,
    /// The employer that ordered the card.
    pub company_id: String,
    pub company_name: Option<String>,
    pub company_org_number: Option<String>,
    pub order_status: OrderStatus,
    pub closed_because: Option<ClosureReason>,
    pub card_type: CardType,
    pub ordered_at: Option<DateTime<Utc>>,
    pub decided_at: Option<DateTime<Utc>>,
    /// What is held now: the name (absent once erased), whether the phone
    /// number and the full national identity number are still held, and
    /// what the registers said.
    pub name: Option<String>,
    pub phone_held: bool,
    pub national_id_masked: String,
    pub national_id_held: bool,
    pub national_id_masked_at: Option<DateTime<Utc>>,
    pub register_findings_held: bool,
}

/// Everything held about the person.
#[derive(Debug, Serialize, ToSchema)]
pub struct MyData {
    pub records: Vec<MyRecord>,
    pub cards: Vec<Card>,
    /// The signed deletion receipts of the orders the person was in.
    pub receipts: Vec<DeletionReceipt>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MyAccessLog {
    /// Newest first, at most 1,000; each names only the person's own
    /// worker ids.
    pub entries: Vec<AccessEntry>,
}

fn record_from(record: orders_pb::MyRecord) -> Result<MyRecord, ApiError> {
    Ok(MyRecord {
        order_status: OrderStatus::answered(record.order_status)?,
        closed_because: match record.closed_because {
            0 => None,
            reason => Some(ClosureReason::answered(reason)?),
        },
        card_type: CardType::answered(record.card_type)?,
        ordered_at: time(record.ordered_at.as_ref()),
        decided_at: time(record.decided_at.as_ref()),
        national_id_masked_at: time(record.national_id_masked_at.as_ref()),
        order_id: record.order_id,
        worker_id: record.worker_id,
        company_id: record.company_id,
        company_name: non_empty(record.company_name),
        company_org_number: non_empty(record.company_org_number),
        name: non_empty(record.name),
        phone_held: record.phone_held,
        national_id_masked: record.national_id_masked,
        national_id_held: record.national_id_held,
        register_findings_held: record.register_findings_held,
    })
}

/// What is held about the person as a worker: the records of them in
/// every company's orders, their cards and the deletion receipts.
#[utoipa::path(
    get,
    path = "/api/v1/me/records",
    tag = "session",
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, body = MyData),
    )
)]
pub async fn records(
    State(state): State<AppState>,
    person: Person,
) -> Result<Json<MyData>, ApiError> {
    let records = state
        .orders
        .clone()
        .list_my_records(person.request(orders_pb::ListMyRecordsRequest {}))
        .await?
        .into_inner()
        .records
        .into_iter()
        .map(record_from)
        .collect::<Result<Vec<_>, _>>()?;
    let cards = state
        .cards
        .clone()
        .list_my_cards(person.request(hms_proto::cards::v1::ListMyCardsRequest {}))
        .await?
        .into_inner()
        .cards
        .into_iter()
        .map(card_from)
        .collect::<Result<Vec<_>, _>>()?;
    let decided: BTreeSet<&str> = records
        .iter()
        .filter(|record| {
            matches!(
                record.order_status,
                OrderStatus::Approved | OrderStatus::Rejected | OrderStatus::Closed
            )
        })
        .map(|record| record.order_id.as_str())
        .collect();
    let mut receipts = Vec::new();
    for order_id in decided {
        let answer = state
            .redaction
            .clone()
            .get_receipt(person.request(hms_proto::redaction::v1::GetReceiptRequest {
                order_id: order_id.to_owned(),
            }))
            .await;
        match answer {
            Ok(answer) => receipts.push(receipt_from(answer.into_inner().receipt)?),
            // Not redacted yet.
            Err(status) if status.code() == Code::NotFound => {}
            Err(status) => return Err(status.into()),
        }
    }
    Ok(Json(MyData {
        records,
        cards,
        receipts,
    }))
}

/// Every access to the person's data as a worker, whichever company's log
/// it is in.
#[utoipa::path(
    get,
    path = "/api/v1/me/access-log",
    tag = "session",
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, body = MyAccessLog),
    )
)]
pub async fn access_log(
    State(state): State<AppState>,
    person: Person,
) -> Result<Json<MyAccessLog>, ApiError> {
    let entries = state
        .audit
        .clone()
        .list_my_access_log(person.request(hms_proto::audit::v1::ListMyAccessLogRequest {}))
        .await?
        .into_inner()
        .entries
        .into_iter()
        .map(entry_from)
        .collect::<Result<_, _>>()?;
    Ok(Json(MyAccessLog { entries }))
}
