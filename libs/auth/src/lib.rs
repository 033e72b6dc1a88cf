//! Who is calling.
//!
//! The identity service is the platform's one token issuer. People get a
//! short-lived access token after BankID login; services get one per callee
//! by proving themselves with their secret ([`ServiceCredentials`]). Both are
//! EdDSA-signed JWTs whose keys identity publishes as a JWKS; every service
//! verifies them itself with a [`TokenVerifier`], which caches the keys and
//! refetches them when a token names a key it has not seen (rotation).
//!
//! A verified token becomes a [`Caller`]. What a caller may do is decided
//! elsewhere: internal calls by each service's `authz` module, a person's
//! access to a company by identity's `Authorize` (see `hms-authz`).

mod caller;
mod claims;
mod credentials;
mod keys;
mod verifier;

pub use caller::{Caller, UserCaller};
pub use claims::{Claims, ISSUER, TokenKind, USER_AUDIENCE};
pub use credentials::{ServiceCredentials, TokenFuture, TokenSource};
pub use keys::{IdentityKeys, KeySource, KeysFuture};
pub use verifier::TokenVerifier;

use secrecy::SecretString;
use serde::Deserialize;

/// `HMS_IDENTITY_URL` and `HMS_SERVICE_SECRET`: where the identity service
/// answers, and this service's secret towards it.
#[derive(Debug, Clone, Deserialize)]
pub struct AuthConfig {
    #[serde(default = "default_identity_url")]
    pub identity_url: String,
    /// Unused by identity itself, which signs its own tokens.
    #[serde(default)]
    pub service_secret: Option<SecretString>,
}

fn default_identity_url() -> String {
    let port = hms_layout::ServiceName::Identity.port(hms_layout::DEV_PORT_BASE);
    format!("http://127.0.0.1:{port}")
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// Deliberately vague: the caller learns nothing about why.
    #[error("invalid or expired credentials")]
    InvalidToken,
    /// Identity cannot be asked for keys or tokens right now.
    #[error("the identity service is unavailable")]
    IdentityUnavailable,
    /// Identity refused this service's own credentials.
    #[error("the identity service refused this service's credentials")]
    CredentialsRefused,
    #[error("HMS_SERVICE_SECRET is required")]
    MissingSecret,
    #[error("invalid HMS_IDENTITY_URL: {0}")]
    InvalidUrl(String),
}

impl AuthError {
    /// How a server answers a request whose credentials failed.
    pub fn to_status(&self) -> tonic::Status {
        match self {
            Self::IdentityUnavailable => {
                tonic::Status::unavailable("cannot verify credentials right now; try again shortly")
            }
            _ => tonic::Status::unauthenticated("invalid or expired credentials"),
        }
    }
}
