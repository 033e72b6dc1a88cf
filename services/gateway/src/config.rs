use std::net::SocketAddr;
use std::time::Duration;

use hms_config::{ConfigError, Sources};
use hms_layout::ServiceName;
use hms_runtime::CommonConfig;
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
    #[serde(default = "default_request_timeout")]
    pub request_timeout_secs: u64,
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

fn default_request_timeout() -> u64 {
    60
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

impl GatewayConfig {
    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_secs.max(1))
    }

    /// `HMS_AFTER_LOGIN_URL`, checked: a path on this host or an https
    /// address, and a valid header value.
    pub fn after_login_url(&self) -> Result<String, hms_runtime::StartupError> {
        let url = self.after_login_url.trim();
        let shaped =
            (url.starts_with('/') && !url.starts_with("//")) || url.starts_with("https://");
        if shaped && http::HeaderValue::from_str(url).is_ok() {
            Ok(url.to_owned())
        } else {
            Err(hms_runtime::StartupError::Invalid(
                "HMS_AFTER_LOGIN_URL must be a path (/…) or an https:// address".to_owned(),
            ))
        }
    }

    /// `HMS_CORS_ORIGINS`, checked: each a valid header value.
    pub fn cors_origins(&self) -> Result<Vec<http::HeaderValue>, hms_runtime::StartupError> {
        self.cors_origins
            .split(',')
            .map(str::trim)
            .filter(|origin| !origin.is_empty())
            .map(|origin| {
                http::HeaderValue::from_str(origin).map_err(|_| {
                    hms_runtime::StartupError::Invalid(format!(
                        "HMS_CORS_ORIGINS: {origin} is not an origin"
                    ))
                })
            })
            .collect()
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub common: CommonConfig,
    pub gateway: GatewayConfig,
}

impl Config {
    pub fn load() -> Result<Self, ConfigError> {
        let sources = Sources::for_service(ServiceName::Gateway, &[("http_addr", "0.0.0.0:8080")]);
        Ok(Self {
            common: CommonConfig::load(&sources, ServiceName::Gateway)?,
            gateway: sources.get()?,
        })
    }
}
