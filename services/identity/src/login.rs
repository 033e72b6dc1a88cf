//! The OpenID Connect relying party of BankID (directly or through a broker
//! such as ID-porten or Signicat): authorization code flow with PKCE, state
//! and nonce, and the id_token checked against the provider's keys.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use hms_domain::{Fodselsnummer, NationalIdPolicy};
use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreErrorResponseType, CoreGenderClaim, CoreJsonWebKey,
    CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm, CoreProviderMetadata,
    CoreResponseType, CoreRevocableToken, CoreRevocationErrorResponse,
    CoreTokenIntrospectionResponse, CoreTokenType,
};
use openidconnect::{
    AdditionalClaims, AuthenticationContextClass, AuthenticationFlow, AuthorizationCode, Client,
    ClientId, ClientSecret, CsrfToken, EmptyExtraTokenFields, EndpointMaybeSet, EndpointNotSet,
    EndpointSet, HttpRequest, HttpResponse, IdTokenFields, IssuerUrl, Nonce, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, Scope, StandardErrorResponse, StandardTokenResponse,
};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use tokio::sync::RwLock;

use crate::error::IdentityError;

/// Claims beyond the standard ones; the national identity number arrives
/// under a broker-specific name.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct BrokerClaims {
    #[serde(flatten)]
    extra: HashMap<String, serde_json::Value>,
}
impl AdditionalClaims for BrokerClaims {}

type BrokerTokenResponse = StandardTokenResponse<
    IdTokenFields<
        BrokerClaims,
        EmptyExtraTokenFields,
        CoreGenderClaim,
        CoreJweContentEncryptionAlgorithm,
        CoreJwsSigningAlgorithm,
    >,
    CoreTokenType,
>;

type BrokerClient = Client<
    BrokerClaims,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    BrokerTokenResponse,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// The provider's metadata and keys are fetched again after this long, so
/// its key rotations reach us.
const METADATA_MAX_AGE: Duration = Duration::from_secs(3600);

/// A login that has been started: what must be kept until it completes.
pub struct StartedLogin {
    pub authorization_url: String,
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
}

/// Who logged in, as BankID says.
pub struct LoggedInPerson {
    pub national_id: Fodselsnummer,
    pub given_name: String,
    pub family_name: String,
    pub birth_date: NaiveDate,
    pub auth_time: DateTime<Utc>,
}

impl LoggedInPerson {
    pub fn name(&self) -> String {
        format!("{} {}", self.given_name, self.family_name)
    }
}

struct Discovered {
    client: BrokerClient,
    fetched_at: std::time::Instant,
}

pub struct OidcLogin {
    issuer: IssuerUrl,
    client_id: ClientId,
    client_secret: SecretString,
    redirect: RedirectUrl,
    national_id_claim: String,
    accepted_acr: Vec<String>,
    national_id_policy: NationalIdPolicy,
    http: reqwest::Client,
    discovered: RwLock<Option<Discovered>>,
}

/// Where and how identity logs people in, as checked at start-up.
#[derive(Clone)]
pub struct OidcSettings {
    pub issuer: IssuerUrl,
    pub client_id: ClientId,
    pub client_secret: SecretString,
    pub redirect: RedirectUrl,
    /// `pid`, `nin` or `nnin_altsub`.
    pub national_id_claim: String,
    pub accepted_acr: Vec<String>,
}

