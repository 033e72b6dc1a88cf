//! The keys: a private one that signs, and the public set a verifier
//! caches, as a JWKS (RFC 7517, OKP keys of RFC 8037) with an expiry.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use ed25519_dalek::{Signer, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::error::{CredentialError, VerifyError};

/// A private Ed25519 key and the id it is published under.
pub struct SigningKey {
    kid: String,
    key: ed25519_dalek::SigningKey,
}

impl SigningKey {
    /// The key from its 32-byte seed.
    pub fn from_seed(kid: impl Into<String>, seed: &[u8; 32]) -> Self {
        Self {
            kid: kid.into(),
            key: ed25519_dalek::SigningKey::from_bytes(seed),
        }
    }

    /// A new random key.
    pub fn generate(kid: impl Into<String>) -> Self {
        Self {
            kid: kid.into(),
            key: ed25519_dalek::SigningKey::generate(&mut rand_core_06::OsRng),
        }
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// What is published of it.
    pub fn public(&self) -> PublishedKey {
        PublishedKey {
            kid: self.kid.clone(),
            public_key: self.key.verifying_key().to_bytes().to_vec(),
        }
    }

    pub(crate) fn sign(&self, message: &[u8]) -> Vec<u8> {
        self.key.sign(message).to_bytes().to_vec()
    }
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

/// A public key as published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedKey {
    pub kid: String,
    pub public_key: Vec<u8>,
}

/// The keys a verifier trusts, and until when: past its expiry a key not
/// in the set may already sign, so the set no longer decides anything.
#[derive(Debug, Clone)]
pub struct KeySet {
    keys: Vec<(String, VerifyingKey)>,
    expires_at: DateTime<Utc>,
}

#[derive(Serialize, Deserialize)]
struct Document {
    keys: Vec<Jwk>,
    /// NumericDate: after it, fetch the set again.
    exp: i64,
}

#[derive(Serialize, Deserialize)]
struct Jwk {
    kty: String,
    crv: String,
    x: String,
    kid: String,
    #[serde(rename = "use", default, skip_serializing_if = "Option::is_none")]
    usage: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    alg: Option<String>,
}

impl KeySet {
    pub fn new(
        keys: impl IntoIterator<Item = PublishedKey>,
        expires_at: DateTime<Utc>,
    ) -> Result<Self, CredentialError> {
        let keys = keys
            .into_iter()
            .map(|key| {
                let bytes: [u8; 32] = key
                    .public_key
                    .as_slice()
                    .try_into()
                    .map_err(|_| CredentialError::BadKey)?;
                let verifying =
                    VerifyingKey::from_bytes(&bytes).map_err(|_| CredentialError::BadKey)?;
                Ok((key.kid, verifying))
            })
            .collect::<Result<_, CredentialError>>()?;
        Ok(Self { keys, expires_at })
    }

    /// Reads a published set.
    pub fn from_json(document: &[u8]) -> Result<Self, VerifyError> {
        let document: Document =
            serde_json::from_slice(document).map_err(|_| VerifyError::BadKeySet)?;
        let expires_at = DateTime::from_timestamp(document.exp, 0).ok_or(VerifyError::BadKeySet)?;
        let keys = document
            .keys
            .into_iter()
            .map(|jwk| {
                if jwk.kty != "OKP" || jwk.crv != "Ed25519" {
                    return Err(VerifyError::BadKeySet);
                }
                let public_key = URL_SAFE_NO_PAD
                    .decode(jwk.x)
                    .map_err(|_| VerifyError::BadKeySet)?;
                Ok(PublishedKey {
                    kid: jwk.kid,
                    public_key,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Self::new(keys, expires_at).map_err(|_| VerifyError::BadKeySet)
    }

    /// The set as published.
    pub fn to_json(&self) -> String {
        let document = Document {
            keys: self
                .keys
                .iter()
                .map(|(kid, key)| Jwk {
                    kty: "OKP".to_owned(),
                    crv: "Ed25519".to_owned(),
                    x: URL_SAFE_NO_PAD.encode(key.as_bytes()),
                    kid: kid.clone(),
                    usage: Some("sig".to_owned()),
                    alg: Some("EdDSA".to_owned()),
                })
                .collect(),
            exp: self.expires_at.timestamp(),
        };
        // A struct of strings and an integer always serializes.
        serde_json::to_string(&document).unwrap_or_default()
    }

    pub fn expires_at(&self) -> DateTime<Utc> {
        self.expires_at
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub(crate) fn check_current(&self, now: DateTime<Utc>) -> Result<(), VerifyError> {
        if now >= self.expires_at {
            Err(VerifyError::KeySetExpired(self.expires_at))
        } else {
            Ok(())
        }
    }

    pub(crate) fn key(&self, kid: &[u8]) -> Option<&VerifyingKey> {
        self.keys
            .iter()
            .find(|(id, _)| id.as_bytes() == kid)
            .map(|(_, key)| key)
    }
}
