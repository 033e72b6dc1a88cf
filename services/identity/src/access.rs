//! Delegation and decisions: who holds what on a company, grants and their
//! revocation, and the answer to `Authorize`.

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{DateTime, Utc};
use hms_access_log::{Access as Recorded, Action as AccessAction, Purpose};
use hms_authz::Action;
use hms_brreg::{PersonMatch, RegisterClient, RoleHolder};
use hms_crypto::FingerprintKey;
use hms_domain::{CompanyId, OrgNumber};
use hms_events::outbox;
use hms_grpc::client::ServiceChannel;
use hms_proto::companies::v1 as companies_pb;
use hms_proto::companies::v1::company_service_client::CompanyServiceClient;
use hms_proto::events::v1 as events_pb;
use uuid::Uuid;

use crate::config::Settings;
use crate::domain::{self, Holdings, Verdict};
use crate::error::IdentityError;
use crate::storage::{ActiveGrant, GrantRow, NewGrant, Store, UserRow};

/// The register's view is reused this long when the register is down.
const REGISTER_STALE_LIMIT: chrono::Duration = chrono::Duration::hours(24);

#[derive(Clone)]
pub struct Access {
    pub store: Store,
    register: RegisterClient,
    companies: CompanyServiceClient<ServiceChannel>,
    person_keys: FingerprintKey,
    back_office: Vec<Vec<u8>>,
    register_cache: Duration,
    step_up_window: Duration,
}

/// A company as identity knows it.
#[derive(Debug, Clone)]
pub struct KnownCompany {
    pub id: Uuid,
    pub org: String,
}

impl Access {
    pub fn new(
        store: Store,
        register: RegisterClient,
        companies: CompanyServiceClient<ServiceChannel>,
        settings: &Settings,
    ) -> Self {
        Self {
            store,
            register,
            companies,
            person_keys: settings.person_keys.clone(),
            back_office: settings.back_office.clone(),
            register_cache: settings.register_cache,
            step_up_window: settings.step_up_window,
        }
    }

    /// The fingerprint a person is known by, from their number.
    pub fn person_key(&self, fnr: &hms_domain::Fodselsnummer) -> Vec<u8> {
        crate::config::person_key(&self.person_keys, fnr)
    }

    /// The key a register role holder (or a logged-in person) is matched by.
    pub fn register_key(&self, person: &PersonMatch) -> Vec<u8> {
        self.person_keys
            .fingerprint([b"register".as_slice(), person.canonical().as_bytes()])
    }

    pub fn is_back_office(&self, user: &UserRow) -> bool {
        self.back_office.contains(&user.person_key)
    }

    /// The company's organisation number, asked of the companies service
    /// once and remembered (it never changes). `None`: no such company.
    pub async fn company(&self, company_id: Uuid) -> Result<Option<KnownCompany>, IdentityError> {
        if let Some((org, _)) = self.store.company(company_id).await? {
            return Ok(Some(KnownCompany {
                id: company_id,
                org,
            }));
        }
        let response = self
            .companies
            .clone()
            .get_company(companies_pb::GetCompanyRequest {
                company_id: company_id.to_string(),
            })
            .await;
        let company = match response {
            Ok(response) => response.into_inner().company,
            Err(status) if status.code() == tonic::Code::NotFound => return Ok(None),
            Err(status) => {
                tracing::warn!(code = ?status.code(), "cannot ask the companies service");
                return Err(IdentityError::CompaniesUnavailable);
            }
        };
        let Some(company) = company else {
            return Ok(None);
        };
        self.store
            .remember_company(company_id, &company.org_number, &company.name)
            .await?;
        Ok(Some(KnownCompany {
            id: company_id,
            org: company.org_number,
        }))
    }

