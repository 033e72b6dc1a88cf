use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::Quota;
use http::{HeaderName, HeaderValue};

use hms_config::{ConfigError, Sources};
use serde::Deserialize;

/// The gateway's own settings.
#[derive(Debug, Clone, Deserialize)]
pub struct GatewayConfig {
    /// `HMS_HTTP_ADDR`: where the REST API listens.
    pub http_addr: SocketAddr,
    /// `HMS_COMPANIES_URL`: where the companies service answers.
    pub companies_url: String,
    /// `HMS_ORDERS_URL`: where the orders service answers.
    pub orders_url: String,
    /// `HMS_MEDIA_URL`: where the media service answers.
    pub media_url: String,
    /// `HMS_NOTIFICATIONS_URL`: where the notifications service answers.
    pub notifications_url: String,
    /// `HMS_CARDS_URL`: where the cards service answers.
    pub cards_url: String,
    /// `HMS_REDACTION_URL`: where the redaction service answers (deletion
    /// receipts).
    pub redaction_url: String,
    /// `HMS_AUDIT_URL`: where the audit service answers (the access log).
    pub audit_url: String,
    /// `HMS_MAX_UPLOAD_BYTES`: the largest document accepted; counted while
    /// it streams through, so the gateway never holds a whole file. Keep
    /// it at media's `HMS_MEDIA_MAX_UPLOAD_BYTES`.
    #[serde(default = "default_max_upload_bytes")]
    pub max_upload_bytes: u64,
    /// `HMS_AFTER_LOGIN_URL`: where the browser goes once logged in (the
    /// web app).
    #[serde(default = "default_after_login_url")]
    pub after_login_url: String,
    /// `HMS_COOKIE_SECURE`: mark session cookies `Secure` (HTTPS only).
    /// Only a plain-HTTP development setup turns it off.
    #[serde(default = "default_true")]
    pub cookie_secure: bool,
    /// `HMS_CORS_ORIGINS`: web origins allowed to call the API from a
    /// browser, comma-separated; none when empty.
    #[serde(default)]
    pub cors_origins: String,
    /// `HMS_REQUEST_TIMEOUT_SECS`: the longest a request may take (uploads
    /// included).
    #[serde(
        rename = "request_timeout_secs",
        default = "default_request_timeout",
        deserialize_with = "hms_config::duration::seconds"
    )]
    pub request_timeout: Duration,
    /// `HMS_RATE_LIMIT_PER_CLIENT`: requests a minute from one client
    /// address.
    #[serde(default = "default_rate_limit_per_client")]
    pub rate_limit_per_client: u32,
    /// `HMS_RATE_LIMIT_PER_USER`: requests a minute by one person.
    #[serde(default = "default_rate_limit_per_user")]
    pub rate_limit_per_user: u32,
    /// `HMS_RATE_LIMIT_BURST`: requests a client address or a person may
    /// make at once before their per-minute rate applies.
    #[serde(default = "default_rate_limit_burst")]
    pub rate_limit_burst: u32,
    /// `HMS_RATE_LIMIT_LOGIN_PER_CLIENT`: logins started or completed a
    /// minute from one client address (`/api/v1/auth/login`, `token`,
    /// `callback`).
    #[serde(default = "default_rate_limit_login_per_client")]
    pub rate_limit_login_per_client: u32,
    /// `HMS_RATE_LIMIT_LOGIN_BURST`: of those, how many at once.
    #[serde(default = "default_rate_limit_login_burst")]
    pub rate_limit_login_burst: u32,
    /// `HMS_CLIENT_IP_HEADER`: behind a proxy, the header it puts the
    /// client's address in (its last entry counts), e.g. `x-forwarded-for`;
    /// empty: the connection's address.
    #[serde(default)]
    pub client_ip_header: String,
    /// `HMS_MAX_JSON_BYTES`: the largest JSON body accepted.
    #[serde(default = "default_max_json_bytes")]
    pub max_json_bytes: usize,
}

fn default_after_login_url() -> String {
    "/".to_owned()
}

fn default_true() -> bool {
    true
}

fn default_request_timeout() -> Duration {
    Duration::from_secs(60)
}

fn default_rate_limit_per_client() -> u32 {
    1200
}

fn default_rate_limit_per_user() -> u32 {
    600
}

fn default_rate_limit_burst() -> u32 {
    20
}

fn default_rate_limit_login_per_client() -> u32 {
    30
}

fn default_rate_limit_login_burst() -> u32 {
    10
}

