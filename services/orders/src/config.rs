use std::time::Duration;

use hms_config::{ConfigError, Sources};
use hms_crypto::{FingerprintKey, SealingKey};
use hms_domain::{Money, NationalIdPolicy, PriceList, VatRate};
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
    /// `HMS_DRAFT_RETENTION_DAYS`: a draft not submitted within this long
    /// is closed and its data redacted.
    #[serde(
        default = "thirty_days",
        deserialize_with = "hms_config::duration::days"
    )]
    pub draft_retention_days: Duration,
    /// `HMS_CORRECTION_RETENTION_DAYS`: an order returned for correction
    /// and not submitted again within this long is closed likewise.
    #[serde(
        default = "thirty_days",
        deserialize_with = "hms_config::duration::days"
    )]
    pub correction_retention_days: Duration,
    /// `HMS_INELIGIBLE_COMPANY_RETENTION_DAYS`: the undecided orders of a
    /// company rejected or suspended this long ago are closed likewise.
    #[serde(
        default = "ninety_days",
        deserialize_with = "hms_config::duration::days"
    )]
    pub ineligible_company_retention_days: Duration,
    /// `HMS_FOLKEREGISTERET_URL`: Skatteetaten's Folkeregisteret API.
    pub folkeregisteret_url: String,
    /// `HMS_AAREG_URL`: NAV's Aa-registeret API.
    pub aareg_url: String,
    /// `HMS_REGISTERS_TOKEN`: the bearer token both registers demand (a
    /// Maskinporten access token).
    #[serde(default)]
    pub registers_token: Option<SecretString>,
    /// `HMS_REGISTER_CHECK_MAX_AGE_HOURS`: the oldest register check an
    /// approval may rest on; older ones are done again first.
    #[serde(default = "one_day", deserialize_with = "hms_config::duration::hours")]
    pub register_check_max_age_hours: Duration,
    /// `HMS_RECONCILE_INTERVAL_SECS`: how often orders left too long are
    /// looked for.
    #[serde(flatten)]
    pub reconcile: hms_db::work::ReconcileSettings,
}

fn one_day() -> Duration {
    Duration::from_secs(86_400)
}

fn thirty_days() -> Duration {
    Duration::from_secs(30 * 86_400)
}

fn ninety_days() -> Duration {
    Duration::from_secs(90 * 86_400)
}

fn default_card_price_ore() -> i64 {
    13_290
}

fn default_vat_rate() -> u32 {
    2_500
}

/// The orders service's settings in the form it uses them, checked when
/// they are loaded.
pub struct Settings {
    /// Seals national identity numbers at rest.
    pub national_id_key: SealingKey,
    /// Keys the fingerprints that recognise a retried create.
    pub fingerprint_key: FingerprintKey,
    pub national_id_policy: NationalIdPolicy,
    pub price_list: PriceList,
    pub media_url: String,
    pub retention: crate::retention::RetentionPeriods,
    pub registers: crate::registers::Registers,
    pub register_check_max_age: Duration,
    /// How often orders left too long are looked for.
    pub retention_interval: Duration,
}

impl OrdersConfig {
    fn settings(self) -> Result<Settings, ConfigError> {
        let key_error = |error| ConfigError::invalid("HMS_NATIONAL_ID_KEY", error);
        Ok(Settings {
            national_id_key: SealingKey::from_base64(&self.national_id_key).map_err(key_error)?,
            fingerprint_key: FingerprintKey::derive(
                &self.national_id_key,
                "orders request fingerprint",
            )
            .map_err(key_error)?,
            national_id_policy: NationalIdPolicy {
                allow_synthetic: self.allow_synthetic_national_ids,
            },
            price_list: PriceList {
                unit_net: Money::from_ore(self.card_price_ore)
                    .map_err(|e| ConfigError::invalid("HMS_CARD_PRICE_ORE", e))?,
                vat_rate: VatRate::from_basis_points(self.vat_rate_basis_points)
                    .map_err(|e| ConfigError::invalid("HMS_VAT_RATE_BASIS_POINTS", e))?,
            },
            media_url: self.media_url,
            registers: crate::registers::Registers::new(
                &self.folkeregisteret_url,
                &self.aareg_url,
                self.registers_token,
                REGISTERS_TIMEOUT,
            )?,
            register_check_max_age: self.register_check_max_age_hours,
            retention: crate::retention::RetentionPeriods {
                draft: self.draft_retention_days,
                correction: self.correction_retention_days,
                ineligible_company: self.ineligible_company_retention_days,
            },
            retention_interval: self.reconcile.interval(),
        })
    }
}

/// The longest a register may take to answer one lookup.
const REGISTERS_TIMEOUT: Duration = Duration::from_secs(10);

/// Reads the service's own settings.
pub fn load(sources: &Sources) -> Result<Settings, ConfigError> {
    sources.get::<OrdersConfig>()?.settings()
}
