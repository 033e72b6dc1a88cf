//! Verifying identity's tokens.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use tokio::sync::{Mutex, RwLock};
use uuid::Uuid;

use crate::{AuthError, Caller, Claims, ISSUER, KeySource, TokenKind, USER_AUDIENCE, UserCaller};

/// Keys are refetched at least this often, so retired keys stop working.
const MAX_KEY_AGE: Duration = Duration::from_secs(300);
/// Tokens naming unknown keys refetch at most this often: a flood of forged
/// key ids must not become a flood of calls to identity.
const MIN_REFETCH_INTERVAL: Duration = Duration::from_secs(5);
/// Clock difference tolerated between identity and us.
const LEEWAY_SECS: u64 = 30;

struct Keys {
    by_id: HashMap<String, DecodingKey>,
    fetched_at: Option<Instant>,
}

/// Verifies access tokens for one service: people's tokens (audience
/// [`USER_AUDIENCE`]) and service tokens addressed to this service.
#[derive(Clone)]
pub struct TokenVerifier {
    audience: String,
    source: Arc<dyn KeySource>,
    keys: Arc<RwLock<Keys>>,
    refetch: Arc<Mutex<()>>,
}

impl std::fmt::Debug for TokenVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenVerifier")
            .field("audience", &self.audience)
            .finish_non_exhaustive()
    }
}

impl TokenVerifier {
    /// `service` is this service's name: the audience of the service tokens
    /// it accepts.
    pub fn new(service: &str, source: Arc<dyn KeySource>) -> Self {
        Self {
            audience: service.to_owned(),
            source,
            keys: Arc::new(RwLock::new(Keys {
                by_id: HashMap::new(),
                fetched_at: None,
            })),
            refetch: Arc::new(Mutex::new(())),
        }
    }

    /// The caller a token proves, if identity signed it with a key it still
    /// publishes, for us, and it has not expired.
    pub async fn verify(&self, token: &str) -> Result<Caller, AuthError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| AuthError::InvalidToken)?;
        // Only identity's algorithm: never `none`, never HMAC with a public key.
        if header.alg != Algorithm::EdDSA {
            return Err(AuthError::InvalidToken);
        }
        let kid = header.kid.ok_or(AuthError::InvalidToken)?;
        let key = self.key(&kid).await?.ok_or(AuthError::InvalidToken)?;

        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[self.audience.as_str(), USER_AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        validation.leeway = LEEWAY_SECS;
        let claims = jsonwebtoken::decode::<Claims>(token, &key, &validation)
            .map_err(|_| AuthError::InvalidToken)?
            .claims;
        caller_from_claims(claims, &self.audience)
    }

    /// The caller of a request: anonymous without `authorization`, the
    /// token's caller with a valid bearer token, an error for anything else.
    pub async fn caller_from_headers(
        &self,
        headers: &http::HeaderMap,
    ) -> Result<Caller, AuthError> {
        let Some(value) = headers.get("authorization") else {
            return Ok(Caller::Anonymous);
        };
        let token = value
            .to_str()
            .ok()
            .and_then(|value| value.strip_prefix("Bearer "))
            .ok_or(AuthError::InvalidToken)?;
        self.verify(token.trim()).await
    }

    async fn key(&self, kid: &str) -> Result<Option<DecodingKey>, AuthError> {
        {
            let keys = self.keys.read().await;
            let fresh = keys.fetched_at.is_some_and(|at| at.elapsed() < MAX_KEY_AGE);
            if let (true, Some(key)) = (fresh, keys.by_id.get(kid)) {
                return Ok(Some(key.clone()));
            }
        }
        // Unknown key or stale set: refetch once, whoever asks first.
        let _refetching = self.refetch.lock().await;
        {
            let keys = self.keys.read().await;
            let recently = keys
                .fetched_at
                .is_some_and(|at| at.elapsed() < MIN_REFETCH_INTERVAL);
            if recently {
                return Ok(keys.by_id.get(kid).cloned());
            }
        }
        match self.source.fetch().await {
            Ok(set) => {
                let by_id = set
                    .keys
                    .iter()
                    .filter_map(|jwk| {
                        let kid = jwk.common.key_id.clone()?;
                        let key = DecodingKey::from_jwk(jwk).ok()?;
                        Some((kid, key))
                    })
                    .collect::<HashMap<_, _>>();
                let key = by_id.get(kid).cloned();
                *self.keys.write().await = Keys {
                    by_id,
                    fetched_at: Some(Instant::now()),
                };
                Ok(key)
            }
            Err(error) => {
                // Keep verifying with the keys we have while identity is away.
                let keys = self.keys.read().await;
                match keys.by_id.get(kid) {
                    Some(key) => Ok(Some(key.clone())),
                    None => Err(error),
                }
            }
        }
    }
}