fn default_max_upload_bytes() -> u64 {
    10 * 1024 * 1024
}

fn default_max_json_bytes() -> usize {
    64 * 1024
}

/// The gateway's settings in the form it uses them, checked when they are
/// loaded.
pub struct Settings {
    pub http_addr: SocketAddr,
    pub companies_url: String,
    pub orders_url: String,
    pub media_url: String,
    pub notifications_url: String,
    pub cards_url: String,
    pub redaction_url: String,
    pub audit_url: String,
    pub max_upload_bytes: u64,
    /// A path on this host or an https address, fit for a header.
    pub after_login_url: String,
    pub cookie_secure: bool,
    pub cors_origins: Vec<HeaderValue>,
    pub request_timeout: Duration,
    pub rate_limits: RateLimits,
    pub max_json_bytes: usize,
}

/// How many requests pass, at once and then a minute.
#[derive(Debug, Clone)]
pub struct RateLimits {
    pub per_client: Quota,
    pub per_person: Quota,
    pub logins_per_client: Quota,
    /// Behind a proxy, the header whose last address is the client's.
    pub client_ip_header: Option<HeaderName>,
}

impl GatewayConfig {
    fn settings(self) -> Result<Settings, ConfigError> {
        let after_login_url = self.after_login_url.trim().to_owned();
        // Plain http only where the cookies are not `Secure` either: a
        // developer's machine, with the web front end on another port.
        let shaped = (after_login_url.starts_with('/') && !after_login_url.starts_with("//"))
            || after_login_url.starts_with("https://")
            || (!self.cookie_secure && after_login_url.starts_with("http://"));
        if !shaped || HeaderValue::from_str(&after_login_url).is_err() {
            return Err(ConfigError::invalid(
                "HMS_AFTER_LOGIN_URL",
                "must be a path (/…) or an https:// address",
            ));
        }
        let cors_origins = self
            .cors_origins
            .split(',')
            .map(str::trim)
            .filter(|origin| !origin.is_empty())
            .map(|origin| {
                HeaderValue::from_str(origin).map_err(|_| {
                    ConfigError::invalid("HMS_CORS_ORIGINS", format!("{origin} is not an origin"))
                })
            })
            .collect::<Result<_, _>>()?;
        let client_ip_header = match self.client_ip_header.trim() {
            "" => None,
            name => Some(HeaderName::try_from(name).map_err(|_| {
                ConfigError::invalid(
                    "HMS_CLIENT_IP_HEADER",
                    format!("{name} is not a header name"),
                )
            })?),
        };
        let burst = at_least_one("HMS_RATE_LIMIT_BURST", self.rate_limit_burst)?;
        let per_minute = |setting, value| {
            at_least_one(setting, value).map(|rate| Quota::per_minute(rate).allow_burst(burst))
        };
        Ok(Settings {
            rate_limits: RateLimits {
                per_client: per_minute("HMS_RATE_LIMIT_PER_CLIENT", self.rate_limit_per_client)?,
                per_person: per_minute("HMS_RATE_LIMIT_PER_USER", self.rate_limit_per_user)?,
                logins_per_client: Quota::per_minute(at_least_one(
                    "HMS_RATE_LIMIT_LOGIN_PER_CLIENT",
                    self.rate_limit_login_per_client,
                )?)
                .allow_burst(at_least_one(
                    "HMS_RATE_LIMIT_LOGIN_BURST",
                    self.rate_limit_login_burst,
                )?),
                client_ip_header,
            },
            http_addr: self.http_addr,
            companies_url: self.companies_url,
            orders_url: self.orders_url,
            media_url: self.media_url,
            notifications_url: self.notifications_url,
            cards_url: self.cards_url,
            redaction_url: self.redaction_url,
            audit_url: self.audit_url,
            max_upload_bytes: self.max_upload_bytes,
            after_login_url,
            cookie_secure: self.cookie_secure,
            cors_origins,
            request_timeout: self.request_timeout.max(Duration::from_secs(1)),
            max_json_bytes: self.max_json_bytes,
        })
    }
}

fn at_least_one(setting: &str, value: u32) -> Result<NonZeroU32, ConfigError> {
    NonZeroU32::new(value).ok_or_else(|| ConfigError::invalid(setting, "must be at least 1"))
}

/// Reads the service's own settings.
pub fn load(sources: &Sources) -> Result<Settings, ConfigError> {
    sources.get::<GatewayConfig>()?.settings()
}
