//! The identity service: BankID login, the platform's tokens (and the keys
//! that verify them), delegation of access on behalf of companies, and the
//! one decision point every other service asks before it touches a
//! company's data for a person.

mod access;
mod accounts;
mod config;
mod delegation;
mod domain;
mod error;
mod grpc;
mod housekeeping;
mod keys;
mod login;
mod storage;

use hms_layout::ServiceName;
use std::sync::Arc;
use std::time::Duration;

use hms_auth::{KeySource, TokenSource};
use hms_proto::companies::v1::company_service_client::CompanyServiceClient;
use hms_proto::identity::v1::identity_service_server::IdentityServiceServer;
use hms_runtime::{Config, Service, StartupError, StatefulService};
use tokio_util::sync::CancellationToken;

pub use config::IdentityConfig;

static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!();

/// The identity service, for `hms_runtime::main`.
pub struct Identity;

impl Service for Identity {
    const NAME: ServiceName = ServiceName::Identity;
    const DEFAULTS: &'static [(&'static str, &'static str)] = &[
        ("oidc_issuer_url", "http://127.0.0.1:8090"),
        ("oidc_client_id", "hms-identity"),
        (
            "oidc_redirect_uri",
            "http://127.0.0.1:8080/api/v1/auth/callback",
        ),
    ];
    type Settings = config::Settings;

    fn settings(sources: &hms_config::Sources) -> Result<Self::Settings, hms_config::ConfigError> {
        config::load(sources)
    }

    fn migrations() -> Vec<&'static sqlx::migrate::Migrator> {
        vec![&hms_events::MIGRATIONS, &MIGRATIONS]
    }

    async fn serve(
        config: Config<Self::Settings>,
        shutdown: CancellationToken,
    ) -> Result<(), StartupError> {
        let settings = config.own;
        let login = login::OidcLogin::new(settings.oidc.clone(), settings.national_id_policy)?;
        let register =
            hms_brreg::RegisterClient::new(settings.register_url.clone(), Duration::from_secs(10))
                .map_err(|e| hms_config::ConfigError::invalid("HMS_REGISTER_URL", e))?;

        let (mut service, signer) =
            StatefulService::prepare_with::<Self, keys::Signer>(&config.common, shutdown, |pool| {
                let signer =
                    keys::Signer::new(pool.clone(), settings.sealing.clone(), settings.rotation);
                let source: Arc<dyn KeySource> = Arc::new(signer.clone());
                let tokens: Arc<dyn TokenSource> = Arc::new(signer.clone());
                ((source, tokens), signer)
            })
            .await?;
        service
            .start_relay(&[hms_events::Domain::Identity, hms_events::Domain::Audit])
            .await?;

        let companies = CompanyServiceClient::new(
            service.connect(&settings.companies_url, ServiceName::Companies)?,
        );
        let store = storage::Store::new(service.pool.clone());
        service.spawn(housekeeping::run(
            store.clone(),
            settings.ended_grant_retention,
            settings.housekeeping_interval,
            service.core.shutdown.clone(),
        ));
        let access = access::Access::new(store.clone(), register, companies, &settings);
        let national_id_policy = settings.national_id_policy;
        let delegation = delegation::Delegation::new(access.clone(), store.clone());
        let accounts = Arc::new(accounts::Accounts::new(
            login, signer, store, access, settings,
        ));
        let api = grpc::IdentityApi::new(accounts, delegation, national_id_policy);
        let apis = hms_grpc::GrpcApis::default().with(IdentityServiceServer::new(api));
        service.serve(apis).await
    }
}
