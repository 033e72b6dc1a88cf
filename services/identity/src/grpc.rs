//! The gRPC API: parses requests, checks the caller, hands over to accounts
//! and access.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use hms_auth::Caller;
use hms_authz::{Action, require_user};
use hms_domain::{CompanyId, Fodselsnummer, OrgNumber, PersonName};
use hms_grpc::status::{invalid_field, missing_field, parse_id};
use hms_proto::ProtoEnum;
use hms_proto::identity::v1 as pb;
use hms_proto::time::{from_timestamp, timestamp};
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::access::{Access, GrantAuthority, KnownCompany, Target};
use crate::accounts::{Accounts, SessionTokens};
use crate::domain::{GrantState, Widening, bounded_by, earlier_end, grant_state};
use crate::error::IdentityError;
use crate::storage::{ActiveGrant, GrantRow, NewGrant};

/// Lifetime of service tokens.
const SERVICE_TOKEN_TTL: Duration = Duration::from_secs(600);

pub struct IdentityApi {
    accounts: Arc<Accounts>,
    national_id_policy: hms_domain::NationalIdPolicy,
}

impl IdentityApi {
    pub fn new(accounts: Arc<Accounts>, national_id_policy: hms_domain::NationalIdPolicy) -> Self {
        Self {
            accounts,
            national_id_policy,
        }
    }

    fn access(&self) -> &Access {
        &self.accounts.access
    }

    fn parse_national_id(&self, field: &str, value: &str) -> Result<Fodselsnummer, Status> {
        if value.trim().is_empty() {
            return Err(missing_field(field));
        }
        // The error names the problem, never the number.
        Fodselsnummer::parse(value, self.national_id_policy)
            .map_err(|error| invalid_field(field, error))
    }
}

/// The refusal of a grant that would reach beyond the one it is made under.
fn widened(widening: Widening, under: &str) -> Status {
    match widening {
        Widening::Scopes => invalid_field("scopes", format!("may only name scopes {under} holds")),
        Widening::Time => invalid_field("valid_until", format!("may not outlast {under}")),
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

/// The name a granter gives the person they grant to, if any. A number
/// (or anything holding digits) is refused: the label is shown to everyone
/// who may see the grant.
fn grantee_name(field: &str, value: &str) -> Result<Option<String>, Status> {
    if value.trim().is_empty() {
        return Ok(None);
    }
    let name = PersonName::parse(value).map_err(|problem| invalid_field(field, problem))?;
    if name.as_str().chars().any(char::is_numeric) {
        return Err(invalid_field(field, "must be a name, without digits"));
    }
    Ok(Some(name.as_str().to_owned()))
}

fn required<'a>(field: &str, value: &'a str) -> Result<&'a str, Status> {
    let value = value.trim();
    if value.is_empty() {
        Err(missing_field(field))
    } else {
        Ok(value)
    }
}