impl OidcLogin {
    pub fn new(
        settings: OidcSettings,
        national_id_policy: NationalIdPolicy,
    ) -> Result<Self, hms_config::ConfigError> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            // Following redirects would open the client to SSRF.
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| hms_config::ConfigError::invalid("HMS_OIDC_ISSUER_URL", e))?;
        Ok(Self {
            issuer: settings.issuer,
            client_id: settings.client_id,
            client_secret: settings.client_secret,
            redirect: settings.redirect,
            national_id_claim: settings.national_id_claim,
            accepted_acr: settings.accepted_acr,
            national_id_policy,
            http,
            discovered: RwLock::new(None),
        })
    }

    /// The client, from the provider's discovery document (cached).
    async fn client(&self, refresh: bool) -> Result<BrokerClient, IdentityError> {
        if !refresh
            && let Some(discovered) = self.discovered.read().await.as_ref()
            && discovered.fetched_at.elapsed() < METADATA_MAX_AGE
        {
            return Ok(discovered.client.clone());
        }
        let http = self.http.clone();
        let metadata = CoreProviderMetadata::discover_async(self.issuer.clone(), &|request| {
            send(http.clone(), request)
        })
        .await
        .map_err(|error| {
            tracing::warn!(error = %error, "BankID discovery failed");
            IdentityError::ProviderUnavailable
        })?;
        let client = BrokerClient::from_provider_metadata(
            metadata,
            self.client_id.clone(),
            Some(ClientSecret::new(
                self.client_secret.expose_secret().to_owned(),
            )),
        )
        .set_redirect_uri(self.redirect.clone());
        *self.discovered.write().await = Some(Discovered {
            client: client.clone(),
            fetched_at: std::time::Instant::now(),
        });
        Ok(client)
    }

    /// Where to send the browser, and what to keep until it comes back.
    pub async fn begin(&self) -> Result<StartedLogin, IdentityError> {
        let client = self.client(false).await?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client
            .authorize_url(
                AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scope(Scope::new("profile".to_owned()))
            .set_pkce_challenge(challenge);
        for acr in &self.accepted_acr {
            request = request.add_auth_context_value(AuthenticationContextClass::new(acr.clone()));
        }
        let (url, state, nonce) = request.url();
        Ok(StartedLogin {
            authorization_url: url.to_string(),
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
        })
    }

    /// Exchanges the code and checks the id_token: signature with the
    /// provider's keys, issuer, audience, expiry, nonce, and the login level.
    pub async fn complete(
        &self,
        code: &str,
        nonce: &str,
        pkce_verifier: &str,
    ) -> Result<LoggedInPerson, IdentityError> {
        let client = self.client(false).await?;
        let http = self.http.clone();
        let response = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|_| IdentityError::ProviderUnavailable)?
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_owned()))
            .request_async(&|request| send(http.clone(), request))
            .await
            .map_err(|error| {
                // The code may be wrong, used or expired: the person starts over.
                tracing::info!(error = %error, "BankID refused the code");
                IdentityError::LoginFailed
            })?;
        let id_token =
            openidconnect::TokenResponse::id_token(&response).ok_or(IdentityError::LoginFailed)?;
        let nonce = Nonce::new(nonce.to_owned());
        let claims = match id_token.claims(&client.id_token_verifier(), &nonce) {
            Ok(claims) => claims.clone(),
            Err(first) => {
                // Perhaps the provider rotated its keys: look again, once.
                let client = self.client(true).await?;
                id_token
                    .claims(&client.id_token_verifier(), &nonce)
                    .map_err(|_| {
                        tracing::warn!(error = %first, "id_token rejected");
                        IdentityError::LoginFailed
                    })?
                    .clone()
            }
        };
        let acr = claims
            .auth_context_ref()
            .map(|acr| acr.as_str().to_owned())
            .unwrap_or_default();
        if !self.accepted_acr.contains(&acr) {
            tracing::info!(%acr, "login below the required level");
            return Err(IdentityError::LoginLevelTooLow);
        }
        let national_id = claims
            .additional_claims()
            .extra
            .get(&self.national_id_claim)
            .and_then(serde_json::Value::as_str)
            .ok_or(IdentityError::LoginFailed)?;
        let national_id = Fodselsnummer::parse(national_id, self.national_id_policy)
            .map_err(|_| IdentityError::LoginFailed)?;
        let given_name = claims
            .given_name()
            .and_then(|name| name.get(None))
            .map(|name| name.as_str().to_owned())
            .ok_or(IdentityError::LoginFailed)?;
        let family_name = claims
            .family_name()
            .and_then(|name| name.get(None))
            .map(|name| name.as_str().to_owned())
            .ok_or(IdentityError::LoginFailed)?;
        let auth_time = claims.auth_time().unwrap_or_else(Utc::now);
        Ok(LoggedInPerson {
            birth_date: national_id.birth_date(),
            national_id,
            given_name,
            family_name,
            auth_time,
        })
    }
}

#[derive(Debug, thiserror::Error)]
#[error("HTTP request to the BankID provider failed: {0}")]
struct HttpError(String);

/// openidconnect's HTTP client, on the reqwest the platform already uses.
async fn send(client: reqwest::Client, request: HttpRequest) -> Result<HttpResponse, HttpError> {
    let (parts, body) = request.into_parts();
    let response = client
        .request(parts.method, parts.uri.to_string())
        .headers(parts.headers)
        .body(body)
        .send()
        .await
        .map_err(|error| HttpError(error.without_url().to_string()))?;
    let mut builder = http::Response::builder().status(response.status());
    for (name, value) in response.headers() {
        builder = builder.header(name, value);
    }
    let body = response
        .bytes()
        .await
        .map_err(|error| HttpError(error.without_url().to_string()))?;
    builder
        .body(body.to_vec())
        .map_err(|error| HttpError(error.to_string()))
}
