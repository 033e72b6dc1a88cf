//! The status list of the IETF Token Status List draft
//! (draft-ietf-oauth-status-list), in its CWT form: two bits per card,
//! zlib-compressed, signed, with a time to live.

use std::io::{Read, Write};
use std::time::Duration;

use chrono::{DateTime, Utc};
use coset::cbor::value::{Integer, Value};
use flate2::Compression;
use flate2::read::ZlibDecoder;
use flate2::write::ZlibEncoder;

use crate::cose::{self, OpenError};
use crate::credential::{Claims, int, text, time};
use crate::error::{CredentialError, VerifyError};
use crate::keys::{KeySet, SigningKey};

/// The COSE `typ` the draft gives a status list token.
const TYP: &str = "application/statuslist+cwt";

// Claim keys of the draft's CWT status list token.
const SUB: i64 = 2;
const EXP: i64 = 4;
const IAT: i64 = 6;
const STATUS_LIST: i64 = 65533;
const TTL: i64 = 65534;

/// Bits per entry: the draft's VALID, INVALID and an application value.
const BITS: u8 = 2;
const PER_BYTE: u64 = 8 / BITS as u64;

/// Lists grow in steps of this many entries, so a list's length says
/// little about how many cards exist (the draft's herd privacy).
const STEP: u64 = 16 * 1024;

/// No list inflates to more than this (64 million cards).
const MAX_INFLATED: u64 = 16 * 1024 * 1024;

/// A card's entry in the list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardStatus {
    /// The draft's VALID (0x00).
    Valid,
    /// The draft's INVALID (0x01): lost or stolen, for good.
    Blocked,
    /// The draft's application-specific value (0x03): the employment ended.
    Deactivated,
}

impl CardStatus {
    const fn bits(self) -> u8 {
        match self {
            Self::Valid => 0x00,
            Self::Blocked => 0x01,
            Self::Deactivated => 0x03,
        }
    }
}

/// Two bits per card, by status index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusList {
    bytes: Vec<u8>,
}

impl StatusList {
    /// A list of valid entries with room for index `highest`.
    pub fn covering(highest: u64) -> Self {
        let entries = (highest / STEP + 1) * STEP;
        Self {
            bytes: vec![0; usize::try_from(entries / PER_BYTE).unwrap_or(0)],
        }
    }

    /// How many entries it holds.
    pub fn len(&self) -> u64 {
        self.bytes.len() as u64 * PER_BYTE
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    pub fn set(&mut self, index: u64, status: CardStatus) -> Result<(), CredentialError> {
        let (byte, shift) = Self::place(index);
        let byte = self
            .bytes
            .get_mut(byte)
            .ok_or(CredentialError::IndexOutOfRange(index))?;
        *byte = (*byte & !(0b11 << shift)) | (status.bits() << shift);
        Ok(())
    }

    /// The entry at `index`; none beyond the list, or for the draft's
    /// SUSPENDED (0x02), which this platform never sets.
    pub fn get(&self, index: u64) -> Option<CardStatus> {
        let (byte, shift) = Self::place(index);
        match (self.bytes.get(byte)? >> shift) & 0b11 {
            0x00 => Some(CardStatus::Valid),
            0x01 => Some(CardStatus::Blocked),
            0x03 => Some(CardStatus::Deactivated),
            _ => None,
        }
    }

    /// Index 0 is the least significant bits of the first byte.
    fn place(index: u64) -> (usize, u32) {
        let byte = usize::try_from(index / PER_BYTE).unwrap_or(usize::MAX);
        let shift = u32::try_from((index % PER_BYTE) * u64::from(BITS)).unwrap_or(0);
        (byte, shift)
    }
}

/// A signed status list: where it is published, when it was made, until
/// when it may be used, and how often a verifier should fetch it again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusListToken {
    pub uri: String,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub ttl: Duration,
    pub list: StatusList,
}

