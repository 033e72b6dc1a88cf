use std::time::Duration;

use hms_config::{ConfigError, Sources};
use hms_crypto::SealingKey;
use hms_db::work::{Backoff, ReconcileSettings};
use secrecy::SecretString;
use serde::Deserialize;

use crate::credentials::CredentialSettings;
use crate::producer::ProducerSettings;

/// The cards service's own settings.
#[derive(Debug, Clone, Deserialize)]
pub struct CardsConfig {
    /// `HMS_ORDERS_URL`: where the orders service answers (an approved
    /// order's workers).
    pub orders_url: String,
    /// `HMS_COMPANIES_URL`: where the companies service answers (the
    /// employer on the card).
    pub companies_url: String,
    /// `HMS_CARD_VALIDITY_MONTHS`: how long a card is valid from its issue.
    #[serde(default = "default_validity")]
    pub card_validity_months: u32,
    /// `HMS_CARD_CHECK_INTERVAL_SECS`: how often cards are expired at their
    /// end, and told of 60 and 30 days ahead.
    #[serde(
        rename = "card_check_interval_secs",
        default = "default_check_interval",
        deserialize_with = "hms_config::duration::seconds"
    )]
    pub check_interval: Duration,
    /// `HMS_CARD_LOOKUP_FLOOR_MS`: a public check answers no sooner than
    /// this, whether or not the number exists, so its timing tells nothing.
    #[serde(
        rename = "card_lookup_floor_ms",
        default = "default_lookup_floor",
        deserialize_with = "hms_config::duration::millis"
    )]
    pub lookup_floor: Duration,
    /// `HMS_MEDIA_URL`: where the media service answers (the photos and
    /// signatures to print).
    pub media_url: String,
    /// `HMS_PRINT_URL`: the card producer's print-job API (https, or http
    /// to this machine only).
    pub print_url: String,
    /// `HMS_PRINT_API_KEY`: our key at the card producer.
    #[serde(default = "empty_secret")]
    pub print_api_key: SecretString,
    /// `HMS_PRINT_TIMEOUT_SECS`: the longest one send of a print job may
    /// take.
    #[serde(
        rename = "print_timeout_secs",
        default = "default_print_timeout",
        deserialize_with = "hms_config::duration::seconds"
    )]
    pub print_timeout: Duration,
    /// `HMS_PRINT_CONCURRENCY`: print jobs sent side by side. Each holds
    /// its print material meanwhile, so this times the largest material
    /// bounds the printer's memory.
    #[serde(default = "default_print_concurrency")]
    pub print_concurrency: usize,
    /// `HMS_PRINT_RETRY_BASE_MS`: the first wait after a print job was not
    /// taken; it doubles, with jitter, up to `HMS_PRINT_RETRY_MAX_MS`.
    #[serde(
        rename = "print_retry_base_ms",
        default = "default_print_retry_base",
        deserialize_with = "hms_config::duration::millis"
    )]
    pub print_retry_base: Duration,
    #[serde(
        rename = "print_retry_max_ms",
        default = "default_print_retry_max",
        deserialize_with = "hms_config::duration::millis"
    )]
    pub print_retry_max: Duration,
    /// `HMS_CARDS_KEY`: AES-256 key (base64) sealing the keys that sign the
    /// cards' offline credentials.
    pub cards_key: SecretString,
    /// `HMS_PUBLIC_URL`: where people reach the platform; the credentials'
    /// issuer, and where their status list is published.
    #[serde(default = "default_public_url")]
    pub public_url: String,
    /// `HMS_CARD_KEY_ROTATION_SECS`: how long one key signs credentials;
    /// the next is published this long before it first signs.
    #[serde(
        rename = "card_key_rotation_secs",
        default = "default_key_rotation",
        deserialize_with = "hms_config::duration::seconds"
    )]
    pub key_rotation: Duration,
    /// `HMS_CARD_STATUS_LIST_TTL_SECS`: how long a verifier may use a
    /// status list before fetching it again.
    #[serde(
        rename = "card_status_list_ttl_secs",
        default = "default_list_ttl",
        deserialize_with = "hms_config::duration::seconds"
    )]
    pub status_list_ttl: Duration,
    /// `HMS_CARD_STATUS_LIST_VALIDITY_SECS`: after this, a verifier must
    /// not use a status list at all (it cannot decide offline any more).
    #[serde(
        rename = "card_status_list_validity_secs",
        default = "default_list_validity",
        deserialize_with = "hms_config::duration::seconds"
    )]
    pub status_list_validity: Duration,
    /// `HMS_RECONCILE_*`: how often approvals whose event was missed are
    /// looked for, and how old an approval must be.
    #[serde(flatten)]
    pub reconcile: ReconcileSettings,
}

