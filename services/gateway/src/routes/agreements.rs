//! The data processing agreement (GDPR art. 28) between the platform and
//! each company: read it, accept its current version (which a company must
//! have done before it orders), and, for the back office, publish a new one.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use hms_proto::companies::v1 as pb;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::time;
use crate::auth::Person;
use crate::extract::{JsonBody, PathParams};
use crate::problem::{ApiError, Problem};
use crate::state::AppState;

/// One version of the agreement.
#[derive(Debug, Serialize, ToSchema)]
pub struct Agreement {
    pub version: u32,
    /// The agreement (Markdown).
    pub text: String,
    /// SHA-256 of the text, hex: what an acceptance is bound to.
    pub sha256: String,
    pub published_at: Option<DateTime<Utc>>,
}

/// The company's acceptance of one version.
#[derive(Debug, Serialize, ToSchema)]
pub struct Acceptance {
    pub version: u32,
    pub sha256: String,
    /// The person who accepted it for the company.
    pub accepted_by_user_id: String,
    pub accepted_at: Option<DateTime<Utc>>,
}

/// The agreement as it stands for one company.
#[derive(Debug, Serialize, ToSchema)]
pub struct CompanyAgreement {
    pub current: Agreement,
    /// Whether the company has accepted the current version: until it has,
    /// it cannot order.
    pub current_accepted: bool,
    /// Every version the company accepted, newest first.
    pub acceptances: Vec<Acceptance>,
}

/// Which version the person read and accepts.
#[derive(Debug, Deserialize, ToSchema)]
pub struct Accept {
    pub version: u32,
}

/// A new version's text.
#[derive(Debug, Deserialize, ToSchema)]
pub struct NewAgreement {
    /// Markdown; bounded by the largest JSON body the gateway takes.
    pub text: String,
}

fn agreement_from(agreement: Option<pb::Agreement>) -> Result<Agreement, ApiError> {
    let agreement = agreement.ok_or_else(|| ApiError::bad_answer("an agreement"))?;
    Ok(Agreement {
        version: agreement.version,
        text: agreement.text,
        sha256: agreement.sha256,
        published_at: time(agreement.published_at.as_ref()),
    })
}

fn acceptance_from(acceptance: pb::AgreementAcceptance) -> Acceptance {
    Acceptance {
        version: acceptance.version,
        sha256: acceptance.sha256,
        accepted_by_user_id: acceptance.accepted_by_user_id,
        accepted_at: time(acceptance.accepted_at.as_ref()),
    }
}

/// The current agreement, and what the company accepted: to anyone with
/// access to the company, and the back office.
#[utoipa::path(
    get,
    path = "/api/v1/companies/{company_id}/agreement",
    tag = "companies",
    params(("company_id" = uuid::Uuid, Path)),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, body = CompanyAgreement),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    person: Person,
    PathParams(company_id): PathParams<String>,
) -> Result<Json<CompanyAgreement>, ApiError> {
    let answer = state
        .companies
        .clone()
        .get_agreement(person.request(pb::GetAgreementRequest { company_id }))
        .await?
        .into_inner();
    Ok(Json(CompanyAgreement {
        current: agreement_from(answer.current)?,
        current_accepted: answer.current_accepted,
        acceptances: answer
            .acceptances
            .into_iter()
            .map(acceptance_from)
            .collect(),
    }))
}

/// Accepts the current version for the company. Needs `access:manage`
/// and a recent login; accepting again changes nothing.
#[utoipa::path(
    post,
    path = "/api/v1/companies/{company_id}/agreement/acceptances",
    tag = "companies",
    params(("company_id" = uuid::Uuid, Path)),
    request_body = Accept,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 201, body = Acceptance),
        (status = 403, description = "Not allowed, or the login is too old: log in again", body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not the current version", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn accept(
    State(state): State<AppState>,
    person: Person,
    PathParams(company_id): PathParams<String>,
    JsonBody(accept): JsonBody<Accept>,
) -> Result<(StatusCode, Json<Acceptance>), ApiError> {
    let acceptance = state
        .companies
        .clone()
        .accept_agreement(person.request(pb::AcceptAgreementRequest {
            company_id,
            version: accept.version,
        }))
        .await?
        .into_inner()
        .acceptance
        .ok_or_else(|| ApiError::bad_answer("an acceptance"))?;
    Ok((StatusCode::CREATED, Json(acceptance_from(acceptance))))
}

/// Back office: publishes a new version, which every company must accept
/// before its next order. The current text again publishes nothing.
#[utoipa::path(
    post,
    path = "/api/v1/backoffice/agreements",
    tag = "back office",
    request_body = NewAgreement,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 201, body = Agreement),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn publish(
    State(state): State<AppState>,
    person: Person,
    JsonBody(new): JsonBody<NewAgreement>,
) -> Result<(StatusCode, Json<Agreement>), ApiError> {
    let agreement = state
        .companies
        .clone()
        .publish_agreement(person.request(pb::PublishAgreementRequest { text: new.text }))
        .await?
        .into_inner()
        .agreement;
    Ok((StatusCode::CREATED, Json(agreement_from(agreement)?)))
}
