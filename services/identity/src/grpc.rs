//! The gRPC API: parses requests into domain values, identifies the caller,
//! hands over to the use cases ([`Accounts`], [`Delegation`], [`Access`])
//! and turns their answers into messages. No rule lives here.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use hms_auth::Caller;
use hms_authz::{Action, require_user};
use hms_domain::{CompanyId, Fodselsnummer, NationalIdPolicy, OrgNumber, PersonName};
use hms_grpc::status::{invalid_field, missing_field, parse_id};
use hms_layout::ServiceName;
use hms_proto::ProtoEnum;
use hms_proto::identity::v1 as pb;
use hms_proto::time::{from_timestamp, timestamp};
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::access::{Access, Target};
use crate::accounts::{Accounts, CompanyAccess, SessionTokens};
use crate::delegation::{Delegation, GrantRequest, NewGrantee, PassOnRequest};
use crate::domain::{AccessSource, GrantState, grant_state, parse_scopes};
use crate::storage::{GrantRow, RegisterOwnerRow};

pub struct IdentityApi {
    accounts: Arc<Accounts>,
    delegation: Delegation,
    national_id_policy: NationalIdPolicy,
}

impl IdentityApi {
    pub fn new(
        accounts: Arc<Accounts>,
        delegation: Delegation,
        national_id_policy: NationalIdPolicy,
    ) -> Self {
        Self {
            accounts,
            delegation,
            national_id_policy,
        }
    }

    fn access(&self) -> &Access {
        &self.accounts.access
    }

    fn national_id(&self, field: &str, value: &str) -> Result<Fodselsnummer, Status> {
        if value.trim().is_empty() {
            return Err(missing_field(field));
        }
        // The error names the problem, never the number.
        Fodselsnummer::parse(value, self.national_id_policy)
            .map_err(|error| invalid_field(field, error))
    }
}

hms_proto::proto_enum!(GrantState => pb::GrantState { Pending, Active, Expired, Revoked });
hms_proto::proto_enum!(AccessSource => pb::AccessSource { RegisterRole, PersonGrant, SupplierGrant });

/// The name a giver calls the person they grant to, if any. Anything with
/// digits is refused: the label is shown to everyone who may see the grant,
/// and must never carry a number or a birth date.
fn grantee_name(field: &str, value: &str) -> Result<Option<PersonName>, Status> {
    if value.trim().is_empty() {
        return Ok(None);
    }
    let name = PersonName::parse(value).map_err(|problem| invalid_field(field, problem))?;
    if name.as_str().chars().any(char::is_numeric) {
        return Err(invalid_field(field, "must be a name, without digits"));
    }
    Ok(Some(name))
}

/// A supplier gets access only once the company confirms a data
/// processing agreement with it; its reference to the agreement, if given.
fn processor_agreement(
    agreement: Option<&pb::ProcessorAgreement>,
) -> Result<Option<String>, Status> {
    let agreement = agreement
        .filter(|agreement| agreement.in_place)
        .ok_or_else(|| {
            invalid_field(
                "processor_agreement",
                "a supplier gets access only once the company confirms that a data processing \
                 agreement with it is in place (in_place)",
            )
        })?;
    let reference = agreement.reference.trim();
    if reference.chars().count() > 200 || reference.chars().any(char::is_control) {
        return Err(invalid_field(
            "processor_agreement.reference",
            "must be at most 200 characters, on one line",
        ));
    }
    Ok(Some(reference.to_owned()).filter(|reference| !reference.is_empty()))
}

fn scopes(values: &[String]) -> Result<std::collections::BTreeSet<Action>, Status> {
    parse_scopes(values).map_err(|problem| invalid_field("scopes", problem))
}

fn time(
    field: &str,
    value: Option<&hms_proto::time::Timestamp>,
) -> Result<Option<DateTime<Utc>>, Status> {
    value
        .map(|ts| from_timestamp(ts).ok_or_else(|| invalid_field(field, "is out of range")))
        .transpose()
}

