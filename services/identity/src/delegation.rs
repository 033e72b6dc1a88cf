//! Delegation, the use cases: giving access to a company (to a person or a
//! supplier), a supplier passing its grant on to its staff, revoking, and
//! listing who has access. Each checks who asks first, then bounds what is
//! given by what the giver holds; the rules themselves are in
//! [`domain`](crate::domain), the facts in [`Access`] and the store.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use hms_auth::UserCaller;
use hms_authz::Action;
use hms_domain::{CompanyId, Fodselsnummer, OrgNumber, PersonName};
use uuid::Uuid;

use crate::access::{Access, GrantAuthority, KnownCompany, Target};
use crate::domain::{GrantState, Widening, bounded_by, earlier_end, grant_state};
use crate::error::IdentityError;
use crate::storage::{ActiveGrant, GrantRow, NewGrant, RegisterOwnerRow, Store, SupplierGrantRow};

/// Who receives a grant.
pub enum NewGrantee {
    /// A person, by number; `name` is what the giver calls them until they
    /// log in.
    Person {
        national_id: Fodselsnummer,
        name: Option<PersonName>,
    },
    /// A supplier, once the company confirms that a data processing
    /// agreement with it is in place (its own reference to it, if any).
    Supplier {
        org: OrgNumber,
        agreement_reference: Option<String>,
    },
}

/// A grant as asked for.
pub struct GrantRequest {
    pub company_id: CompanyId,
    pub grantee: NewGrantee,
    pub scopes: BTreeSet<Action>,
    /// Now when absent.
    pub valid_from: Option<DateTime<Utc>>,
    /// No end when absent (or the end of the giver's own grant).
    pub valid_until: Option<DateTime<Utc>>,
}

/// A supplier's grant passed on, as asked for.
pub struct PassOnRequest {
    /// The supplier's grant.
    pub grant_id: Uuid,
    pub national_id: Fodselsnummer,
    pub name: Option<PersonName>,
    pub scopes: BTreeSet<Action>,
    /// The supplier's grant's end when absent.
    pub valid_until: Option<DateTime<Utc>>,
}

/// Who has access to a company, as the asker may see it.
pub struct AccessList {
    pub owners: Vec<RegisterOwnerRow>,
    pub grants: Vec<GrantRow>,
}

#[derive(Clone)]
pub struct Delegation {
    access: Access,
    store: Store,
}

impl Delegation {
    pub fn new(access: Access, store: Store) -> Self {
        Self { access, store }
    }

