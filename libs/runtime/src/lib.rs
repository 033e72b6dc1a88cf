//! The parts of a service binary that are the same in every service: its
//! command line ([`main`]), the settings every service reads
//! ([`CommonConfig`]), start-up in a safe order (database, migrations, NATS,
//! then the port) and a graceful stop on SIGTERM. A service that keeps data
//! starts as a [`StatefulService`]; one that keeps nothing (the gateway)
//! with the [`ServiceCore`] every service has.

mod cli;
mod config;
mod core;
mod error;
mod stateful;

use std::future::Future;

use hms_config::ConfigError;
use hms_layout::ServiceName;
use tokio_util::sync::CancellationToken;

pub use cli::{Cli, Command, healthcheck, main, migrate, shutdown_signal, write_addr_file};
pub use config::{CommonConfig, StartupConfig};
pub use core::ServiceCore;
pub use error::StartupError;
pub use stateful::StatefulService;

/// What a service is, for the shared `main`.
pub trait Service {
    /// The service's name: its identity towards other services and in traces.
    const NAME: ServiceName;
    type Config: Send + 'static;

    fn load_config() -> Result<Self::Config, ConfigError>;
    fn common(config: &Self::Config) -> &CommonConfig;
    /// Every migration the service's database needs, libraries' included;
    /// none for a service that keeps nothing.
    fn migrations() -> Vec<&'static sqlx::migrate::Migrator> {
        Vec::new()
    }
    /// Runs the service until `shutdown` is cancelled.
    fn serve(
        config: Self::Config,
        shutdown: CancellationToken,
    ) -> impl Future<Output = Result<(), StartupError>> + Send;
}
