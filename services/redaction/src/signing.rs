//! The keys deletion receipts are signed with: kept sealed in this
//! service's database (so every replica signs with the same key), rotated,
//! and published for anyone to check a receipt offline with
//! `hms-receipt-verify`.

use std::time::Duration;

use hms_attestation::{Attester, DeletionReceipt, KeySet};
use hms_crypto::SealingKey;
use hms_signing_keys::{KeyError, KeyRing, KeyTable, Rotation};
use sqlx::PgPool;

use crate::domain::Receipt;
use crate::error::RedactionError;

/// Who attests a receipt.
pub const ISSUER: &str = "urn:hms-kort:redaction";

/// Receipts stay as long as the order's record does, so the keys that
/// signed them stay published long after they sign no more: ten years,
/// beyond any retention of an order's record the platform has.
const ROTATION: Rotation = Rotation {
    every: Duration::from_secs(90 * 24 * 3600),
    published_after_retire: Duration::from_secs(3650 * 24 * 3600),
};

const KEYS: KeyTable = KeyTable {
    table: "receipt_keys",
    lock: "hms_redaction_receipt_keys",
};

fn attester(kid: &str, key: &ed25519_dalek::SigningKey) -> Result<Attester, KeyError> {
    Attester::new(kid, key).map_err(|_| KeyError::Corrupt("it is not an Ed25519 key"))
}

#[derive(Clone)]
pub struct ReceiptSigner {
    keys: KeyRing<Attester>,
}

impl ReceiptSigner {
    pub fn new(pool: PgPool, sealing: SealingKey) -> Self {
        Self {
            keys: KeyRing::new(pool, sealing, KEYS, ROTATION, attester),
        }
    }

    /// The key that signs now.
    pub async fn attester(&self) -> Result<Attester, RedactionError> {
        Ok(self.keys.with_active(|active| active.key.clone()).await?)
    }

    /// Every key a receipt shown may carry, and the next one.
    pub async fn key_set(&self) -> Result<KeySet, RedactionError> {
        let keys = self.keys.published().await?;
        KeySet::new(
            keys.iter()
                .map(|key| (key.kid.as_str(), key.public_key.as_slice())),
        )
        .map_err(|_| RedactionError::Corrupt("a receipt key cannot be published".to_owned()))
    }
}

/// The receipt as the platform attests it.
pub fn sign(attester: &Attester, receipt: &Receipt) -> Result<String, RedactionError> {
    let statement = DeletionReceipt {
        iss: ISSUER.to_owned(),
        iat: chrono::Utc::now().timestamp(),
        order_id: receipt.order_id.to_string(),
        company_id: receipt.company_id.to_string(),
        cause: receipt.cause.map(|cause| cause.as_str().to_owned()),
        workers_masked: receipt.removed.workers_masked,
        objects_deleted: receipt.removed.objects_deleted,
        keys_destroyed: receipt.removed.keys_destroyed,
        started_at: receipt.started_at,
        completed_at: receipt.completed_at,
    };
    attester
        .sign(&statement)
        .map_err(|_| RedactionError::Corrupt("a receipt cannot be signed".to_owned()))
}