    /// Brings the register's owners of `org` up to date if they are older
    /// than the cache allows.
    async fn refresh_register(&self, org: &str) -> Result<(), IdentityError> {
        let fetched_at = self.store.register_fetched_at(org).await?;
        let age = fetched_at.map(|at| Utc::now() - at);
        let fresh = age.is_some_and(|age| {
            age < chrono::Duration::from_std(self.register_cache).unwrap_or(chrono::Duration::MAX)
        });
        if fresh {
            return Ok(());
        }
        let org_number =
            OrgNumber::parse(org).map_err(|_| IdentityError::Corrupt("an organisation number"))?;
        match self.register.roles(&org_number).await {
            Ok(roles) => {
                let holders: Vec<(Vec<u8>, String, String)> = roles
                    .iter()
                    .filter(|role| role.kind.grants_ownership() && !role.resigned)
                    .filter_map(|role| match &role.holder {
                        RoleHolder::Person {
                            deceased: false,
                            given_names,
                            family_name,
                            ..
                        } => {
                            let person = PersonMatch::of_holder(&role.holder)?;
                            Some((
                                self.register_key(&person),
                                format!("{given_names} {family_name}"),
                                role.kind.code().to_owned(),
                            ))
                        }
                        _ => None,
                    })
                    .collect();
                self.store.replace_register_roles(org, &holders).await
            }
            Err(error) => {
                let usable = age.is_some_and(|age| age < REGISTER_STALE_LIMIT);
                tracing::warn!(%error, usable_cache = usable, "the register did not answer");
                if usable {
                    Ok(())
                } else {
                    Err(IdentityError::RegisterUnavailable)
                }
            }
        }
    }

    /// What the user holds on a company (by id and organisation number).
    pub async fn holdings(
        &self,
        user: &UserRow,
        company: Option<&KnownCompany>,
        org: Option<&str>,
    ) -> Result<(Holdings, Vec<ActiveGrant>), IdentityError> {
        let back_office = self.is_back_office(user);
        let mut holdings = Holdings {
            back_office,
            ..Holdings::default()
        };
        let mut grants = Vec::new();
        if let Some(org) = org.or(company.map(|company| company.org.as_str())) {
            self.refresh_register(org).await?;
            holdings.register_owner = self
                .store
                .is_register_owner(org, &user.register_key)
                .await?;
        }
        if let Some(company) = company {
            grants = self
                .store
                .active_grants(&user.person_key, Some(company.id))
                .await?;
            for grant in &grants {
                holdings.granted.extend(grant.scopes.iter().copied());
            }
        }
        Ok((holdings, grants))
    }

    /// The decision point.
    pub async fn authorize(
        &self,
        user_id: Uuid,
        session_id: Uuid,
        target: Target,
        action: Action,
    ) -> Result<Verdict, IdentityError> {
        // The session's own login time counts: a service cannot claim a
        // fresh login for someone.
        match self.store.live_user(session_id, user_id).await? {
            Some(live) => Ok(self
                .decide(&live.user, &target, action, live.auth_time)
                .await?
                .0),
            None => Ok(Verdict::session_ended()),
        }
    }

    /// The same decision for identity's own calls, as an error when denied;
    /// the person's record when allowed.
    pub async fn require(
        &self,
        user: &hms_auth::UserCaller,
        target: Target,
        action: Action,
    ) -> Result<UserRow, IdentityError> {
        Ok(self.require_holding(user, target, action).await?.0)
    }

    /// Which grants on `company` the person may see: all of them, or only
    /// their own. Not found for someone with no access to the company.
    pub async fn grants_visible_to(
        &self,
        user: &hms_auth::UserCaller,
        company: &KnownCompany,
    ) -> Result<GrantsVisible, IdentityError> {
        let (person, holdings, _) = self
            .require_holding(user, Target::Company(company.id), Action::CompanyRead)
            .await?;
        Ok(if domain::sees_every_grant(&holdings) {
            GrantsVisible::All
        } else {
            GrantsVisible::OwnOnly(person.user_id)
        })
    }

    /// [`require`](Self::require) for managing access to `company`, with
    /// what the right rests on, so that what the manager does can be
    /// bounded by it.
    pub async fn require_manager(
        &self,
        user: &hms_auth::UserCaller,
        company: &KnownCompany,
    ) -> Result<(UserRow, GrantAuthority), IdentityError> {
        let (manager, holdings, grants) = self
            .require_holding(user, Target::Company(company.id), Action::AccessManage)
            .await?;
        if holdings.register_owner {
            return Ok((manager, GrantAuthority::Owner));
        }
        let grants: Vec<ActiveGrant> = grants
            .into_iter()
            .filter(|grant| grant.scopes.contains(&Action::AccessManage))
            .collect();
        if grants.is_empty() {
            return Err(IdentityError::Denied);
        }
        Ok((manager, GrantAuthority::Grants(grants)))
    }