fn required<'a>(field: &str, value: &'a str) -> Result<&'a str, Status> {
    let value = value.trim();
    if value.is_empty() {
        Err(missing_field(field))
    } else {
        Ok(value)
    }
}

fn tokens_to_proto(tokens: SessionTokens) -> pb::Tokens {
    pb::Tokens {
        access_token: tokens.access.token,
        access_token_expires_at: Some(timestamp(tokens.access.expires_at)),
        refresh_token: tokens.refresh_token,
        session_expires_at: Some(timestamp(tokens.session_expires_at)),
    }
}

fn company_access_to_proto(access: CompanyAccess) -> pb::CompanyAccess {
    pb::CompanyAccess {
        company_id: access.company_id.to_string(),
        org_number: access.org_number,
        scopes: access
            .scopes
            .iter()
            .map(|scope| scope.as_str().to_owned())
            .collect(),
        source: access.source.to_i32(),
    }
}

fn owner_to_proto(owner: RegisterOwnerRow) -> pb::RegisterOwner {
    pb::RegisterOwner {
        user_id: owner.user_id.map(|id| id.to_string()).unwrap_or_default(),
        role: role_description(&owner.role).to_owned(),
        name: owner.name,
    }
}

fn grant_to_proto(row: GrantRow) -> pb::Grant {
    let state = grant_state(row.valid_from, row.valid_until, row.revoked_at, Utc::now());
    let grantee = match row.supplier_org {
        Some(org_number) => pb::grant::Grantee::Supplier(pb::SupplierCompany {
            org_number,
            name: row.supplier_name.unwrap_or_default(),
        }),
        None => pb::grant::Grantee::Person(pb::GrantedPerson {
            user_id: row
                .grantee_user_id
                .map(|id| id.to_string())
                .unwrap_or_default(),
            label: row.grantee_name.or(row.grantee_label).unwrap_or_default(),
        }),
    };
    let id = |id: Option<Uuid>| id.map(|id| id.to_string()).unwrap_or_default();
    pb::Grant {
        grant_id: row.grant_id.to_string(),
        company_id: row.company_id.to_string(),
        grantee: Some(grantee),
        scopes: row.scopes,
        valid_from: Some(timestamp(row.valid_from)),
        valid_until: row.valid_until.map(timestamp),
        granted_by_user_id: row.granted_by.to_string(),
        granted_by_name: row.granted_by_name,
        granted_at: Some(timestamp(row.granted_at)),
        parent_grant_id: id(row.parent_grant_id),
        authority_grant_id: id(row.authority_grant_id),
        revoked_at: row.revoked_at.map(timestamp),
        revoked_by_name: row.revoked_by_name.unwrap_or_default(),
        last_used_at: row.last_used_at.map(timestamp),
        state: state.to_i32(),
        processor_agreement: row.processor_agreement_at.map(|confirmed_at| {
            pb::ProcessorAgreement {
                in_place: true,
                reference: row.processor_agreement_reference.unwrap_or_default(),
                confirmed_at: Some(timestamp(confirmed_at)),
            }
        }),
    }
}

/// How people know the register's ownership roles.
fn role_description(code: &str) -> &str {
    match code {
        "DAGL" => "daglig leder",
        "LEDE" => "styreleder",
        "INNH" => "innehaver",
        "DTPR" | "DTSO" => "deltaker",
        other => other,
    }
}

