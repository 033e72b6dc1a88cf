//! Ed25519 signing keys kept in a service's own database, sealed with the
//! service's key, so every replica signs with the same key and a restart
//! changes nothing for those who verify.
//!
//! One key signs for a rotation. Its successor is created, and published,
//! the moment it starts signing: a whole rotation before the successor's
//! first signature, so anyone who fetches the published keys once a
//! rotation always holds the key that signs next. A key stays published for
//! a while after it retires, as long as what it signed can still be shown.
//! Identity signs access tokens this way; cards signs card credentials.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use hms_crypto::SealingKey;
use sqlx::PgPool;
use tokio::sync::RwLock;
use zeroize::Zeroizing;

/// Where a service keeps its keys: a table with the columns `kid`,
/// `private_key` (sealed PKCS#8), `public_key`, `created_at`, `signs_from`,
/// `retire_at` and `published_until`, and the name of the advisory lock
/// under which one replica creates the next key.
#[derive(Debug, Clone, Copy)]
pub struct KeyTable {
    pub table: &'static str,
    pub lock: &'static str,
}

/// How long keys sign and stay published.
#[derive(Debug, Clone, Copy)]
pub struct Rotation {
    /// How long one key signs.
    pub every: Duration,
    /// How long a key stays published after it stops signing: longer than
    /// anything it signed is valid.
    pub published_after_retire: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error("a signing key is unreadable: {0}")]
    Corrupt(&'static str),
}

/// The key that signs now, prepared for its use.
pub struct ActiveKey<K> {
    pub kid: String,
    pub key: K,
    /// When the next key takes over.
    pub retire_at: DateTime<Utc>,
}

/// A key as published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedKey {
    pub kid: String,
    /// The 32 bytes of the Ed25519 public key.
    pub public_key: Vec<u8>,
    /// When it stops (or stopped) signing.
    pub retire_at: DateTime<Utc>,
}

/// Makes the key a caller signs with (a JWT encoding key, a COSE signer)
/// from the Ed25519 key and its id.
pub type Prepare<K> = fn(&str, &SigningKey) -> Result<K, KeyError>;

/// The keys of one service, and the one that signs now, cached.
pub struct KeyRing<K> {
    pool: PgPool,
    sealing: SealingKey,
    table: KeyTable,
    rotation: Rotation,
    prepare: Prepare<K>,
    active: Arc<RwLock<Option<ActiveKey<K>>>>,
}

impl<K> Clone for KeyRing<K> {
    fn clone(&self) -> Self {
        Self {
            pool: self.pool.clone(),
            sealing: self.sealing.clone(),
            table: self.table,
            rotation: self.rotation,
            prepare: self.prepare,
            active: self.active.clone(),
        }
    }
}

impl<K> KeyRing<K> {
    pub fn new(
        pool: PgPool,
        sealing: SealingKey,
        table: KeyTable,
        rotation: Rotation,
        prepare: Prepare<K>,
    ) -> Self {
        Self {
            pool,
            sealing,
            table,
            rotation,
            prepare,
            active: Arc::new(RwLock::new(None)),
        }
    }

    /// Runs `use_key` with the key that signs now, loading or creating it
    /// (and its successor) when the cached one has retired.
    pub async fn with_active<R>(
        &self,
        use_key: impl FnOnce(&ActiveKey<K>) -> R,
    ) -> Result<R, KeyError> {
        self.ensure_active().await?;
        let active = self.active.read().await;
        let key = active
            .as_ref()
            .ok_or(KeyError::Corrupt("no key after loading one"))?;
        Ok(use_key(key))
    }

    /// Every key still published, the next one included, newest first.
    pub async fn published(&self) -> Result<Vec<PublishedKey>, KeyError> {
        // A fresh deployment publishes its first keys before anyone asks.
        self.ensure_active().await?;
        let keys: Vec<(String, Vec<u8>, DateTime<Utc>)> = sqlx::query_as(&format!(
            "SELECT kid, public_key, retire_at FROM {} WHERE published_until > now()
             ORDER BY signs_from DESC",
            self.table.table
        ))
        .fetch_all(&self.pool)
        .await?;
        Ok(keys
            .into_iter()
            .map(|(kid, public_key, retire_at)| PublishedKey {
                kid,
                public_key,
                retire_at,
            })
            .collect())
    }

    async fn ensure_active(&self) -> Result<(), KeyError> {
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
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))")
            .bind(self.table.lock)
            .execute(&mut *tx)
            .await?;
        // One clock for every comparison here: ours, not the database's.
        let now = Utc::now();
        let current: Option<(String, Vec<u8>, DateTime<Utc>)> = sqlx::query_as(&format!(
            "SELECT kid, private_key, retire_at FROM {}
             WHERE signs_from <= $1 AND retire_at > $1
             ORDER BY signs_from DESC LIMIT 1",
            self.table.table
        ))
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let (kid, signing, retire_at) = match current {
            Some((kid, sealed, retire_at)) => {
                let der = self
                    .sealing
                    .open(&sealed, kid.as_bytes())
                    .map_err(|_| KeyError::Corrupt("it cannot be opened"))?;
                let signing = SigningKey::from_pkcs8_der(&der)
                    .map_err(|_| KeyError::Corrupt("it is not an Ed25519 key"))?;
                (kid, signing, retire_at)
            }
            // A fresh deployment, or one that was down past its key's
            // retirement: whoever verifies fetches the keys again then.
            None => self.create_key(&mut tx, now).await?,
        };
        let (successor,): (bool,) = sqlx::query_as(&format!(
            "SELECT EXISTS (SELECT 1 FROM {} WHERE signs_from >= $1)",
            self.table.table
        ))
        .bind(retire_at)
        .fetch_one(&mut *tx)
        .await?;
        if !successor {
            self.create_key(&mut tx, retire_at).await?;
        }
        tx.commit().await?;
        let key = (self.prepare)(&kid, &signing)?;
        *active = Some(ActiveKey {
            kid,
            key,
            retire_at,
        });
        Ok(())
    }

    /// Makes a key that signs from `signs_from` for one rotation, published
    /// from now until it has been retired for `published_after_retire`.
    async fn create_key(
        &self,
        tx: &mut sqlx::PgConnection,
        signs_from: DateTime<Utc>,
    ) -> Result<(String, SigningKey, DateTime<Utc>), KeyError> {
        let signing = SigningKey::generate(&mut rand_core_06::OsRng);
        let der = Zeroizing::new(
            signing
                .to_pkcs8_der()
                .map_err(|_| KeyError::Corrupt("it cannot be encoded"))?
                .as_bytes()
                .to_vec(),
        );
        let kid = uuid::Uuid::now_v7().to_string();
        let sealed = self
            .sealing
            .seal(&der, kid.as_bytes())
            .map_err(|_| KeyError::Corrupt("it cannot be sealed"))?;
        let retire_at = signs_from + self.rotation.every;
        sqlx::query(&format!(
            "INSERT INTO {} (kid, private_key, public_key, signs_from, retire_at, published_until)
             VALUES ($1, $2, $3, $4, $5, $6)",
            self.table.table
        ))
        .bind(&kid)
        .bind(sealed)
        .bind(signing.verifying_key().as_bytes().as_slice())
        .bind(signs_from)
        .bind(retire_at)
        .bind(retire_at + self.rotation.published_after_retire)
        .execute(&mut *tx)
        .await?;
        tracing::info!(%kid, %signs_from, table = self.table.table, "new signing key");
        Ok((kid, signing, retire_at))
    }
}
