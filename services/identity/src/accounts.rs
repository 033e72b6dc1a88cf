//! Accounts, the use cases: logins and sessions (from BankID's answer to
//! the platform's tokens), who a person is and whom they may act for, and
//! services' own tokens.

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine;
use chrono::{DateTime, Utc};
use hms_auth::UserCaller;
use hms_authz::Action;
use hms_brreg::PersonMatch;
use hms_crypto::SealingKey;
use rand_core_06::RngCore;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::access::Access;
use crate::config::{Settings, person_key, subject_key};
use crate::domain::AccessSource;
use crate::error::IdentityError;
use crate::keys::{IssuedToken, Signer};
use crate::login::{OidcLogin, StartedLogin};
use crate::storage::{DescribedRow, Store};

/// A started login must be completed within this time.
const LOGIN_TTL: chrono::Duration = chrono::Duration::minutes(10);

/// Lifetime of service tokens.
const SERVICE_TOKEN_TTL: std::time::Duration = std::time::Duration::from_secs(600);

pub struct Accounts {
    pub login: OidcLogin,
    pub signer: Signer,
    pub store: Store,
    pub access: Access,
    sealing: SealingKey,
    settings: Settings,
}

/// A session's tokens, as handed to the person.
pub struct SessionTokens {
    pub access: IssuedToken,
    pub refresh_token: String,
    pub session_expires_at: DateTime<Utc>,
}

/// The person behind a session, as they see themselves.
pub struct CurrentUser {
    pub user_id: Uuid,
    pub name: String,
    pub back_office: bool,
    pub companies: Vec<CompanyAccess>,
}

/// A company a person may act for, and why.
pub struct CompanyAccess {
    pub company_id: Uuid,
    pub org_number: String,
    pub scopes: BTreeSet<Action>,
    pub source: AccessSource,
}

pub struct LoggedIn {
    pub tokens: SessionTokens,
    pub user_id: Uuid,
    pub name: String,
    pub back_office: bool,
}

impl Accounts {
    pub fn new(
        login: OidcLogin,
        signer: Signer,
        store: Store,
        access: Access,
        settings: Settings,
    ) -> Self {
        Self {
            login,
            signer,
            store,
            access,
            sealing: settings.sealing.clone(),
            settings,
        }
    }

    pub async fn begin_login(&self) -> Result<(StartedLogin, DateTime<Utc>), IdentityError> {
        let started = self.login.begin().await?;
        let sealed = self
            .sealing
            .seal(started.pkce_verifier.as_bytes(), started.state.as_bytes())
            .map_err(|_| IdentityError::Signing)?;
        let expires_at = Utc::now() + LOGIN_TTL;
        self.store
            .add_pending_login(&started.state, &started.nonce, &sealed, expires_at)
            .await?;
        Ok((started, expires_at))
    }

    pub async fn complete_login(&self, state: &str, code: &str) -> Result<LoggedIn, IdentityError> {
        let (nonce, sealed) = self
            .store
            .take_pending_login(state)
            .await?
            .ok_or(IdentityError::LoginFailed)?;
        let verifier = self
            .sealing
            .open(&sealed, state.as_bytes())
            .map_err(|_| IdentityError::LoginFailed)?;
        let verifier =
            String::from_utf8(verifier.to_vec()).map_err(|_| IdentityError::LoginFailed)?;
        let person = self.login.complete(code, &nonce, &verifier).await?;

        let person_key = self.person_key(&person.national_id);
        let register_key = self.access.register_key(&PersonMatch::new(
            person.birth_date,
            &person.given_name,
            &person.family_name,
        ));
        let name = person.name();
        let user_id = self
            .store
            .upsert_user(&person_key, &register_key, &name)
            .await?;
        let back_office = self.settings.back_office.contains(&person_key);
        let tokens = self
            .open_session(user_id, person.auth_time, &person_key)
            .await?;
        tracing::info!(%user_id, "logged in");
        Ok(LoggedIn {
            tokens,
            user_id,
            name,
            back_office,
        })
    }

