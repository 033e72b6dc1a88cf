//! A company's access log: who processed its workers' personal data (and
//! changed who may act for it), why and when, as one hash chain per
//! company with signed checkpoints. Read page by page, or exported whole as
//! CSV or JSON.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use hms_proto::audit::v1 as pb;
use http::{HeaderValue, header};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Answered, PageSize, non_empty, published_json, time};
use crate::auth::Person;
use crate::extract::{PathParams, QueryParams};
use crate::problem::{ApiError, Problem, ProblemKind};
use crate::state::AppState;

/// What was done with personal data, or with access to the company.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AccessAction {
    WorkerDataCreated,
    WorkerDataRead,
    DocumentUploaded,
    DocumentDownloaded,
    RegisterChecked,
    PrintMaterialSent,
    NationalIdMasked,
    DocumentsDestroyed,
    GrantGiven,
    GrantRevoked,
    GrantFirstUsed,
}

impl AccessAction {
    /// As the JSON names it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::WorkerDataCreated => "worker_data_created",
            Self::WorkerDataRead => "worker_data_read",
            Self::DocumentUploaded => "document_uploaded",
            Self::DocumentDownloaded => "document_downloaded",
            Self::RegisterChecked => "register_checked",
            Self::PrintMaterialSent => "print_material_sent",
            Self::NationalIdMasked => "national_id_masked",
            Self::DocumentsDestroyed => "documents_destroyed",
            Self::GrantGiven => "grant_given",
            Self::GrantRevoked => "grant_revoked",
            Self::GrantFirstUsed => "grant_first_used",
        }
    }
}

hms_proto::proto_enum!(AccessAction => pb::AccessAction {
    WorkerDataCreated,
    WorkerDataRead,
    DocumentUploaded,
    DocumentDownloaded,
    RegisterChecked,
    PrintMaterialSent,
    NationalIdMasked,
    DocumentsDestroyed,
    GrantGiven,
    GrantRevoked,
    GrantFirstUsed,
});

/// Why it was done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AccessPurpose {
    Ordering,
    CaseReview,
    RegisterCheck,
    CardPrinting,
    DataDeletion,
    AccessManagement,
}

impl AccessPurpose {
    /// As the JSON names it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Ordering => "ordering",
            Self::CaseReview => "case_review",
            Self::RegisterCheck => "register_check",
            Self::CardPrinting => "card_printing",
            Self::DataDeletion => "data_deletion",
            Self::AccessManagement => "access_management",
        }
    }
}

hms_proto::proto_enum!(AccessPurpose => pb::AccessPurpose {
    Ordering,
    CaseReview,
    RegisterCheck,
    CardPrinting,
    DataDeletion,
    AccessManagement,
});

/// One entry of the log.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccessEntry {
    /// 1, 2, … within the company's chain.
    pub seq: u64,
    pub action: AccessAction,
    pub purpose: AccessPurpose,
    /// `user:<id>` for a person, `service:<name>` for a service acting on
    /// its own.
    pub actor: String,
    pub order_id: Option<String>,
    /// The workers whose data it was, by id.
    pub worker_ids: Vec<String>,
    pub document_id: Option<String>,
    pub grant_id: Option<String>,
    pub occurred_at: Option<DateTime<Utc>>,
    pub recorded_at: Option<DateTime<Utc>>,
    /// SHA-256 (hex) of this entry and `previous_hash`.
    pub hash: String,
    pub previous_hash: String,
}

/// A signed statement of the chain's head.
#[derive(Debug, Serialize, ToSchema)]
pub struct Checkpoint {
    pub seq: u64,
    pub head_hash: String,
    pub signed_at: Option<DateTime<Utc>>,
    /// A compact JWS (EdDSA) to check against
    /// `/api/v1/public/access-log/keys`.
    pub signed: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AccessLogPage {
    pub entries: Vec<AccessEntry>,
    /// Pass as `page_token` for the next page; absent on the last.
    pub next_page_token: Option<String>,
    /// The newest signed checkpoint of the company's chain.
    pub checkpoint: Option<Checkpoint>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AccessLogQuery {
    /// Only entries about this worker.
    pub worker_id: Option<String>,
    /// Only entries that occurred at or after this time (RFC 3339).
    pub from: Option<DateTime<Utc>>,
    /// Only entries that occurred before this time (RFC 3339).
    pub until: Option<DateTime<Utc>>,
    /// At most this many: 1 to 500, 100 when absent.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 500)]
    pub page_size: Option<PageSize>,
    pub page_token: Option<String>,
}

/// How an export is written.
#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExportFormat {
    #[default]
    Csv,
    Json,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// `csv` (the default) or `json`.
    #[param(inline)]
    pub format: Option<ExportFormat>,
    /// Only entries about this worker.
    pub worker_id: Option<String>,
    /// Only entries that occurred at or after this time (RFC 3339).
    pub from: Option<DateTime<Utc>>,
    /// Only entries that occurred before this time (RFC 3339).
    pub until: Option<DateTime<Utc>>,
}

/// The most entries one export holds: a longer log is exported by period.
const EXPORT_MAX: usize = 100_000;
const EXPORT_PAGE: u32 = 1000;

pub(crate) fn entry_from(entry: pb::AccessEntry) -> Result<AccessEntry, ApiError> {
    Ok(AccessEntry {
        seq: entry.seq,
        action: AccessAction::answered(entry.action)?,
        purpose: AccessPurpose::answered(entry.purpose)?,
        actor: entry.actor,
        order_id: non_empty(entry.order_id),
        worker_ids: entry.worker_ids,
        document_id: non_empty(entry.document_id),
        grant_id: non_empty(entry.grant_id),
        occurred_at: time(entry.occurred_at.as_ref()),
        recorded_at: time(entry.recorded_at.as_ref()),
        hash: entry.hash,
        previous_hash: entry.previous_hash,
    })
}

fn checkpoint_from(checkpoint: pb::Checkpoint) -> Checkpoint {
    Checkpoint {
        seq: checkpoint.seq,
        head_hash: checkpoint.head_hash,
        signed_at: time(checkpoint.signed_at.as_ref()),
        signed: checkpoint.signed,
    }
}

fn request(
    company_id: String,
    worker_id: Option<String>,
    from: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    page_size: u32,
    page_token: String,
) -> pb::ListAccessLogRequest {
    pb::ListAccessLogRequest {
        company_id,
        worker_id: worker_id.unwrap_or_default(),
        from: from.map(hms_proto::time::timestamp),
        until: until.map(hms_proto::time::timestamp),
        page_size,
        page_token,
    }
}

/// A page of the company's access log, oldest first: to those who may read
/// its orders, and the back office.
#[utoipa::path(
    get,
    path = "/api/v1/companies/{company_id}/access-log",
    tag = "companies",
    params(("company_id" = uuid::Uuid, Path), AccessLogQuery),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, body = AccessLogPage),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    person: Person,
    PathParams(company_id): PathParams<String>,
    QueryParams(query): QueryParams<AccessLogQuery>,
) -> Result<Json<AccessLogPage>, ApiError> {
    let page = state
        .audit
        .clone()
        .list_access_log(person.request(request(
            company_id,
            query.worker_id,
            query.from,
            query.until,
            PageSize::requested(query.page_size),
            query.page_token.unwrap_or_default(),
        )))
        .await?
        .into_inner();
    Ok(Json(AccessLogPage {
        entries: page
            .entries
            .into_iter()
            .map(entry_from)
            .collect::<Result<_, _>>()?,
        next_page_token: non_empty(page.next_page_token),
        checkpoint: page.checkpoint.map(checkpoint_from),
    }))
}

