use std::time::Duration;

use hms_config::{ConfigError, Sources};
use hms_crypto::SealingKey;
use secrecy::SecretString;
use serde::Deserialize;

/// The audit service's own settings, as read.
#[derive(Debug, Clone, Deserialize)]
pub struct AuditConfig {
    /// `HMS_ORDERS_URL`: where the orders service answers (which records
    /// a person asking about themselves is the worker of).
    pub orders_url: String,
    /// `HMS_AUDIT_KEY`: AES-256 key (base64) sealing the keys that sign the
    /// access log's checkpoints.
    pub audit_key: SecretString,
    /// `HMS_AUDIT_CHECKPOINT_SECS`: how often the head of every company's
    /// chain that grew is signed.
    #[serde(
        rename = "audit_checkpoint_secs",
        default = "default_checkpoint_interval",
        deserialize_with = "hms_config::duration::seconds"
    )]
    pub checkpoint_interval: Duration,
}

/// The settings as the service uses them.
pub struct Settings {
    pub orders_url: String,
    pub sealing: SealingKey,
    pub checkpoint_interval: Duration,
}

fn default_checkpoint_interval() -> Duration {
    Duration::from_secs(300)
}

/// Reads the service's own settings.
pub fn load(sources: &Sources) -> Result<Settings, ConfigError> {
    let config: AuditConfig = sources.get()?;
    let sealing = SealingKey::from_base64(&config.audit_key)
        .map_err(|e| ConfigError::invalid("HMS_AUDIT_KEY", e))?;
    Ok(Settings {
        orders_url: config.orders_url,
        sealing,
        checkpoint_interval: config.checkpoint_interval.max(Duration::from_secs(1)),
    })
}
