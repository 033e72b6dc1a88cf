//! The provider's state and routes: discovery, JWKS, and the grant store
//! shared by the authorization, token and userinfo endpoints.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand_core_06::RngCore as _;
use tokio::net::TcpListener;

use crate::authorize::{self, AuthorizationRequest};
use crate::keys::SigningKey;
use crate::persons::TestPerson;
use crate::settings::{NationalIdClaim, SUPPORTED_ACR_VALUES, Settings, SettingsError};
use crate::token;

/// An OpenID provider: settings, signing key, and the codes and tokens it
/// has handed out (in memory: a restart logs everyone out, as it should for
/// a test double).
pub struct Provider {
    settings: Settings,
    key: SigningKey,
    /// The issuer's path, which prefixes every route (`""` at the root).
    prefix: String,
    grants: Mutex<Grants>,
}

impl std::fmt::Debug for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provider")
            .field("settings", &self.settings)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl Provider {
    pub fn new(mut settings: Settings, key: SigningKey) -> Result<Self, SettingsError> {
        let prefix = settings.validate()?;
        Ok(Self {
            settings,
            key,
            prefix,
            grants: Mutex::new(Grants::default()),
        })
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    pub fn key(&self) -> &SigningKey {
        &self.key
    }

    /// The public URL of an endpoint, e.g. `endpoint("/token")`.
    pub fn endpoint(&self, path: &str) -> String {
        format!("{}{path}", self.settings.issuer)
    }

    /// The OpenID Provider Metadata (OIDC Discovery 1.0 §3).
    pub fn discovery(&self) -> serde_json::Value {
        let claim = self.settings.national_id_claim;
        let mut scopes = vec!["openid", "profile"];
        // Brokers hand out the national id only for its own scope; the
        // simulator always includes it, but announces the scope so that a
        // client configured for the real thing is not refused.
        if claim != NationalIdClaim::Pid {
            scopes.push(claim.as_str());
        }
        serde_json::json!({
            "issuer": self.settings.issuer,
            "authorization_endpoint": self.endpoint("/authorize"),
            "token_endpoint": self.endpoint("/token"),
            "userinfo_endpoint": self.endpoint("/userinfo"),
            "jwks_uri": self.endpoint("/jwks"),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "scopes_supported": scopes,
            "claims_supported": [
                "iss", "sub", "aud", "iat", "exp", "auth_time", "nonce", "acr", "amr", "at_hash",
                claim.as_str(), "name", "given_name", "family_name", "birthdate"
            ],
            "acr_values_supported": SUPPORTED_ACR_VALUES,
            "claims_parameter_supported": false,
            "request_parameter_supported": false,
            "request_uri_parameter_supported": false,
        })
    }

    /// The claims about a person that both the id_token and userinfo carry.
    pub(crate) fn person_claims(
        &self,
        person: &TestPerson,
    ) -> serde_json::Map<String, serde_json::Value> {
        let mut claims = serde_json::Map::new();
        claims.insert("sub".into(), person.subject().into());
        claims.insert(
            self.settings.national_id_claim.as_str().into(),
            person.national_id.clone().into(),
        );
        claims.insert("name".into(), person.name().into());
        claims.insert("given_name".into(), person.given_name.clone().into());
        claims.insert("family_name".into(), person.family_name.clone().into());
        claims.insert("birthdate".into(), person.birthdate.to_string().into());
        claims
    }

    pub(crate) fn person(&self, index: usize) -> Option<&TestPerson> {
        self.settings.persons.get(index)
    }

    pub(crate) fn grants(&self) -> MutexGuard<'_, Grants> {
        // A panic while holding the lock leaves maps that are still
        // consistent (every change is a single insert or remove).
        self.grants.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Stores a fresh single-use code for `person`.
    pub(crate) fn issue_code(&self, request: &AuthorizationRequest, person: usize) -> String {
        let code = random_token();
        let now = Instant::now();
        let pending = PendingCode {
            client_id: request.client_id.clone(),
            redirect_uri: request.redirect_uri.clone(),
            scope: request.scope.clone(),
            nonce: request.nonce.clone(),
            code_challenge: request.code_challenge.clone(),
            person,
            auth_time: chrono::Utc::now().timestamp(),
            expires: now + self.settings.code_lifetime,
        };
        let mut grants = self.grants();
        grants.purge(now);
        grants.codes.insert(code.clone(), pending);
        code
    }
}

/// 256 random bits, base64url: authorization codes and access tokens.
pub(crate) fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand_core_06::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// An authorization code waiting for its token request.
#[derive(Debug, Clone)]
pub(crate) struct PendingCode {
    pub client_id: String,
    pub redirect_uri: String,
    pub scope: String,
    pub nonce: String,
    pub code_challenge: String,
    pub person: usize,
    pub auth_time: i64,
    pub expires: Instant,
}

/// A code that has been presented once. Remembered so that a second
/// presentation is recognised as a replay and the token issued for the first
/// one revoked (RFC 6749 §4.1.2).
#[derive(Debug)]
struct UsedCode {
    access_token: Option<String>,
    forget_at: Instant,
}

#[derive(Debug, Clone)]
pub(crate) struct AccessGrant {
    pub person: usize,
    pub expires: Instant,
}

#[derive(Debug, Default)]
pub(crate) struct Grants {
    codes: HashMap<String, PendingCode>,
    used: HashMap<String, UsedCode>,
    tokens: HashMap<String, AccessGrant>,
}

impl Grants {
    /// Takes `code` out for redemption. Whatever happens next, it cannot be
    /// presented again: a failed attempt (wrong verifier) also burns it, so
    /// that a stolen code cannot be tried against many verifiers.
    pub(crate) fn take_code(
        &mut self,
        code: &str,
        now: Instant,
        remember_for: std::time::Duration,
    ) -> Result<PendingCode, &'static str> {
        if let Some(used) = self.used.get_mut(code) {
            if let Some(token) = used.access_token.take() {
                self.tokens.remove(&token);
                tracing::warn!("an authorization code was replayed; its access token is revoked");
            }
            return Err("the authorization code has already been used");
        }
        let pending = self
            .codes
            .remove(code)
            .ok_or("the authorization code is unknown")?;
        self.used.insert(
            code.to_owned(),
            UsedCode {
                access_token: None,
                forget_at: pending.expires + remember_for,
            },
        );
        if pending.expires <= now {
            return Err("the authorization code has expired");
        }
        Ok(pending)
    }

    /// Records the access token issued for a redeemed code.
    pub(crate) fn store_token(&mut self, code: &str, token: String, grant: AccessGrant) {
        if let Some(used) = self.used.get_mut(code) {
            used.access_token = Some(token.clone());
        }
        self.tokens.insert(token, grant);
    }

    /// The live grant behind an access token.
    pub(crate) fn access(&self, token: &str, now: Instant) -> Option<&AccessGrant> {
        self.tokens.get(token).filter(|grant| grant.expires > now)
    }

    /// Drops what has expired, so that memory stays bounded.
    pub(crate) fn purge(&mut self, now: Instant) {
        self.codes.retain(|_, pending| pending.expires > now);
        self.used.retain(|_, used| used.forget_at > now);
        self.tokens.retain(|_, grant| grant.expires > now);
    }
}

