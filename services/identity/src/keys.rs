//! The keys identity signs access tokens with: created, rotated and
//! published here, kept sealed in the database so every replica signs with
//! the same key and a restart does not log everyone out.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use chrono::{DateTime, Utc};
use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::EncodePrivateKey;
use hms_auth::{Claims, ISSUER, KeySource, TokenKind, TokenSource, USER_AUDIENCE};
use hms_crypto::SealingKey;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use sqlx::PgPool;
use tokio::sync::RwLock;
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::error::IdentityError;

/// How long a signing key keeps being published after it stopped signing:
/// longer than any token it signed lives.
const PUBLISH_AFTER_RETIRE: chrono::Duration = chrono::Duration::hours(2);

struct ActiveKey {
    kid: String,
    encoding: EncodingKey,
    /// When the next key takes over.
    retire_at: DateTime<Utc>,
}

/// Signs tokens with the current key and rotates it when its time is up.
#[derive(Clone)]
pub struct Signer {
    pool: PgPool,
    sealing: SealingKey,
    rotation: Duration,
    active: Arc<RwLock<Option<ActiveKey>>>,
}

/// A signed token and when it expires.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

impl Signer {
    pub fn new(pool: PgPool, sealing: SealingKey, rotation: Duration) -> Self {
        Self {
            pool,
            sealing,
            rotation,
            active: Arc::new(RwLock::new(None)),
        }
    }

    /// A person's access token for every service.
    pub async fn user_token(
        &self,
        user_id: Uuid,
        session_id: Uuid,
        auth_time: DateTime<Utc>,
        ttl: Duration,
    ) -> Result<IssuedToken, IdentityError> {
        self.sign(
            user_id.to_string(),
            USER_AUDIENCE,
            TokenKind::User,
            Some(session_id),
            Some(auth_time),
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
        self.sign(
            service.to_owned(),
            audience,
            TokenKind::Service,
            None,
            None,
            ttl,
        )
        .await
    }

    async fn sign(
        &self,
        sub: String,
        aud: &str,
        kind: TokenKind,
        session_id: Option<Uuid>,
        auth_time: Option<DateTime<Utc>>,
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
            sid: session_id.map(|id| id.to_string()),
            auth_time: auth_time.map(|at| at.timestamp()),
        };
        self.ensure_active().await?;
        let active = self.active.read().await;
        let key = active.as_ref().ok_or(IdentityError::Signing)?;
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(key.kid.clone());
        let token = jsonwebtoken::encode(&header, &claims, &key.encoding)
            .map_err(|_| IdentityError::Signing)?;
        Ok(IssuedToken { token, expires_at })
    }

    /// Loads the key that signs now, creating one when there is none, and
    /// makes sure the next one is already published.
    async fn ensure_active(&self) -> Result<(), IdentityError> {
        if let Some(key) = self.active.read().await.as_ref()
            && key.retire_at > Utc::now()
        {
            return Ok(());
        }
        let mut active = self.active.write().await;
        if let Some(key) = active.as_ref()
            && key.retire_at > Utc::now()
        {
            return Ok(());
        }
        let mut tx = self.pool.begin().await?;
        // One replica creates the next key; the others wait and load it.
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext('hms_identity_signing_keys'))")
            .execute(&mut *tx)
            .await?;
        // One clock for every comparison here: ours, not the database's.
        let now = Utc::now();
        let current: Option<(String, Vec<u8>, DateTime<Utc>)> = sqlx::query_as(
            "SELECT kid, private_key, retire_at FROM signing_keys
             WHERE signs_from <= $1 AND retire_at > $1
             ORDER BY signs_from DESC LIMIT 1",
        )
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let (kid, der, retire_at) = match current {
            Some((kid, sealed, retire_at)) => {
                let der = self
                    .sealing
                    .open(&sealed, kid.as_bytes())
                    .map_err(|_| IdentityError::Corrupt("a signing key cannot be opened"))?;
                (kid, der, retire_at)
            }
            // A fresh deployment, or one that was down past its key's
            // retirement: nobody holds a token to verify, so it signs now.
            None => self.create_key(&mut tx, now).await?,
        };
        // The next key is published from the moment this one signs: a
        // whole rotation ahead of its own first token.
        let (successor,): (bool,) =
            sqlx::query_as("SELECT EXISTS (SELECT 1 FROM signing_keys WHERE signs_from >= $1)")
                .bind(retire_at)
                .fetch_one(&mut *tx)
                .await?;
        if !successor {
            self.create_key(&mut tx, retire_at).await?;
        }
        tx.commit().await?;
        *active = Some(ActiveKey {
            kid,
            encoding: EncodingKey::from_ed_der(&der),
            retire_at,
        });
        Ok(())
    }

    /// Makes a key that signs from `signs_from` for one rotation, published
    /// from now until two hours after it retires.
    async fn create_key(
        &self,
        tx: &mut sqlx::PgConnection,
        signs_from: DateTime<Utc>,
    ) -> Result<(String, Zeroizing<Vec<u8>>, DateTime<Utc>), IdentityError> {
        let signing = SigningKey::generate(&mut rand_core_06::OsRng);
        let der = Zeroizing::new(
            signing
                .to_pkcs8_der()
                .map_err(|_| IdentityError::Signing)?
                .as_bytes()
                .to_vec(),
        );
        let kid = Uuid::now_v7().to_string();
        let sealed = self
            .sealing
            .seal(&der, kid.as_bytes())
            .map_err(|_| IdentityError::Signing)?;
        let retire_at = signs_from + self.rotation;
        sqlx::query(
            "INSERT INTO signing_keys (kid, private_key, public_key, signs_from, retire_at, published_until)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&kid)
        .bind(sealed)
        .bind(signing.verifying_key().as_bytes().as_slice())
        .bind(signs_from)
        .bind(retire_at)
        .bind(retire_at + PUBLISH_AFTER_RETIRE)
        .execute(&mut *tx)
        .await?;
        tracing::info!(%kid, %signs_from, "new token signing key");
        Ok((kid, der, retire_at))
    }

    /// Every key that may have signed a token still in use, as a JWKS.
    pub async fn jwks(&self) -> Result<JwkSet, IdentityError> {
        // A fresh deployment publishes its first key before anyone asks.
        self.ensure_active().await?;
        let keys: Vec<(String, Vec<u8>)> = sqlx::query_as(
            "SELECT kid, public_key FROM signing_keys WHERE published_until > now()
             ORDER BY created_at DESC",
        )
        .fetch_all(&self.pool)
        .await?;
        let keys = keys
            .into_iter()
            .map(|(kid, public)| {
                let x = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(public);
                serde_json::from_value(serde_json::json!({
                    "kty": "OKP", "crv": "Ed25519", "x": x,
                    "kid": kid, "use": "sig", "alg": "EdDSA",
                }))
                .map_err(|_| IdentityError::Corrupt("a public key cannot be published"))
            })
            .collect::<Result<_, _>>()?;
        Ok(JwkSet { keys })
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
