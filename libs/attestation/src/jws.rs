//! Signing and verifying statements: compact JWS with EdDSA, keys as JWKS.

use std::collections::HashSet;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::pkcs8::EncodePrivateKey;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{AttestError, VerifyError};

/// A kind of statement: what its JWS `typ` header says, so a signature
/// over one kind is never taken for another.
pub trait Statement: Serialize + DeserializeOwned {
    /// The `typ` header, e.g. `hms-deletion-receipt+jwt`.
    const TYPE: &'static str;
}

/// The private key that signs now, and the id it is published under.
#[derive(Clone)]
pub struct Attester {
    kid: String,
    key: EncodingKey,
}

impl std::fmt::Debug for Attester {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Attester")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl Attester {
    pub fn new(
        kid: impl Into<String>,
        key: &ed25519_dalek::SigningKey,
    ) -> Result<Self, AttestError> {
        let der = key.to_pkcs8_der().map_err(|_| AttestError::BadKey)?;
        Ok(Self {
            kid: kid.into(),
            key: EncodingKey::from_ed_der(der.as_bytes()),
        })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The statement as a compact JWS.
    pub fn sign<S: Statement>(&self, statement: &S) -> Result<String, AttestError> {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.kid.clone());
        header.typ = Some(S::TYPE.to_owned());
        jsonwebtoken::encode(&header, statement, &self.key).map_err(|_| AttestError::Signing)
    }
}

/// The public keys statements are checked with, as published.
#[derive(Debug, Clone)]
pub struct KeySet {
    jwks: JwkSet,
}

impl KeySet {
    /// The set from each key's id and the 32 bytes of its Ed25519 public
    /// key.
    pub fn new<'a>(
        keys: impl IntoIterator<Item = (&'a str, &'a [u8])>,
    ) -> Result<Self, AttestError> {
        let keys = keys
            .into_iter()
            .map(|(kid, public_key)| {
                if public_key.len() != 32 {
                    return Err(AttestError::BadKey);
                }
                serde_json::from_value::<Jwk>(serde_json::json!({
                    "kty": "OKP", "crv": "Ed25519", "x": URL_SAFE_NO_PAD.encode(public_key),
                    "kid": kid, "use": "sig", "alg": "EdDSA",
                }))
                .map_err(|_| AttestError::BadKey)
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            jwks: JwkSet { keys },
        })
    }

    /// Reads a published JWKS.
    pub fn from_json(document: &[u8]) -> Result<Self, VerifyError> {
        let jwks: JwkSet = serde_json::from_slice(document).map_err(|_| VerifyError::BadKeySet)?;
        Ok(Self { jwks })
    }

    /// The JWKS to publish.
    pub fn to_json(&self) -> String {
        // A JwkSet always serialises.
        serde_json::to_string(&self.jwks).unwrap_or_default()
    }

    /// Checks a statement's type, key and signature, and reads it.
    pub fn verify<S: Statement>(&self, token: &str) -> Result<S, VerifyError> {
        let header =
            jsonwebtoken::decode_header(token.trim()).map_err(|_| VerifyError::Malformed)?;
        if header.alg != Algorithm::EdDSA {
            return Err(VerifyError::BadSignature);
        }
        match header.typ.as_deref() {
            Some(found) if found == S::TYPE => {}
            found => {
                return Err(VerifyError::WrongType {
                    expected: S::TYPE,
                    found: found.unwrap_or("untyped").to_owned(),
                });
            }
        }
        let kid = header.kid.ok_or(VerifyError::Malformed)?;
        let jwk = self
            .jwks
            .find(&kid)
            .ok_or_else(|| VerifyError::UnknownKey(kid.clone()))?;
        let key = DecodingKey::from_jwk(jwk).map_err(|_| VerifyError::BadKeySet)?;
        // A statement is a record, not a session: it does not expire.
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.required_spec_claims = HashSet::new();
        validation.validate_exp = false;
        validation.validate_aud = false;
        jsonwebtoken::decode::<S>(token.trim(), &key, &validation)
            .map(|data| data.claims)
            .map_err(|error| match error.kind() {
                jsonwebtoken::errors::ErrorKind::InvalidSignature => VerifyError::BadSignature,
                jsonwebtoken::errors::ErrorKind::Json(_) => VerifyError::BadClaims(S::TYPE),
                _ => VerifyError::Malformed,
            })
    }
}
