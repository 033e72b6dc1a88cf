//! The notifications service: tells companies by email and SMS of every
//! change that matters to them — their contact details, who has access,
//! orders in their name, the back office's decisions, deleted data, and
//! their cards blocked, deactivated or ending. Events
//! become messages in the consumer's transaction (once per event,
//! recipient and channel); a worker sends them, retrying what failed for
//! now, giving up on what never will work.

mod authz;
mod config;
mod delivery;
mod domain;
mod email;
mod error;
mod events;
mod expiry;
mod grpc;
mod messages;
mod notices;
mod people;
mod sms;
mod storage;
mod templates;
mod wording;

use std::sync::Arc;

use hms_layout::ServiceName;
use hms_proto::events::v1 as pb;
use hms_proto::notifications::v1::notification_service_server::NotificationServiceServer;
use hms_runtime::{Config, Service, StartupError, StatefulService};
use tokio_util::sync::CancellationToken;

pub use config::NotificationsConfig;

static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!();

/// The notifications service, for `hms_runtime::main`.
pub struct Notifications;

impl Service for Notifications {
    const NAME: ServiceName = ServiceName::Notifications;
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
        delivery::describe_metrics();
        let store = storage::Store::new(service.pool.clone());
        let templates =
            Arc::new(templates::Templates::new().map_err(|e| StartupError::Own(Box::new(e)))?);
        let messages = messages::Messages::new(
            templates,
            people::People::new(
                service.identity()?,
                service.connect(&settings.companies_url, ServiceName::Companies)?,
            ),
            settings.public_url.clone(),
            settings.back_office_email.clone(),
        );

        let mut subscriber = service.subscriber();
        subscriber
            .subscribe::<pb::CompanyRegistered, _>(events::OnCompanyRegistered)
            .await?;
        let on_notice = events::OnNotice(messages.clone());
        subscriber
            .subscribe::<pb::ContactInfoChanged, _>(on_notice.clone())
            .await?;
        subscriber
            .subscribe::<pb::OrderSubmitted, _>(on_notice.clone())
            .await?;
        subscriber
            .subscribe::<pb::AccessGranted, _>(on_notice.clone())
            .await?;
        subscriber
            .subscribe::<pb::AccessRevoked, _>(on_notice.clone())
            .await?;
        subscriber
            .subscribe::<pb::CompanyApproved, _>(on_notice.clone())
            .await?;
        subscriber
            .subscribe::<pb::CompanyRejected, _>(on_notice.clone())
            .await?;
        subscriber
            .subscribe::<pb::CompanySuspended, _>(on_notice.clone())
            .await?;
        subscriber
            .subscribe::<pb::OrderApproved, _>(on_notice.clone())
            .await?;
        subscriber
            .subscribe::<pb::OrderRejected, _>(on_notice.clone())
            .await?;
        subscriber
            .subscribe::<pb::OrderReturnedForCorrection, _>(on_notice.clone())
            .await?;
        subscriber
            .subscribe::<pb::OrderClosed, _>(on_notice.clone())
            .await?;
        subscriber
            .subscribe::<pb::OrderRedacted, _>(on_notice.clone())
            .await?;
        subscriber
            .subscribe::<pb::CardBlocked, _>(on_notice.clone())
            .await?;
        subscriber
            .subscribe::<pb::CardDeactivated, _>(on_notice.clone())
            .await?;
        subscriber
            .subscribe::<pb::CardExpired, _>(on_notice.clone())
            .await?;
        subscriber
            .subscribe::<pb::CardExpiring, _>(on_notice.clone())
            .await?;
        subscriber
            .subscribe::<pb::PrintAbandoned, _>(on_notice)
            .await?;
        service.adopt(subscriber.into_tasks());

        let worker = delivery::Worker {
            store: store.clone(),
            email: email::EmailSender::new(&settings.smtp, settings.send_timeout)?,
            sms: sms::SmsSender::new(settings.sms.clone(), settings.send_timeout)?,
            retry: settings.retry,
            concurrency: settings.concurrency,
            send_timeout: settings.send_timeout,
        };
        service.spawn(worker.run(service.core.shutdown.clone()));
        service.spawn(expiry::check_forever(
            store.clone(),
            messages,
            settings.expiry_check_interval,
            settings.retention,
            service.core.shutdown.clone(),
        ));

        let guard = authz::Guard::new(service.authorizer()?);
        let apis = hms_grpc::GrpcApis::default().with(NotificationServiceServer::new(
            grpc::NotificationApi::new(store, guard),
        ));
        service.serve(apis).await
    }
}
