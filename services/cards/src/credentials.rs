//! The card as a credential anyone can check offline: signed with keys
//! kept sealed here and rotated, published a whole rotation ahead, and a
//! status list of every card rebuilt as often as verifiers are told to
//! fetch it.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use hms_card_credential::{
    CardCredential, CardStatus as ListStatus, KeySet, PublishedKey, SigningKey, StatusList,
    StatusListToken, StatusReference,
};
use hms_crypto::SealingKey;
use hms_signing_keys::{KeyError, KeyRing, KeyTable, Rotation};
use sqlx::PgPool;
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::domain::{Card, CardStatus};
use crate::error::CardsError;

/// Where the platform publishes, and how long what it publishes lasts.
#[derive(Debug, Clone)]
pub struct CredentialSettings {
    /// Who signs: the platform's public address.
    pub issuer: String,
    /// Where the gateway serves the status list.
    pub status_list_uri: String,
    /// How long one key signs.
    pub rotation: Duration,
    /// How long a key stays published after it stops signing: as long as a
    /// card it signed can be valid.
    pub published_after_retire: Duration,
    /// How long a verifier may use a status list before fetching it again.
    pub list_ttl: Duration,
    /// After this, a verifier must not use a status list at all.
    pub list_validity: Duration,
}

const KEYS: KeyTable = KeyTable {
    table: "credential_keys",
    lock: "hms_cards_credential_keys",
};

struct BuiltList {
    token: Vec<u8>,
    built: Instant,
}

#[derive(Clone)]
pub struct Credentials {
    pool: PgPool,
    keys: KeyRing<SigningKey>,
    settings: CredentialSettings,
    list: Arc<Mutex<Option<BuiltList>>>,
}

/// The credential library signs with the key's seed and id.
fn credential_key(kid: &str, key: &ed25519_dalek::SigningKey) -> Result<SigningKey, KeyError> {
    Ok(SigningKey::from_seed(kid, &key.to_bytes()))
}

impl Credentials {
    pub fn new(pool: PgPool, sealing: SealingKey, settings: CredentialSettings) -> Self {
        let rotation = Rotation {
            every: settings.rotation,
            published_after_retire: settings.published_after_retire,
        };
        Self {
            keys: KeyRing::new(pool.clone(), sealing, KEYS, rotation, credential_key),
            pool,
            settings,
            list: Arc::new(Mutex::new(None)),
        }
    }

    /// How long a verifier may keep a status list.
    pub fn list_ttl(&self) -> Duration {
        self.settings.list_ttl
    }

    /// The QR payload of a card: what it shows, until its own end.
    pub async fn credential(&self, card: &Card) -> Result<String, CardsError> {
        let credential = CardCredential {
            issuer: self.settings.issuer.clone(),
            card_number: card.card_number.to_string(),
            holder_name: card.holder_name.clone(),
            employer_name: card.employer_name.clone(),
            employer_org_number: card.employer_org_number.clone(),
            card_type: card.card_type.as_str().to_owned(),
            issued_at: Utc::now(),
            valid_until: card.valid_until,
            status: StatusReference {
                index: card.status_index,
                uri: self.settings.status_list_uri.clone(),
            },
        };
        Ok(self
            .keys
            .with_active(|active| hms_card_credential::issue(&credential, &active.key))
            .await??)
    }

    /// Every key a credential still shown may carry, and the next one. The
    /// set holds until the newest of them retires: no key outside it signs
    /// before that.
    pub async fn key_set(&self) -> Result<KeySet, CardsError> {
        let keys = self.keys.published().await?;
        let expires_at = keys
            .iter()
            .map(|key| key.retire_at)
            .max()
            .unwrap_or_else(Utc::now);
        Ok(KeySet::new(
            keys.into_iter().map(|key| PublishedKey {
                kid: key.kid,
                public_key: key.public_key,
            }),
            expires_at,
        )?)
    }

    /// The signed status list, rebuilt when half its time to live has
    /// passed: a change reaches verifiers within one and a half TTLs.
    pub async fn status_list(&self) -> Result<Vec<u8>, CardsError> {
        let mut built = self.list.lock().await;
        if let Some(list) = built.as_ref()
            && list.built.elapsed() < self.settings.list_ttl / 2
        {
            return Ok(list.token.clone());
        }
        let started = Instant::now();
        let token = self.build_list().await?;
        *built = Some(BuiltList {
            token: token.clone(),
            built: started,
        });
        Ok(token)
    }

    async fn build_list(&self) -> Result<Vec<u8>, CardsError> {
        let mut tx = self.pool.begin().await?;
        // One snapshot for the length and the entries.
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .execute(&mut *tx)
            .await?;
        let highest: Option<i64> = sqlx::query_scalar("SELECT max(status_index) FROM cards")
            .fetch_one(&mut *tx)
            .await?;
        let ended: Vec<(i64, String)> = sqlx::query_as(
            "SELECT status_index, status FROM cards WHERE status IN ('blocked', 'deactivated')",
        )
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        let corrupt = || CardsError::Corrupt("a card's status index".to_owned());
        let mut list =
            StatusList::covering(u64::try_from(highest.unwrap_or(0)).map_err(|_| corrupt())?);
        for (index, status) in ended {
            let entry = match CardStatus::parse(&status) {
                Some(CardStatus::Blocked) => ListStatus::Blocked,
                Some(CardStatus::Deactivated) => ListStatus::Deactivated,
                _ => continue,
            };
            list.set(u64::try_from(index).map_err(|_| corrupt())?, entry)?;
        }
        let now = Utc::now();
        let token = StatusListToken {
            uri: self.settings.status_list_uri.clone(),
            issued_at: now,
            expires_at: now + self.settings.list_validity,
            ttl: self.settings.list_ttl,
            list,
        };
        Ok(self
            .keys
            .with_active(|active| token.sign(&active.key))
            .await??)
    }
}
