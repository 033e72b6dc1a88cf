//! The card as a credential anyone can check offline: signed with keys
//! kept sealed here and rotated, published a whole rotation ahead, and a
//! status list of every card rebuilt as often as verifiers are told to
//! fetch it.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use hms_card_credential::{
    CardCredential, CardStatus as ListStatus, KeySet, PublishedKey, SigningKey, StatusList,
    StatusListToken, StatusReference,
};
use hms_crypto::SealingKey;
use sqlx::PgPool;
use tokio::sync::{Mutex, RwLock};
use tokio::time::Instant;
use uuid::Uuid;

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

struct ActiveKey {
    key: SigningKey,
    retire_at: DateTime<Utc>,
}

struct BuiltList {
    token: Vec<u8>,
    built: Instant,
}

#[derive(Clone)]
pub struct Credentials {
    pool: PgPool,
    sealing: SealingKey,
    settings: CredentialSettings,
    active: Arc<RwLock<Option<ActiveKey>>>,
    list: Arc<Mutex<Option<BuiltList>>>,
}

impl Credentials {
    pub fn new(pool: PgPool, sealing: SealingKey, settings: CredentialSettings) -> Self {
        Self {
            pool,
            sealing,
            settings,
            active: Arc::new(RwLock::new(None)),
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
        self.ensure_active().await?;
        let active = self.active.read().await;
        let key = active
            .as_ref()
            .ok_or(CardsError::Corrupt("no signing key".to_owned()))?;
        Ok(hms_card_credential::issue(&credential, &key.key)?)
    }

    /// Every key a credential still shown may carry, and the next one. The
    /// set holds until the newest of them retires: no key outside it signs
    /// before that.
    pub async fn key_set(&self) -> Result<KeySet, CardsError> {
        // A fresh deployment publishes its first keys before anyone asks.
        self.ensure_active().await?;
        let keys: Vec<(String, Vec<u8>, DateTime<Utc>)> = sqlx::query_as(
            "SELECT kid, public_key, retire_at FROM credential_keys
             WHERE published_until > now() ORDER BY signs_from DESC",
        )
        .fetch_all(&self.pool)
        .await?;
        let expires_at = keys
            .iter()
            .map(|(_, _, retire_at)| *retire_at)
            .max()
            .unwrap_or_else(Utc::now);
        Ok(KeySet::new(
            keys.into_iter()
                .map(|(kid, public_key, _)| PublishedKey { kid, public_key }),
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
        self.ensure_active().await?;
        let active = self.active.read().await;
        let key = active
            .as_ref()
            .ok_or(CardsError::Corrupt("no signing key".to_owned()))?;
        Ok(token.sign(&key.key)?)
    }

    /// Loads the key that signs now, creating one when there is none, and
    /// makes sure the next one is already published.
    async fn ensure_active(&self) -> Result<(), CardsError> {
        if let Some(key) = self.active.read().await.as_ref()
            && key.retire_at > Utc::now()
        {
            return Ok(());
        }
        let mut active = self.active.write().await;
        if let Some(key) = active.as_ref()
            && key.retire_at > Utc::now()
        {
            return Ok(());
        }
        let mut tx = self.pool.begin().await?;
        // One replica creates the next key; the others wait and load it.
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext('hms_cards_credential_keys'))")
            .execute(&mut *tx)
            .await?;
        let now = Utc::now();
        let current: Option<(String, Vec<u8>, DateTime<Utc>)> = sqlx::query_as(
            "SELECT kid, private_key, retire_at FROM credential_keys
             WHERE signs_from <= $1 AND retire_at > $1
             ORDER BY signs_from DESC LIMIT 1",
        )
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let (key, retire_at) = match current {
            Some((kid, sealed, retire_at)) => {
                let seed = self.sealing.open(&sealed, kid.as_bytes()).map_err(|_| {
                    CardsError::Corrupt("a signing key cannot be opened".to_owned())
                })?;
                let seed: [u8; 32] = seed
                    .as_slice()
                    .try_into()
                    .map_err(|_| CardsError::Corrupt("a signing key's length".to_owned()))?;
                (SigningKey::from_seed(kid, &seed), retire_at)
            }
            // A fresh deployment, or one down past its key's retirement:
            // then a verifier's cached set has expired too, so the new key
            // is fetched with the set before it decides anything.
            None => self.create_key(&mut tx, now).await?,
        };
        let (successor,): (bool,) =
            sqlx::query_as("SELECT EXISTS (SELECT 1 FROM credential_keys WHERE signs_from >= $1)")
                .bind(retire_at)
                .fetch_one(&mut *tx)
                .await?;
        if !successor {
            self.create_key(&mut tx, retire_at).await?;
        }
        tx.commit().await?;
        *active = Some(ActiveKey { key, retire_at });
        Ok(())
    }

    /// Makes a key that signs from `signs_from` for one rotation, published
    /// from now until no card it signed can still be valid.
    async fn create_key(
        &self,
        tx: &mut sqlx::PgConnection,
        signs_from: DateTime<Utc>,
    ) -> Result<(SigningKey, DateTime<Utc>), CardsError> {
        let key = SigningKey::generate(Uuid::now_v7().to_string());
        let sealed = self
            .sealing
            .seal(key.seed().as_slice(), key.kid().as_bytes())
            .map_err(|_| CardsError::Corrupt("a signing key cannot be sealed".to_owned()))?;
        let retire_at = signs_from + self.settings.rotation;
        sqlx::query(
            "INSERT INTO credential_keys
                 (kid, private_key, public_key, signs_from, retire_at, published_until)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(key.kid())
        .bind(sealed)
        .bind(key.public().public_key)
        .bind(signs_from)
        .bind(retire_at)
        .bind(retire_at + self.settings.published_after_retire)
        .execute(&mut *tx)
        .await?;
        tracing::info!(kid = key.kid(), %signs_from, "new card credential key");
        Ok((key, retire_at))
    }
}
