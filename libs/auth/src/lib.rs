//! Who is calling: service identities for calls between services.
//!
//! A service proves its identity with a short-lived HS256 token (`sub` = its
//! name, `aud` = the service it calls) signed with the platform's shared
//! service key. The callee verifies it and sees a [`Caller`]; each service
//! decides in its own `authz` module what a caller may do. User identity and
//! delegation (BankID, the identity service's JWKS) arrive as a further
//! variant of [`Caller`], so the services' authorization stays where it is.

use std::time::Duration;

use chrono::Utc;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

const ISSUER: &str = "hms-platform";
const TOKEN_LIFETIME: Duration = Duration::from_secs(300);

/// `HMS_SERVICE_TOKEN_SECRET`: the key services sign their tokens with.
#[derive(Debug, Clone, Deserialize)]
pub struct AuthConfig {
    pub service_token_secret: SecretString,
}

/// Who made a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// No credentials were presented.
    Anonymous,
    /// Another service of the platform, by name (`redaction`, `media`, …).
    Service(String),
}

impl Caller {
    /// Whether this is the named service.
    pub fn is_service(&self, name: &str) -> bool {
        matches!(self, Self::Service(service) if service == name)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("HMS_SERVICE_TOKEN_SECRET must be at least 32 characters")]
    WeakSecret,
    /// Deliberately vague: the caller learns nothing about why.
    #[error("invalid or expired credentials")]
    InvalidToken,
    #[error("could not sign a service token")]
    Signing,
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    iss: String,
    sub: String,
    aud: String,
    iat: i64,
    exp: i64,
}

/// Issues this service's tokens and verifies other services' tokens.
#[derive(Clone)]
pub struct ServiceTokens {
    service: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl std::fmt::Debug for ServiceTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceTokens")
            .field("service", &self.service)
            .finish_non_exhaustive()
    }
}

impl ServiceTokens {
    /// `service` is this service's own name: the subject of the tokens it
    /// issues and the audience of the tokens it accepts.
    pub fn new(service: &str, config: &AuthConfig) -> Result<Self, AuthError> {
        let secret = config.service_token_secret.expose_secret().as_bytes();
        if secret.len() < 32 {
            return Err(AuthError::WeakSecret);
        }
        Ok(Self {
            service: service.to_owned(),
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
        })
    }

    /// A token that identifies this service to `audience`.
    pub fn issue(&self, audience: &str) -> Result<String, AuthError> {
        let now = Utc::now().timestamp();
        let claims = Claims {
            iss: ISSUER.to_owned(),
            sub: self.service.clone(),
            aud: audience.to_owned(),
            iat: now,
            exp: now + TOKEN_LIFETIME.as_secs() as i64,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|_| AuthError::Signing)
    }

    /// The service a token names, if it was issued for this service, by the
    /// platform, and has not expired.
    pub fn verify(&self, token: &str) -> Result<Caller, AuthError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[&self.service]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 30;
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation)
            .map_err(|_| AuthError::InvalidToken)?;
        Ok(Caller::Service(data.claims.sub))
    }

    /// The caller of a request: anonymous without `authorization`, a service
    /// with a valid bearer token, and an error for anything else.
    pub fn caller_from_metadata(
        &self,
        metadata: &tonic::metadata::MetadataMap,
    ) -> Result<Caller, AuthError> {
        let Some(value) = metadata.get("authorization") else {
            return Ok(Caller::Anonymous);
        };
        let token = value
            .to_str()
            .ok()
            .and_then(|value| value.strip_prefix("Bearer "))
            .ok_or(AuthError::InvalidToken)?;
        self.verify(token.trim())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(service: &str, secret: &str) -> ServiceTokens {
        ServiceTokens::new(
            service,
            &AuthConfig {
                service_token_secret: SecretString::from(secret.to_owned()),
            },
        )
        .expect("strong secret")
    }

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn a_service_proves_itself_to_its_audience_only() {
        let redaction = tokens("redaction", SECRET);
        let media = tokens("media", SECRET);
        let orders = tokens("orders", SECRET);
        let token = redaction.issue("media").expect("issue");
        assert_eq!(
            media.verify(&token),
            Ok(Caller::Service("redaction".into()))
        );
        assert_eq!(orders.verify(&token), Err(AuthError::InvalidToken));
    }

    #[test]
    fn tokens_from_another_key_or_tampered_are_refused() {
        let token = tokens("redaction", "another-secret-another-secret-xx")
            .issue("media")
            .expect("issue");
        assert_eq!(
            tokens("media", SECRET).verify(&token),
            Err(AuthError::InvalidToken)
        );

        let good = tokens("redaction", SECRET).issue("media").expect("issue");
        let mut tampered = good.clone();
        tampered.pop();
        tampered.push(if good.ends_with('A') { 'B' } else { 'A' });
        assert_eq!(
            tokens("media", SECRET).verify(&tampered),
            Err(AuthError::InvalidToken)
        );
        assert_eq!(
            tokens("media", SECRET).verify("not.a.token"),
            Err(AuthError::InvalidToken)
        );
    }

    #[test]
    fn unsigned_tokens_are_refused() {
        use base64::Engine;
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let header = engine.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let now = Utc::now().timestamp();
        let claims = engine.encode(format!(
            r#"{{"iss":"hms-platform","sub":"redaction","aud":"media","iat":{now},"exp":{}}}"#,
            now + 60
        ));
        let token = format!("{header}.{claims}.");
        assert_eq!(
            tokens("media", SECRET).verify(&token),
            Err(AuthError::InvalidToken)
        );
    }

    #[test]
    fn metadata_without_credentials_is_anonymous_and_garbage_is_refused() {
        let media = tokens("media", SECRET);
        let mut metadata = tonic::metadata::MetadataMap::new();
        assert_eq!(media.caller_from_metadata(&metadata), Ok(Caller::Anonymous));
        metadata.insert("authorization", "Basic abc".parse().expect("ascii"));
        assert_eq!(
            media.caller_from_metadata(&metadata),
            Err(AuthError::InvalidToken)
        );
    }

    #[test]
    fn weak_secrets_are_refused() {
        let config = AuthConfig {
            service_token_secret: SecretString::from("short".to_owned()),
        };
        assert_eq!(
            ServiceTokens::new("media", &config).map(|_| ()),
            Err(AuthError::WeakSecret)
        );
    }
}
