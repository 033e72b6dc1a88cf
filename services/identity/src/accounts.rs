//! Logins and sessions: from BankID's answer to the platform's tokens.

use base64::Engine;
use chrono::{DateTime, Utc};
use hms_brreg::PersonMatch;
use hms_crypto::SealingKey;
use rand_core_06::RngCore;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::access::Access;
use crate::config::{Settings, person_key};
use crate::error::IdentityError;
use crate::keys::{IssuedToken, Signer};
use crate::login::{OidcLogin, StartedLogin};
use crate::storage::Store;

/// A started login must be completed within this time.
const LOGIN_TTL: chrono::Duration = chrono::Duration::minutes(10);

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
        let label = person.national_id.masked().to_string();
        let user_id = self
            .store
            .upsert_user(&person_key, &register_key, &name, &label)
            .await?;
        let back_office = self.settings.back_office.contains(&person_key);
        let tokens = self.open_session(user_id, person.auth_time).await?;
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
                self.settings.access_token_ttl,
            )
            .await?;
        Ok(SessionTokens {
            access,
            refresh_token,
            session_expires_at,
        })
    }

    pub async fn refresh(&self, refresh_token: &str) -> Result<SessionTokens, IdentityError> {
        let new_refresh = random_token();
        let session = self
            .store
            .rotate_refresh_token(&hash(refresh_token), &hash(&new_refresh))
            .await?
            .ok_or(IdentityError::InvalidCredentials)?;
        let access = self
            .signer
            .user_token(
                session.user_id,
                session.session_id,
                session.auth_time,
                self.settings.access_token_ttl,
            )
            .await?;
        Ok(SessionTokens {
            access,
            refresh_token: new_refresh,
            session_expires_at: session.expires_at,
        })
    }

    pub async fn logout(&self, refresh_token: &str) -> Result<(), IdentityError> {
        // Unknown or already ended: the outcome the caller wants either way.
        self.store.revoke_session(&hash(refresh_token)).await?;
        Ok(())
    }

    /// Checks a service's secret against the configured hash.
    pub fn service_secret_matches(&self, service: &str, secret: &str) -> bool {
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
    pub fn person_key(&self, fnr: &hms_domain::Fodselsnummer) -> Vec<u8> {
        person_key(&self.settings.person_keys, fnr)
    }

    pub fn known_service(&self, name: &str) -> bool {
        self.settings.service_clients.contains_key(name) || name == "identity"
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
