//! What identity's tokens say.

use serde::{Deserialize, Serialize};

/// `iss` of every token identity issues.
pub const ISSUER: &str = "hms-identity";
/// `aud` of people's access tokens: every service of the platform. Service
/// tokens are for one callee and name it instead.
pub const USER_AUDIENCE: &str = "hms";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenKind {
    User,
    Service,
}

/// The claims of an access token. A person appears by their stable user id,
/// never by national identity number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    /// A user id (UUID) or a service name.
    pub sub: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
    /// Unique per token.
    pub jti: String,
    pub kind: TokenKind,
    /// People only: the session, so that logout ends its tokens everywhere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// People only: when they authenticated with BankID (step-up).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    /// People only: their subject key, a keyed fingerprint (identity's key)
    /// of their national identity number, against which services find the
    /// records of the person as a worker. Says nothing without the key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub psk: Option<String>,
}
