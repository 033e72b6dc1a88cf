use hms_config::{ConfigError, Sources};
use hms_domain::{Money, NationalIdPolicy, PriceList, VatRate};
use hms_layout::ServiceName;
use hms_runtime::CommonConfig;
use secrecy::SecretString;
use serde::Deserialize;

/// The orders service's own settings.
#[derive(Debug, Clone, Deserialize)]
pub struct OrdersConfig {
    /// `HMS_NATIONAL_ID_KEY`: AES-256 key (base64) sealing national identity
    /// numbers at rest.
    pub national_id_key: SecretString,
    /// `HMS_ALLOW_SYNTHETIC_NATIONAL_IDS`: accept Test-Norge/Tenor numbers.
    #[serde(default)]
    pub allow_synthetic_national_ids: bool,
    /// `HMS_CARD_PRICE_ORE`: price of one card before VAT, in øre.
    #[serde(default = "default_card_price_ore")]
    pub card_price_ore: i64,
    /// `HMS_VAT_RATE_BASIS_POINTS`: 2500 is 25 %.
    #[serde(default = "default_vat_rate")]
    pub vat_rate_basis_points: u32,
    /// `HMS_MEDIA_URL`: where the media service answers.
    pub media_url: String,
}

fn default_card_price_ore() -> i64 {
    13_290
}

fn default_vat_rate() -> u32 {
    2_500
}

impl OrdersConfig {
    pub fn price_list(&self) -> Result<PriceList, ConfigError> {
        Ok(PriceList {
            unit_net: Money::from_ore(self.card_price_ore)
                .map_err(|e| ConfigError::invalid("HMS_CARD_PRICE_ORE", e))?,
            vat_rate: VatRate::from_basis_points(self.vat_rate_basis_points)
                .map_err(|e| ConfigError::invalid("HMS_VAT_RATE_BASIS_POINTS", e))?,
        })
    }

    pub fn national_id_policy(&self) -> NationalIdPolicy {
        NationalIdPolicy {
            allow_synthetic: self.allow_synthetic_national_ids,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub common: CommonConfig,
    pub orders: OrdersConfig,
}

impl Config {
    pub fn load() -> Result<Self, ConfigError> {
        let sources = Sources::for_service(ServiceName::Orders, &[]);
        Ok(Self {
            common: CommonConfig::load(&sources, ServiceName::Orders)?,
            orders: sources.get()?,
        })
    }
}