#[tonic::async_trait]
impl pb::identity_service_server::IdentityService for IdentityApi {
    async fn begin_login(
        &self,
        _request: Request<pb::BeginLoginRequest>,
    ) -> Result<Response<pb::BeginLoginResponse>, Status> {
        let (started, expires_at) = self.accounts.begin_login().await?;
        Ok(Response::new(pb::BeginLoginResponse {
            authorization_url: started.authorization_url,
            state: started.state,
            expires_at: Some(timestamp(expires_at)),
        }))
    }
    async fn complete_login(
        &self,
        request: Request<pb::CompleteLoginRequest>,
    ) -> Result<Response<pb::CompleteLoginResponse>, Status> {
        let request = request.into_inner();
        let state = required("state", &request.state)?;
        let code = required("code", &request.code)?;
        let logged_in = self.accounts.complete_login(state, code).await?;
        Ok(Response::new(pb::CompleteLoginResponse {
            tokens: Some(tokens_to_proto(logged_in.tokens)),
            user: Some(pb::User {
                user_id: logged_in.user_id.to_string(),
                name: logged_in.name,
                back_office: logged_in.back_office,
            }),
        }))
    }
    async fn refresh_session(
        &self,
        request: Request<pb::RefreshSessionRequest>,
    ) -> Result<Response<pb::RefreshSessionResponse>, Status> {
        let token = required("refresh_token", &request.get_ref().refresh_token)?;
        let tokens = self.accounts.refresh(token).await?;
        Ok(Response::new(pb::RefreshSessionResponse {
            tokens: Some(tokens_to_proto(tokens)),
        }))
    }
    async fn logout(
        &self,
        request: Request<pb::LogoutRequest>,
    ) -> Result<Response<pb::LogoutResponse>, Status> {
        let caller = hms_grpc::caller(&request);
        let current = match &caller {
            Caller::User(user) => Some(user),
            _ => None,
        };
        let refresh_token = Some(request.get_ref().refresh_token.trim()).filter(|t| !t.is_empty());
        self.accounts.logout(current, refresh_token).await?;
        Ok(Response::new(pb::LogoutResponse {}))
    }
    async fn get_current_user(
        &self,
        request: Request<pb::GetCurrentUserRequest>,
    ) -> Result<Response<pb::GetCurrentUserResponse>, Status> {
        let caller = hms_grpc::caller(&request);
        let user = self.accounts.current_user(require_user(&caller)?).await?;
        Ok(Response::new(pb::GetCurrentUserResponse {
            user: Some(pb::User {
                user_id: user.user_id.to_string(),
                name: user.name,
                back_office: user.back_office,
            }),
            companies: user
                .companies
                .into_iter()
                .map(company_access_to_proto)
                .collect(),
        }))
    }

    async fn get_jwks(
        &self,
        _request: Request<pb::GetJwksRequest>,
    ) -> Result<Response<pb::GetJwksResponse>, Status> {
        let jwks = self.accounts.signer.jwks().await?;
        let jwks_json = serde_json::to_string(&jwks).map_err(hms_grpc::status::internal)?;
        Ok(Response::new(pb::GetJwksResponse { jwks_json }))
    }
    async fn issue_service_token(
        &self,
        request: Request<pb::IssueServiceTokenRequest>,
    ) -> Result<Response<pb::IssueServiceTokenResponse>, Status> {
        let request = request.into_inner();
        let service = required("service", &request.service)?;
        let audience = required("audience", &request.audience)?;
        let issued = self
            .accounts
            .issue_service_token(service, &request.secret, audience)
            .await?;
        Ok(Response::new(pb::IssueServiceTokenResponse {
            access_token: issued.token,
            expires_at: Some(timestamp(issued.expires_at)),
        }))
    }

    async fn grant_access(
        &self,
        request: Request<pb::GrantAccessRequest>,
    ) -> Result<Response<pb::GrantAccessResponse>, Status> {
        let caller = hms_grpc::caller(&request);
        let user = require_user(&caller)?;
        let request = request.into_inner();
        let grantee = match request.grantee.and_then(|grantee| grantee.grantee) {
            Some(pb::grantee::Grantee::NationalId(number)) => NewGrantee::Person {
                national_id: self.national_id("grantee.national_id", &number)?,
                name: grantee_name("grantee_name", &request.grantee_name)?,
            },
            Some(pb::grantee::Grantee::SupplierOrgNumber(org)) => NewGrantee::Supplier {
                org: OrgNumber::parse(&org)
                    .map_err(|e| invalid_field("grantee.supplier_org_number", e))?,
                agreement_reference: processor_agreement(request.processor_agreement.as_ref())?,
            },
            None => return Err(missing_field("grantee")),
        };
        let grant = self
            .delegation
            .grant(
                user,
                GrantRequest {
                    company_id: parse_id("company_id", &request.company_id, CompanyId::parse)?,
                    grantee,
                    scopes: scopes(&request.scopes)?,
                    valid_from: time("valid_from", request.valid_from.as_ref())?,
                    valid_until: time("valid_until", request.valid_until.as_ref())?,
                },
            )
            .await?;
        Ok(Response::new(pb::GrantAccessResponse {
            grant: Some(grant_to_proto(grant)),
        }))
    }