    /// The decision as an error when denied; the person, and what they
    /// hold, when allowed.
    async fn require_holding(
        &self,
        user: &hms_auth::UserCaller,
        target: Target,
        action: Action,
    ) -> Result<(UserRow, Holdings, Vec<ActiveGrant>), IdentityError> {
        let live = self
            .store
            .live_user(user.session_id, user.user_id)
            .await?
            .ok_or(IdentityError::InvalidCredentials)?;
        let (verdict, holdings, grants) = self
            .decide(&live.user, &target, action, live.auth_time)
            .await?;
        if verdict.allowed {
            Ok((live.user, holdings, grants))
        } else if !verdict.visible {
            Err(IdentityError::NotFound)
        } else if verdict.step_up_required {
            Err(IdentityError::StepUpRequired)
        } else {
            Err(IdentityError::Denied)
        }
    }

    async fn decide(
        &self,
        user: &UserRow,
        target: &Target,
        action: Action,
        auth_time: DateTime<Utc>,
    ) -> Result<(Verdict, Holdings, Vec<ActiveGrant>), IdentityError> {
        let refused = |verdict| Ok((verdict, Holdings::default(), Vec::new()));
        let (company, org) = match target {
            Target::Company(id) => match self.company(*id).await? {
                Some(company) => (Some(company), None),
                None => return refused(Verdict::deny("no such company")),
            },
            Target::Org(org) => (None, Some(org.as_str())),
            Target::Platform => (None, None),
        };
        if matches!(target, Target::Platform)
            && !matches!(
                action,
                Action::BackOfficeRead | Action::CompaniesDecide | Action::OrdersDecide
            )
        {
            return refused(Verdict::deny("this action needs a company"));
        }
        let (holdings, grants) = self.holdings(user, company.as_ref(), org).await?;
        let verdict = domain::decide(
            &holdings,
            action,
            auth_time,
            Utc::now(),
            self.step_up_window,
        );
        if verdict.allowed && !holdings.register_owner && !holdings.back_office {
            // "Last used" belongs to the grants this decision rested on.
            let serving: Vec<Uuid> = grants
                .iter()
                .filter(|grant| domain::grant_permits(&grant.scopes, action))
                .map(|grant| grant.grant_id)
                .collect();
            self.store.touch_grants(&serving, user.user_id).await?;
        }
        Ok((verdict, holdings, grants))
    }

    /// Whether a manager may revoke `grant`: an owner any grant, an access
    /// manager by grant their own grant and what was given under theirs,
    /// however far down.
    pub async fn may_revoke(
        &self,
        manager: &UserRow,
        authority: &GrantAuthority,
        grant: &GrantRow,
    ) -> Result<bool, IdentityError> {
        match authority {
            GrantAuthority::Owner => Ok(true),
            GrantAuthority::Grants(_) if grant.grantee_user_id == Some(manager.user_id) => Ok(true),
            GrantAuthority::Grants(own) => {
                let own: Vec<Uuid> = own.iter().map(|held| held.grant_id).collect();
                self.store.is_under(grant.grant_id, &own).await
            }
        }
    }

    /// A company by id, or not found.
    pub async fn known_company(
        &self,
        company_id: CompanyId,
    ) -> Result<KnownCompany, IdentityError> {
        self.company(company_id.as_uuid())
            .await?
            .ok_or(IdentityError::NotFound)
    }

