//! The HMS card as a credential anyone can check without a network, the
//! way the EU's health certificates were checked at borders:
//!
//! - **the credential** ([`issue`]): a CWT (RFC 8392) holding the card
//!   number, holder, employer, card type, valid-until and an index into a
//!   status list, signed as a COSE_Sign1 with Ed25519, zlib-compressed and
//!   base45-encoded behind the prefix [`PREFIX`] so it fits a QR code's
//!   alphanumeric mode;
//! - **the status list** ([`StatusListToken`]): the IETF Token Status List
//!   (draft-ietf-oauth-status-list) as a CWT: two bits per card, compressed,
//!   signed, with a time to live, so a blocked card stops counting once a
//!   verifier has the next list;
//! - **the keys** ([`KeySet`]): the public keys as a JWKS with an expiry,
//!   published a whole rotation ahead of their first signature;
//! - **the verifier** ([`verify`], and the `hms-card-verify` command):
//!   payload, cached keys and cached list in, a verdict out, no network.

mod cose;
mod credential;
mod error;
mod keys;
mod status_list;

pub use credential::{CardCredential, PREFIX, StatusReference, issue};
pub use error::{CredentialError, VerifyError};
pub use keys::{KeySet, PublishedKey, SigningKey};
pub use status_list::{CardStatus, StatusList, StatusListToken};

use chrono::{DateTime, Utc};

/// Where a card stands, as a verifier decides it offline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// It counts.
    Valid,
    /// Lost or stolen.
    Blocked,
    /// The holder's employment ended.
    Deactivated,
    /// Past its valid-until.
    Expired,
}

impl Standing {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Valid => "valid",
            Self::Blocked => "blocked",
            Self::Deactivated => "deactivated",
            Self::Expired => "expired",
        }
    }
}

/// A credential whose signature holds, and where its card stands.
#[derive(Debug, Clone, PartialEq)]
pub struct Verified {
    pub credential: CardCredential,
    pub standing: Standing,
}

/// Checks a QR payload at `now` against a cached key set and a cached
/// status list (itself verified with [`StatusListToken::verify`]).
///
/// An error means the payload cannot be trusted or the caches are too old
/// to decide: either way the card does not count.
pub fn verify(
    payload: &str,
    keys: &KeySet,
    status_list: &StatusListToken,
    now: DateTime<Utc>,
) -> Result<Verified, VerifyError> {
    keys.check_current(now)?;
    let credential = credential::open(payload, keys)?;
    if now >= credential.valid_until {
        return Ok(Verified {
            credential,
            standing: Standing::Expired,
        });
    }
    if credential.status.uri != status_list.uri {
        return Err(VerifyError::WrongStatusList);
    }
    status_list.check_current(now)?;
    let standing = match status_list.list.get(credential.status.index) {
        Some(CardStatus::Valid) => Standing::Valid,
        Some(CardStatus::Blocked) => Standing::Blocked,
        Some(CardStatus::Deactivated) => Standing::Deactivated,
        None => return Err(VerifyError::NotInStatusList),
    };
    Ok(Verified {
        credential,
        standing,
    })
}
