//! The credential: a CWT of the card, signed, compressed and base45-encoded
//! for a QR code.

use std::io::{Read, Write};

use chrono::{DateTime, Utc};
use coset::cbor::value::{Integer, Value};
use flate2::Compression;
use flate2::read::ZlibDecoder;
use flate2::write::ZlibEncoder;

use crate::cose::{self, OpenError};
use crate::error::{CredentialError, VerifyError};
use crate::keys::{KeySet, SigningKey};

/// What every payload starts with: the scheme and its version, so a
/// scanner tells an HMS card from any other QR code.
pub const PREFIX: &str = "HMS1:";

/// The COSE `typ` of a card credential.
const TYP: &str = "application/hms-card+cwt";

/// No credential inflates to more than this: a payload that does is not
/// one of ours (and a verifier must not be made to inflate a bomb).
const MAX_INFLATED: u64 = 4096;

// CWT claim keys (RFC 8392 and the status list draft).
const ISS: i64 = 1;
const SUB: i64 = 2;
const EXP: i64 = 4;
const IAT: i64 = 6;
const STATUS: i64 = 65535;
/// The card's own fields, under a claim in the private-use range.
const CARD: i64 = -65537;
// Keys inside the card claim.
const HOLDER: i64 = 1;
const EMPLOYER: i64 = 2;
const EMPLOYER_ORG: i64 = 3;
const CARD_TYPE: i64 = 4;

/// What the QR code says of a card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardCredential {
    /// Who signed it: the platform's public address.
    pub issuer: String,
    pub card_number: String,
    pub holder_name: String,
    pub employer_name: String,
    pub employer_org_number: String,
    /// `construction` or `cleaning`.
    pub card_type: String,
    pub issued_at: DateTime<Utc>,
    pub valid_until: DateTime<Utc>,
    pub status: StatusReference,
}

/// Where the card's status is: entry `index` of the list at `uri`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusReference {
    pub index: u64,
    pub uri: String,
}

/// Signs a credential and encodes it for a QR code.
pub fn issue(credential: &CardCredential, key: &SigningKey) -> Result<String, CredentialError> {
    let claims = Value::Map(vec![
        (int(ISS), Value::Text(credential.issuer.clone())),
        (int(SUB), Value::Text(credential.card_number.clone())),
        (int(EXP), int(credential.valid_until.timestamp())),
        (int(IAT), int(credential.issued_at.timestamp())),
        (
            int(CARD),
            Value::Map(vec![
                (int(HOLDER), Value::Text(credential.holder_name.clone())),
                (int(EMPLOYER), Value::Text(credential.employer_name.clone())),
                (
                    int(EMPLOYER_ORG),
                    Value::Text(credential.employer_org_number.clone()),
                ),
                (int(CARD_TYPE), Value::Text(credential.card_type.clone())),
            ]),
        ),
        (
            int(STATUS),
            Value::Map(vec![(
                Value::Text("status_list".to_owned()),
                Value::Map(vec![
                    (
                        Value::Text("idx".to_owned()),
                        Value::Integer(credential.status.index.into()),
                    ),
                    (
                        Value::Text("uri".to_owned()),
                        Value::Text(credential.status.uri.clone()),
                    ),
                ]),
            )]),
        ),
    ]);
    let mut cbor = Vec::new();
    coset::cbor::ser::into_writer(&claims, &mut cbor)
        .map_err(|error| CredentialError::Encoding(error.to_string()))?;
    let signed = cose::sign(cbor, TYP, key)?;
    let mut zlib = ZlibEncoder::new(Vec::new(), Compression::best());
    zlib.write_all(&signed)
        .and_then(|()| zlib.finish())
        .map(|compressed| format!("{PREFIX}{}", base45::encode(compressed)))
        .map_err(|error| CredentialError::Encoding(error.to_string()))
}