/// The settings as the service uses them.
pub struct Settings {
    pub orders_url: String,
    pub companies_url: String,
    pub media_url: String,
    pub card_validity_months: u32,
    pub check_interval: Duration,
    pub lookup_floor: Duration,
    pub producer: ProducerSettings,
    pub print_timeout: Duration,
    pub print_concurrency: usize,
    pub print_backoff: Backoff,
    pub sealing: SealingKey,
    pub credentials: CredentialSettings,
    pub reconcile: ReconcileSettings,
}

fn empty_secret() -> SecretString {
    SecretString::from(String::new())
}
fn default_print_timeout() -> Duration {
    Duration::from_secs(30)
}
fn default_print_concurrency() -> usize {
    8
}
fn default_print_retry_base() -> Duration {
    Duration::from_secs(1)
}
fn default_print_retry_max() -> Duration {
    Duration::from_secs(60)
}

fn default_public_url() -> String {
    "https://bestill.hms-kort.no".to_owned()
}
fn default_key_rotation() -> Duration {
    Duration::from_secs(90 * 24 * 3600)
}
fn default_list_ttl() -> Duration {
    Duration::from_secs(300)
}
fn default_list_validity() -> Duration {
    Duration::from_secs(24 * 3600)
}

fn default_validity() -> u32 {
    24
}
fn default_check_interval() -> Duration {
    Duration::from_secs(3600)
}
fn default_lookup_floor() -> Duration {
    Duration::from_millis(25)
}

/// Reads the service's own settings.
pub fn load(sources: &Sources) -> Result<Settings, ConfigError> {
    let config: CardsConfig = sources.get()?;
    if !(1..=120).contains(&config.card_validity_months) {
        return Err(ConfigError::invalid(
            "HMS_CARD_VALIDITY_MONTHS",
            "must be 1 to 120",
        ));
    }
    let sealing = SealingKey::from_base64(&config.cards_key)
        .map_err(|e| ConfigError::invalid("HMS_CARDS_KEY", e))?;
    let public_url = url::Url::parse(&config.public_url)
        .map_err(|e| ConfigError::invalid("HMS_PUBLIC_URL", e))?
        .as_str()
        .trim_end_matches('/')
        .to_owned();
    if config.key_rotation < Duration::from_secs(60) {
        return Err(ConfigError::invalid(
            "HMS_CARD_KEY_ROTATION_SECS",
            "must be at least 60",
        ));
    }
    let list_ttl = config.status_list_ttl.max(Duration::from_secs(1));
    if config.status_list_validity < list_ttl * 2 {
        return Err(ConfigError::invalid(
            "HMS_CARD_STATUS_LIST_VALIDITY_SECS",
            "must be at least twice HMS_CARD_STATUS_LIST_TTL_SECS",
        ));
    }
    let credentials = CredentialSettings {
        status_list_uri: format!("{public_url}/api/v1/public/card-credentials/status-list"),
        issuer: public_url,
        rotation: config.key_rotation,
        // A month is at most 31 days: no card a key signed outlives this.
        published_after_retire: Duration::from_secs(
            u64::from(config.card_validity_months) * 31 * 24 * 3600,
        ),
        list_ttl,
        list_validity: config.status_list_validity,
    };
    Ok(Settings {
        sealing,
        credentials,
        reconcile: config.reconcile,
        producer: ProducerSettings::parse(&config.print_url, config.print_api_key)?,
        orders_url: config.orders_url,
        companies_url: config.companies_url,
        media_url: config.media_url,
        card_validity_months: config.card_validity_months,
        check_interval: config.check_interval.max(Duration::from_secs(1)),
        lookup_floor: config.lookup_floor,
        print_timeout: config.print_timeout.max(Duration::from_secs(1)),
        print_concurrency: config.print_concurrency.clamp(1, 256),
        print_backoff: Backoff {
            base: config.print_retry_base.max(Duration::from_millis(10)),
            max: config.print_retry_max.max(config.print_retry_base),
        },
    })
}