/// The routes, below the issuer's path.
pub fn router(provider: Arc<Provider>) -> Router {
    let prefix = provider.prefix.clone();
    let routes = Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/jwks", get(jwks))
        .route(
            "/authorize",
            get(authorize::authorize_get).post(authorize::authorize_post),
        )
        .route("/token", axum::routing::post(token::token))
        .route("/userinfo", get(token::userinfo).post(token::userinfo))
        .with_state(provider);
    if prefix.is_empty() {
        routes
    } else {
        Router::new().nest(&prefix, routes)
    }
}

/// Serves `provider` on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    provider: Arc<Provider>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(provider))
        .with_graceful_shutdown(shutdown)
        .await
}

async fn discovery(State(provider): State<Arc<Provider>>) -> Response {
    Json(provider.discovery()).into_response()
}

async fn jwks(State(provider): State<Arc<Provider>>) -> Response {
    Json(provider.key.jwks()).into_response()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn pending(expires: Instant) -> PendingCode {
        PendingCode {
            client_id: "c".into(),
            redirect_uri: "http://rp/cb".into(),
            scope: "openid".into(),
            nonce: "n".into(),
            code_challenge: "x".into(),
            person: 0,
            auth_time: 0,
            expires,
        }
    }

    #[test]
    fn a_code_is_single_use_and_a_replay_revokes_its_token() {
        let now = Instant::now();
        let mut grants = Grants::default();
        grants
            .codes
            .insert("code".into(), pending(now + Duration::from_secs(60)));
        assert!(
            grants
                .take_code("code", now, Duration::from_secs(300))
                .is_ok()
        );
        grants.store_token(
            "code",
            "token".into(),
            AccessGrant {
                person: 0,
                expires: now + Duration::from_secs(300),
            },
        );
        assert!(grants.access("token", now).is_some());

        assert_eq!(
            grants
                .take_code("code", now, Duration::from_secs(300))
                .map(|_| ()),
            Err("the authorization code has already been used")
        );
        assert!(grants.access("token", now).is_none());
    }

    #[test]
    fn expired_codes_and_tokens_are_refused_and_purged() {
        let now = Instant::now();
        let mut grants = Grants::default();
        grants.codes.insert("old".into(), pending(now));
        assert_eq!(
            grants.take_code("old", now, Duration::ZERO).map(|_| ()),
            Err("the authorization code has expired")
        );
        grants.tokens.insert(
            "stale".into(),
            AccessGrant {
                person: 0,
                expires: now,
            },
        );
        assert!(grants.access("stale", now).is_none());
        grants.purge(now + Duration::from_secs(1));
        assert!(grants.tokens.is_empty() && grants.used.is_empty());
    }
}
