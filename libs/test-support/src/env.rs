use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};

use async_nats::jetstream;
use hms_auth::{AuthConfig, ServiceTokens};
use hms_events::{Domain, EventType, Namespace};
use secrecy::SecretString;
use sqlx::postgres::PgPoolOptions;
use sqlx::{Connection, PgConnection, PgPool};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use crate::process::ServiceProcess;

/// A service of the platform, as the tests start it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Service {
    Companies,
    Orders,
    Media,
    Redaction,
}

impl Service {
    pub const ALL: [Service; 4] = [Self::Companies, Self::Orders, Self::Media, Self::Redaction];

    pub const fn name(self) -> &'static str {
        match self {
            Self::Companies => "companies",
            Self::Orders => "orders",
            Self::Media => "media",
            Self::Redaction => "redaction",
        }
    }
}

/// One test's private slice of the platform.
pub struct TestEnv {
    id: String,
    admin_url: String,
    nats_url: String,
    dir: PathBuf,
    ports: BTreeMap<Service, u16>,
    settings: BTreeMap<String, String>,
    service_secret: String,
    processes: BTreeMap<Service, ServiceProcess>,
}

impl TestEnv {
    /// A fresh environment; nothing runs until [`start`](Self::start).
    pub fn new() -> Self {
        let id = format!("t{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
        let admin_url = std::env::var("HMS_TEST_DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
        let nats_url = std::env::var("HMS_TEST_NATS_URL")
            .unwrap_or_else(|_| "nats://127.0.0.1:4222".to_owned());
        let dir = std::env::temp_dir().join("hms-tests").join(&id);
        std::fs::create_dir_all(&dir).expect("create the test's folder");

        // Hold every port until all are chosen, so no two services get one.
        let listeners: Vec<(Service, TcpListener)> = Service::ALL
            .iter()
            .map(|service| {
                (
                    *service,
                    TcpListener::bind("127.0.0.1:0").expect("bind a free port"),
                )
            })
            .collect();
        let ports = listeners
            .iter()
            .map(|(service, listener)| {
                (
                    *service,
                    listener.local_addr().expect("local address").port(),
                )
            })
            .collect();
        drop(listeners);

        let service_secret = hms_crypto::generate_key_base64();
        let mut settings = BTreeMap::new();
        for (key, value) in [
            ("HMS_DATABASE_CREATE", "true".to_owned()),
            ("HMS_NATS_URL", nats_url.clone()),
            ("HMS_NATS_NAMESPACE", id.clone()),
            ("HMS_SERVICE_TOKEN_SECRET", service_secret.clone()),
            ("HMS_NATIONAL_ID_KEY", hms_crypto::generate_key_base64()),
            ("HMS_MEDIA_MASTER_KEY", hms_crypto::generate_key_base64()),
            (
                "HMS_MEDIA_STORE_URL",
                format!("file://{}", dir.join("objects").display()),
            ),
            ("HMS_LOG_FORMAT", "text".to_owned()),
            (
                "HMS_LOG_FILTER",
                "info,hms=debug,h2=warn,hyper=warn,sqlx=warn,async_nats=warn".to_owned(),
            ),
            ("HMS_EVENT_MAX_DELIVER", "4".to_owned()),
            ("HMS_EVENT_RETRY_BASE_MS", "200".to_owned()),
            ("HMS_EVENT_RETRY_MAX_MS", "1000".to_owned()),
            ("HMS_RECONCILE_INTERVAL_SECS", "1".to_owned()),
            // The reconciler stays out of the way unless a test asks for it.
            ("HMS_RECONCILE_DELAY_SECS", "3600".to_owned()),
            ("HMS_SHUTDOWN_GRACE_SECS", "5".to_owned()),
            ("OTEL_BSP_SCHEDULE_DELAY", "100".to_owned()),
        ] {
            settings.insert(key.to_owned(), value);
        }
        let mut env = Self {
            id,
            admin_url,
            nats_url,
            dir,
            ports,
            settings,
            service_secret,
            processes: BTreeMap::new(),
        };
        let orders_url = env.url(Service::Orders);
        let media_url = env.url(Service::Media);
        env.settings.insert("HMS_ORDERS_URL".to_owned(), orders_url);
        env.settings.insert("HMS_MEDIA_URL".to_owned(), media_url);
        env
    }

    /// Sets an `HMS_*` (or other) variable for every service started later.
    pub fn set(&mut self, key: &str, value: &str) -> &mut Self {
        self.settings.insert(key.to_owned(), value.to_owned());
        self
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// The folder holding this test's logs and objects.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where local object storage keeps this test's objects.
    pub fn objects_dir(&self) -> PathBuf {
        self.dir.join("objects")
    }

    pub fn addr(&self, service: Service) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.ports[&service]))
    }

    pub fn url(&self, service: Service) -> String {
        format!("http://{}", self.addr(service))
    }

    pub fn database_name(&self, service: Service) -> String {
        format!("hmst_{}_{}", self.id, service.name())
    }

    pub fn database_url(&self, service: Service) -> String {
        with_database(&self.admin_url, &self.database_name(service))
    }

