use chrono::{DateTime, Utc};

/// Why a credential, status list or key set could not be made.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    #[error("cannot encode the credential: {0}")]
    Encoding(String),
    #[error("a public key is not an Ed25519 key")]
    BadKey,
    #[error("status index {0} is beyond the list")]
    IndexOutOfRange(u64),
}

/// Why a credential cannot be trusted, or why it cannot be decided now.
/// The messages name no holder: they are safe to show and to log.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VerifyError {
    #[error("not an HMS card credential")]
    NotACredential,
    #[error("the credential lacks or garbles its {0}")]
    Malformed(&'static str),
    #[error("signed with an algorithm other than EdDSA")]
    UnsupportedAlgorithm,
    #[error("signed with a key the key set does not hold")]
    UnknownKey,
    #[error("the signature does not match: altered or forged")]
    BadSignature,
    #[error("the key set is not a JWKS of Ed25519 keys with an expiry")]
    BadKeySet,
    #[error("the key set expired at {0}: fetch it again")]
    KeySetExpired(DateTime<Utc>),
    #[error("the status list is not a signed status list token")]
    BadStatusList,
    #[error("the status list expired at {0}: fetch it again")]
    StatusListExpired(DateTime<Utc>),
    #[error("the status list is not the one this credential names")]
    WrongStatusList,
    #[error("the status list has no entry for this card")]
    NotInStatusList,
}