/// The company's whole access log (or one worker's entries, or one
/// period's) as a file: CSV or JSON, at most 100,000 entries.
#[utoipa::path(
    get,
    path = "/api/v1/companies/{company_id}/access-log/export",
    tag = "companies",
    params(("company_id" = uuid::Uuid, Path), ExportQuery),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The log as a file", content_type = "text/csv"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "More than 100,000 entries: export a shorter period", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn export(
    State(state): State<AppState>,
    person: Person,
    PathParams(company_id): PathParams<String>,
    QueryParams(query): QueryParams<ExportQuery>,
) -> Result<Response, ApiError> {
    let mut entries = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = state
            .audit
            .clone()
            .list_access_log(person.request(request(
                company_id.clone(),
                query.worker_id.clone(),
                query.from,
                query.until,
                EXPORT_PAGE,
                page_token,
            )))
            .await?
            .into_inner();
        for entry in page.entries {
            entries.push(entry_from(entry)?);
        }
        if entries.len() > EXPORT_MAX {
            return Err(ApiError::new(
                ProblemKind::PayloadTooLarge,
                "more than 100,000 entries: export a shorter period (from, until)",
            ));
        }
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    let (content_type, extension, body) = match query.format.unwrap_or_default() {
        ExportFormat::Csv => (
            "text/csv; charset=utf-8",
            "csv",
            csv(&entries).into_response(),
        ),
        ExportFormat::Json => ("application/json", "json", Json(entries).into_response()),
    };
    let disposition = HeaderValue::from_str(&format!(
        "attachment; filename=\"access-log-{company_id}.{extension}\""
    ))
    .map_err(|_| ApiError::bad_answer("a file name"))?;
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CONTENT_DISPOSITION, disposition),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("private, no-store"),
            ),
        ],
        body,
    )
        .into_response())
}

/// RFC 4180 CSV. Every field is an id, a fixed word, a time or a hash, so
/// none needs quoting; the actor is quoted all the same.
fn csv(entries: &[AccessEntry]) -> String {
    let at = |at: &Option<DateTime<Utc>>| at.map(|at| at.to_rfc3339()).unwrap_or_default();
    let mut out = String::from(
        "seq,occurred_at,recorded_at,action,purpose,actor,order_id,worker_ids,document_id,grant_id,hash,previous_hash\r\n",
    );
    for entry in entries {
        out.push_str(&format!(
            "{},{},{},{},{},\"{}\",{},{},{},{},{},{}\r\n",
            entry.seq,
            at(&entry.occurred_at),
            at(&entry.recorded_at),
            entry.action.as_str(),
            entry.purpose.as_str(),
            entry.actor.replace('"', "\"\""),
            entry.order_id.as_deref().unwrap_or_default(),
            entry.worker_ids.join(" "),
            entry.document_id.as_deref().unwrap_or_default(),
            entry.grant_id.as_deref().unwrap_or_default(),
            entry.hash,
            entry.previous_hash,
        ));
    }
    out
}

/// The public keys the access log's checkpoints are signed with (a JWKS
/// of Ed25519 keys). Open to anyone.
#[utoipa::path(
    get,
    path = "/api/v1/public/access-log/keys",
    tag = "companies",
    responses(
        (status = 200, description = "A JWKS (RFC 7517) of OKP Ed25519 keys", content_type = "application/json"),
    )
)]
pub async fn keys(State(state): State<AppState>) -> Result<Response, ApiError> {
    let answer = state
        .audit
        .clone()
        .get_checkpoint_keys(pb::GetCheckpointKeysRequest {})
        .await?
        .into_inner();
    Ok(published_json(answer.key_set_json))
}
