//! The deletion receipt: what the platform removed of one order's personal
//! data, and when.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::jws::Statement;

/// Signed by the redaction service when it has masked an order's national
/// identity numbers and destroyed its documents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeletionReceipt {
    /// Who attests it.
    pub iss: String,
    /// When it was signed (seconds since the epoch).
    pub iat: i64,
    pub order_id: String,
    pub company_id: String,
    /// Why the data had to go: `approved`, `rejected`, `draft_abandoned`,
    /// `correction_abandoned` or `company_ineligible`; absent on receipts
    /// of redactions from before causes were recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
    /// National identity numbers masked to their first six digits.
    pub workers_masked: u32,
    /// Documents (passport photo, ID copy, signature) deleted from the
    /// object store.
    pub objects_deleted: u32,
    /// Per-document encryption keys destroyed: without them no copy of a
    /// document, in a backup or anywhere, can be read.
    pub keys_destroyed: u32,
    pub started_at: DateTime<Utc>,
    pub completed_at: DateTime<Utc>,
}

impl Statement for DeletionReceipt {
    const TYPE: &'static str = "hms-deletion-receipt+jwt";
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use ed25519_dalek::SigningKey;

    use super::*;
    use crate::{Attester, KeySet, VerifyError};

    fn receipt() -> DeletionReceipt {
        let at = DateTime::from_timestamp(1_790_000_000, 0).unwrap_or_default();
        DeletionReceipt {
            iss: "urn:hms-kort:redaction".to_owned(),
            iat: at.timestamp(),
            order_id: "0193a3c0-0000-7000-8000-000000000001".to_owned(),
            company_id: "0193a3c0-0000-7000-8000-000000000002".to_owned(),
            cause: Some("approved".to_owned()),
            workers_masked: 2,
            objects_deleted: 6,
            keys_destroyed: 6,
            started_at: at,
            completed_at: at,
        }
    }

    fn key(kid: &str) -> (Attester, KeySet) {
        let key = SigningKey::generate(&mut rand_core_06::OsRng);
        let public = key.verifying_key().to_bytes();
        let attester = Attester::new(kid, &key).expect("an Ed25519 key");
        let keys = KeySet::new([(kid, public.as_slice())]).expect("a key set");
        (attester, keys)
    }

    #[test]
    fn a_signed_receipt_verifies_through_its_published_keys() {
        let (attester, keys) = key("r1");
        let signed = attester.sign(&receipt()).expect("signed");
        let published = KeySet::from_json(keys.to_json().as_bytes()).expect("a JWKS");
        assert_eq!(published.verify::<DeletionReceipt>(&signed), Ok(receipt()));
    }

    #[test]
    fn a_changed_receipt_does_not_verify() {
        let (attester, keys) = key("r1");
        let signed = attester.sign(&receipt()).expect("signed");
        let mut parts: Vec<String> = signed.split('.').map(str::to_owned).collect();
        let payload = URL_SAFE_NO_PAD.decode(&parts[1]).expect("base64url");
        let changed = String::from_utf8(payload)
            .expect("JSON")
            .replace("\"objects_deleted\":6", "\"objects_deleted\":9");
        parts[1] = URL_SAFE_NO_PAD.encode(changed);
        assert_eq!(
            keys.verify::<DeletionReceipt>(&parts.join(".")),
            Err(VerifyError::BadSignature)
        );
    }

    #[test]
    fn another_key_or_an_unknown_one_does_not_verify() {
        let (attester, _) = key("r1");
        let (_, other_keys) = key("r1");
        let signed = attester.sign(&receipt()).expect("signed");
        assert_eq!(
            other_keys.verify::<DeletionReceipt>(&signed),
            Err(VerifyError::BadSignature)
        );
        let (_, unrelated) = key("r2");
        assert_eq!(
            unrelated.verify::<DeletionReceipt>(&signed),
            Err(VerifyError::UnknownKey("r1".to_owned()))
        );
        assert_eq!(
            unrelated.verify::<DeletionReceipt>("not a token"),
            Err(VerifyError::Malformed)
        );
    }

    #[test]
    fn a_statement_of_another_type_is_not_a_receipt() {
        #[derive(Serialize, Deserialize)]
        struct Other {
            order_id: String,
        }
        impl Statement for Other {
            const TYPE: &'static str = "something-else+jwt";
        }
        let (attester, keys) = key("r1");
        let signed = attester
            .sign(&Other {
                order_id: "x".to_owned(),
            })
            .expect("signed");
        assert!(matches!(
            keys.verify::<DeletionReceipt>(&signed),
            Err(VerifyError::WrongType { .. })
        ));
    }
}
