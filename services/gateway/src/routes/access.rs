//! Who may act for a company: its owners in the register and the grants
//! they gave, to people and to suppliers, and those suppliers passed on.
//! Granting, passing on and revoking need `access:manage` (or being the
//! supplier's access manager) and a recent login.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use hms_proto::identity::v1 as pb;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Answered, non_empty, time};
use crate::auth::Person;
use crate::extract::{JsonBody, PathParams};
use crate::problem::{ApiError, Problem};
use crate::state::AppState;

/// Who receives a grant: a person (by fødselsnummer; it applies to them
/// from their next call) or a supplier company.
// Not Debug: it holds a secret or a national id.
#[derive(Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum NewGrantee {
    Person {
        national_id: String,
        /// The name you know them by, shown until they log in (then their
        /// name from BankID). Optional; no digits.
        #[serde(default)]
        name: Option<String>,
    },
    Supplier {
        org_number: String,
        /// Required: the company confirms that a data processing agreement
        /// (GDPR art. 28(4)) with the supplier is in place, since the
        /// supplier will process its workers' data.
        processor_agreement: ProcessorAgreement,
    },
}

/// A company's confirmation of its data processing agreement with a
/// supplier.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
pub struct ProcessorAgreement {
    /// Must be `true`.
    pub in_place: bool,
    /// The company's own reference to it (a contract number, say); at most
    /// 200 characters.
    #[serde(default)]
    pub reference: Option<String>,
    /// When it was confirmed; in answers.
    #[serde(default, skip_deserializing)]
    pub confirmed_at: Option<DateTime<Utc>>,
}

// Not Debug: it holds a secret or a national id.
#[derive(Deserialize, ToSchema)]
pub struct NewGrant {
    pub grantee: NewGrantee,
    /// Some of `cards:order`, `workers:read`, `company:contact:write`,
    /// `access:manage`; the last two never to a supplier.
    pub scopes: Vec<String>,
    /// From when; now when absent.
    pub valid_from: Option<DateTime<Utc>>,
    /// Until when; no end when absent.
    pub valid_until: Option<DateTime<Utc>>,
}

/// A supplier's grant passed on to one of its staff.
// Not Debug: it holds a secret or a national id.
#[derive(Deserialize, ToSchema)]
pub struct NewDelegation {
    pub national_id: String,
    /// The name you know them by, shown until they log in. Optional.
    #[serde(default)]
    pub name: Option<String>,
    /// A subset of the supplier grant's scopes.
    pub scopes: Vec<String>,
    /// Within the supplier grant's validity; the supplier grant's when absent.
    pub valid_until: Option<DateTime<Utc>>,
}

/// Who holds a grant.
#[derive(Debug, Serialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Grantee {
    /// Named once they have logged in; until then by the name the granter
    /// gave (empty if none). Never by any part of their number.
    Person {
        /// Absent until they have logged in.
        user_id: Option<String>,
        label: String,
    },
    Supplier {
        org_number: String,
        name: String,
    },
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Grant {
    pub grant_id: String,
    pub company_id: String,
    pub grantee: Option<Grantee>,
    pub scopes: Vec<String>,
    pub valid_from: Option<DateTime<Utc>>,
    pub valid_until: Option<DateTime<Utc>>,
    pub granted_by_user_id: String,
    pub granted_by_name: String,
    pub granted_at: Option<DateTime<Utc>>,
    /// For a grant a supplier passed on: the supplier's grant.
    pub parent_grant_id: Option<String>,
    /// When the granter is not an owner: the granter's own grant that let
    /// them grant. This grant ends no later and is revoked with it.
    pub authority_grant_id: Option<String>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub revoked_by_name: Option<String>,
    /// When it last allowed a call (updated at most once a minute).
    pub last_used_at: Option<DateTime<Utc>>,
    pub state: GrantState,
    /// For a supplier: the company's confirmation of the data processing
    /// agreement with it (confirmed by the granter).
    pub processor_agreement: Option<ProcessorAgreement>,
}

/// Where a grant stands now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GrantState {
    /// Starts later (`valid_from`).
    Pending,
    Active,
    Expired,
    Revoked,
}

hms_proto::proto_enum!(GrantState => pb::GrantState { Pending, Active, Expired, Revoked });

