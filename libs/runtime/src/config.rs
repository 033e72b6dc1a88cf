//! The settings every service reads, each library's section from the same
//! sources.

use std::time::Duration;

use hms_auth::AuthConfig;
use hms_authz::AuthzConfig;
use hms_config::{ConfigError, Sources};
use hms_db::DbConfig;
use hms_events::EventsConfig;
use hms_grpc::ServerConfig;
use hms_layout::ServiceName;
use hms_metrics::MetricsConfig;
use hms_telemetry::TelemetryConfig;
use serde::Deserialize;

/// Settings of the start-up itself (`HMS_DATABASE_CREATE`,
/// `HMS_MIGRATE_ON_START`, `HMS_SHUTDOWN_GRACE_SECS`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct StartupConfig {
    /// Create the database if it is missing (development).
    pub database_create: bool,
    /// Apply migrations before serving.
    pub migrate_on_start: bool,
    /// How long background tasks get to finish after SIGTERM.
    #[serde(
        rename = "shutdown_grace_secs",
        deserialize_with = "hms_config::duration::seconds"
    )]
    pub shutdown_grace: Duration,
}

impl Default for StartupConfig {
    fn default() -> Self {
        Self {
            database_create: false,
            migrate_on_start: true,
            shutdown_grace: Duration::from_secs(20),
        }
    }
}

/// The settings every service reads.
#[derive(Debug, Clone)]
pub struct CommonConfig {
    pub server: ServerConfig,
    /// None for a service that keeps no data (the layout says which): it
    /// needs no database settings.
    pub db: Option<DbConfig>,
    pub events: EventsConfig,
    pub telemetry: TelemetryConfig,
    pub metrics: MetricsConfig,
    pub auth: AuthConfig,
    pub authz: AuthzConfig,
    pub startup: StartupConfig,
}

impl CommonConfig {
    pub fn load(sources: &Sources, service: ServiceName) -> Result<Self, ConfigError> {
        Ok(Self {
            server: sources.get()?,
            db: if service.spec().keeps_data {
                Some(sources.get()?)
            } else {
                None
            },
            events: sources.get()?,
            telemetry: sources.get()?,
            metrics: sources.get()?,
            auth: sources.get()?,
            authz: sources.get()?,
            startup: sources.get()?,
        })
    }
}
