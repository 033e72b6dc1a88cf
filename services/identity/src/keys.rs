//! The keys identity signs access tokens with: created, rotated and
//! published here, kept sealed in the database so every replica signs with
//! the same key and a restart does not log everyone out.

use std::time::Duration;

use base64::Engine;
use chrono::{DateTime, Utc};
use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::EncodePrivateKey;
use hms_auth::{Claims, ISSUER, KeySource, TokenKind, TokenSource, USER_AUDIENCE};
use hms_crypto::SealingKey;
use hms_signing_keys::{KeyError, KeyRing, KeyTable, Rotation};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use sqlx::PgPool;
use uuid::Uuid;

use crate::error::IdentityError;

/// How long a signing key keeps being published after it stopped signing:
/// longer than any token it signed lives.
const PUBLISH_AFTER_RETIRE: Duration = Duration::from_secs(2 * 3600);

const KEYS: KeyTable = KeyTable {
    table: "signing_keys",
    lock: "hms_identity_signing_keys",
};

/// Signs tokens with the current key and rotates it when its time is up.
#[derive(Clone)]
pub struct Signer {
    keys: KeyRing<EncodingKey>,
}

/// A signed token and when it expires.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

/// jsonwebtoken signs with the key in its PKCS#8 form.
fn encoding_key(_kid: &str, key: &SigningKey) -> Result<EncodingKey, KeyError> {
    let der = key
        .to_pkcs8_der()
        .map_err(|_| KeyError::Corrupt("it cannot be encoded"))?;
    Ok(EncodingKey::from_ed_der(der.as_bytes()))
}

impl Signer {
    pub fn new(pool: PgPool, sealing: SealingKey, rotation: Duration) -> Self {
        let rotation = Rotation {
            every: rotation,
            published_after_retire: PUBLISH_AFTER_RETIRE,
        };
        Self {
            keys: KeyRing::new(pool, sealing, KEYS, rotation, encoding_key),
        }
    }

    /// A person's access token for every service.
    pub async fn user_token(
        &self,
        user_id: Uuid,
        session_id: Uuid,
        auth_time: DateTime<Utc>,
        subject_key: String,
        ttl: Duration,
    ) -> Result<IssuedToken, IdentityError> {
        self.sign(
            user_id.to_string(),
            USER_AUDIENCE,
            TokenKind::User,
            Some((session_id, auth_time, subject_key)),
            ttl,
        )
        .await
    }

    /// A service's token for calling `audience`.
    pub async fn service_token(
        &self,
        service: &str,
        audience: &str,
        ttl: Duration,
    ) -> Result<IssuedToken, IdentityError> {
        self.sign(service.to_owned(), audience, TokenKind::Service, None, ttl)
            .await
    }

    async fn sign(
        &self,
        sub: String,
        aud: &str,
        kind: TokenKind,
        person: Option<(Uuid, DateTime<Utc>, String)>,
        ttl: Duration,
    ) -> Result<IssuedToken, IdentityError> {
        let now = Utc::now();
        let expires_at = now + ttl;
        let claims = Claims {
            iss: ISSUER.to_owned(),
            sub,
            aud: aud.to_owned(),
            iat: now.timestamp(),
            exp: expires_at.timestamp(),
            jti: Uuid::new_v4().to_string(),
            kind,
            sid: person
                .as_ref()
                .map(|(session_id, ..)| session_id.to_string()),
            auth_time: person.as_ref().map(|(_, at, _)| at.timestamp()),
            psk: person.map(|(.., subject_key)| subject_key),
        };
        let token = self
            .keys
            .with_active(|active| {
                let mut header = Header::new(Algorithm::EdDSA);
                header.kid = Some(active.kid.clone());
                jsonwebtoken::encode(&header, &claims, &active.key)
            })
            .await?
            .map_err(|_| IdentityError::Signing)?;
        Ok(IssuedToken { token, expires_at })
    }

    /// Every key that may have signed a token still in use, and the next
    /// one, as a JWKS.
    pub async fn jwks(&self) -> Result<JwkSet, IdentityError> {
        let keys = self
            .keys
            .published()
            .await?
            .into_iter()
            .map(|key| {
                let x = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key.public_key);
                serde_json::from_value(serde_json::json!({
                    "kty": "OKP", "crv": "Ed25519", "x": x,
                    "kid": key.kid, "use": "sig", "alg": "EdDSA",
                }))
                .map_err(|_| IdentityError::Corrupt("a public key cannot be published"))
            })
            .collect::<Result<_, _>>()?;
        Ok(JwkSet { keys })
    }
}

impl From<KeyError> for IdentityError {
    fn from(error: KeyError) -> Self {
        match error {
            KeyError::Database(cause) => Self::Database(cause),
            KeyError::Corrupt(what) => Self::Corrupt(what),
        }
    }
}

/// Identity verifies its own tokens from its own table.
impl KeySource for Signer {
    fn fetch(&self) -> hms_auth::KeysFuture<'_> {
        Box::pin(async move {
            self.jwks().await.map_err(|error| {
                tracing::error!(%error, "cannot read the signing keys");
                hms_auth::AuthError::IdentityUnavailable
            })
        })
    }
}

/// Identity's own calls (to companies) carry tokens it signs itself.
impl TokenSource for Signer {
    fn token<'a>(&'a self, audience: &'a str) -> hms_auth::TokenFuture<'a> {
        Box::pin(async move {
            self.service_token("identity", audience, Duration::from_secs(300))
                .await
                .map(|issued| issued.token)
                .map_err(|_| hms_auth::AuthError::IdentityUnavailable)
        })
    }
}