    /// Starts a service's binary and waits until it reports SERVING.
    pub async fn start(&mut self, service: Service) {
        let mut settings = self.settings.clone();
        settings.insert("HMS_GRPC_ADDR".to_owned(), self.addr(service).to_string());
        settings.insert("HMS_DATABASE_URL".to_owned(), self.database_url(service));
        let process = ServiceProcess::start(service, &self.dir, &settings).await;
        self.processes.insert(service, process);
    }

    /// Starts every service.
    pub async fn start_all(&mut self) {
        for service in Service::ALL {
            self.start(service).await;
        }
    }

    /// Stops a service gracefully (SIGTERM) and returns its exit code.
    pub async fn stop(&mut self, service: Service) -> Option<i32> {
        let mut process = self.processes.remove(&service)?;
        process.terminate().await
    }

    /// A plain channel to a running service, as an anonymous client.
    pub async fn channel(&self, service: Service) -> Channel {
        Channel::from_shared(self.url(service))
            .expect("valid url")
            .connect()
            .await
            .expect("connect to the service")
    }

    /// A channel that presents the identity of the service `as_service`.
    pub async fn channel_as(
        &self,
        service: Service,
        as_service: &str,
    ) -> InterceptedService<Channel, ServiceAuth> {
        let tokens = ServiceTokens::new(
            as_service,
            &AuthConfig {
                service_token_secret: SecretString::from(self.service_secret.clone()),
            },
        )
        .expect("strong secret");
        let token = tokens.issue(service.name()).expect("issue a token");
        InterceptedService::new(self.channel(service).await, ServiceAuth(token))
    }

    /// A pool on a service's database, to look at what it stored.
    pub async fn db(&self, service: Service) -> PgPool {
        PgPoolOptions::new()
            .max_connections(2)
            .connect(&self.database_url(service))
            .await
            .expect("connect to the service's database")
    }

    pub fn namespace(&self) -> Namespace {
        Namespace::new(&self.id).expect("valid namespace")
    }

    pub fn subject(&self, event: EventType) -> String {
        self.namespace().subject(event)
    }

    pub fn stream_name(&self, domain: Domain) -> String {
        self.namespace().stream_name(domain)
    }

    pub async fn jetstream(&self) -> jetstream::Context {
        let client = async_nats::connect(self.nats_url.as_str())
            .await
            .expect("connect to NATS");
        jetstream::new(client)
    }

    /// Everything every running service logged so far.
    pub fn logs(&self) -> String {
        self.processes
            .values()
            .map(ServiceProcess::log)
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The last lines each service logged, to explain a failure.
    pub fn log_tails(&self) -> String {
        self.processes
            .values()
            .map(|process| process.log_tail(40))
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn cleanup(&mut self) {
        self.processes.clear();
        let databases: Vec<String> = Service::ALL
            .iter()
            .map(|s| self.database_name(*s))
            .collect();
        let admin_url = self.admin_url.clone();
        let nats_url = self.nats_url.clone();
        let namespace = self.namespace();
        let dir = self.dir.clone();
        // Drop runs inside the test's runtime; clean up on a thread with one
        // of its own.
        let cleanup = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async move {
                if let Ok(mut admin) = PgConnection::connect(&admin_url).await {
                    for database in databases {
                        let _ = sqlx::query(&format!(
                            "DROP DATABASE IF EXISTS \"{database}\" WITH (FORCE)"
                        ))
                        .execute(&mut admin)
                        .await;
                    }
                }
                if let Ok(client) = async_nats::connect(nats_url.as_str()).await {
                    let jetstream = jetstream::new(client);
                    for domain in [
                        Domain::Companies,
                        Domain::Orders,
                        Domain::Redaction,
                        Domain::Parked,
                    ] {
                        let _ = jetstream.delete_stream(namespace.stream_name(domain)).await;
                    }
                }
            });
            let _ = std::fs::remove_dir_all(dir);
        });
        let _ = cleanup.join();
    }
}

impl Default for TestEnv {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "--- logs of test environment {} ---\n{}",
                self.id,
                self.log_tails()
            );
        }
        self.cleanup();
    }
}

/// Adds a service token to every call.
#[derive(Clone)]
pub struct ServiceAuth(String);

impl tonic::service::Interceptor for ServiceAuth {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        let value = format!("Bearer {}", self.0)
            .parse()
            .map_err(|_| tonic::Status::internal("token"))?;
        request.metadata_mut().insert("authorization", value);
        Ok(request)
    }
}

/// The URL with its database name replaced.
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_end = base.find("://").map_or(0, |i| i + 3);
    let base = match base[authority_end..].find('/') {
        Some(slash) => &base[..authority_end + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{base}/{database}?{query}"),
        None => format!("{base}/{database}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_names_are_swapped_in_urls() {
        assert_eq!(
            with_database("postgres://u@h:1/postgres", "x"),
            "postgres://u@h:1/x"
        );
        assert_eq!(with_database("postgres://u@h:1", "x"), "postgres://u@h:1/x");
        assert_eq!(
            with_database("postgres://u@h/db?sslmode=disable", "x"),
            "postgres://u@h/x?sslmode=disable"
        );
    }
}
