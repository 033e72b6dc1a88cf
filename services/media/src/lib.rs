//! The media service: workers' passport photos, ID documents and
//! signatures. Files are sniffed and cleaned ([`sanitize`]), encrypted each
//! under its own key and kept in an object store ([`vault`]); the keys stay
//! in this service's database. Purging an order destroys the keys, then the
//! objects, and refuses the order's uploads from then on.

mod authz;
mod config;
mod decoding;
mod deletions;
mod documents;
mod error;
mod events;
mod grpc;
mod orders;
mod sanitize;
mod storage;
mod vault;

use hms_layout::ServiceName;
use std::time::Duration;

use hms_proto::media::v1::media_service_server::MediaServiceServer;
use hms_runtime::{Config, Service, StartupError, StatefulService};
use tokio_util::sync::CancellationToken;

pub use config::MediaConfig;

static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!();

const SWEEP_INTERVAL: Duration = Duration::from_secs(30);

/// The media service, for `hms_runtime::main`.
pub struct Media;

impl Service for Media {
    const NAME: ServiceName = ServiceName::Media;
    const DEFAULTS: &'static [(&'static str, &'static str)] =
        &[("media_store_url", "file:///var/lib/hms/media")];
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
        // S3 over TLS signs and encrypts with ring.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let object_store = vault::Vault::open_store(&settings.store)
            .map_err(|error| hms_config::ConfigError::invalid("HMS_MEDIA_STORE_URL", error))?;
        let vault = vault::Vault::new(object_store, settings.master_key, settings.master_key_id);

        let mut service = StatefulService::prepare::<Self>(&config.common, shutdown).await?;
        decoding::Decoders::describe_metrics();
        // Media publishes only what it records for the access log.
        service.start_relay(&[hms_events::Domain::Audit]).await?;
        let mut subscriber = service.subscriber();
        hms_company_status::subscribe(&mut subscriber).await?;
        events::subscribe(&mut subscriber).await?;
        service.adopt(subscriber.into_tasks());
        let store = storage::Store::new(service.pool.clone());
        service.spawn(deletions::sweep(
            store.clone(),
            vault.clone(),
            SWEEP_INTERVAL,
            service.core.shutdown.clone(),
        ));

        let orders =
            orders::Orders::new(service.connect(&settings.orders_url, ServiceName::Orders)?);
        let decoders = decoding::Decoders::new(
            settings.max_concurrent_uploads,
            settings.decoders,
            settings.decode_wait,
            settings.upload_limits,
        );
        let documents = documents::Documents::new(store, vault, orders, decoders);
        let api = grpc::MediaApi::new(documents, service.authorizer()?, settings.max_upload_bytes);
        let max_message = usize::try_from(settings.max_upload_bytes).unwrap_or(usize::MAX);
        let apis = hms_grpc::GrpcApis::default().with(
            MediaServiceServer::new(api)
                .max_decoding_message_size(max_message.saturating_add(1024)),
        );
        service.serve(apis).await
    }
}
