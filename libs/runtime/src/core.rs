//! What every service has: its token handling, its calls to other
//! services, the gRPC port (with health and reflection) and shutdown.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use hms_auth::{IdentityKeys, KeySource, ServiceCredentials, TokenSource, TokenVerifier};
use hms_grpc::GrpcServer;
use hms_layout::ServiceName;
use hms_metrics::MetricsEndpoint;
use tokio_util::sync::CancellationToken;

use crate::{CommonConfig, Service, StartupError, write_addr_file};

/// Where a service's tokens come from: keys to verify incoming ones, and a
/// source of its own.
pub(crate) type Credentials = (Arc<dyn KeySource>, Arc<dyn TokenSource>);

/// Identity's published keys, to verify incoming tokens, and this
/// service's credentials (`HMS_SERVICE_SECRET`), to get its own.
pub(crate) fn identity_credentials(
    config: &CommonConfig,
    service: &str,
) -> Result<Credentials, StartupError> {
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
pub struct ServiceCore {
    pub service: &'static str,
    /// Verifies the tokens callers present.
    pub verifier: TokenVerifier,
    /// This service's tokens for the services it calls.
    pub tokens: Arc<dyn TokenSource>,
    pub server: GrpcServer,
    pub shutdown: CancellationToken,
    /// `GET /metrics`, on a port of its own.
    metrics: MetricsEndpoint,
    addr_file: Option<PathBuf>,
}

impl ServiceCore {
    pub async fn prepare<S: Service>(
        config: &CommonConfig,
        shutdown: CancellationToken,
    ) -> Result<Self, StartupError> {
        let credentials = identity_credentials(config, S::NAME.as_str())?;
        Self::bind(S::NAME.as_str(), config, credentials, shutdown).await
    }

    pub(crate) async fn bind(
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
            metrics: MetricsEndpoint::bind(&config.metrics, service).await?,
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
    pub(crate) async fn serve_grpc(self, apis: hms_grpc::GrpcApis) -> Result<(), StartupError> {
        self.server.set_serving().await;
        if let Some(path) = &self.addr_file {
            write_addr_file(path, self.server.local_addr()).map_err(StartupError::AddrFile)?;
        }
        tracing::info!(service = self.service, addr = %self.server.local_addr(), metrics = %self.metrics.local_addr(), "serving");
        let (served, ()) = tokio::join!(
            self.server
                .serve(apis, self.verifier, self.shutdown.clone()),
            self.metrics.serve(self.shutdown),
        );
        Ok(served?)
    }
}
