//! What the platform attests, in a form anyone can check without asking
//! it: a statement signed with Ed25519 as a compact JWS (RFC 7515, `EdDSA`
//! of RFC 8037), verified against the keys the platform publishes as a
//! JWKS. A signature proves that the platform made the statement and that
//! nobody changed it since; it does not prove the statement true.
//!
//! Two statements are made so: the deletion receipt of an order
//! ([`DeletionReceipt`], checked offline by `hms-receipt-verify`), and the
//! checkpoint of a company's access log ([`AccessLogCheckpoint`], checked
//! by `hms-audit verify`).

mod checkpoint;
mod jws;
mod receipt;

pub use checkpoint::AccessLogCheckpoint;
pub use jws::{Attester, KeySet, Statement};
pub use receipt::DeletionReceipt;

/// Why a statement cannot be signed or a key set built.
#[derive(Debug, thiserror::Error)]
pub enum AttestError {
    #[error("the signing key cannot be used")]
    BadKey,
    #[error("the statement cannot be signed")]
    Signing,
}

/// Why a statement does not verify. None of these names what the statement
/// holds.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VerifyError {
    #[error("the key set is not a JWKS of Ed25519 keys")]
    BadKeySet,
    #[error("not a signed statement (compact JWS)")]
    Malformed,
    #[error("a {found} statement, where a {expected} was expected")]
    WrongType {
        expected: &'static str,
        found: String,
    },
    #[error("signed with key {0}, which the key set does not hold")]
    UnknownKey(String),
    #[error(
        "the signature does not match: the statement was changed or not signed by the platform"
    )]
    BadSignature,
    #[error("the signed statement does not say what a {0} says")]
    BadClaims(&'static str),
}