/// The credential in `payload`, once its signature holds.
pub(crate) fn open(payload: &str, keys: &KeySet) -> Result<CardCredential, VerifyError> {
    let encoded = payload
        .trim()
        .strip_prefix(PREFIX)
        .ok_or(VerifyError::NotACredential)?;
    let compressed = base45::decode(encoded).map_err(|_| VerifyError::NotACredential)?;
    let mut signed = Vec::new();
    ZlibDecoder::new(compressed.as_slice())
        .take(MAX_INFLATED + 1)
        .read_to_end(&mut signed)
        .map_err(|_| VerifyError::NotACredential)?;
    if signed.len() as u64 > MAX_INFLATED {
        return Err(VerifyError::NotACredential);
    }
    let cbor = cose::open(&signed, TYP, keys).map_err(|error| match error {
        OpenError::NotCose => VerifyError::NotACredential,
        OpenError::Verify(error) => error,
    })?;
    let claims: Value = coset::cbor::de::from_reader(cbor.as_slice())
        .map_err(|_| VerifyError::Malformed("claims"))?;
    let claims = Claims::of(claims, "claims")?;
    let card = Claims::of(claims.take(CARD, "card")?, "card")?;
    let status = Claims::of(claims.take(STATUS, "status")?, "status")?;
    let list = Claims::of(status.take_text("status_list", "status")?, "status")?;
    Ok(CardCredential {
        issuer: text(claims.take(ISS, "issuer")?, "issuer")?,
        card_number: text(claims.take(SUB, "card number")?, "card number")?,
        valid_until: time(claims.take(EXP, "valid-until")?, "valid-until")?,
        issued_at: time(claims.take(IAT, "issue time")?, "issue time")?,
        holder_name: text(card.take(HOLDER, "holder")?, "holder")?,
        employer_name: text(card.take(EMPLOYER, "employer")?, "employer")?,
        employer_org_number: text(card.take(EMPLOYER_ORG, "employer")?, "employer")?,
        card_type: text(card.take(CARD_TYPE, "card type")?, "card type")?,
        status: StatusReference {
            index: list
                .take_text("idx", "status")?
                .as_integer()
                .and_then(|index| u64::try_from(index).ok())
                .ok_or(VerifyError::Malformed("status"))?,
            uri: text(list.take_text("uri", "status")?, "status")?,
        },
    })
}

pub(crate) fn int(value: i64) -> Value {
    Value::Integer(Integer::from(value))
}

/// A CBOR map read by key.
pub(crate) struct Claims(Vec<(Value, Value)>);

impl Claims {
    pub(crate) fn of(value: Value, what: &'static str) -> Result<Self, VerifyError> {
        match value {
            Value::Map(entries) => Ok(Self(entries)),
            _ => Err(VerifyError::Malformed(what)),
        }
    }

    pub(crate) fn take(&self, key: i64, what: &'static str) -> Result<Value, VerifyError> {
        self.find(
            |candidate| candidate.as_integer() == Some(Integer::from(key)),
            what,
        )
    }

    pub(crate) fn take_text(&self, key: &str, what: &'static str) -> Result<Value, VerifyError> {
        self.find(|candidate| candidate.as_text() == Some(key), what)
    }

    fn find(
        &self,
        matches: impl Fn(&Value) -> bool,
        what: &'static str,
    ) -> Result<Value, VerifyError> {
        let mut found = self.0.iter().filter(|(key, _)| matches(key));
        match (found.next(), found.next()) {
            (Some((_, value)), None) => Ok(value.clone()),
            // Missing, or twice: a map with a key twice is not one we made.
            _ => Err(VerifyError::Malformed(what)),
        }
    }
}

pub(crate) fn text(value: Value, what: &'static str) -> Result<String, VerifyError> {
    match value {
        Value::Text(text) => Ok(text),
        _ => Err(VerifyError::Malformed(what)),
    }
}

pub(crate) fn time(value: Value, what: &'static str) -> Result<DateTime<Utc>, VerifyError> {
    value
        .as_integer()
        .and_then(|seconds| i64::try_from(seconds).ok())
        .and_then(|seconds| DateTime::from_timestamp(seconds, 0))
        .ok_or(VerifyError::Malformed(what))
}
