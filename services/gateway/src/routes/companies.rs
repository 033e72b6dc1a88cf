//! Companies: registration by their owners, and what anyone with access
//! sees of them.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use hms_proto::ProtoEnum;
use hms_proto::companies::v1 as pb;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Answered, PageSize, Reason, non_empty, time};
use crate::auth::Person;
use crate::extract::{JsonBody, PathParams, QueryParams};
use crate::problem::{ApiError, Problem};
use crate::state::AppState;

/// The trade a company's workers need cards for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Industry {
    Construction,
    Cleaning,
}

hms_proto::proto_enum!(Industry => pb::Industry { Construction, Cleaning });

/// The language a company is written to in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Language {
    /// Norwegian bokmål.
    Nb,
    /// English.
    En,
}

hms_proto::proto_enum!(Language => pb::Language { Nb, En });

/// Where a company stands with the back office.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CompanyStatus {
    Pending,
    Approved,
    Rejected,
    Suspended,
}

hms_proto::proto_enum!(CompanyStatus => pb::CompanyStatus { Pending, Approved, Rejected, Suspended });

/// How the authorities reach a company.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Contact {
    #[schema(example = "post@nordmannbygg.no")]
    pub email: String,
    /// E.164, for example `+4791234567`.
    #[schema(example = "+4791234567")]
    pub phone: String,
}

impl From<Contact> for pb::ContactInfo {
    fn from(contact: Contact) -> Self {
        Self {
            email: contact.email,
            phone: contact.phone,
        }
    }
}

impl From<pb::ContactInfo> for Contact {
    fn from(contact: pb::ContactInfo) -> Self {
        Self {
            email: contact.email,
            phone: contact.phone,
        }
    }
}

/// A company as its owner registers it.
#[derive(Debug, Deserialize, ToSchema)]
pub struct NewCompany {
    /// The 9-digit organisasjonsnummer.
    #[schema(example = "310100005")]
    pub org_number: String,
    pub name: String,
    pub contact: Contact,
    pub industry: Industry,
    /// What the company is written to in; Norwegian bokmål when left out.
    #[serde(default)]
    pub language: Option<Language>,
}

/// A registered company.
#[derive(Debug, Serialize, ToSchema)]
pub struct Company {
    pub company_id: String,
    pub org_number: String,
    pub name: String,
    pub contact: Contact,
    pub industry: Industry,
    pub language: Language,
    pub status: CompanyStatus,
    /// Why the back office rejected or suspended it.
    pub status_reason: Option<String>,
    pub registered_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
}

/// Registers a company. Only its owners in the Central Coordinating
/// Register may; it then waits for the back office.
#[utoipa::path(
    post,
    path = "/api/v1/companies",
    tag = "companies",
    request_body = NewCompany,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 201, body = Company),
        (status = 403, description = "Not an owner in the register", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already registered", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn register(
    State(state): State<AppState>,
    person: Person,
    JsonBody(new): JsonBody<NewCompany>,
) -> Result<(StatusCode, Json<Company>), ApiError> {
    let company = state
        .companies
        .clone()
        .register_company(
            person.request(pb::RegisterCompanyRequest {
                org_number: new.org_number,
                name: new.name,
                contact: Some(new.contact.into()),
                industry: new.industry.to_i32(),
                language: new
                    .language
                    .map_or(pb::Language::Unspecified.into(), ProtoEnum::to_i32),
            }),
        )
        .await?
        .into_inner()
        .company;
    Ok((StatusCode::CREATED, Json(company_from(company)?)))
}

/// One company, to anyone with access to it. Anyone else gets `404`, as
/// for a company that does not exist.
#[utoipa::path(
    get,
    path = "/api/v1/companies/{company_id}",
    tag = "companies",
    params(("company_id" = uuid::Uuid, Path, description = "The company's id")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, body = Company),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    person: Person,
    PathParams(company_id): PathParams<String>,
) -> Result<Json<Company>, ApiError> {
    let company = state
        .companies
        .clone()
        .get_company(person.request(pb::GetCompanyRequest { company_id }))
        .await?
        .into_inner()
        .company;
    company_from(company).map(Json)
}

fn company_from(company: Option<pb::Company>) -> Result<Company, ApiError> {
    let company = company.ok_or_else(|| ApiError::bad_answer("no company"))?;
    Ok(Company {
        registered_at: time(company.registered_at.as_ref()),
        updated_at: time(company.updated_at.as_ref()),
        company_id: company.company_id,
        org_number: company.org_number,
        name: company.name,
        contact: company.contact.unwrap_or_default().into(),
        industry: Industry::answered(company.industry)?,
        language: Language::answered(company.language)?,
        status: CompanyStatus::answered(company.status)?,
        status_reason: non_empty(company.status_reason),
    })
}

