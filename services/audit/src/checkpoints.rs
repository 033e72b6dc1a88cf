//! Signed checkpoints of each company's chain: periodically, the head of
//! every chain that grew is signed with a key kept sealed here and
//! published, so the log up to that entry can be shown to be the one the
//! platform held then.

use std::time::Duration;

use chrono::Utc;
use hms_attestation::{AccessLogCheckpoint, Attester, KeySet};
use hms_crypto::SealingKey;
use hms_signing_keys::{KeyError, KeyRing, KeyTable, Rotation};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::domain::hex;
use crate::error::AuditError;
use crate::storage::{Store, StoredCheckpoint};

/// Who attests a checkpoint.
pub const ISSUER: &str = "urn:hms-kort:audit";

/// The log is kept for years, so the keys that signed its checkpoints stay
/// published ten years after they stop signing.
const ROTATION: Rotation = Rotation {
    every: Duration::from_secs(90 * 24 * 3600),
    published_after_retire: Duration::from_secs(3650 * 24 * 3600),
};

const KEYS: KeyTable = KeyTable {
    table: "checkpoint_keys",
    lock: "hms_audit_checkpoint_keys",
};

/// Heads signed in one round at most; the rest wait for the next.
const PER_ROUND: i64 = 1000;

fn attester(kid: &str, key: &ed25519_dalek::SigningKey) -> Result<Attester, KeyError> {
    Attester::new(kid, key).map_err(|_| KeyError::Corrupt("it is not an Ed25519 key"))
}

#[derive(Clone)]
pub struct Checkpointer {
    store: Store,
    keys: KeyRing<Attester>,
}

impl Checkpointer {
    pub fn new(store: Store, pool: PgPool, sealing: SealingKey) -> Self {
        Self {
            store,
            keys: KeyRing::new(pool, sealing, KEYS, ROTATION, attester),
        }
    }

    /// Every key a checkpoint may carry, and the next one.
    pub async fn key_set(&self) -> Result<KeySet, AuditError> {
        let keys = self.keys.published().await?;
        KeySet::new(
            keys.iter()
                .map(|key| (key.kid.as_str(), key.public_key.as_slice())),
        )
        .map_err(|_| AuditError::Corrupt("a checkpoint key cannot be published".to_owned()))
    }

    /// Signs the head of every chain that grew since its last checkpoint;
    /// how many.
    pub async fn sign_heads(&self) -> Result<usize, AuditError> {
        let heads = self.store.heads_to_sign(PER_ROUND).await?;
        if heads.is_empty() {
            return Ok(0);
        }
        let attester = self.keys.with_active(|active| active.key.clone()).await?;
        for (company_id, seq, head_hash) in &heads {
            let signed_at = Utc::now();
            let statement = AccessLogCheckpoint {
                iss: ISSUER.to_owned(),
                iat: signed_at.timestamp(),
                company_id: company_id.to_string(),
                seq: u64::try_from(*seq)
                    .map_err(|_| AuditError::Corrupt("a chain head".to_owned()))?,
                head_hash: hex(head_hash),
            };
            let signed = attester
                .sign(&statement)
                .map_err(|_| AuditError::Corrupt("a checkpoint cannot be signed".to_owned()))?;
            self.store
                .save_checkpoint(&StoredCheckpoint {
                    company_id: *company_id,
                    seq: *seq,
                    head_hash: head_hash.clone(),
                    signed_at,
                    signed,
                })
                .await?;
        }
        Ok(heads.len())
    }

    /// Signs heads every `interval` until shutdown.
    pub async fn run_forever(self, interval: Duration, shutdown: CancellationToken) {
        hms_db::work::run_every(interval, shutdown, || {
            let checkpointer = self.clone();
            // One checkpoint per chain and interval, not one per entry:
            // only a full round (more heads waiting) goes again at once.
            async move {
                checkpointer.sign_heads().await.map(|signed| {
                    if signed as i64 >= PER_ROUND {
                        signed
                    } else {
                        0
                    }
                })
            }
        })
        .await;
    }
}
