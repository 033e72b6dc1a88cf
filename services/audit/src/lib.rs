//! The audit service: the access log. Every service that processes a
//! worker's personal data, or a company's access, records it as an
//! `access_recorded` event in the transaction that does it; this service
//! appends each to its company's hash chain, signs the chains' heads
//! periodically, and lets the company (and the back office) read and
//! export its log. `hms-audit verify` checks the chains offline.

mod authz;
mod checkpoints;
mod config;
mod domain;
mod error;
mod events;
mod grpc;
mod orders;
mod storage;
mod verify;

use std::path::PathBuf;

use hms_layout::ServiceName;
use hms_proto::audit::v1::audit_service_server::AuditServiceServer;
use hms_proto::events::v1::AccessRecorded;
use hms_proto::orders::v1::order_internal_service_client::OrderInternalServiceClient;
use hms_runtime::{Config, Service, StartupError, StatefulService};
use tokio_util::sync::CancellationToken;

pub use config::AuditConfig;

static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!();

/// The audit service, for `hms_runtime::main`.
pub struct Audit;

/// `hms-audit verify`'s own arguments.
#[derive(Debug, clap::Parser)]
#[command(name = "hms-audit verify")]
struct VerifyArgs {
    /// Only this company's log (repeatable); every company's by default.
    #[arg(long = "company")]
    companies: Vec<uuid::Uuid>,
    /// The checkpoint keys as published (`/api/v1/public/access-log/keys`,
    /// saved earlier); by default the public keys the database holds, which
    /// someone able to rewrite the database could replace too.
    #[arg(long)]
    keys: Option<PathBuf>,
}

fn own_error(error: impl std::fmt::Display) -> StartupError {
    StartupError::Own(error.to_string().into())
}

impl Service for Audit {
    const NAME: ServiceName = ServiceName::Audit;
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
        let store = storage::Store::new(service.pool.clone());
        let checkpoints = checkpoints::Checkpointer::new(
            store.clone(),
            service.pool.clone(),
            config.own.sealing.clone(),
        );

        let mut subscriber = service.subscriber();
        subscriber
            .subscribe::<AccessRecorded, _>(events::OnAccess)
            .await?;
        service.adopt(subscriber.into_tasks());
        service.spawn(checkpoints.clone().run_forever(
            config.own.checkpoint_interval,
            service.core.shutdown.clone(),
        ));

        let orders = orders::Orders::new(OrderInternalServiceClient::new(
            service.connect(&config.own.orders_url, ServiceName::Orders)?,
        ));
        let apis =
            hms_grpc::GrpcApis::default().with(AuditServiceServer::new(grpc::AuditApi::new(
                store,
                checkpoints,
                orders,
                authz::Guard::new(service.authorizer()?),
            )));
        service.serve(apis).await
    }

    async fn verify(config: Config<Self::Settings>, args: Vec<String>) -> Result<(), StartupError> {
        use clap::Parser;
        let args = VerifyArgs::try_parse_from(std::iter::once("verify".to_owned()).chain(args))
            .map_err(own_error)?;
        let db = config.common.db.as_ref().ok_or(StartupError::KeepsNoData)?;
        let store = storage::Store::new(db.connect().await?);
        let keys = match &args.keys {
            Some(path) => {
                let document = std::fs::read(path)
                    .map_err(|error| own_error(format!("{}: {error}", path.display())))?;
                hms_attestation::KeySet::from_json(&document).map_err(own_error)?
            }
            None => {
                let keys = store.public_keys().await.map_err(own_error)?;
                hms_attestation::KeySet::new(
                    keys.iter()
                        .map(|(kid, public)| (kid.as_str(), public.as_slice())),
                )
                .map_err(own_error)?
            }
        };
        let findings = verify::verify(&store, &keys, &args.companies)
            .await
            .map_err(own_error)?;
        print!("{}", verify::report(&findings));
        let broken = findings
            .iter()
            .filter(|finding| finding.problem.is_some())
            .count();
        if broken == 0 {
            Ok(())
        } else {
            Err(own_error(format!(
                "the access log of {broken} of {} companies does not hold",
                findings.len()
            )))
        }
    }
}
