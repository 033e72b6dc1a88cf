//! The web front end's settings: where it listens, where it finds the
//! gateway, and where browsers find it.

use std::net::SocketAddr;
use std::path::PathBuf;

use hms_config::{ConfigError, Sources};
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
pub struct WebConfig {
    /// `HMS_WEB_ADDR`: where the pages are served.
    pub web_addr: SocketAddr,
    /// `HMS_WEB_API_URL`: the gateway, as this server reaches it.
    pub web_api_url: String,
    /// `HMS_WEB_BROWSER_API_URL`: the gateway as browsers reach it, for the
    /// login link; empty when an ingress serves both on one address
    /// (`/api` to the gateway, the rest here).
    #[serde(default)]
    pub web_browser_api_url: String,
    /// `HMS_COOKIE_SECURE`: mark the session cookies this front end renews
    /// `Secure`, as the gateway does.
    #[serde(default = "default_true")]
    pub cookie_secure: bool,
    /// `HMS_ADDR_FILE`: once listening, write the bound address here.
    #[serde(default)]
    pub addr_file: Option<PathBuf>,
}

fn default_true() -> bool {
    true
}

/// What the front end runs with, checked.
#[derive(Debug, Clone)]
pub struct Settings {
    pub addr: SocketAddr,
    pub api: url::Url,
    /// Ends without a slash; empty for the same address.
    pub browser_api: String,
    pub cookie_secure: bool,
    pub addr_file: Option<PathBuf>,
}

pub const DEFAULTS: &[(&str, &str)] = &[
    ("web_addr", "0.0.0.0:8090"),
    ("web_api_url", "http://127.0.0.1:8080"),
];

pub fn load() -> Result<(Settings, hms_telemetry::TelemetryConfig), ConfigError> {
    let sources = Sources::new(DEFAULTS);
    let config: WebConfig = sources.get()?;
    let telemetry = sources.get()?;
    let api = url::Url::parse(config.web_api_url.trim())
        .ok()
        .filter(|url| matches!(url.scheme(), "http" | "https") && url.host().is_some())
        .ok_or_else(|| ConfigError::invalid("HMS_WEB_API_URL", "must be an http(s) address"))?;
    let browser_api = config.web_browser_api_url.trim().trim_end_matches('/');
    if !browser_api.is_empty()
        && !url::Url::parse(browser_api)
            .is_ok_and(|url| matches!(url.scheme(), "http" | "https") && url.host().is_some())
    {
        return Err(ConfigError::invalid(
            "HMS_WEB_BROWSER_API_URL",
            "must be empty or an http(s) address",
        ));
    }
    Ok((
        Settings {
            addr: config.web_addr,
            api,
            browser_api: browser_api.to_owned(),
            cookie_secure: config.cookie_secure,
            addr_file: config.addr_file,
        },
        telemetry,
    ))
}