/// One change of a company's contact details.
#[derive(Debug, Serialize, ToSchema)]
pub struct ContactChange {
    pub old_contact: Contact,
    pub new_contact: Contact,
    /// The person who changed it.
    pub changed_by_user_id: String,
    pub changed_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CompanyPage {
    pub companies: Vec<Company>,
    /// Pass as `page_token` for the next page; absent on the last.
    pub next_page_token: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CompanyQuery {
    /// Only companies in this status; the queue is `pending`.
    pub status: Option<CompanyStatus>,
    /// At most this many: 1 to 500, 50 when absent.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 500)]
    pub page_size: Option<PageSize>,
    pub page_token: Option<String>,
}

/// Changes how the authorities reach the company. Needs
/// `company:contact:write` (never a supplier's) and a recent login.
#[utoipa::path(
    put,
    path = "/api/v1/companies/{company_id}/contact",
    tag = "companies",
    params(("company_id" = uuid::Uuid, Path)),
    request_body = Contact,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, body = Company),
        (status = 403, description = "Not allowed, or the login is too old: log in again", body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn update_contact(
    State(state): State<AppState>,
    person: Person,
    PathParams(company_id): PathParams<String>,
    JsonBody(contact): JsonBody<Contact>,
) -> Result<Json<Company>, ApiError> {
    let company = state
        .companies
        .clone()
        .update_contact_info(person.request(pb::UpdateContactInfoRequest {
            company_id,
            contact: Some(contact.into()),
        }))
        .await?
        .into_inner()
        .company;
    company_from(company).map(Json)
}

/// Every change of the company's contact details, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/companies/{company_id}/contact/history",
    tag = "companies",
    params(("company_id" = uuid::Uuid, Path)),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, body = [ContactChange]),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn contact_history(
    State(state): State<AppState>,
    person: Person,
    PathParams(company_id): PathParams<String>,
) -> Result<Json<Vec<ContactChange>>, ApiError> {
    let changes = state
        .companies
        .clone()
        .list_contact_history(person.request(pb::ListContactHistoryRequest { company_id }))
        .await?
        .into_inner()
        .changes;
    Ok(Json(
        changes
            .into_iter()
            .map(|change| ContactChange {
                old_contact: change.old_contact.unwrap_or_default().into(),
                new_contact: change.new_contact.unwrap_or_default().into(),
                changed_at: time(change.changed_at.as_ref()),
                changed_by_user_id: change.changed_by_user_id,
            })
            .collect(),
    ))
}

/// Back office: companies, oldest first; the queue is `status=pending`.
#[utoipa::path(
    get,
    path = "/api/v1/backoffice/companies",
    tag = "back office",
    params(CompanyQuery),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, body = CompanyPage),
    )
)]
pub async fn queue(
    State(state): State<AppState>,
    person: Person,
    QueryParams(query): QueryParams<CompanyQuery>,
) -> Result<Json<CompanyPage>, ApiError> {
    let page = state
        .companies
        .clone()
        .list_companies(
            person.request(pb::ListCompaniesRequest {
                // Left out: any status.
                status: query
                    .status
                    .map_or(pb::CompanyStatus::Unspecified.into(), ProtoEnum::to_i32),
                page_size: PageSize::requested(query.page_size),
                page_token: query.page_token.unwrap_or_default(),
            }),
        )
        .await?
        .into_inner();
    Ok(Json(CompanyPage {
        companies: page
            .companies
            .into_iter()
            .map(|company| company_from(Some(company)))
            .collect::<Result<_, _>>()?,
        next_page_token: non_empty(page.next_page_token),
    }))
}

/// Back office: approves a pending company, or reinstates a suspended one.
#[utoipa::path(
    post,
    path = "/api/v1/backoffice/companies/{company_id}/approve",
    tag = "back office",
    params(("company_id" = uuid::Uuid, Path)),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, body = Company),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn approve(
    State(state): State<AppState>,
    person: Person,
    PathParams(company_id): PathParams<String>,
) -> Result<Json<Company>, ApiError> {
    decide(&state, &person, company_id, Decision::Approve).await
}

/// Back office: rejects a pending company, with a reason.
#[utoipa::path(
    post,
    path = "/api/v1/backoffice/companies/{company_id}/reject",
    tag = "back office",
    params(("company_id" = uuid::Uuid, Path)),
    request_body = Reason,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, body = Company),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn reject(
    State(state): State<AppState>,
    person: Person,
    PathParams(company_id): PathParams<String>,
    JsonBody(reason): JsonBody<Reason>,
) -> Result<Json<Company>, ApiError> {
    decide(&state, &person, company_id, Decision::Reject(reason.reason)).await
}

/// Back office: suspends an approved company, with a reason.
#[utoipa::path(
    post,
    path = "/api/v1/backoffice/companies/{company_id}/suspend",
    tag = "back office",
    params(("company_id" = uuid::Uuid, Path)),
    request_body = Reason,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, body = Company),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn suspend(
    State(state): State<AppState>,
    person: Person,
    PathParams(company_id): PathParams<String>,
    JsonBody(reason): JsonBody<Reason>,
) -> Result<Json<Company>, ApiError> {
    decide(
        &state,
        &person,
        company_id,
        Decision::Suspend(reason.reason),
    )
    .await
}

/// What the back office decides about a company, with its reason.
enum Decision {
    Approve,
    Reject(String),
    Suspend(String),
}

/// The back office's decision, asked of companies: one route each, one way
/// to ask.
async fn decide(
    state: &AppState,
    person: &Person,
    company_id: String,
    decision: Decision,
) -> Result<Json<Company>, ApiError> {
    let mut companies = state.companies.clone();
    let company = match decision {
        Decision::Approve => {
            companies
                .approve_company(person.request(pb::ApproveCompanyRequest { company_id }))
                .await?
                .into_inner()
                .company
        }
        Decision::Reject(reason) => {
            companies
                .reject_company(person.request(pb::RejectCompanyRequest { company_id, reason }))
                .await?
                .into_inner()
                .company
        }
        Decision::Suspend(reason) => {
            companies
                .suspend_company(person.request(pb::SuspendCompanyRequest { company_id, reason }))
                .await?
                .into_inner()
                .company
        }
    };
    company_from(company).map(Json)
}