    /// Gives access to a company. Needs `access:manage` on it (and a recent
    /// login); someone whose right to grant is itself a grant gives only
    /// within it.
    pub async fn grant(
        &self,
        user: &UserCaller,
        request: GrantRequest,
    ) -> Result<GrantRow, IdentityError> {
        let company = self.access.known_company(request.company_id).await?;
        let (granter, authority) = self.access.require_manager(user, &company).await?;
        let to_supplier = matches!(request.grantee, NewGrantee::Supplier { .. });
        if to_supplier
            && request
                .scopes
                .iter()
                .any(|scope| scope.withheld_from_suppliers())
        {
            return Err(IdentityError::invalid(
                "scopes",
                "company:contact:write and access:manage cannot be given to a supplier",
            ));
        }
        let now = Utc::now();
        let valid_from = request.valid_from.unwrap_or(now);
        let (authority_grant_id, valid_until) = match &authority {
            GrantAuthority::Owner => (None, request.valid_until),
            GrantAuthority::Grants(_) => {
                let own = authority
                    .under(&request.scopes)
                    .ok_or(IdentityError::Denied)?;
                let until = bounded_by(
                    &own.scopes,
                    own.valid_until,
                    &request.scopes,
                    request.valid_until,
                )
                .map_err(|widening| widened(widening, "your own grant"))?;
                (Some(own.grant_id), until)
            }
        };
        if let Some(until) = valid_until
            && (until <= valid_from || until <= now)
        {
            return Err(IdentityError::invalid(
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
            scopes: scope_names(&request.scopes),
            valid_from,
            valid_until,
            granted_by: granter.user_id,
            processor_agreement: None,
        };
        match request.grantee {
            NewGrantee::Person { national_id, name } => {
                grant.grantee_person_key = Some(self.access.person_key(&national_id));
                grant.grantee_label = name.map(|name| name.as_str().to_owned());
            }
            NewGrantee::Supplier {
                org,
                agreement_reference,
            } => {
                if org.as_str() == company.org {
                    return Err(IdentityError::invalid(
                        "grantee.supplier_org_number",
                        "is the company itself",
                    ));
                }
                grant.supplier_name = Some(self.access.supplier_name(&org).await?);
                grant.supplier_org = Some(org.as_str().to_owned());
                grant.processor_agreement = Some(agreement_reference.unwrap_or_default());
            }
        }
        let row = self.record(grant).await?;
        tracing::info!(grant_id = %row.grant_id, company_id = %row.company_id, "access granted");
        Ok(row)
    }

    /// A supplier's access manager passes the supplier's grant on to one of
    /// its staff, never wider or longer than the grant, nor than their own
    /// right to manage the supplier's access when that is a grant.
    pub async fn pass_on(
        &self,
        user: &UserCaller,
        request: PassOnRequest,
    ) -> Result<GrantRow, IdentityError> {
        let parent = self
            .store
            .grant(request.grant_id)
            .await?
            .ok_or(IdentityError::GrantNotFound)?;
        // Only the supplier's own access managers may pass its grant on;
        // to anyone else it does not exist.
        let Some(supplier_org) = parent.supplier_org.clone() else {
            return Err(IdentityError::GrantNotFound);
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
            return Err(IdentityError::Precondition(
                "the supplier's grant is not active",
            ));
        }
        let held: Vec<Action> = parent
            .scopes
            .iter()
            .filter_map(|scope| Action::parse(scope))
            .collect();
        let limit = earlier_end(
            parent.valid_until,
            authority.as_ref().and_then(|own| own.valid_until),
        );
        let valid_until =
            bounded_by(&held, limit, &request.scopes, request.valid_until).map_err(|widening| {
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
            return Err(IdentityError::invalid(
                "valid_until",
                "must be in the future",
            ));
        }
        let grant = NewGrant {
            grant_id: Uuid::now_v7(),
            company_id: parent.company_id,
            grantee_person_key: Some(self.access.person_key(&request.national_id)),
            grantee_label: request.name.map(|name| name.as_str().to_owned()),
            supplier_org: None,
            supplier_name: None,
            parent_grant_id: Some(parent.grant_id),
            authority_grant_id: authority.map(|own| own.grant_id),
            scopes: scope_names(&request.scopes),
            valid_from: Utc::now().max(parent.valid_from),
            valid_until,
            granted_by: granter,
            processor_agreement: None,
        };
        self.record(grant).await
    }

    /// Ends a grant and everything passed on from it. The company's owners
    /// may revoke any grant on it, an access manager by grant what was given
    /// under theirs (and their own), a supplier's managers what they passed
    /// on.
    pub async fn revoke(
        &self,
        user: &UserCaller,
        grant_id: Uuid,
    ) -> Result<GrantRow, IdentityError> {
        let grant = self
            .store
            .grant(grant_id)
            .await?
            .ok_or(IdentityError::GrantNotFound)?;
        let company = self
            .access
            .company(grant.company_id)
            .await?
            .ok_or(IdentityError::GrantNotFound)?;
        let revoker = match self.access.require_manager(user, &company).await {
            Ok((manager, authority)) => {
                if !self.access.may_revoke(&manager, &authority, &grant).await? {
                    return Err(IdentityError::Refused(
                        "you may revoke only what was given under your own grant",
                    ));
                }
                manager.user_id
            }
            Err(IdentityError::StepUpRequired) => return Err(IdentityError::StepUpRequired),
            Err(refusal) => {
                let supplier = match grant.parent_grant_id {
                    Some(parent) => self
                        .store
                        .grant(parent)
                        .await?
                        .and_then(|parent| parent.supplier_org),
                    None => None,
                };
                let as_supplier = match supplier {
                    Some(org) => Some(self.require_supplier_manager(user, &org).await),
                    None => None,
                };
                match as_supplier {
                    Some(Ok((user_id, _))) => user_id,
                    // The supplier's manager, but their login is too old.
                    Some(Err(
                        refused @ (IdentityError::StepUpRequired | IdentityError::Denied),
                    )) => return Err(refused),
                    // Otherwise the company's answer: not found for those
                    // who cannot see it, denied for those who can.
                    _ => return Err(hide_grant(refusal)),
                }
            }
        };
        self.access.revoke(grant_id, revoker).await?;
        tracing::info!(%grant_id, "access revoked");
        self.store
            .grant(grant_id)
            .await?
            .ok_or(IdentityError::GrantNotFound)
    }

    /// Who has access to the company: its owners in the register (public),
    /// and the grants the asker may see.
    pub async fn list(
        &self,
        user: &UserCaller,
        company_id: CompanyId,
    ) -> Result<AccessList, IdentityError> {
        let company = self.access.known_company(company_id).await?;
        let visible = self.access.grants_visible_to(user, &company).await?;
        let owners = self.store.register_owners(&company.org).await?;
        let grants = self
            .store
            .grants_of_company(company.id)
            .await?
            .into_iter()
            .filter(|grant| visible.shows(grant))
            .collect();
        Ok(AccessList { owners, grants })
    }

    /// What the supplier `org` has been given, for its access managers: the
    /// grants to it and what they passed on, ended ones within the
    /// retention. To anyone else the supplier has none.
    pub async fn supplier_grants(
        &self,
        user: &UserCaller,
        org: &str,
    ) -> Result<Vec<SupplierGrantRow>, IdentityError> {
        self.require_supplier_manager(user, org)
            .await
            .map_err(|error| match error {
                IdentityError::Denied => IdentityError::NotFound,
                other => other,
            })?;
        self.store.grants_of_supplier(org).await
    }

    /// Writes a grant and its event, naming the grantee's user if they have
    /// logged in before.
    async fn record(&self, grant: NewGrant) -> Result<GrantRow, IdentityError> {
        let grantee_user = match &grant.grantee_person_key {
            Some(key) => self.store.user_by_person_key(key).await?,
            None => None,
        };
        self.access.record_grant(grant, grantee_user).await
    }

    /// The supplier's access manager and, unless they are an owner in the
    /// register, their grant on the supplier's own company that makes them
    /// one. Anyone else learns nothing of the supplier's grants.
    async fn require_supplier_manager(
        &self,
        user: &UserCaller,
        org: &str,
    ) -> Result<(Uuid, Option<ActiveGrant>), IdentityError> {
        // Grants exist only on registered companies: on an unregistered
        // supplier only its owners manage access.
        let managing = match self.store.company_by_org(org).await? {
            Some(company_id) => {
                let supplier = KnownCompany {
                    id: company_id,
                    org: org.to_owned(),
                };
                self.access.require_manager(user, &supplier).await
            }
            None => self
                .access
                .require(user, Target::Org(org.to_owned()), Action::AccessManage)
                .await
                .map(|manager| (manager, GrantAuthority::Owner)),
        };
        let (manager, authority) = match managing {
            Ok(managing) => managing,
            Err(IdentityError::Denied) => return Err(IdentityError::NotFound),
            Err(error) => return Err(error),
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

fn scope_names(scopes: &BTreeSet<Action>) -> Vec<String> {
    scopes
        .iter()
        .map(|scope| scope.as_str().to_owned())
        .collect()
}

/// The refusal of a grant that would reach beyond the one it is made under.
fn widened(widening: Widening, under: &str) -> IdentityError {
    match widening {
        Widening::Scopes => {
            IdentityError::invalid("scopes", format!("may only name scopes {under} holds"))
        }
        Widening::Time => IdentityError::invalid("valid_until", format!("may not outlast {under}")),
    }
}

/// A refusal about a grant, with every "not found" worded the same.
fn hide_grant(error: IdentityError) -> IdentityError {
    match error {
        IdentityError::NotFound => IdentityError::GrantNotFound,
        other => other,
    }
}