hms_proto::proto_enum!(GrantState => pb::GrantState { Pending, Active, Expired, Revoked });

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
        parent_grant_id: row
            .parent_grant_id
            .map(|id| id.to_string())
            .unwrap_or_default(),
        authority_grant_id: row
            .authority_grant_id
            .map(|id| id.to_string())
            .unwrap_or_default(),
        revoked_at: row.revoked_at.map(timestamp),
        revoked_by_name: row.revoked_by_name.unwrap_or_default(),
        last_used_at: row.last_used_at.map(timestamp),
        state: state.to_i32(),
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
        let user = require_user(&caller)?;
        let store = &self.accounts.store;
        let row = store
            .live_user(user.session_id, user.user_id)
            .await?
            .ok_or_else(|| Status::unauthenticated("invalid or expired credentials"))?
            .user;
        let mut companies = Vec::new();
        for (company_id, org_number) in store.companies_owned(&row.register_key).await? {
            companies.push(pb::CompanyAccess {
                company_id: company_id.to_string(),
                org_number,
                scopes: Action::SCOPES
                    .iter()
                    .map(|s| s.as_str().to_owned())
                    .collect(),
                source: pb::AccessSource::RegisterRole.into(),
            });
        }
        // Register owners hold every scope already; grants add other companies.
        let mut granted: BTreeMap<Uuid, (BTreeSet<Action>, bool)> = BTreeMap::new();
        for grant in store.active_grants(&row.person_key, None).await? {
            let (scopes, via_supplier) = granted.entry(grant.company_id).or_default();
            scopes.extend(grant.scopes);
            *via_supplier |= grant.via_supplier;
        }
        for (company_id, (scopes, via_supplier)) in granted {
            let owned = companies
                .iter()
                .any(|c| c.company_id == company_id.to_string());
            if owned || scopes.is_empty() {
                continue;
            }
            let Some(company) = self.access().company(company_id).await? else {
                continue;
            };
            companies.push(pb::CompanyAccess {
                company_id: company_id.to_string(),
                org_number: company.org,
                scopes: scopes.iter().map(|s| s.as_str().to_owned()).collect(),
                source: if via_supplier {
                    pb::AccessSource::SupplierGrant
                } else {
                    pb::AccessSource::PersonGrant
                }
                .into(),
            });
        }
        Ok(Response::new(pb::GetCurrentUserResponse {
            user: Some(pb::User {
                user_id: row.user_id.to_string(),
                back_office: self.access().is_back_office(&row),
                name: row.name,
            }),
            companies,
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
        if !self
            .accounts
            .service_secret_matches(service, &request.secret)
        {
            tracing::warn!(service, "service credentials refused");
            return Err(Status::unauthenticated("invalid or expired credentials"));
        }
        if !self.accounts.known_service(audience) || audience == service {
            return Err(invalid_field(
                "audience",
                "is not a service of the platform",
            ));
        }
        let issued = self
            .accounts
            .signer
            .service_token(service, audience, SERVICE_TOKEN_TTL)
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
        let company_id = parse_id("company_id", &request.company_id, CompanyId::parse)?;
        let company = self.access().known_company(company_id).await?;
        let (granter, authority) = self.access().require_manager(user, &company).await?;

        let grantee = request
            .grantee
            .and_then(|grantee| grantee.grantee)
            .ok_or_else(|| missing_field("grantee"))?;
        let to_supplier = matches!(grantee, pb::grantee::Grantee::SupplierOrgNumber(_));
        let scopes = Access::grant_scopes(&request.scopes, to_supplier)?;
        let now = Utc::now();
        let valid_from = match &request.valid_from {
            Some(ts) => {
                from_timestamp(ts).ok_or_else(|| invalid_field("valid_from", "is out of range"))?
            }
            None => now,
        };
        let valid_until = match &request.valid_until {
            Some(ts) => Some(
                from_timestamp(ts)
                    .ok_or_else(|| invalid_field("valid_until", "is out of range"))?,
            ),
            None => None,
        };
        // Someone whose own right to grant is a grant gives only within it.
        let (authority_grant_id, valid_until) = match &authority {
            GrantAuthority::Owner => (None, valid_until),
            GrantAuthority::Grants(_) => {
                let own = authority.under(&scopes).ok_or(IdentityError::Denied)?;
                let until = bounded_by(&own.scopes, own.valid_until, &scopes, valid_until)
                    .map_err(|widening| widened(widening, "your own grant"))?;
                (Some(own.grant_id), until)
            }
        };
        if let Some(until) = valid_until
            && (until <= valid_from || until <= now)
        {
            return Err(invalid_field(
                "valid_until",
                "must be after valid_from and in the future",
            ));
        }

        let mut grant = NewGrant {
            grant_id: Uuid::now_v7(),
            company_id: company.id,
            grantee_person_key: None,
            grantee_label: None,
            supplier_org: None,
            supplier_name: None,
            parent_grant_id: None,
            authority_grant_id,
            scopes: scopes.iter().map(|s| s.as_str().to_owned()).collect(),
            valid_from,
            valid_until,
            granted_by: granter.user_id,
        };
        match grantee {
            pb::grantee::Grantee::NationalId(number) => {
                let fnr = self.parse_national_id("grantee.national_id", &number)?;
                grant.grantee_person_key = Some(self.accounts.person_key(&fnr));
                grant.grantee_label = grantee_name("grantee_name", &request.grantee_name)?;
            }
            pb::grantee::Grantee::SupplierOrgNumber(org) => {
                let org = OrgNumber::parse(&org)
                    .map_err(|e| invalid_field("grantee.supplier_org_number", e))?;
                if org.as_str() == company.org {
                    return Err(invalid_field(
                        "grantee.supplier_org_number",
                        "is the company itself",
                    ));
                }
                grant.supplier_name = Some(self.access().supplier_name(&org).await?);
                grant.supplier_org = Some(org.as_str().to_owned());
            }
        }
        let grantee_user = match &grant.grantee_person_key {
            Some(key) => self.accounts.store.user_by_person_key(key).await?,
            None => None,
        };
        let row = self.access().record_grant(grant, grantee_user).await?;
        tracing::info!(grant_id = %row.grant_id, company_id = %row.company_id, "access granted");
        Ok(Response::new(pb::GrantAccessResponse {
            grant: Some(grant_to_proto(row)),
        }))
    }

    async fn delegate_grant(
        &self,
        request: Request<pb::DelegateGrantRequest>,
    ) -> Result<Response<pb::DelegateGrantResponse>, Status> {
        let caller = hms_grpc::caller(&request);
        let user = require_user(&caller)?;
        let request = request.into_inner();
        let grant_id = parse_id("grant_id", &request.grant_id, Uuid::parse_str)?;
        let parent = self
            .accounts
            .store
            .grant(grant_id)
            .await?
            .ok_or_else(grant_hidden)?;
        // Only the supplier's own access managers may pass its grant on;
        // to anyone else it does not exist.
        let Some(supplier_org) = parent.supplier_org.clone() else {
            return Err(grant_hidden());
        };
        let (granter, authority) = self
            .require_supplier_manager(user, &supplier_org)
            .await
            .map_err(hide_grant)?;
        if grant_state(
            parent.valid_from,
            parent.valid_until,
            parent.revoked_at,
            Utc::now(),
        ) != GrantState::Active
        {
            return Err(Status::failed_precondition(
                "the supplier's grant is not active",
            ));
        }
        let scopes = Access::grant_scopes(&request.scopes, true)?;
        let valid_until = match &request.valid_until {
            Some(ts) => Some(
                from_timestamp(ts)
                    .ok_or_else(|| invalid_field("valid_until", "is out of range"))?,
            ),
            None => None,
        };
        let held: Vec<Action> = parent
            .scopes
            .iter()
            .filter_map(|scope| Action::parse(scope))
            .collect();
        // Within the supplier's grant, and, for a manager whose right to
        // manage the supplier's access is itself a grant, within that too.
        let limit = earlier_end(
            parent.valid_until,
            authority.as_ref().and_then(|own| own.valid_until),
        );
        let valid_until = bounded_by(&held, limit, &scopes, valid_until).map_err(|widening| {
            widened(
                widening,
                if authority.is_some() {
                    "the supplier's grant, or your own grant on the supplier,"
                } else {
                    "the supplier's grant"
                },
            )
        })?;
        if valid_until.is_some_and(|until| until <= Utc::now()) {
            return Err(invalid_field("valid_until", "must be in the future"));
        }
        let fnr = self.parse_national_id("national_id", &request.national_id)?;
        let key = self.accounts.person_key(&fnr);
        let grantee_user = self.accounts.store.user_by_person_key(&key).await?;
        let grant = NewGrant {
            grant_id: Uuid::now_v7(),
            company_id: parent.company_id,
            grantee_person_key: Some(key),
            grantee_label: grantee_name("grantee_name", &request.grantee_name)?,
            supplier_org: None,
            supplier_name: None,
            parent_grant_id: Some(parent.grant_id),
            authority_grant_id: authority.map(|own| own.grant_id),
            scopes: scopes.iter().map(|s| s.as_str().to_owned()).collect(),
            valid_from: Utc::now().max(parent.valid_from),
            valid_until,
            granted_by: granter,
        };
        let row = self.access().record_grant(grant, grantee_user).await?;
        Ok(Response::new(pb::DelegateGrantResponse {
            grant: Some(grant_to_proto(row)),
        }))
    }

    async fn revoke_access(
        &self,
        request: Request<pb::RevokeAccessRequest>,
    ) -> Result<Response<pb::RevokeAccessResponse>, Status> {
        let caller = hms_grpc::caller(&request);
        let user = require_user(&caller)?;
        let grant_id = parse_id("grant_id", &request.get_ref().grant_id, Uuid::parse_str)?;
        let grant = self
            .accounts
            .store
            .grant(grant_id)
            .await?
            .ok_or_else(grant_hidden)?;
        // The company's owners may revoke any grant on it, an access manager
        // by grant what was given under theirs (and their own); a
        // supplier's managers what they passed on.
        let company = self
            .access()
            .company(grant.company_id)
            .await?
            .ok_or_else(grant_hidden)?;
        let revoker = match self.access().require_manager(user, &company).await {
            Ok((manager, authority)) => {
                if !self
                    .access()
                    .may_revoke(&manager, &authority, &grant)
                    .await?
                {
                    return Err(Status::permission_denied(
                        "you may revoke only what was given under your own grant",
                    ));
                }
                manager.user_id
            }
            Err(IdentityError::StepUpRequired) => {
                return Err(IdentityError::StepUpRequired.into());
            }
            Err(refusal) => {
                let supplier = match grant.parent_grant_id {
                    Some(parent) => self
                        .accounts
                        .store
                        .grant(parent)
                        .await?
                        .and_then(|p| p.supplier_org),
                    None => None,
                };
                let as_supplier = match supplier {
                    Some(org) => Some(self.require_supplier_manager(user, &org).await),
                    None => None,
                };
                match as_supplier {
                    Some(Ok((user_id, _))) => user_id,
                    // The supplier's manager, but their login is too old.
                    Some(Err(status)) if status.code() == tonic::Code::PermissionDenied => {
                        return Err(status);
                    }
                    // Otherwise the company's answer: not found for those
                    // who cannot see it, denied for those who can.
                    _ => return Err(hide_grant(refusal.into())),
                }
            }
        };
        self.access().revoke(grant_id, revoker).await?;
        tracing::info!(%grant_id, "access revoked");
        let row = self
            .accounts
            .store
            .grant(grant_id)
            .await?
            .ok_or_else(grant_hidden)?;
        Ok(Response::new(pb::RevokeAccessResponse {
            grant: Some(grant_to_proto(row)),
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
        let company = self.access().known_company(company_id).await?;
        let visible = self.access().grants_visible_to(user, &company).await?;
        let owners = self
            .accounts
            .store
            .register_owners(&company.org)
            .await?
            .into_iter()
            .map(|(user_id, name, role)| pb::RegisterOwner {
                user_id: user_id.map(|id| id.to_string()).unwrap_or_default(),
                name,
                role: role_description(&role).to_owned(),
            })
            .collect();
        let grants = self
            .accounts
            .store
            .grants_of_company(company.id)
            .await?
            .into_iter()
            .filter(|grant| visible.shows(grant))
            .map(grant_to_proto)
            .collect();
        Ok(Response::new(pb::ListAccessResponse { owners, grants }))
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

impl IdentityApi {
    /// The caller manages access for the supplier `org`: an owner in the
    /// register, or `access:manage` on the supplier's own company, with a
    /// recent login like any grant. Anyone else learns nothing of the grant.
    /// The supplier's access manager, and the grant of theirs on the
    /// supplier's own company that makes them one, unless they are an
    /// owner in the register.
    async fn require_supplier_manager(
        &self,
        user: &hms_auth::UserCaller,
        org: &str,
    ) -> Result<(Uuid, Option<ActiveGrant>), Status> {
        // Grants exist only on registered companies: on an unregistered
        // supplier only its owners manage access.
        let managing = match self.accounts.store.company_by_org(org).await? {
            Some(company_id) => {
                let supplier = KnownCompany {
                    id: company_id,
                    org: org.to_owned(),
                };
                self.access().require_manager(user, &supplier).await
            }
            None => self
                .access()
                .require(user, Target::Org(org.to_owned()), Action::AccessManage)
                .await
                .map(|manager| (manager, GrantAuthority::Owner)),
        };
        let (manager, authority) = match managing {
            Ok(managing) => managing,
            Err(IdentityError::Denied) => return Err(IdentityError::NotFound.into()),
            Err(error) => return Err(error.into()),
        };
        let authority = match &authority {
            GrantAuthority::Owner => None,
            GrantAuthority::Grants(_) => Some(
                authority
                    .under(&BTreeSet::new())
                    .cloned()
                    .ok_or(IdentityError::Denied)?,
            ),
        };
        Ok((manager.user_id, authority))
    }
}

/// What anyone who may not see a grant is told, whether or not it exists.
fn grant_hidden() -> Status {
    Status::not_found("grant not found")
}

/// A refusal about a grant, with every "not found" worded the same.
fn hide_grant(status: Status) -> Status {
    if status.code() == tonic::Code::NotFound {
        grant_hidden()
    } else {
        status
    }
}
