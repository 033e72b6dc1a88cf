//! COSE_Sign1 (RFC 9052) with EdDSA: the envelope of both the credential
//! and the status list.

use coset::cbor::value::Value;
use coset::iana;
use coset::{
    CborSerializable, CoseSign1, CoseSign1Builder, HeaderBuilder, Label,
    RegisteredLabelWithPrivate, TaggedCborSerializable,
};
use ed25519_dalek::Signature;

use crate::error::{CredentialError, VerifyError};
use crate::keys::{KeySet, SigningKey};

/// The `typ` header parameter (RFC 9596).
const TYP: i64 = 16;

/// Signs `payload` with `key`, naming its type in the protected header.
pub fn sign(payload: Vec<u8>, typ: &str, key: &SigningKey) -> Result<Vec<u8>, CredentialError> {
    let protected = HeaderBuilder::new()
        .algorithm(iana::Algorithm::EdDSA)
        .key_id(key.kid().as_bytes().to_vec())
        .value(TYP, Value::Text(typ.to_owned()))
        .build();
    CoseSign1Builder::new()
        .protected(protected)
        .payload(payload)
        .create_signature(b"", |to_be_signed| key.sign(to_be_signed))
        .build()
        .to_tagged_vec()
        .map_err(|error| CredentialError::Encoding(error.to_string()))
}

/// The payload of a COSE_Sign1 of type `typ` whose signature one of `keys`
/// made.
pub fn open(bytes: &[u8], typ: &str, keys: &KeySet) -> Result<Vec<u8>, OpenError> {
    let sign1 = CoseSign1::from_tagged_slice(bytes)
        .or_else(|_| CoseSign1::from_slice(bytes))
        .map_err(|_| OpenError::NotCose)?;
    let header = &sign1.protected.header;
    let eddsa = RegisteredLabelWithPrivate::Assigned(iana::Algorithm::EdDSA);
    if header.alg.as_ref() != Some(&eddsa) {
        return Err(OpenError::Verify(VerifyError::UnsupportedAlgorithm));
    }
    let typed = header.rest.iter().any(|(label, value)| {
        *label == Label::Int(TYP) && matches!(value, Value::Text(text) if text == typ)
    });
    if !typed {
        return Err(OpenError::NotCose);
    }
    let key = keys
        .key(&header.key_id)
        .ok_or(OpenError::Verify(VerifyError::UnknownKey))?;
    sign1
        .verify_signature(b"", |signature, data| {
            let signature = Signature::from_slice(signature)?;
            key.verify_strict(data, &signature)
        })
        .map_err(|_| OpenError::Verify(VerifyError::BadSignature))?;
    sign1.payload.ok_or(OpenError::NotCose)
}

/// Why an envelope did not open: not one of ours at all, or one that
/// fails verification.
pub enum OpenError {
    NotCose,
    Verify(VerifyError),
}
