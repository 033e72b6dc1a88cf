//! The companies service: registration of companies, and the back office's
//! decisions on them. Every change publishes an event through the outbox;
//! other services keep their own view of which companies are approved.

mod authz;
mod domain;
mod error;
mod grpc;
mod storage;

use hms_layout::ServiceName;
use hms_proto::companies::v1::company_service_server::CompanyServiceServer;
use hms_runtime::{Config, Service, StartupError, StatefulService};
use tokio_util::sync::CancellationToken;

static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!();

/// The companies service, for `hms_runtime::main`.
pub struct Companies;

impl Service for Companies {
    const NAME: ServiceName = ServiceName::Companies;
    type Settings = ();

    fn settings(_: &hms_config::Sources) -> Result<(), hms_config::ConfigError> {
        Ok(())
    }

    fn migrations() -> Vec<&'static sqlx::migrate::Migrator> {
        vec![&hms_events::MIGRATIONS, &MIGRATIONS]
    }

    async fn serve(
        config: Config<Self::Settings>,
        shutdown: CancellationToken,
    ) -> Result<(), StartupError> {
        let mut service = StatefulService::prepare::<Self>(&config.common, shutdown).await?;
        service
            .start_relay(&[hms_events::Domain::Companies])
            .await?;
        let guard = authz::Guard::new(service.authorizer()?);
        let store = storage::Store::new(service.pool.clone());
        let first = domain::AgreementText::parse(domain::FIRST_AGREEMENT).map_err(|error| {
            StartupError::Own(format!("the first agreement's text {error}").into())
        })?;
        store
            .publish_first_agreement(&first)
            .await
            .map_err(|error| StartupError::Own(Box::new(error)))?;
        let api = grpc::CompanyApi::new(store, guard);
        let apis = hms_grpc::GrpcApis::default().with(CompanyServiceServer::new(api));
        service.serve(apis).await
    }
}