    /// Writes a grant and its event together.
    pub async fn record_grant(
        &self,
        grant: NewGrant,
        grantee_user_id: Option<Uuid>,
    ) -> Result<GrantRow, IdentityError> {
        let mut tx = self.store.pool.begin().await?;
        Store::insert_grant(&mut tx, &grant).await?;
        let event = events_pb::AccessGranted {
            grant_id: grant.grant_id.to_string(),
            company_id: grant.company_id.to_string(),
            grantee_user_id: grantee_user_id.map(|id| id.to_string()).unwrap_or_default(),
            grantee_label: grant.grantee_label.clone().unwrap_or_default(),
            supplier_org_number: grant.supplier_org.clone().unwrap_or_default(),
            scopes: grant.scopes.clone(),
            valid_from: Some(hms_proto::time::timestamp(grant.valid_from)),
            valid_until: grant.valid_until.map(hms_proto::time::timestamp),
            granted_by_user_id: grant.granted_by.to_string(),
            parent_grant_id: grant
                .parent_grant_id
                .map(|id| id.to_string())
                .unwrap_or_default(),
            authority_grant_id: grant
                .authority_grant_id
                .map(|id| id.to_string())
                .unwrap_or_default(),
            occurred_at: Some(hms_proto::time::timestamp(Utc::now())),
            supplier_name: grant.supplier_name.clone().unwrap_or_default(),
        };
        outbox::enqueue(&mut tx, &event).await?;
        Recorded::new(
            grant.company_id,
            AccessAction::GrantGiven,
            Purpose::AccessManagement,
            format!("user:{}", grant.granted_by),
        )
        .grant(grant.grant_id)
        .record(&mut tx)
        .await?;
        tx.commit().await?;
        self.store
            .grant(grant.grant_id)
            .await?
            .ok_or(IdentityError::Corrupt("a grant just written"))
    }

    /// Revokes a grant and those passed on from it, with their events.
    pub async fn revoke(&self, grant_id: Uuid, by: Uuid) -> Result<(), IdentityError> {
        let mut tx = self.store.pool.begin().await?;
        for (revoked, company_id) in Store::revoke_cascade(&mut tx, grant_id, by).await? {
            let event = events_pb::AccessRevoked {
                grant_id: revoked.to_string(),
                company_id: company_id.to_string(),
                revoked_by_user_id: by.to_string(),
                occurred_at: Some(hms_proto::time::timestamp(Utc::now())),
            };
            outbox::enqueue(&mut tx, &event).await?;
            Recorded::new(
                company_id,
                AccessAction::GrantRevoked,
                Purpose::AccessManagement,
                format!("user:{by}"),
            )
            .grant(revoked)
            .record(&mut tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The register's unit for a supplier, which must exist and be active.
    pub async fn supplier_name(&self, org: &OrgNumber) -> Result<String, IdentityError> {
        match self.register.unit(org).await {
            Ok(Some(unit)) if unit.is_active() => Ok(unit.name),
            Ok(_) => Err(IdentityError::invalid(
                "grantee.supplier_org_number",
                "is not an active unit in the register",
            )),
            Err(error) => {
                tracing::warn!(%error, "the register did not answer");
                Err(IdentityError::RegisterUnavailable)
            }
        }
    }
}

/// Why someone may manage access to a company, which bounds what they do.
#[derive(Debug, Clone)]
pub enum GrantAuthority {
    /// An owner in the register: anything grantable, for any time.
    Owner,
    /// Their grants of `access:manage` in force (never none): what they give
    /// lacks nothing those lack, never outlasts them and is revoked with
    /// them.
    Grants(Vec<ActiveGrant>),
}

impl GrantAuthority {
    /// The grant a grant of `asked` is given under: of the manager's, the
    /// one that covers what is asked and lasts longest. None for an owner,
    /// whom nothing bounds.
    pub fn under(&self, asked: &BTreeSet<Action>) -> Option<&ActiveGrant> {
        match self {
            Self::Owner => None,
            Self::Grants(grants) => grants.iter().max_by_key(|grant| {
                let covers = asked.iter().all(|scope| grant.scopes.contains(scope));
                (covers, grant.valid_until.is_none(), grant.valid_until)
            }),
        }
    }
}

/// Which of a company's grants someone may see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantsVisible {
    All,
    /// Only the grants to this user, and those they gave (a supplier's
    /// manager passing the supplier's grant on).
    OwnOnly(Uuid),
}

impl GrantsVisible {
    pub fn shows(&self, grant: &GrantRow) -> bool {
        match self {
            Self::All => true,
            Self::OwnOnly(user_id) => {
                grant.grantee_user_id == Some(*user_id) || grant.granted_by == *user_id
            }
        }
    }
}

/// What an `Authorize` is about.
#[derive(Debug, Clone)]
pub enum Target {
    Company(Uuid),
    Org(String),
    Platform,
}
