//! The parts of a service binary that are the same in every service: its
//! command line, the settings every service reads, start-up in a safe order
//! (database, migrations, NATS, then the port), and a graceful stop on
//! SIGTERM.

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use std::sync::Arc;

use hms_auth::{
    AuthConfig, IdentityKeys, KeySource, ServiceCredentials, TokenSource, TokenVerifier,
};
use hms_authz::{Authorizer, AuthzConfig};
use hms_config::{ConfigError, Sources};
use hms_db::DbConfig;
use hms_events::EventsConfig;
use hms_grpc::{GrpcServer, ServerConfig};
use hms_layout::ServiceName;
use hms_telemetry::TelemetryConfig;
use serde::Deserialize;
use sqlx::PgPool;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

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
        let config = S::load_config()?;
        let common = S::common(&config);
        let _telemetry = hms_telemetry::init(S::NAME.as_str(), &common.telemetry)?;
        let result = match cli.command.unwrap_or(Command::Serve) {
            Command::Serve => S::serve(config, shutdown_signal()).await,
            Command::Migrate => migrate(common, &S::migrations()).await,
            Command::Healthcheck { addr } => {
                healthcheck(addr.unwrap_or(common.server.grpc_addr)).await
            }
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
}

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
    pub shutdown_grace_secs: u64,
}