#[derive(Debug, Serialize, ToSchema)]
pub struct RegisterOwner {
    /// Absent until the person has logged in.
    pub user_id: Option<String>,
    pub name: String,
    /// The register's role, e.g. `daglig leder`.
    pub role: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AccessList {
    pub owners: Vec<RegisterOwner>,
    /// The grants you may see, newest first: all of them for the company's
    /// owners, access managers and the back office, else those given to you
    /// or by you.
    /// Ended grants are listed for `HMS_ENDED_GRANT_RETENTION_SECS` (90
    /// days by default) after their end.
    pub grants: Vec<Grant>,
}

/// Everyone with access to the company, and how they got it.
#[utoipa::path(
    get,
    path = "/api/v1/companies/{company_id}/access",
    tag = "access",
    params(("company_id" = uuid::Uuid, Path)),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, body = AccessList),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    person: Person,
    PathParams(company_id): PathParams<String>,
) -> Result<Json<AccessList>, ApiError> {
    let listed = state
        .identity
        .clone()
        .list_access(person.request(pb::ListAccessRequest { company_id }))
        .await?
        .into_inner();
    Ok(Json(AccessList {
        owners: listed
            .owners
            .into_iter()
            .map(|owner| RegisterOwner {
                user_id: non_empty(owner.user_id),
                name: owner.name,
                role: owner.role,
            })
            .collect(),
        grants: listed
            .grants
            .into_iter()
            .map(grant_from)
            .collect::<Result<_, _>>()?,
    }))
}

/// A grant that reached a supplier, and the company it is on.
#[derive(Debug, Serialize, ToSchema)]
pub struct SupplierGrant {
    pub company_org_number: String,
    pub company_name: String,
    pub grant: Grant,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SupplierGrants {
    /// The grants to the supplier, by any company, and those its managers
    /// passed on from them; newest first.
    pub grants: Vec<SupplierGrant>,
}

/// What a supplier has been given, for its access managers (to anyone
/// else it has nothing): the grants to pass on to its staff.
#[utoipa::path(
    get,
    path = "/api/v1/suppliers/{org_number}/grants",
    tag = "access",
    params(("org_number" = String, Path, description = "The supplier's 9-digit organisasjonsnummer")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, body = SupplierGrants),
        (status = 400, description = "Not an organisation number", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not a supplier whose access the caller manages", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn supplier_grants(
    State(state): State<AppState>,
    person: Person,
    PathParams(org_number): PathParams<String>,
) -> Result<Json<SupplierGrants>, ApiError> {
    let listed = state
        .identity
        .clone()
        .list_supplier_grants(person.request(pb::ListSupplierGrantsRequest { org_number }))
        .await?
        .into_inner();
    Ok(Json(SupplierGrants {
        grants: listed
            .grants
            .into_iter()
            .map(|given| {
                Ok(SupplierGrant {
                    grant: grant_from(given.grant.ok_or_else(|| ApiError::bad_answer("a grant"))?)?,
                    company_org_number: given.company_org_number,
                    company_name: given.company_name,
                })
            })
            .collect::<Result<_, ApiError>>()?,
    }))
}

/// Grants access to the company.
#[utoipa::path(
    post,
    path = "/api/v1/companies/{company_id}/access",
    tag = "access",
    params(("company_id" = uuid::Uuid, Path)),
    request_body = NewGrant,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 201, body = Grant),
        (status = 403, description = "Not allowed, or the login is too old: log in again", body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn grant(
    State(state): State<AppState>,
    person: Person,
    PathParams(company_id): PathParams<String>,
    JsonBody(new): JsonBody<NewGrant>,
) -> Result<(StatusCode, Json<Grant>), ApiError> {
    let (grantee, grantee_name, processor_agreement) = match new.grantee {
        NewGrantee::Person { national_id, name } => (
            pb::grantee::Grantee::NationalId(national_id),
            name.unwrap_or_default(),
            None,
        ),
        NewGrantee::Supplier {
            org_number,
            processor_agreement,
        } => (
            pb::grantee::Grantee::SupplierOrgNumber(org_number),
            String::new(),
            Some(pb::ProcessorAgreement {
                in_place: processor_agreement.in_place,
                reference: processor_agreement.reference.unwrap_or_default(),
                confirmed_at: None,
            }),
        ),
    };
    let granted = state
        .identity
        .clone()
        .grant_access(person.request(pb::GrantAccessRequest {
            company_id,
            grantee: Some(pb::Grantee {
                grantee: Some(grantee),
            }),
            scopes: new.scopes,
            valid_from: new.valid_from.map(hms_proto::time::timestamp),
            valid_until: new.valid_until.map(hms_proto::time::timestamp),
            grantee_name,
            processor_agreement,
        }))
        .await?
        .into_inner()
        .grant;
    created(granted)
}

/// A supplier's access manager passes the supplier's grant on to one of its
/// staff, never wider than it is.
#[utoipa::path(
    post,
    path = "/api/v1/grants/{grant_id}/delegations",
    tag = "access",
    params(("grant_id" = uuid::Uuid, Path, description = "The supplier's grant")),
    request_body = NewDelegation,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 201, body = Grant),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The supplier's grant is not active", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn delegate(
    State(state): State<AppState>,
    person: Person,
    PathParams(grant_id): PathParams<String>,
    JsonBody(new): JsonBody<NewDelegation>,
) -> Result<(StatusCode, Json<Grant>), ApiError> {
    let granted = state
        .identity
        .clone()
        .delegate_grant(person.request(pb::DelegateGrantRequest {
            grant_id,
            national_id: new.national_id,
            scopes: new.scopes,
            valid_until: new.valid_until.map(hms_proto::time::timestamp),
            grantee_name: new.name.unwrap_or_default(),
        }))
        .await?
        .into_inner()
        .grant;
    created(granted)
}

