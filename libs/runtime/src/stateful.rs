//! A service that keeps data: its database (migrated before anything
//! else), NATS, its outbox relay and consumers, and the background tasks a
//! stop waits for.

use std::future::Future;
use std::time::Duration;

use hms_authz::{Authorizer, AuthzConfig};
use hms_events::EventsConfig;
use hms_layout::ServiceName;
use sqlx::PgPool;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::core::{Credentials, identity_credentials};
use crate::{CommonConfig, Service, ServiceCore, StartupError};

/// A started service's shared parts: what every service has ([`ServiceCore`]:
/// identity, the bound server, shutdown), plus its database, NATS, and the
/// background tasks to wait for at shutdown.
pub struct StatefulService {
    pub core: ServiceCore,
    pub pool: PgPool,
    pub jetstream: async_nats::jetstream::Context,
    pub events: EventsConfig,
    identity_url: String,
    authz: AuthzConfig,
    grace: Duration,
    tasks: Vec<JoinHandle<()>>,
}

impl StatefulService {
    /// Connects to the database (creating it if configured), migrates,
    /// connects to NATS and binds the gRPC port, in that order: the port
    /// only answers once the service can do its work. Tokens are verified
    /// with identity's published keys and obtained from identity with
    /// `HMS_SERVICE_SECRET`.
    pub async fn prepare<S: Service>(
        config: &CommonConfig,
        shutdown: CancellationToken,
    ) -> Result<Self, StartupError> {
        let credentials = identity_credentials(config, S::NAME.as_str())?;
        let (service, ()) =
            Self::prepare_with::<S, ()>(config, shutdown, |_| (credentials, ())).await?;
        Ok(service)
    }

    /// [`prepare`](Self::prepare) for the token issuer itself, whose keys
    /// and tokens come from its own database: `auth` makes them (and
    /// whatever else it hands back) from the pool.
    pub async fn prepare_with<S: Service, T>(
        config: &CommonConfig,
        shutdown: CancellationToken,
        auth: impl FnOnce(&PgPool) -> (Credentials, T),
    ) -> Result<(Self, T), StartupError> {
        let pool = open_database(config, &S::migrations()).await?;
        let (credentials, made) = auth(&pool);
        let jetstream = hms_events::connect(&config.events, S::NAME.as_str()).await?;
        let core = ServiceCore::bind(S::NAME.as_str(), config, credentials, shutdown).await?;
        let service = Self {
            core,
            pool,
            jetstream,
            events: config.events.clone(),
            identity_url: config.auth.identity_url.clone(),
            authz: config.authz.clone(),
            grace: config.startup.shutdown_grace,
            tasks: Vec::new(),
        };
        Ok((service, made))
    }

    /// A channel to another service whose calls carry this service's token.
    pub fn connect(
        &self,
        url: &str,
        service: ServiceName,
    ) -> Result<hms_grpc::client::ServiceChannel, StartupError> {
        self.core.connect(url, service)
    }

    /// Identity's decision point, for checking people's access.
    pub fn authorizer(&self) -> Result<Authorizer, StartupError> {
        Ok(Authorizer::new(self.identity()?, &self.authz))
    }

    /// A channel to identity, for the calls it offers services.
    pub fn identity(&self) -> Result<hms_grpc::client::ServiceChannel, StartupError> {
        self.connect(&self.identity_url, ServiceName::Identity)
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
        self.spawn(relay.run(self.core.shutdown.clone()));
        Ok(())
    }

    /// A subscriber for this service's consumers; hand its tasks to
    /// [`adopt`](Self::adopt) so shutdown waits for them.
    pub fn subscriber(&self) -> hms_events::Subscriber {
        hms_events::Subscriber::new(
            self.core.service,
            self.pool.clone(),
            self.jetstream.clone(),
            &self.events,
            self.core.shutdown.clone(),
        )
    }

    /// Adds tasks started elsewhere (consumers) to those waited for.
    pub fn adopt(&mut self, tasks: impl IntoIterator<Item = JoinHandle<()>>) {
        self.tasks.extend(tasks);
    }

    /// Serves until shutdown, then waits (up to the grace period) for the
    /// background tasks.
    pub async fn serve(self, apis: hms_grpc::GrpcApis) -> Result<(), StartupError> {
        let service = self.core.service;
        let shutdown = self.core.shutdown.clone();
        let served = self.core.serve_grpc(apis).await;
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