    async fn open_session(
        &self,
        user_id: Uuid,
        auth_time: DateTime<Utc>,
        person_key: &[u8],
    ) -> Result<SessionTokens, IdentityError> {
        let refresh_token = random_token();
        let session_expires_at = Utc::now() + self.settings.session_ttl;
        let session_id = self
            .store
            .create_session(
                user_id,
                &hash(&refresh_token),
                auth_time,
                session_expires_at,
            )
            .await?;
        let access = self
            .signer
            .user_token(
                user_id,
                session_id,
                auth_time,
                self.subject_key(person_key),
                self.settings.access_token_ttl,
            )
            .await?;
        Ok(SessionTokens {
            access,
            refresh_token,
            session_expires_at,
        })
    }

    /// New tokens for a refresh token, which is spent. A spent one
    /// presented again ends its session (refresh token rotation with reuse
    /// detection), unless it was spent only moments ago
    /// (`HMS_REFRESH_REUSE_GRACE_SECS`).
    pub async fn refresh(&self, refresh_token: &str) -> Result<SessionTokens, IdentityError> {
        let presented = hash(refresh_token);
        let Some(session) = self.store.session_by_refresh_token(&presented).await? else {
            return Err(self.refused_refresh(&presented).await);
        };
        // Signed before the old token is spent: if signing fails, the
        // person still holds a good refresh token to try again with.
        let person_key = self
            .store
            .person_key(session.user_id)
            .await?
            .ok_or(IdentityError::Corrupt("a session without its user"))?;
        let access = self
            .signer
            .user_token(
                session.user_id,
                session.session_id,
                session.auth_time,
                self.subject_key(&person_key),
                self.settings.access_token_ttl,
            )
            .await?;
        let new_refresh = random_token();
        if !self
            .store
            .rotate_refresh_token(&presented, &hash(&new_refresh))
            .await?
        {
            // A concurrent refresh with the same token won.
            return Err(self.refused_refresh(&presented).await);
        }
        Ok(SessionTokens {
            access,
            refresh_token: new_refresh,
            session_expires_at: session.expires_at,
        })
    }

    /// Why a refresh token that is no live session's current one is
    /// refused; ends its session if it is a spent one presented again.
    async fn refused_refresh(&self, presented: &[u8]) -> IdentityError {
        match self
            .store
            .end_session_of_spent(presented, self.settings.refresh_reuse_grace)
            .await
        {
            Ok(Some(session_id)) => {
                // Someone holds a copy of a token that was exchanged: the
                // thief or the person, we cannot tell which, so neither
                // keeps the session.
                tracing::warn!(%session_id, "a spent refresh token was presented; session ended");
                IdentityError::InvalidCredentials
            }
            Ok(None) => IdentityError::InvalidCredentials,
            Err(error) => error,
        }
    }

    /// Ends the session of the caller's access token (`current`) and the one
    /// `refresh_token` belongs to. Refused, with nothing ended, when a
    /// refresh token is given that belongs to no session, or another
    /// person's, or when neither names a session.
    pub async fn logout(
        &self,
        current: Option<&UserCaller>,
        refresh_token: Option<&str>,
    ) -> Result<(), IdentityError> {
        let mut sessions = Vec::new();
        if let Some(token) = refresh_token {
            let (session_id, user_id) = self
                .store
                .session_of_refresh_token(&hash(token))
                .await?
                .ok_or(IdentityError::InvalidCredentials)?;
            if current.is_some_and(|caller| caller.user_id != user_id) {
                return Err(IdentityError::InvalidCredentials);
            }
            sessions.push((session_id, user_id));
        }
        if let Some(caller) = current {
            sessions.push((caller.session_id, caller.user_id));
        }
        if sessions.is_empty() {
            return Err(IdentityError::InvalidCredentials);
        }
        for (session_id, user_id) in sessions {
            // Already ended is ended: the outcome asked for.
            if self.store.end_session(session_id, user_id).await? {
                tracing::info!(%session_id, "logged out");
            }
        }
        Ok(())
    }

