//! The command line every service binary shares: `serve` (the default),
//! `migrate`, `healthcheck` and `verify`, and what they need around them (the
//! shutdown signal, the address file).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::{CommonConfig, Config, Service, StartupError};

/// The whole `main` of a service binary: parse the command line, load the
/// configuration, set up telemetry, and serve, migrate or check health.
pub fn main<S: Service>() -> std::process::ExitCode {
    use clap::Parser;
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!(
                "{}: cannot start the async runtime: {error}",
                S::NAME.as_str()
            );
            return std::process::ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(async {
        let config = Config::load::<S>()?;
        let _telemetry = hms_telemetry::init(S::NAME.as_str(), &config.common.telemetry)?;
        let result = match cli.command.unwrap_or(Command::Serve) {
            Command::Migrate => migrate(&config.common, &S::migrations()).await,
            Command::Healthcheck { addr } => {
                healthcheck(addr.unwrap_or(config.common.server.grpc_addr)).await
            }
            Command::Serve => S::serve(config, shutdown_signal()).await,
            Command::Verify { args } => S::verify(config, args).await,
        };
        if let Err(error) = &result {
            tracing::error!(%error, "{} failed", S::NAME.as_str());
        }
        result
    });
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{}: {error}", S::NAME.as_str());
            std::process::ExitCode::FAILURE
        }
    }
}

/// What a service binary can be asked to do.
#[derive(Debug, Clone, clap::Parser)]
#[command(version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum Command {
    /// Run the service (the default).
    Serve,
    /// Apply database migrations, then exit (for an init container).
    Migrate,
    /// Ask a running instance for its gRPC health; exit 0 when serving.
    Healthcheck {
        /// Address to ask; defaults to HMS_GRPC_ADDR.
        #[arg(long)]
        addr: Option<SocketAddr>,
    },
    /// Check what the service keeps, offline, and report; exit non-zero
    /// when something does not hold (`hms-audit verify`: the access log's
    /// chains and checkpoints).
    Verify {
        /// The service's own arguments (`hms-audit verify --help`).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

/// `migrate`: applies the migrations and exits.
pub async fn migrate(
    config: &CommonConfig,
    migrations: &[&sqlx::migrate::Migrator],
) -> Result<(), StartupError> {
    if migrations.is_empty() {
        tracing::info!("nothing to migrate: this service keeps no data");
        return Ok(());
    }
    let db = config.db.as_ref().ok_or(StartupError::KeepsNoData)?;
    if config.startup.database_create {
        db.create_database_if_missing().await?;
    }
    let pool = db.connect().await?;
    hms_db::migrate(&pool, migrations).await?;
    pool.close().await;
    tracing::info!("migrations applied");
    Ok(())
}

/// `healthcheck`: whether the instance at `addr` reports `SERVING`.
pub async fn healthcheck(addr: SocketAddr) -> Result<(), StartupError> {
    use tonic_health::pb::health_client::HealthClient;
    use tonic_health::pb::{HealthCheckRequest, health_check_response::ServingStatus};

    let host = if addr.ip().is_unspecified() {
        SocketAddr::new([127, 0, 0, 1].into(), addr.port())
    } else {
        addr
    };
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{host}"))
        .map_err(|error| StartupError::Unhealthy(error.to_string()))?
        .connect_timeout(Duration::from_secs(3))
        .timeout(Duration::from_secs(3))
        .connect()
        .await
        .map_err(|error| StartupError::Unhealthy(format!("cannot reach {host}: {error}")))?;
    let response = HealthClient::new(channel)
        .check(HealthCheckRequest::default())
        .await
        .map_err(|status| {
            StartupError::Unhealthy(format!("health check failed: {}", status.message()))
        })?;
    if response.get_ref().status == ServingStatus::Serving as i32 {
        Ok(())
    } else {
        Err(StartupError::Unhealthy("not serving".to_owned()))
    }
}

/// Writes a bound address to `path` (`HMS_ADDR_FILE`, the fakes'
/// `--addr-file`), so whoever started the process (tests, `cargo xtask up`)
/// finds a port the OS chose. Written as `<path>.partial`, then renamed: a
/// reader never sees half of it.
pub fn write_addr_file(path: &Path, addr: SocketAddr) -> std::io::Result<()> {
    let mut partial = path.as_os_str().to_owned();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    std::fs::write(&partial, addr.to_string())?;
    std::fs::rename(&partial, path)
}

/// Cancelled on SIGTERM or Ctrl-C.
pub fn shutdown_signal() -> CancellationToken {
    let token = CancellationToken::new();
    let cancel = token.clone();
    tokio::spawn(async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            let mut terminate =
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(signal) => signal,
                    Err(error) => {
                        tracing::error!(%error, "cannot listen for SIGTERM");
                        let _ = ctrl_c.await;
                        cancel.cancel();
                        return;
                    }
                };
            tokio::select! {
                _ = ctrl_c => {}
                _ = terminate.recv() => {}
            }
        }
        #[cfg(not(unix))]
        {
            let _ = ctrl_c.await;
        }
        tracing::info!("shutdown requested");
        cancel.cancel();
    });
    token
}
