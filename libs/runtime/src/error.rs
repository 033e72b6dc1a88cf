use std::net::SocketAddr;

use hms_config::ConfigError;

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Telemetry(#[from] hms_telemetry::TelemetryError),
    #[error(transparent)]
    Db(#[from] hms_db::DbError),
    #[error(transparent)]
    Events(#[from] hms_events::EventsError),
    #[error(transparent)]
    Server(#[from] hms_grpc::server::ServerError),
    #[error(transparent)]
    Metrics(#[from] hms_metrics::MetricsError),
    #[error(transparent)]
    Auth(#[from] hms_auth::AuthError),
    #[error(transparent)]
    Channel(#[from] hms_grpc::client::ChannelError),
    #[error("cannot write the address file: {0}")]
    AddrFile(std::io::Error),
    /// A service the layout says keeps no data was started as one that does.
    #[error("this service keeps no data and has no database settings")]
    KeepsNoData,
    #[error("cannot listen on {addr}: {error}")]
    Listen {
        addr: SocketAddr,
        error: std::io::Error,
    },
    #[error("the HTTP server failed: {0}")]
    Http(std::io::Error),
    #[error("the OpenAPI document cannot be written: {0}")]
    OpenApi(String),
    /// The service's own parts could not be set up (its templates, say).
    #[error(transparent)]
    Own(Box<dyn std::error::Error + Send + Sync>),
    /// `healthcheck`: the instance is not serving, or did not answer.
    #[error("not healthy: {0}")]
    Unhealthy(String),
}
