use std::net::SocketAddr;
use std::path::PathBuf;

use hms_auth::TokenVerifier;
use serde::Deserialize;
use tokio_util::sync::CancellationToken;
use tonic::server::NamedService;
use tonic::service::Routes;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

/// `HMS_GRPC_ADDR` and `HMS_ADDR_FILE`.
#[derive(Debug, Clone, Deserialize)]
pub struct ServerConfig {
    /// Where the gRPC server listens; port 0 picks a free port.
    pub grpc_addr: SocketAddr,
    /// If set, the bound address is written to this file once serving
    /// (`hms_runtime::write_addr_file`).
    #[serde(default)]
    pub addr_file: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("cannot listen on {0}: {1}")]
    Bind(SocketAddr, std::io::Error),
    #[error("cannot build the reflection service: {0}")]
    Reflection(String),
    #[error("gRPC server failed: {0}")]
    Serve(#[from] tonic::transport::Error),
}

/// The gRPC services a server answers, known by name so that reflection
/// lists exactly those (and health), not every service of the platform.
#[derive(Default)]
pub struct GrpcApis {
    routes: Routes,
    names: Vec<&'static str>,
}

impl GrpcApis {
    /// Answers `service` too.
    pub fn with<S>(mut self, service: S) -> Self
    where
        S: tower::Service<
                http::Request<tonic::body::Body>,
                Response = http::Response<tonic::body::Body>,
                Error = std::convert::Infallible,
            > + NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
    {
        self.names.push(S::NAME);
        self.routes = self.routes.add_service(service);
        self
    }

    /// The names reflection lists.
    pub fn names(&self) -> &[&'static str] {
        &self.names
    }
}

/// A bound gRPC server with health and reflection, not yet serving.
pub struct GrpcServer {
    listener: tokio::net::TcpListener,
    local_addr: SocketAddr,
    health: HealthReporter,
    health_service:
        tonic_health::pb::health_server::HealthServer<tonic_health::server::HealthService>,
}

impl GrpcServer {
    /// Binds the address. Health reports `NOT_SERVING` until
    /// [`set_serving`](Self::set_serving).
    pub async fn bind(config: &ServerConfig) -> Result<Self, ServerError> {
        let listener = tokio::net::TcpListener::bind(config.grpc_addr)
            .await
            .map_err(|error| ServerError::Bind(config.grpc_addr, error))?;
        let local_addr = listener
            .local_addr()
            .map_err(|error| ServerError::Bind(config.grpc_addr, error))?;
        let health = HealthReporter::new();
        let health_service = tonic_health::pb::health_server::HealthServer::new(
            tonic_health::server::HealthService::from_health_reporter(health.clone()),
        );
        health
            .set_service_status("", ServingStatus::NotServing)
            .await;
        Ok(Self {
            listener,
            local_addr,
            health,
            health_service,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    pub fn health(&self) -> HealthReporter {
        self.health.clone()
    }

    /// Serves `apis` until `shutdown` is cancelled, then lets in-flight
    /// calls finish. Callers are identified with `verifier`.
    pub async fn serve(
        self,
        apis: GrpcApis,
        verifier: TokenVerifier,
        shutdown: CancellationToken,
    ) -> Result<(), ServerError> {
        // Its own APIs, health, and reflection itself.
        let reflection = |reflection: &str| {
            let health = <tonic_health::pb::health_server::HealthServer<
                tonic_health::server::HealthService,
            > as NamedService>::NAME;
            apis.names().iter().chain([&health, &reflection]).fold(
                tonic_reflection::server::Builder::configure()
                    .register_encoded_file_descriptor_set(hms_proto::FILE_DESCRIPTOR_SET)
                    .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET),
                |builder, name| builder.with_service_name(*name),
            )
        };
        let reflection_v1 = reflection("grpc.reflection.v1.ServerReflection")
            .build_v1()
            .map_err(|error| ServerError::Reflection(error.to_string()))?;
        let reflection_v1alpha = reflection("grpc.reflection.v1alpha.ServerReflection")
            .build_v1alpha()
            .map_err(|error| ServerError::Reflection(error.to_string()))?;

        tracing::info!(addr = %self.local_addr, "gRPC server listening");

        let health = self.health.clone();
        let draining = shutdown.clone();
        let metered = crate::metered::MeteredLayer::new(apis.names());
        Server::builder()
            .trace_fn(call_span)
            // Outermost, so calls refused for their token count too.
            .layer(metered)
            .layer(crate::authenticate::AuthenticateLayer::new(verifier))
            .add_routes(apis.routes)
            .add_service(self.health_service)
            .add_service(reflection_v1)
            .add_service(reflection_v1alpha)
            .serve_with_incoming_shutdown(TcpIncoming::from(self.listener), async move {
                draining.cancelled().await;
                health
                    .set_service_status("", ServingStatus::NotServing)
                    .await;
                tracing::info!("shutting down: draining in-flight calls");
            })
            .await?;
        Ok(())
    }
}

impl GrpcServer {
    /// Reports `SERVING` for the whole server.
    pub async fn set_serving(&self) {
        self.health
            .set_service_status("", ServingStatus::Serving)
            .await;
    }
}

/// One span per call, continuing the caller's trace. Health checks and
/// reflection are not traced: probes would drown everything else.
fn call_span(request: &http::Request<()>) -> tracing::Span {
    let path = request.uri().path();
    if path.starts_with("/grpc.health.") || path.starts_with("/grpc.reflection.") {
        return tracing::Span::none();
    }
    let (service, method) = path
        .trim_start_matches('/')
        .split_once('/')
        .unwrap_or(("", path));
    let span = tracing::info_span!(
        "grpc",
        otel.name = %path.trim_start_matches('/'),
        otel.kind = "server",
        rpc.system = "grpc",
        rpc.service = %service,
        rpc.method = %method,
    );
    hms_telemetry::continue_from_http(&span, request.headers());
    span
}
