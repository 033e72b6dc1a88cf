use std::time::Duration;

use hms_config::{ConfigError, Sources};
use secrecy::SecretString;
use serde::Deserialize;
use url::Url;

use crate::email::SmtpSettings;
use crate::sms::SmsSettings;

/// The notifications service's own settings.
#[derive(Debug, Clone, Deserialize)]
pub struct NotificationsConfig {
    /// `HMS_SMTP_URL`: the mail server: `smtps://host:465` (implicit TLS),
    /// `smtp://host:587?tls=required` (STARTTLS), or plain `smtp://host:port`
    /// to a server on this machine only (a development sink).
    pub smtp_url: String,
    /// `HMS_SMTP_USERNAME`: login at the mail server, if it wants one.
    #[serde(default)]
    pub smtp_username: String,
    /// `HMS_SMTP_PASSWORD`.
    #[serde(default = "empty_secret")]
    pub smtp_password: SecretString,
    /// `HMS_SMTP_FROM`: the sender, e.g. `HMS-kort <varsel@hms-kort.no>`.
    #[serde(default = "default_from")]
    pub smtp_from: String,
    /// `HMS_SMS_URL`: the SMS provider's API (LINK Mobility's
    /// `/sms/send`, at this base).
    pub sms_url: String,
    /// `HMS_SMS_USERNAME` and `HMS_SMS_PASSWORD`: its basic authentication.
    #[serde(default)]
    pub sms_username: String,
    #[serde(default = "empty_secret")]
    pub sms_password: SecretString,
    /// `HMS_SMS_PLATFORM_ID` and `HMS_SMS_PLATFORM_PARTNER_ID`: the account
    /// at the provider.
    #[serde(default = "default_platform_id")]
    pub sms_platform_id: String,
    #[serde(default)]
    pub sms_platform_partner_id: String,
    /// `HMS_SMS_SENDER`: who text messages come from (up to 11 letters).
    #[serde(default = "default_sender")]
    pub sms_sender: String,
    /// `HMS_COMPANIES_URL`: where the companies service answers, asked for
    /// a company whose registration this service missed.
    pub companies_url: String,
    /// `HMS_PUBLIC_URL`: where people reach the platform, for the links in
    /// messages.
    #[serde(default = "default_public_url")]
    pub public_url: String,
    /// `HMS_NOTIFY_BACKOFFICE_EMAIL`: where the back office is told what it
    /// must follow up (cards that need a new photo); empty for nowhere.
    #[serde(default, rename = "notify_backoffice_email")]
    pub back_office_email: String,
    /// `HMS_NOTIFY_RETRY_BASE_MS`: the first wait after a failed send; it
    /// doubles, with jitter, up to `HMS_NOTIFY_RETRY_MAX_MS`.
    #[serde(
        rename = "notify_retry_base_ms",
        default = "default_retry_base",
        deserialize_with = "hms_config::duration::millis"
    )]
    pub retry_base: Duration,
    #[serde(
        rename = "notify_retry_max_ms",
        default = "default_retry_max",
        deserialize_with = "hms_config::duration::millis"
    )]
    pub retry_max: Duration,
    /// `HMS_NOTIFY_MAX_ATTEMPTS`: sends of one message before it is given
    /// up as failed.
    #[serde(default = "default_max_attempts")]
    pub notify_max_attempts: u32,
    /// `HMS_NOTIFY_CONCURRENCY`: messages sent at once.
    #[serde(default = "default_concurrency")]
    pub notify_concurrency: usize,
    /// `HMS_NOTIFY_SEND_TIMEOUT_SECS`: the longest one send may take.
    #[serde(
        rename = "notify_send_timeout_secs",
        default = "default_send_timeout",
        deserialize_with = "hms_config::duration::seconds"
    )]
    pub send_timeout: Duration,
    /// `HMS_EXPIRY_CHECK_INTERVAL_SECS`: how often grants ending within a
    /// week are looked for.
    #[serde(
        rename = "expiry_check_interval_secs",
        default = "default_expiry_check",
        deserialize_with = "hms_config::duration::seconds"
    )]
    pub expiry_check_interval: Duration,
    /// `HMS_NOTIFY_RETENTION_HOURS`: how long a message is kept after it was
    /// made (then deleted, sent or failed).
    #[serde(
        rename = "notify_retention_hours",
        default = "default_retention",
        deserialize_with = "hms_config::duration::hours"
    )]
    pub retention: Duration,
}

fn empty_secret() -> SecretString {
    SecretString::from(String::new())
}
fn default_from() -> String {
    "HMS-kort <varsel@hms-kort.no>".to_owned()
}
fn default_platform_id() -> String {
    "COMMON_API".to_owned()
}
fn default_sender() -> String {
    "HMS-kort".to_owned()
}
fn default_public_url() -> String {
    "https://bestill.hms-kort.no".to_owned()
}
fn default_retry_base() -> Duration {
    Duration::from_secs(2)
}
fn default_retry_max() -> Duration {
    Duration::from_secs(300)
}
fn default_max_attempts() -> u32 {
    20
}
fn default_concurrency() -> usize {
    8
}
fn default_send_timeout() -> Duration {
    Duration::from_secs(30)
}
fn default_expiry_check() -> Duration {
    Duration::from_secs(3600)
}
fn default_retention() -> Duration {
    Duration::from_secs(365 * 24 * 3600)
}

/// The notifications service's settings in the form it uses them.
pub struct Settings {
    pub smtp: SmtpSettings,
    pub sms: SmsSettings,
    pub companies_url: String,
    /// Links in messages start here, without a trailing `/`.
    pub public_url: String,
    pub back_office_email: Option<String>,
    pub retry: RetryPolicy,
    pub concurrency: usize,
    pub send_timeout: Duration,
    pub expiry_check_interval: Duration,
    pub retention: Duration,
}

/// How failed sends are tried again.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub backoff: hms_db::work::Backoff,
    pub max_attempts: u32,
}

impl NotificationsConfig {
    fn settings(self) -> Result<Settings, ConfigError> {
        let public_url = Url::parse(&self.public_url)
            .map_err(|e| ConfigError::invalid("HMS_PUBLIC_URL", e))?
            .as_str()
            .trim_end_matches('/')
            .to_owned();
        Ok(Settings {
            smtp: SmtpSettings::parse(
                &self.smtp_url,
                &self.smtp_username,
                self.smtp_password,
                &self.smtp_from,
            )?,
            sms: SmsSettings::parse(
                &self.sms_url,
                self.sms_username,
                self.sms_password,
                self.sms_platform_id,
                self.sms_platform_partner_id,
                self.sms_sender,
            )?,
            companies_url: self.companies_url,
            public_url,
            back_office_email: Some(self.back_office_email.trim().to_lowercase())
                .filter(|address| !address.is_empty()),
            retry: RetryPolicy {
                backoff: hms_db::work::Backoff {
                    base: self.retry_base.max(Duration::from_millis(10)),
                    max: self.retry_max.max(self.retry_base),
                },
                max_attempts: self.notify_max_attempts.max(1),
            },
            concurrency: self.notify_concurrency.max(1),
            send_timeout: self.send_timeout.max(Duration::from_secs(1)),
            expiry_check_interval: self.expiry_check_interval.max(Duration::from_secs(1)),
            retention: self.retention,
        })
    }
}

/// Reads the service's own settings.
pub fn load(sources: &Sources) -> Result<Settings, ConfigError> {
    sources.get::<NotificationsConfig>()?.settings()
}
