//! The gateway: the only way in for frontends (the ordering web app, the
//! back-office app, mobile). It serves REST/JSON under `/api/v1` with an
//! OpenAPI document, authenticates people and forwards their tokens to the
//! services over gRPC, where every call is authorized. It keeps nothing.

mod auth;
mod config;
mod docs;
mod extract;
mod limits;
mod middleware;
mod problem;
mod routes;
mod state;

use hms_layout::ServiceName;
use hms_proto::audit::v1::audit_service_client::AuditServiceClient;
use hms_proto::cards::v1::card_service_client::CardServiceClient;
use hms_proto::companies::v1::company_service_client::CompanyServiceClient;
use hms_proto::identity::v1::identity_service_client::IdentityServiceClient;
use hms_proto::media::v1::media_service_client::MediaServiceClient;
use hms_proto::notifications::v1::notification_service_client::NotificationServiceClient;
use hms_proto::orders::v1::order_service_client::OrderServiceClient;
use hms_proto::redaction::v1::redaction_service_client::RedactionServiceClient;
use hms_runtime::{Config, Service, ServiceCore, StartupError};
use tokio_util::sync::CancellationToken;

pub use config::GatewayConfig;

/// The gateway, for `hms_runtime::main`.
pub struct Gateway;

impl Service for Gateway {
    const NAME: ServiceName = ServiceName::Gateway;
    const DEFAULTS: &'static [(&'static str, &'static str)] = &[("http_addr", "0.0.0.0:8080")];
    type Settings = config::Settings;

    fn settings(sources: &hms_config::Sources) -> Result<Self::Settings, hms_config::ConfigError> {
        config::load(sources)
    }

    async fn serve(
        config: Config<Self::Settings>,
        shutdown: CancellationToken,
    ) -> Result<(), StartupError> {
        let core = ServiceCore::prepare::<Self>(&config.common, shutdown.clone()).await?;
        let settings = config.own;
        let limits = limits::Limits::new(&settings.rate_limits);
        tokio::spawn(limits.clone().sweep(shutdown.clone()));
        let state = state::AppState {
            verifier: core.verifier.clone(),
            identity: IdentityServiceClient::new(
                core.connect(&config.common.auth.identity_url, ServiceName::Identity)?,
            ),
            companies: CompanyServiceClient::new(
                core.connect(&settings.companies_url, ServiceName::Companies)?,
            ),
            orders: OrderServiceClient::new(
                core.connect(&settings.orders_url, ServiceName::Orders)?,
            ),
            // Uploads are bounded by HMS_REQUEST_TIMEOUT_SECS, not by the
            // 30 s every other call gets.
            media: MediaServiceClient::new(
                core.connect_for_uploads(&settings.media_url, ServiceName::Media)?,
            ),
            notifications: NotificationServiceClient::new(
                core.connect(&settings.notifications_url, ServiceName::Notifications)?,
            ),
            cards: CardServiceClient::new(core.connect(&settings.cards_url, ServiceName::Cards)?),
            redaction: RedactionServiceClient::new(
                core.connect(&settings.redaction_url, ServiceName::Redaction)?,
            ),
            audit: AuditServiceClient::new(core.connect(&settings.audit_url, ServiceName::Audit)?),
            max_upload_bytes: settings.max_upload_bytes,
            cookies: auth::CookieJar {
                secure: settings.cookie_secure,
            },
            after_login_url: settings.after_login_url.clone(),
            browser_origins: settings.cors_origins.clone().into(),
            limits,
        };
        let app = app(state, &settings)?;
        let listen = |error| StartupError::Listen {
            addr: settings.http_addr,
            error,
        };
        let listener = tokio::net::TcpListener::bind(settings.http_addr)
            .await
            .map_err(listen)?;
        let http_addr = listener.local_addr().map_err(listen)?;
        tracing::info!(%http_addr, "REST API listening");
        core.serve(async move {
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
            )
            .with_graceful_shutdown(shutdown.cancelled_owned())
            .await
            .map_err(StartupError::Http)
        })
        .await
    }
}

/// The REST API with everything every request passes through.
fn app(state: state::AppState, settings: &config::Settings) -> Result<axum::Router, StartupError> {
    let limits = state.limits.clone();
    Ok(middleware::wrap(docs::router(state)?, settings, limits))
}

#[cfg(test)]
mod in_process;