fn caller_from_claims(claims: Claims, audience: &str) -> Result<Caller, AuthError> {
    match claims.kind {
        // A service token is for one callee; a person's token for all.
        TokenKind::Service if claims.aud == audience => Ok(Caller::Service(claims.sub)),
        TokenKind::User if claims.aud == USER_AUDIENCE => {
            let user_id = Uuid::parse_str(&claims.sub).map_err(|_| AuthError::InvalidToken)?;
            let session_id = claims
                .sid
                .as_deref()
                .and_then(|sid| Uuid::parse_str(sid).ok())
                .ok_or(AuthError::InvalidToken)?;
            let auth_time = claims
                .auth_time
                .and_then(|at| DateTime::<Utc>::from_timestamp(at, 0))
                .ok_or(AuthError::InvalidToken)?;
            Ok(Caller::User(UserCaller {
                user_id,
                session_id,
                auth_time,
                subject_key: claims.psk.filter(|key| !key.is_empty()),
            }))
        }
        _ => Err(AuthError::InvalidToken),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use base64::Engine;
    use ed25519_dalek::SigningKey;
    use ed25519_dalek::pkcs8::EncodePrivateKey;
    use jsonwebtoken::jwk::JwkSet;
    use jsonwebtoken::{EncodingKey, Header};

    use super::*;
    use crate::keys::KeysFuture;

    struct TestKey {
        kid: String,
        signing: SigningKey,
    }

    impl TestKey {
        fn new(kid: &str) -> Self {
            Self {
                kid: kid.to_owned(),
                signing: SigningKey::generate(&mut rand_core_06::OsRng),
            }
        }

        fn jwk(&self) -> serde_json::Value {
            let x = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(self.signing.verifying_key().as_bytes());
            serde_json::json!({"kty": "OKP", "crv": "Ed25519", "x": x, "kid": self.kid, "alg": "EdDSA", "use": "sig"})
        }

        fn sign(&self, claims: &serde_json::Value) -> String {
            let der = self.signing.to_pkcs8_der().expect("der");
            let mut header = Header::new(Algorithm::EdDSA);
            header.kid = Some(self.kid.clone());
            jsonwebtoken::encode(&header, claims, &EncodingKey::from_ed_der(der.as_bytes()))
                .expect("sign")
        }
    }

    struct StaticKeys {
        set: std::sync::Mutex<serde_json::Value>,
        fetches: AtomicUsize,
    }

    impl KeySource for StaticKeys {
        fn fetch(&self) -> KeysFuture<'_> {
            self.fetches.fetch_add(1, Ordering::SeqCst);
            let set: JwkSet =
                serde_json::from_value(self.set.lock().expect("lock").clone()).expect("jwks");
            Box::pin(async move { Ok(set) })
        }
    }

    fn verifier(keys: &[&TestKey]) -> (TokenVerifier, Arc<StaticKeys>) {
        let source = Arc::new(StaticKeys {
            set: std::sync::Mutex::new(
                serde_json::json!({"keys": keys.iter().map(|k| k.jwk()).collect::<Vec<_>>()}),
            ),
            fetches: AtomicUsize::new(0),
        });
        (TokenVerifier::new("media", source.clone()), source)
    }

    fn user_claims() -> serde_json::Value {
        let now = Utc::now().timestamp();
        serde_json::json!({
            "iss": ISSUER, "sub": Uuid::new_v4().to_string(), "aud": USER_AUDIENCE,
            "iat": now, "exp": now + 300, "jti": "j1", "kind": "user",
            "sid": Uuid::new_v4().to_string(), "auth_time": now - 10,
        })
    }

    fn with(
        mut claims: serde_json::Value,
        key: &str,
        value: serde_json::Value,
    ) -> serde_json::Value {
        claims[key] = value;
        claims
    }

    #[tokio::test]
    async fn a_person_and_a_service_addressed_to_us_are_recognised() {
        let key = TestKey::new("k1");
        let (verifier, _) = verifier(&[&key]);
        let claims = user_claims();
        let caller = verifier.verify(&key.sign(&claims)).await.expect("valid");
        let user = caller.user().expect("a person");
        assert_eq!(
            user.user_id.to_string(),
            claims["sub"].as_str().expect("sub")
        );

        let now = Utc::now().timestamp();
        let service = serde_json::json!({
            "iss": ISSUER, "sub": "redaction", "aud": "media",
            "iat": now, "exp": now + 300, "jti": "j2", "kind": "service",
        });
        assert_eq!(
            verifier.verify(&key.sign(&service)).await,
            Ok(Caller::Service("redaction".into()))
        );
        let for_orders = with(service, "aud", "orders".into());
        assert_eq!(
            verifier.verify(&key.sign(&for_orders)).await,
            Err(AuthError::InvalidToken)
        );
    }

    #[tokio::test]
    async fn expired_foreign_or_misaddressed_tokens_are_refused() {
        let key = TestKey::new("k1");
        let (verifier, _) = verifier(&[&key]);
        let now = Utc::now().timestamp();
        for claims in [
            with(user_claims(), "exp", (now - 120).into()),
            with(user_claims(), "iss", "https://evil.example".into()),
            with(user_claims(), "aud", "someone-else".into()),
            with(user_claims(), "kind", "service".into()),
            with(user_claims(), "sid", serde_json::Value::Null),
            with(user_claims(), "sub", "not-a-uuid".into()),
        ] {
            assert_eq!(
                verifier.verify(&key.sign(&claims)).await,
                Err(AuthError::InvalidToken),
                "{claims}"
            );
        }
    }

    #[tokio::test]
    async fn unsigned_tampered_and_unknown_key_tokens_are_refused() {
        let key = TestKey::new("k1");
        let (verifier, source) = verifier(&[&key]);
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let payload = engine.encode(user_claims().to_string());

        let none = format!(
            "{}.{payload}.",
            engine.encode(br#"{"alg":"none","kid":"k1"}"#)
        );
        assert_eq!(verifier.verify(&none).await, Err(AuthError::InvalidToken));

        // HMAC keyed with the public key: the classic algorithm confusion.
        let public = key.signing.verifying_key();
        let hs = jsonwebtoken::encode(
            &Header {
                kid: Some("k1".into()),
                ..Header::new(Algorithm::HS256)
            },
            &user_claims(),
            &EncodingKey::from_secret(public.as_bytes()),
        )
        .expect("sign");
        assert_eq!(verifier.verify(&hs).await, Err(AuthError::InvalidToken));

        let good = key.sign(&user_claims());
        let (head, rest) = good.split_once('.').expect("jwt");
        let (_, signature) = rest.split_once('.').expect("jwt");
        let forged_payload = engine
            .encode(with(user_claims(), "sub", Uuid::new_v4().to_string().into()).to_string());
        let tampered = format!("{head}.{forged_payload}.{signature}");
        assert_eq!(
            verifier.verify(&tampered).await,
            Err(AuthError::InvalidToken)
        );

        let stranger = TestKey::new("k-unknown");
        assert_eq!(
            verifier.verify(&stranger.sign(&user_claims())).await,
            Err(AuthError::InvalidToken)
        );
        // A flood of unknown key ids costs at most one fetch per interval.
        let before = source.fetches.load(Ordering::SeqCst);
        for _ in 0..20 {
            let _ = verifier.verify(&stranger.sign(&user_claims())).await;
        }
        assert!(source.fetches.load(Ordering::SeqCst) - before <= 1);
    }

    #[tokio::test]
    async fn a_rotated_key_is_fetched_when_a_token_names_it() {
        let old = TestKey::new("k-old");
        let (verifier, source) = verifier(&[&old]);
        assert!(verifier.verify(&old.sign(&user_claims())).await.is_ok());

        let new = TestKey::new("k-new");
        *source.set.lock().expect("lock") = serde_json::json!({"keys": [old.jwk(), new.jwk()]});
        // Past the refetch interval, a token with the new key id succeeds.
        verifier.keys.write().await.fetched_at = Some(Instant::now() - MIN_REFETCH_INTERVAL);
        assert!(verifier.verify(&new.sign(&user_claims())).await.is_ok());
        assert!(verifier.verify(&old.sign(&user_claims())).await.is_ok());
    }
}