/// Revokes a grant, and every grant passed on from it, at once.
#[utoipa::path(
    delete,
    path = "/api/v1/grants/{grant_id}",
    tag = "access",
    params(("grant_id" = uuid::Uuid, Path)),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The grant, revoked", body = Grant),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn revoke(
    State(state): State<AppState>,
    person: Person,
    PathParams(grant_id): PathParams<String>,
) -> Result<Json<Grant>, ApiError> {
    let revoked = state
        .identity
        .clone()
        .revoke_access(person.request(pb::RevokeAccessRequest { grant_id }))
        .await?
        .into_inner()
        .grant
        .ok_or_else(|| ApiError::bad_answer("no grant"))?;
    grant_from(revoked).map(Json)
}

fn created(grant: Option<pb::Grant>) -> Result<(StatusCode, Json<Grant>), ApiError> {
    let grant = grant.ok_or_else(|| ApiError::bad_answer("no grant"))?;
    Ok((StatusCode::CREATED, Json(grant_from(grant)?)))
}

fn grant_from(grant: pb::Grant) -> Result<Grant, ApiError> {
    let state = GrantState::answered(grant.state)?;
    Ok(Grant {
        grantee: grant.grantee.map(|grantee| match grantee {
            pb::grant::Grantee::Person(person) => Grantee::Person {
                user_id: non_empty(person.user_id),
                label: person.label,
            },
            pb::grant::Grantee::Supplier(supplier) => Grantee::Supplier {
                org_number: supplier.org_number,
                name: supplier.name,
            },
        }),
        valid_from: time(grant.valid_from.as_ref()),
        valid_until: time(grant.valid_until.as_ref()),
        granted_at: time(grant.granted_at.as_ref()),
        revoked_at: time(grant.revoked_at.as_ref()),
        last_used_at: time(grant.last_used_at.as_ref()),
        grant_id: grant.grant_id,
        company_id: grant.company_id,
        scopes: grant.scopes,
        granted_by_user_id: grant.granted_by_user_id,
        granted_by_name: grant.granted_by_name,
        parent_grant_id: non_empty(grant.parent_grant_id),
        authority_grant_id: non_empty(grant.authority_grant_id),
        revoked_by_name: non_empty(grant.revoked_by_name),
        state,
        processor_agreement: grant
            .processor_agreement
            .map(|agreement| ProcessorAgreement {
                in_place: agreement.in_place,
                reference: non_empty(agreement.reference),
                confirmed_at: time(agreement.confirmed_at.as_ref()),
            }),
    })
}
