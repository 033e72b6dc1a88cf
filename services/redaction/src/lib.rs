//! The redaction service: once the back office decides an order, its
//! workers' national identity numbers are masked and their documents
//! destroyed (an approved order's after the card producer has its print
//! material, or at the print deadline), and a receipt proves it. Decision events drive it; a
//! reconciler re-drives whatever an outage let slip.

mod authz;
mod config;
mod domain;
mod error;
mod events;
mod grpc;
mod redactor;
mod signing;
mod storage;

use hms_layout::ServiceName;
use hms_proto::events::v1::{OrderApproved, OrderClosed, OrderRejected, PrintHandedOver};
use hms_proto::media::v1::media_service_client::MediaServiceClient;
use hms_proto::orders::v1::order_internal_service_client::OrderInternalServiceClient;
use hms_proto::redaction::v1::redaction_service_server::RedactionServiceServer;
use hms_runtime::{Config, Service, StartupError, StatefulService};
use tokio_util::sync::CancellationToken;

pub use config::RedactionConfig;

static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!();

/// The redaction service, for `hms_runtime::main`.
pub struct Redaction;

impl Service for Redaction {
    const NAME: ServiceName = ServiceName::Redaction;
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
        let mut service = StatefulService::prepare::<Self>(&config.common, shutdown).await?;
        events::describe_metrics();
        service
            .start_relay(&[hms_events::Domain::Redaction])
            .await?;

        let orders = service.connect(&config.own.orders_url, ServiceName::Orders)?;
        let media = service.connect(&config.own.media_url, ServiceName::Media)?;
        let redactor = redactor::Redactor::new(
            storage::Store::new(
                service.pool.clone(),
                signing::ReceiptSigner::new(service.pool.clone(), config.own.sealing.clone()),
            ),
            OrderInternalServiceClient::new(orders),
            MediaServiceClient::new(media),
            config.own.print_deadline,
        );

        let mut subscriber = service.subscriber();
        subscriber
            .subscribe::<OrderApproved, _>(events::OnOrder(redactor.clone()))
            .await?;
        subscriber
            .subscribe::<OrderRejected, _>(events::OnOrder(redactor.clone()))
            .await?;
        subscriber
            .subscribe::<OrderClosed, _>(events::OnOrder(redactor.clone()))
            .await?;
        subscriber
            .subscribe::<PrintHandedOver, _>(events::OnOrder(redactor.clone()))
            .await?;
        service.adopt(subscriber.into_tasks());
        service.spawn(redactor.clone().reconcile_forever(
            config.own.reconcile.interval(),
            config.own.reconcile.delay,
            service.core.shutdown.clone(),
        ));

        let apis = hms_grpc::GrpcApis::default().with(RedactionServiceServer::new(
            grpc::RedactionApi::new(redactor, authz::Guard::new(service.authorizer()?)),
        ));
        service.serve(apis).await
    }
}
