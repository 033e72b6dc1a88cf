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
use hms_runtime::{Foundation, Service, StartupError};
use tokio_util::sync::CancellationToken;

pub use config::{Config, IdentityConfig};

static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!();

/// The identity service, for `hms_runtime::main`.
pub struct Identity;

impl Service for Identity {
    const NAME: ServiceName = ServiceName::Identity;
    type Config = Config;

    fn load_config() -> Result<Config, hms_config::ConfigError> {
        Config::load()
    }

    fn common(config: &Config) -> &hms_runtime::CommonConfig {
        &config.common
    }

    fn migrations() -> Vec<&'static sqlx::migrate::Migrator> {
        vec![&hms_events::MIGRATIONS, &MIGRATIONS]
    }

    async fn serve(config: Config, shutdown: CancellationToken) -> Result<(), StartupError> {
        let settings = config.identity.settings()?;
        let login = login::OidcLogin::new(
            &config.identity,
            settings.accepted_acr.clone(),
            settings.national_id_policy,
        )?;
        let register_url = url::Url::parse(&config.identity.register_url)
            .map_err(|e| hms_config::ConfigError::invalid("HMS_REGISTER_URL", e))?;
        let register = hms_brreg::RegisterClient::new(register_url, Duration::from_secs(10))
            .map_err(|e| hms_config::ConfigError::invalid("HMS_REGISTER_URL", e))?;

        let mut signer = None;
        let mut foundation = Foundation::prepare_with::<Self>(&config.common, shutdown, |pool| {
            let keys = keys::Signer::new(pool.clone(), settings.sealing.clone(), settings.rotation);
            signer = Some(keys.clone());
            let source: Arc<dyn KeySource> = Arc::new(keys.clone());
            let tokens: Arc<dyn TokenSource> = Arc::new(keys);
            Ok((source, tokens))
        })
        .await?;
        let signer = signer.ok_or_else(|| StartupError::Invalid("no signer".to_owned()))?;
        foundation
            .start_relay(&[hms_events::Domain::Identity])
            .await?;

        let companies = CompanyServiceClient::new(
            foundation.connect(&config.identity.companies_url, ServiceName::Companies)?,
        );
        let store = storage::Store::new(foundation.pool.clone());
        foundation.spawn(housekeeping::run(
            store.clone(),
            settings.ended_grant_retention,
            settings.housekeeping_interval,
            foundation.edge.shutdown.clone(),
        ));
        let access = access::Access::new(store.clone(), register, companies, &settings);
        let national_id_policy = settings.national_id_policy;
        let delegation = delegation::Delegation::new(access.clone(), store.clone());
        let accounts = Arc::new(accounts::Accounts::new(
            login, signer, store, access, settings,
        ));
        let api = grpc::IdentityApi::new(accounts, delegation, national_id_policy);
        let apis = hms_grpc::GrpcApis::default().with(IdentityServiceServer::new(api));
        foundation.serve(apis).await
    }
}