impl Default for StartupConfig {
    fn default() -> Self {
        Self {
            database_create: false,
            migrate_on_start: true,
            shutdown_grace_secs: 20,
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
            auth: sources.get()?,
            authz: sources.get()?,
            startup: sources.get()?,
        })
    }
}

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
    Auth(#[from] hms_auth::AuthError),
    #[error(transparent)]
    Channel(#[from] hms_grpc::client::ChannelError),
    #[error("cannot write the address file: {0}")]
    AddrFile(std::io::Error),
    /// A service the layout says keeps no data was started as one that does.
    #[error("this service keeps no data and has no database settings")]
    KeepsNoData,
    #[error("{0}")]
    Invalid(String),
}

/// A started service's shared parts: what every service has ([`Edge`]:
/// identity, the bound server, shutdown), plus its database, NATS, and the
/// background tasks to wait for at shutdown.
pub struct Foundation {
    pub edge: Edge,
    pub pool: PgPool,
    pub jetstream: async_nats::jetstream::Context,
    pub events: EventsConfig,
    identity_url: String,
    authz: AuthzConfig,
    grace: Duration,
    tasks: Vec<JoinHandle<()>>,
}

impl Foundation {
    /// Connects to the database (creating it if configured), migrates,
    /// connects to NATS and binds the gRPC port, in that order: the port
    /// only answers once the service can do its work. Tokens are verified
    /// with identity's published keys and obtained from identity with
    /// `HMS_SERVICE_SECRET`.
    pub async fn prepare<S: Service>(
        config: &CommonConfig,
        shutdown: CancellationToken,
    ) -> Result<Self, StartupError> {
        let (keys, tokens) = identity_credentials(config, S::NAME.as_str())?;
        Self::prepare_with::<S>(config, shutdown, |_| Ok((keys, tokens))).await
    }

    /// [`prepare`](Self::prepare) for the token issuer itself, whose keys
    /// and tokens come from its own database.
    pub async fn prepare_with<S: Service>(
        config: &CommonConfig,
        shutdown: CancellationToken,
        auth: impl FnOnce(&PgPool) -> Result<Credentials, StartupError>,
    ) -> Result<Self, StartupError> {
        let pool = open_database(config, &S::migrations()).await?;
        let credentials = auth(&pool)?;
        let jetstream = hms_events::connect(&config.events, S::NAME.as_str()).await?;
        let edge = Edge::bind(S::NAME.as_str(), config, credentials, shutdown).await?;
        Ok(Self {
            edge,
            pool,
            jetstream,
            events: config.events.clone(),
            identity_url: config.auth.identity_url.clone(),
            authz: config.authz.clone(),
            grace: Duration::from_secs(config.startup.shutdown_grace_secs),
            tasks: Vec::new(),
        })
    }

    /// A channel to another service whose calls carry this service's token.
    pub fn connect(
        &self,
        url: &str,
        service: ServiceName,
    ) -> Result<hms_grpc::client::ServiceChannel, StartupError> {
        self.edge.connect(url, service)
    }

    /// Identity's decision point, for checking people's access.
    pub fn authorizer(&self) -> Result<Authorizer, StartupError> {
        let identity = self.connect(&self.identity_url, ServiceName::Identity)?;
        Ok(Authorizer::new(identity, &self.authz))
    }

    /// Runs `task` in the background; it must end soon after `shutdown` is
    /// cancelled.
    pub fn spawn(&mut self, task: impl Future<Output = ()> + Send + 'static) {
        self.tasks.push(tokio::spawn(task));
    }

    /// Publishes this service's outbox to the streams of `domains`.
    pub async fn start_relay(
        &mut self,
        domains: &[hms_events::Domain],
    ) -> Result<(), StartupError> {
        let relay = hms_events::Relay::new(
            self.pool.clone(),
            self.jetstream.clone(),
            &self.events,
            domains,
        )
        .await?;
        self.spawn(relay.run(self.edge.shutdown.clone()));
        Ok(())
    }

    /// A subscriber for this service's consumers; hand its tasks to
    /// [`adopt`](Self::adopt) so shutdown waits for them.
    pub fn subscriber(&self) -> hms_events::Subscriber {
        hms_events::Subscriber::new(
            self.edge.service,
            self.pool.clone(),
            self.jetstream.clone(),
            &self.events,
            self.edge.shutdown.clone(),
        )
    }

    /// Adds tasks started elsewhere (consumers) to those waited for.
    pub fn adopt(&mut self, tasks: impl IntoIterator<Item = JoinHandle<()>>) {
        self.tasks.extend(tasks);
    }

    /// Serves until shutdown, then waits (up to the grace period) for the
    /// background tasks.
    pub async fn serve(self, apis: hms_grpc::GrpcApis) -> Result<(), StartupError> {
        let service = self.edge.service;
        let shutdown = self.edge.shutdown.clone();
        let served = self.edge.serve_grpc(apis).await;
        // The server also stops on its own errors; make sure the tasks do too.
        shutdown.cancel();
        let all = futures_join(self.tasks);
        if tokio::time::timeout(self.grace, all).await.is_err() {
            tracing::warn!("background tasks did not stop within the grace period");
        }
        // close() waits for connections in use; a task still stuck in one
        // after the grace period must not keep the process alive.
        if tokio::time::timeout(Duration::from_secs(2), self.pool.close())
            .await
            .is_err()
        {
            tracing::warn!("database connections still busy at exit");
        }
        tracing::info!(service, "stopped");
        served
    }
}

/// Where a service's tokens come from: keys to verify incoming ones, and a
/// source of its own.
type Credentials = (Arc<dyn KeySource>, Arc<dyn TokenSource>);

/// Identity's published keys, to verify incoming tokens, and this
/// service's credentials (`HMS_SERVICE_SECRET`), to get its own.
fn identity_credentials(config: &CommonConfig, service: &str) -> Result<Credentials, StartupError> {
    let secret = config
        .auth
        .service_secret
        .clone()
        .ok_or(hms_auth::AuthError::MissingSecret)?;
    let keys: Arc<dyn KeySource> = Arc::new(IdentityKeys::new(&config.auth.identity_url)?);
    let tokens: Arc<dyn TokenSource> = Arc::new(ServiceCredentials::new(
        service,
        &config.auth.identity_url,
        secret,
    )?);
    Ok((keys, tokens))
}

/// What every service has: its token handling, calls to other services, and
/// the gRPC port (with health, which every deployment probes) and shutdown.
/// A service that keeps nothing (the gateway) starts with this alone.
pub struct Edge {
    pub service: &'static str,
    /// Verifies the tokens callers present.
    pub verifier: TokenVerifier,
    /// This service's tokens for the services it calls.
    pub tokens: Arc<dyn TokenSource>,
    pub server: GrpcServer,
    pub shutdown: CancellationToken,
    addr_file: Option<PathBuf>,
}

impl Edge {
    pub async fn prepare<S: Service>(
        config: &CommonConfig,
        shutdown: CancellationToken,
    ) -> Result<Self, StartupError> {
        let credentials = identity_credentials(config, S::NAME.as_str())?;
        Self::bind(S::NAME.as_str(), config, credentials, shutdown).await
    }

    async fn bind(
        service: &'static str,
        config: &CommonConfig,
        (keys, tokens): Credentials,
        shutdown: CancellationToken,
    ) -> Result<Self, StartupError> {
        Ok(Self {
            service,
            verifier: TokenVerifier::new(service, keys),
            tokens,
            server: GrpcServer::bind(&config.server).await?,
            shutdown,
            addr_file: config.server.addr_file.clone(),
        })
    }

    /// A channel to another service. Calls carry this service's token,
    /// unless they already carry a person's (which the gateway forwards).
    pub fn connect(
        &self,
        url: &str,
        service: ServiceName,
    ) -> Result<hms_grpc::client::ServiceChannel, StartupError> {
        Ok(hms_grpc::client::connect(
            url,
            service,
            self.tokens.clone(),
        )?)
    }

    /// [`connect`](Self::connect) with no limit on a call's duration, for
    /// client-streamed uploads, which the caller's own deadline bounds.
    pub fn connect_for_uploads(
        &self,
        url: &str,
        service: ServiceName,
    ) -> Result<hms_grpc::client::ServiceChannel, StartupError> {
        Ok(hms_grpc::client::connect_with_deadline(
            url,
            service,
            self.tokens.clone(),
            None,
        )?)
    }

    /// Serves gRPC health until shutdown; `serving` runs beside it (the
    /// service's own port) and is reported healthy once it is listening.
    /// The address file names the health port, like every service's.
    pub async fn serve(
        self,
        serving: impl Future<Output = Result<(), StartupError>>,
    ) -> Result<(), StartupError> {
        let service = self.service;
        let shutdown = self.shutdown.clone();
        let (health, serving) =
            tokio::join!(self.serve_grpc(hms_grpc::GrpcApis::default()), async {
                let result = serving.await;
                // Either stopping stops both.
                shutdown.cancel();
                result
            });
        tracing::info!(service, "stopped");
        serving?;
        health
    }

    /// Reports SERVING, writes the address file (`HMS_ADDR_FILE`) and
    /// serves `routes` with health and reflection until shutdown.
    async fn serve_grpc(self, apis: hms_grpc::GrpcApis) -> Result<(), StartupError> {
        self.server.set_serving().await;
        if let Some(path) = &self.addr_file {
            write_addr_file(path, self.server.local_addr()).map_err(StartupError::AddrFile)?;
        }
        tracing::info!(service = self.service, addr = %self.server.local_addr(), "serving");
        Ok(self
            .server
            .serve(apis, self.verifier, self.shutdown)
            .await?)
    }
}

async fn futures_join(tasks: Vec<JoinHandle<()>>) {
    for task in tasks {
        let _ = task.await;
    }
}

async fn open_database(
    config: &CommonConfig,
    migrations: &[&sqlx::migrate::Migrator],
) -> Result<PgPool, StartupError> {
    let db = config.db.as_ref().ok_or(StartupError::KeepsNoData)?;
    if config.startup.database_create {
        db.create_database_if_missing().await?;
    }
    let pool = db.connect().await?;
    if config.startup.migrate_on_start {
        hms_db::migrate(&pool, migrations).await?;
    }
    Ok(pool)
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
        .map_err(|error| StartupError::Invalid(error.to_string()))?
        .connect_timeout(Duration::from_secs(3))
        .timeout(Duration::from_secs(3))
        .connect()
        .await
        .map_err(|error| StartupError::Invalid(format!("cannot reach {host}: {error}")))?;
    let response = HealthClient::new(channel)
        .check(HealthCheckRequest::default())
        .await
        .map_err(|status| {
            StartupError::Invalid(format!("health check failed: {}", status.message()))
        })?;
    if response.get_ref().status == ServingStatus::Serving as i32 {
        Ok(())
    } else {
        Err(StartupError::Invalid("not serving".to_owned()))
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
