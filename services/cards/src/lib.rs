//! The cards service: the HMS card itself. An approved order is issued one
//! card per worker, valid two years; the company or the back office blocks
//! a lost card or deactivates one whose holder left; the platform expires
//! cards at their end and tells the company 60 and 30 days ahead; anyone
//! may check a card by its number. Between approval and the purge, each
//! order's print material goes to the card producer, once ([`printing`]).

mod authz;
mod config;
mod credentials;
mod domain;
mod error;
mod events;
mod grpc;
mod issuing;
mod lifecycle;
mod printing;
mod producer;
mod storage;

use hms_layout::ServiceName;
use hms_proto::cards::v1::card_service_server::CardServiceServer;
use hms_proto::events::v1::{OrderApproved, OrderRedacted};
use hms_proto::orders::v1::order_internal_service_client::OrderInternalServiceClient;
use hms_runtime::{Config, Service, StartupError, StatefulService};
use tokio_util::sync::CancellationToken;

pub use config::CardsConfig;

static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!();

/// The cards service, for `hms_runtime::main`.
pub struct Cards;

impl Service for Cards {
    const NAME: ServiceName = ServiceName::Cards;
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
        let mut service = StatefulService::prepare::<Self>(&config.common, shutdown).await?;
        service.start_relay(&[hms_events::Domain::Cards]).await?;
        let store = storage::Store::new(service.pool.clone());

        let issuer = issuing::Issuer::new(
            service.connect(&settings.orders_url, ServiceName::Orders)?,
            service.connect(&settings.companies_url, ServiceName::Companies)?,
            settings.card_validity_months,
        );
        let mut subscriber = service.subscriber();
        service.spawn(issuer.clone().reconcile_forever(
            service.pool.clone(),
            settings.reconcile.interval(),
            settings.reconcile.delay,
            service.core.shutdown.clone(),
        ));
        subscriber
            .subscribe::<OrderApproved, _>(events::OnOrderApproved(issuer))
            .await?;
        subscriber
            .subscribe::<OrderRedacted, _>(events::OnOrderRedacted)
            .await?;
        service.adopt(subscriber.into_tasks());

        let producer = producer::Producer::new(settings.producer, settings.print_timeout)
            .map_err(StartupError::Config)?;
        let printer = printing::Printer::new(
            store.clone(),
            service.connect(&settings.media_url, ServiceName::Media)?,
            producer,
            settings.print_backoff,
            settings.print_timeout,
            settings.print_concurrency,
        );
        service.spawn(printer.run(service.core.shutdown.clone()));

        let lifecycle = lifecycle::Lifecycle::new(store.clone());
        service.spawn(
            lifecycle
                .clone()
                .check_forever(settings.check_interval, service.core.shutdown.clone()),
        );

        let credentials = credentials::Credentials::new(
            service.pool.clone(),
            settings.sealing,
            settings.credentials,
        );
        let api = grpc::CardApi::new(
            store,
            OrderInternalServiceClient::new(
                service.connect(&settings.orders_url, ServiceName::Orders)?,
            ),
            lifecycle,
            authz::Guard::new(service.authorizer()?),
            credentials,
            settings.lookup_floor,
        );
        let apis = hms_grpc::GrpcApis::default().with(CardServiceServer::new(api));
        service.serve(apis).await
    }
}