    /// A token for `service` to call `audience`, for the service's secret
    /// (OAuth client credentials).
    pub async fn issue_service_token(
        &self,
        service: &str,
        secret: &str,
        audience: &str,
    ) -> Result<IssuedToken, IdentityError> {
        if !self.service_secret_matches(service, secret) {
            tracing::warn!(service, "service credentials refused");
            return Err(IdentityError::InvalidCredentials);
        }
        let known = self.settings.service_clients.contains_key(audience) || audience == "identity";
        if !known || audience == service {
            return Err(IdentityError::invalid(
                "audience",
                "is not a service of the platform",
            ));
        }
        self.signer
            .service_token(service, audience, SERVICE_TOKEN_TTL)
            .await
    }

    /// The person logged in, and every company they may act for: those
    /// the register makes them an owner of (with every scope), then those
    /// granted to them.
    pub async fn current_user(&self, user: &UserCaller) -> Result<CurrentUser, IdentityError> {
        let row = self
            .store
            .live_user(user.session_id, user.user_id)
            .await?
            .ok_or(IdentityError::InvalidCredentials)?
            .user;
        let mut companies: Vec<CompanyAccess> = self
            .store
            .companies_owned(&row.register_key)
            .await?
            .into_iter()
            .map(|(company_id, org_number)| CompanyAccess {
                company_id,
                org_number,
                scopes: Action::SCOPES.iter().copied().collect(),
                source: AccessSource::RegisterRole,
            })
            .collect();
        let mut granted: BTreeMap<Uuid, (BTreeSet<Action>, bool)> = BTreeMap::new();
        for grant in self.store.active_grants(&row.person_key, None).await? {
            let (scopes, via_supplier) = granted.entry(grant.company_id).or_default();
            scopes.extend(grant.scopes);
            *via_supplier |= grant.via_supplier;
        }
        for (company_id, (scopes, via_supplier)) in granted {
            // Register owners hold every scope already.
            let owned = companies.iter().any(|c| c.company_id == company_id);
            if owned || scopes.is_empty() {
                continue;
            }
            let Some(company) = self.access.company(company_id).await? else {
                continue;
            };
            companies.push(CompanyAccess {
                company_id,
                org_number: company.org,
                scopes,
                source: if via_supplier {
                    AccessSource::SupplierGrant
                } else {
                    AccessSource::PersonGrant
                },
            });
        }
        Ok(CurrentUser {
            back_office: self.access.is_back_office(&row),
            user_id: row.user_id,
            name: row.name,
            companies,
        })
    }

    /// Who people are, as a company may be told: names, and the supplier
    /// each acts under there. Unknown people are left out.
    pub async fn describe(
        &self,
        people: &[(Uuid, Uuid)],
    ) -> Result<Vec<(Uuid, Uuid, DescribedRow)>, IdentityError> {
        let mut described = Vec::with_capacity(people.len());
        for &(user_id, company_id) in people {
            if let Some(row) = self.store.describe(user_id, company_id).await? {
                described.push((user_id, company_id, row));
            }
        }
        Ok(described)
    }

    /// Checks a service's secret against the configured hash.
    fn service_secret_matches(&self, service: &str, secret: &str) -> bool {
        let Some(expected) = self.settings.service_clients.get(service) else {
            return false;
        };
        let actual: [u8; 32] = Sha256::digest(secret.as_bytes()).into();
        // Compare without an early exit, so timing says nothing.
        actual
            .iter()
            .zip(expected.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    }

    /// The fingerprint a person is known by, from their number.
    fn person_key(&self, fnr: &hms_domain::Fodselsnummer) -> Vec<u8> {
        person_key(&self.settings.person_keys, fnr)
    }

    fn subject_key(&self, person_key: &[u8]) -> String {
        subject_key(&self.settings.subject_keys, person_key)
    }

    /// The subject keys of people by their numbers: what orders stores
    /// with each worker, so the worker finds their records on logging in.
    pub fn subject_keys(&self, numbers: &[hms_domain::Fodselsnummer]) -> Vec<String> {
        numbers
            .iter()
            .map(|fnr| self.subject_key(&self.person_key(fnr)))
            .collect()
    }
}

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand_core_06::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}
