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

use hms_config::{ConfigError, Sources};
use hms_layout::ServiceName;
use tokio_util::sync::CancellationToken;

pub use cli::{Cli, Command, healthcheck, main, migrate, shutdown_signal, write_addr_file};
pub use config::{CommonConfig, StartupConfig};
pub use core::ServiceCore;
pub use error::StartupError;
pub use stateful::StatefulService;

/// What a service is, for the shared `main`.
pub trait Service {
    /// The service's name: its identity towards other services and in
    /// traces, and its row in the layout.
    const NAME: ServiceName;
    /// Defaults of its own settings, beyond those the layout gives (its
    /// port, its database, where the services it calls answer).
    const DEFAULTS: &'static [(&'static str, &'static str)] = &[];
    /// Its own settings, in the form it uses them.
    type Settings: Send + 'static;

    /// Reads its own settings; those every service reads are read for it.
    fn settings(sources: &Sources) -> Result<Self::Settings, ConfigError>;
    /// Every migration the service's database needs, libraries' included;
    /// none for a service that keeps nothing.
    fn migrations() -> Vec<&'static sqlx::migrate::Migrator> {
        Vec::new()
    }
    /// Runs the service until `shutdown` is cancelled.
    fn serve(
        config: Config<Self::Settings>,
        shutdown: CancellationToken,
    ) -> impl Future<Output = Result<(), StartupError>> + Send;
    /// `verify`: checks what the service keeps, offline, with its own
    /// arguments; most services keep nothing such a check could prove.
    fn verify(
        config: Config<Self::Settings>,
        args: Vec<String>,
    ) -> impl Future<Output = Result<(), StartupError>> + Send {
        drop((config, args));
        async {
            Err(StartupError::Own(
                "this service has nothing to verify".into(),
            ))
        }
    }
}

/// A service's configuration: the settings every service reads, and its
/// own.
pub struct Config<S> {
    pub common: CommonConfig,
    pub own: S,
}

impl<S> Config<S> {
    /// From the defaults, `HMS_CONFIG_FILE` and the environment.
    pub fn load<T: Service<Settings = S>>() -> Result<Self, ConfigError> {
        let sources = Sources::for_service(T::NAME, T::DEFAULTS);
        Ok(Self {
            common: CommonConfig::load(&sources, T::NAME)?,
            own: T::settings(&sources)?,
        })
    }
}