    async fn delegate_grant(
        &self,
        request: Request<pb::DelegateGrantRequest>,
    ) -> Result<Response<pb::DelegateGrantResponse>, Status> {
        let caller = hms_grpc::caller(&request);
        let user = require_user(&caller)?;
        let request = request.into_inner();
        let grant = self
            .delegation
            .pass_on(
                user,
                PassOnRequest {
                    grant_id: parse_id("grant_id", &request.grant_id, Uuid::parse_str)?,
                    national_id: self.national_id("national_id", &request.national_id)?,
                    name: grantee_name("grantee_name", &request.grantee_name)?,
                    scopes: scopes(&request.scopes)?,
                    valid_until: time("valid_until", request.valid_until.as_ref())?,
                },
            )
            .await?;
        Ok(Response::new(pb::DelegateGrantResponse {
            grant: Some(grant_to_proto(grant)),
        }))
    }

    async fn revoke_access(
        &self,
        request: Request<pb::RevokeAccessRequest>,
    ) -> Result<Response<pb::RevokeAccessResponse>, Status> {
        let caller = hms_grpc::caller(&request);
        let user = require_user(&caller)?;
        let grant_id = parse_id("grant_id", &request.get_ref().grant_id, Uuid::parse_str)?;
        let grant = self.delegation.revoke(user, grant_id).await?;
        Ok(Response::new(pb::RevokeAccessResponse {
            grant: Some(grant_to_proto(grant)),
        }))
    }

    async fn list_access(
        &self,
        request: Request<pb::ListAccessRequest>,
    ) -> Result<Response<pb::ListAccessResponse>, Status> {
        let caller = hms_grpc::caller(&request);
        let user = require_user(&caller)?;
        let company_id = parse_id(
            "company_id",
            &request.get_ref().company_id,
            CompanyId::parse,
        )?;
        let listed = self.delegation.list(user, company_id).await?;
        Ok(Response::new(pb::ListAccessResponse {
            owners: listed.owners.into_iter().map(owner_to_proto).collect(),
            grants: listed.grants.into_iter().map(grant_to_proto).collect(),
        }))
    }

    async fn list_supplier_grants(
        &self,
        request: Request<pb::ListSupplierGrantsRequest>,
    ) -> Result<Response<pb::ListSupplierGrantsResponse>, Status> {
        let caller = hms_grpc::caller(&request);
        let user = require_user(&caller)?;
        let org = OrgNumber::parse(&request.get_ref().org_number)
            .map_err(|e| invalid_field("org_number", e))?;
        let grants = self.delegation.supplier_grants(user, org.as_str()).await?;
        Ok(Response::new(pb::ListSupplierGrantsResponse {
            grants: grants
                .into_iter()
                .map(|row| pb::SupplierGrant {
                    company_org_number: row.company_org,
                    company_name: row.company_name,
                    grant: Some(grant_to_proto(row.grant)),
                })
                .collect(),
        }))
    }