impl StatusListToken {
    /// Signs the list as a status list token.
    pub fn sign(&self, key: &SigningKey) -> Result<Vec<u8>, CredentialError> {
        let encoding = |error: std::io::Error| CredentialError::Encoding(error.to_string());
        let mut zlib = ZlibEncoder::new(Vec::new(), Compression::best());
        zlib.write_all(&self.list.bytes).map_err(encoding)?;
        let compressed = zlib.finish().map_err(encoding)?;
        let claims = Value::Map(vec![
            (int(SUB), Value::Text(self.uri.clone())),
            (int(EXP), int(self.expires_at.timestamp())),
            (int(IAT), int(self.issued_at.timestamp())),
            (
                int(STATUS_LIST),
                Value::Map(vec![
                    (Value::Text("bits".to_owned()), Value::Integer(BITS.into())),
                    (Value::Text("lst".to_owned()), Value::Bytes(compressed)),
                ]),
            ),
            (int(TTL), Value::Integer(Integer::from(self.ttl.as_secs()))),
        ]);
        let mut cbor = Vec::new();
        coset::cbor::ser::into_writer(&claims, &mut cbor)
            .map_err(|error| CredentialError::Encoding(error.to_string()))?;
        cose::sign(cbor, TYP, key)
    }

    /// Reads a token, once one of `keys` is shown to have signed it. A
    /// token past its expiry still reads: [`crate::verify`] refuses it.
    pub fn verify(token: &[u8], keys: &KeySet) -> Result<Self, VerifyError> {
        let cbor = cose::open(token, TYP, keys).map_err(|error| match error {
            OpenError::NotCose => VerifyError::BadStatusList,
            OpenError::Verify(error) => error,
        })?;
        let bad = |_| VerifyError::BadStatusList;
        let claims: Value = coset::cbor::de::from_reader(cbor.as_slice())
            .map_err(|_| VerifyError::BadStatusList)?;
        let claims = Claims::of(claims, "status list").map_err(bad)?;
        let list =
            Claims::of(claims.take(STATUS_LIST, "status list").map_err(bad)?, "").map_err(bad)?;
        let bits = list.take_text("bits", "").map_err(bad)?;
        if bits.as_integer() != Some(Integer::from(BITS)) {
            return Err(VerifyError::BadStatusList);
        }
        let Value::Bytes(compressed) = list.take_text("lst", "").map_err(bad)? else {
            return Err(VerifyError::BadStatusList);
        };
        let mut bytes = Vec::new();
        ZlibDecoder::new(compressed.as_slice())
            .take(MAX_INFLATED + 1)
            .read_to_end(&mut bytes)
            .map_err(|_| VerifyError::BadStatusList)?;
        if bytes.len() as u64 > MAX_INFLATED {
            return Err(VerifyError::BadStatusList);
        }
        let ttl = claims
            .take(TTL, "")
            .map_err(bad)?
            .as_integer()
            .and_then(|seconds| u64::try_from(seconds).ok())
            .ok_or(VerifyError::BadStatusList)?;
        Ok(Self {
            uri: text(claims.take(SUB, "").map_err(bad)?, "").map_err(bad)?,
            issued_at: time(claims.take(IAT, "").map_err(bad)?, "").map_err(bad)?,
            expires_at: time(claims.take(EXP, "").map_err(bad)?, "").map_err(bad)?,
            ttl: Duration::from_secs(ttl),
            list: StatusList { bytes },
        })
    }

    pub(crate) fn check_current(&self, now: DateTime<Utc>) -> Result<(), VerifyError> {
        if now >= self.expires_at {
            Err(VerifyError::StatusListExpired(self.expires_at))
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_pack_two_bits_from_the_least_significant_end() {
        let mut list = StatusList::covering(0);
        assert_eq!(list.len(), STEP);
        list.set(1, CardStatus::Blocked).expect("in range");
        list.set(2, CardStatus::Deactivated).expect("in range");
        // Index 0 bits 0-1, index 1 bits 2-3, index 2 bits 4-5.
        assert_eq!(list.bytes[0], 0b0011_0100);
        assert_eq!(list.get(0), Some(CardStatus::Valid));
        assert_eq!(list.get(1), Some(CardStatus::Blocked));
        assert_eq!(list.get(2), Some(CardStatus::Deactivated));
        list.set(1, CardStatus::Valid).expect("in range");
        assert_eq!(list.get(1), Some(CardStatus::Valid));
        assert_eq!(list.get(STEP), None);
        assert!(list.set(STEP, CardStatus::Blocked).is_err());
    }

    #[test]
    fn a_list_grows_in_steps() {
        assert_eq!(StatusList::covering(STEP - 1).len(), STEP);
        assert_eq!(StatusList::covering(STEP).len(), 2 * STEP);
    }
}
