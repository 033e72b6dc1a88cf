use std::time::Duration;

use hms_config::{ConfigError, Sources};
use serde::Deserialize;

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
pub fn load(sources: &Sources) -> Result<CardsConfig, ConfigError> {
    let config: CardsConfig = sources.get()?;
    if !(1..=120).contains(&config.card_validity_months) {
        return Err(ConfigError::invalid(
            "HMS_CARD_VALIDITY_MONTHS",
            "must be 1 to 120",
        ));
    }
    Ok(config)
}