    async fn describe_people(
        &self,
        request: Request<pb::DescribePeopleRequest>,
    ) -> Result<Response<pb::DescribePeopleResponse>, Status> {
        // Names go to the service that writes to companies, and no one else.
        hms_grpc::status::permit(
            &hms_grpc::caller(&request),
            hms_grpc::caller(&request).is_service(ServiceName::Notifications),
        )?;
        let request = request.into_inner();
        if request.people.len() > 100 {
            return Err(invalid_field("people", "at most 100 at a time"));
        }
        let people = request
            .people
            .iter()
            .enumerate()
            .map(|(index, person)| {
                Ok((
                    parse_id(
                        &format!("people[{index}].user_id"),
                        &person.user_id,
                        Uuid::parse_str,
                    )?,
                    parse_id(
                        &format!("people[{index}].company_id"),
                        &person.company_id,
                        Uuid::parse_str,
                    )?,
                ))
            })
            .collect::<Result<Vec<_>, Status>>()?;
        let described = self.accounts.describe(&people).await?;
        Ok(Response::new(pb::DescribePeopleResponse {
            people: described
                .into_iter()
                .map(|(user_id, company_id, row)| pb::DescribedPerson {
                    user_id: user_id.to_string(),
                    company_id: company_id.to_string(),
                    name: row.name,
                    supplier: row.supplier_org.map(|org_number| pb::SupplierCompany {
                        org_number,
                        name: row.supplier_name.unwrap_or_default(),
                    }),
                })
                .collect(),
        }))
    }

    async fn subject_keys(
        &self,
        request: Request<pb::SubjectKeysRequest>,
    ) -> Result<Response<pb::SubjectKeysResponse>, Status> {
        // Orders stores them with its workers, and no one else asks.
        hms_grpc::status::permit(
            &hms_grpc::caller(&request),
            hms_grpc::caller(&request).is_service(ServiceName::Orders),
        )?;
        let request = request.into_inner();
        if request.national_ids.len() > 100 {
            return Err(invalid_field("national_ids", "at most 100 at a time"));
        }
        let numbers = request
            .national_ids
            .iter()
            .enumerate()
            .map(|(index, number)| {
                hms_domain::Fodselsnummer::parse(number, self.national_id_policy)
                    .map_err(|error| invalid_field(&format!("national_ids[{index}]"), error))
            })
            .collect::<Result<Vec<_>, Status>>()?;
        Ok(Response::new(pb::SubjectKeysResponse {
            subject_keys: self.accounts.subject_keys(&numbers),
        }))
    }

    async fn authorize(
        &self,
        request: Request<pb::AuthorizeRequest>,
    ) -> Result<Response<pb::AuthorizeResponse>, Status> {
        // Only services ask: a person must not probe others' access.
        match hms_grpc::caller(&request) {
            Caller::Service(_) => {}
            Caller::Anonymous => {
                return Err(Status::unauthenticated(
                    "this call needs a service identity",
                ));
            }
            Caller::User(_) => return Err(Status::permission_denied("not allowed")),
        }
        let request = request.into_inner();
        let subject = parse_id("subject", &request.subject, Uuid::parse_str)?;
        let session = parse_id("session_id", &request.session_id, Uuid::parse_str)?;
        let action = Action::parse(&request.action)
            .ok_or_else(|| invalid_field("action", "is not a known action"))?;
        let target = match (request.company_id.trim(), request.org_number.trim()) {
            ("", "") => Target::Platform,
            (company, "") => {
                Target::Company(parse_id("company_id", company, CompanyId::parse)?.as_uuid())
            }
            ("", org) => Target::Org(
                OrgNumber::parse(org)
                    .map_err(|e| invalid_field("org_number", e))?
                    .as_str()
                    .to_owned(),
            ),
            _ => {
                return Err(invalid_field(
                    "company_id",
                    "give company_id or org_number, not both",
                ));
            }
        };
        let verdict = self
            .access()
            .authorize(subject, session, target, action)
            .await?;
        Ok(Response::new(pb::AuthorizeResponse {
            allowed: verdict.allowed,
            visible: verdict.visible,
            reason: verdict.reason.to_owned(),
            step_up_required: verdict.step_up_required,
            session_ended: verdict.session_ended,
        }))
    }
}
