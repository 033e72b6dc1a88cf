//! The RSA key that signs id_tokens, and its public half as a JWK.

use std::io::Write as _;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rsa::RsaPrivateKey;
use rsa::pkcs1::{DecodeRsaPrivateKey as _, EncodeRsaPrivateKey as _};
use rsa::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _, LineEnding};
use rsa::traits::PublicKeyParts as _;
use serde::Serialize;
use sha2::{Digest, Sha256};

/// 2048 bits: what ID-porten and BankID use, and quick enough to generate
/// at start-up.
const KEY_BITS: usize = 2048;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read or write the key file: {0}")]
    Io(#[from] std::io::Error),
    #[error("the key file is not an RSA private key in PKCS#8 or PKCS#1 PEM")]
    Pem,
    #[error("RSA key generation failed: {0}")]
    Generate(String),
    #[error("signing failed: {0}")]
    Sign(#[from] jsonwebtoken::errors::Error),
}

/// Signs tokens with RS256 and publishes the matching JWK.
#[derive(Clone)]
pub struct SigningKey {
    kid: String,
    encoding: EncodingKey,
    jwk: serde_json::Value,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// A fresh key that lives as long as the process.
    pub fn generate() -> Result<Self, KeyError> {
        Self::from_private_key(&generate_private_key()?)
    }

    /// Loads the key at `path`, or, when there is no file there, generates
    /// one and writes it (PKCS#8 PEM, readable by the owner only), so that
    /// tokens stay verifiable across restarts.
    pub fn load_or_create(path: &Path) -> Result<Self, KeyError> {
        match std::fs::read_to_string(path) {
            Ok(pem) => Self::from_pem(&pem),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                let key = generate_private_key()?;
                let pem = key
                    .to_pkcs8_pem(LineEnding::LF)
                    .map_err(|_| KeyError::Pem)?;
                write_private(path, pem.as_bytes())?;
                tracing::info!(path = %path.display(), "generated a signing key and saved it");
                Self::from_private_key(&key)
            }
            Err(error) => Err(error.into()),
        }
    }

    /// An RSA private key in PKCS#8 (`BEGIN PRIVATE KEY`) or PKCS#1
    /// (`BEGIN RSA PRIVATE KEY`) PEM.
    pub fn from_pem(pem: &str) -> Result<Self, KeyError> {
        let key = RsaPrivateKey::from_pkcs8_pem(pem)
            .or_else(|_| RsaPrivateKey::from_pkcs1_pem(pem))
            .map_err(|_| KeyError::Pem)?;
        Self::from_private_key(&key)
    }

    fn from_private_key(key: &RsaPrivateKey) -> Result<Self, KeyError> {
        // jsonwebtoken's RustCrypto backend signs from PKCS#1 DER.
        let der = key.to_pkcs1_der().map_err(|_| KeyError::Pem)?;
        let encoding = EncodingKey::from_rsa_der(der.as_bytes());
        let n = URL_SAFE_NO_PAD.encode(key.n().to_bytes_be());
        let e = URL_SAFE_NO_PAD.encode(key.e().to_bytes_be());
        let kid = thumbprint(&n, &e);
        let jwk = serde_json::json!({
            "kty": "RSA",
            "use": "sig",
            "alg": "RS256",
            "kid": kid,
            "n": n,
            "e": e,
        });
        Ok(Self { kid, encoding, jwk })
    }

    /// The key id, also the `kid` header of every token.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The JWK Set document served at the `jwks_uri`.
    pub fn jwks(&self) -> serde_json::Value {
        serde_json::json!({ "keys": [self.jwk] })
    }

    /// A compact RS256 JWS over `claims`, with `kid` and `typ: JWT`.
    pub(crate) fn sign(&self, claims: &impl Serialize) -> Result<String, KeyError> {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.kid.clone());
        Ok(jsonwebtoken::encode(&header, claims, &self.encoding)?)
    }
}

fn generate_private_key() -> Result<RsaPrivateKey, KeyError> {
    RsaPrivateKey::new(&mut rand_core_06::OsRng, KEY_BITS)
        .map_err(|error| KeyError::Generate(error.to_string()))
}

/// The RFC 7638 JWK thumbprint: SHA-256 over the required members in
/// lexicographic order, without whitespace. Stable for a key, so a relying
/// party's cache keeps working across restarts with the same key file.
fn thumbprint(n: &str, e: &str) -> String {
    let canonical = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

/// Creates `path` with owner-only permissions before any secret is written,
/// and refuses to replace a file that appeared meanwhile.
fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saved_key_is_reloaded_with_the_same_kid_and_private_permissions() {
        let dir = std::env::temp_dir().join(format!("bankid-sim-key-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("signing.pem");
        std::fs::remove_file(&path).ok();

        let created = SigningKey::load_or_create(&path).expect("created");
        let loaded = SigningKey::load_or_create(&path).expect("loaded");
        assert_eq!(created.kid(), loaded.kid());
        assert_eq!(created.jwks(), loaded.jwks());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path)
                .expect("metadata")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }

        std::fs::write(&path, "not a key").expect("write");
        assert!(matches!(
            SigningKey::load_or_create(&path),
            Err(KeyError::Pem)
        ));
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn the_kid_is_the_rfc_7638_thumbprint() {
        // RFC 7638 §3.1's example key and thumbprint.
        let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
        assert_eq!(
            thumbprint(n, "AQAB"),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }
}
