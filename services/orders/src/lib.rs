//! The orders service: draft orders of cards for a company's workers,
//! submission once every worker has their documents, and the back office's
//! decision. National identity numbers are sealed at rest and masked when
//! redaction asks, once the order is decided.

mod authz;
mod checking;
mod config;
mod domain;
mod error;
mod grpc;
mod identity;
mod media;
mod ordering;
mod registers;
mod retention;
mod storage;

use hms_layout::ServiceName;
use hms_proto::identity::v1::identity_service_client::IdentityServiceClient;
use hms_proto::orders::v1::order_internal_service_server::OrderInternalServiceServer;
use hms_proto::orders::v1::order_service_server::OrderServiceServer;
use hms_runtime::{Config, Service, StartupError, StatefulService};
use tokio_util::sync::CancellationToken;

pub use config::OrdersConfig;

static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!();

/// How often register checks that wait for a register are looked at.
const CHECK_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

/// The orders service, for `hms_runtime::main`.
pub struct Orders;

impl Service for Orders {
    const NAME: ServiceName = ServiceName::Orders;
    type Settings = config::Settings;

    fn settings(sources: &hms_config::Sources) -> Result<Self::Settings, hms_config::ConfigError> {
        config::load(sources)
    }

    fn migrations() -> Vec<&'static sqlx::migrate::Migrator> {
        vec![
            &hms_events::MIGRATIONS,
            &hms_company_status::MIGRATIONS,
            &MIGRATIONS,
        ]
    }

    async fn serve(
        config: Config<Self::Settings>,
        shutdown: CancellationToken,
    ) -> Result<(), StartupError> {
        let settings = config.own;
        let mut service = StatefulService::prepare::<Self>(&config.common, shutdown).await?;
        service
            .start_relay(&[hms_events::Domain::Orders, hms_events::Domain::Audit])
            .await?;
        let mut subscriber = service.subscriber();
        hms_company_status::subscribe(&mut subscriber).await?;
        hms_company_status::subscribe_agreements(&mut subscriber).await?;
        service.adopt(subscriber.into_tasks());

        let media = media::Media::new(service.connect(&settings.media_url, ServiceName::Media)?);
        let subjects = identity::Subjects::new(IdentityServiceClient::new(
            service.connect(&config.common.auth.identity_url, ServiceName::Identity)?,
        ));
        let store = storage::Store::new(
            service.pool.clone(),
            settings.national_id_key,
            settings.fingerprint_key,
            settings.price_list,
        );
        service.spawn(
            retention::Retention::new(store.clone(), settings.retention)
                .run_forever(settings.retention_interval, service.core.shutdown.clone()),
        );
        let checker = checking::Checker::new(store.clone(), settings.registers);
        service.spawn(
            checker
                .clone()
                .run(CHECK_INTERVAL, service.core.shutdown.clone()),
        );
        let guard = authz::Guard::new(service.authorizer()?, store.clone());
        let apis = hms_grpc::GrpcApis::default()
            .with(OrderServiceServer::new(grpc::public::OrderApi::new(
                ordering::Ordering::new(
                    store.clone(),
                    media,
                    subjects,
                    checker,
                    settings.register_check_max_age,
                ),
                store.clone(),
                guard,
                settings.national_id_policy,
            )))
            .with(OrderInternalServiceServer::new(
                grpc::internal::OrderInternalApi::new(store),
            ));
        service.serve(apis).await
    }
}
