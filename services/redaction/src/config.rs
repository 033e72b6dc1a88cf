use std::time::Duration;

use hms_config::{ConfigError, Sources};
use hms_crypto::SealingKey;
use secrecy::SecretString;
use serde::Deserialize;

/// The redaction service's own settings, as read.
#[derive(Debug, Clone, Deserialize)]
pub struct RedactionConfig {
    /// `HMS_ORDERS_URL`: where the orders service answers.
    pub orders_url: String,
    /// `HMS_MEDIA_URL`: where the media service answers.
    pub media_url: String,
    /// `HMS_RECONCILE_*`: how often the reconciler looks for decided orders
    /// that were not redacted, and how old their decision must be.
    #[serde(flatten)]
    pub reconcile: hms_db::work::ReconcileSettings,
    /// `HMS_REDACTION_PRINT_DEADLINE_SECS`: the longest an approved order's
    /// photos and signatures wait for the card producer to take them; then
    /// they are destroyed anyway and the cards need a new photo.
    #[serde(
        rename = "redaction_print_deadline_secs",
        default = "default_print_deadline",
        deserialize_with = "hms_config::duration::seconds"
    )]
    pub print_deadline: Duration,
    /// `HMS_REDACTION_KEY`: AES-256 key (base64) sealing the keys that sign
    /// deletion receipts.
    pub redaction_key: SecretString,
}

/// The settings as the service uses them.
pub struct Settings {
    pub orders_url: String,
    pub media_url: String,
    pub reconcile: hms_db::work::ReconcileSettings,
    pub print_deadline: Duration,
    pub sealing: SealingKey,
}

fn default_print_deadline() -> Duration {
    Duration::from_secs(24 * 3600)
}

/// Reads the service's own settings.
pub fn load(sources: &Sources) -> Result<Settings, ConfigError> {
    let config: RedactionConfig = sources.get()?;
    let sealing = SealingKey::from_base64(&config.redaction_key)
        .map_err(|e| ConfigError::invalid("HMS_REDACTION_KEY", e))?;
    Ok(Settings {
        orders_url: config.orders_url,
        media_url: config.media_url,
        reconcile: config.reconcile,
        print_deadline: config.print_deadline,
        sealing,
    })
}
