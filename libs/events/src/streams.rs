//! Creating the streams a service publishes to or consumes from, and checking
//! that existing ones are what we expect.

use std::time::Duration;

use async_nats::jetstream::{self, stream};

use crate::{Domain, EventsConfig, EventsError, Namespace};

/// How long JetStream remembers message ids to drop duplicates.
pub const DUPLICATE_WINDOW: Duration = Duration::from_secs(120);

/// The stream of `domain`, created if missing. Any service may create any
/// stream: consumers can start before producers.
pub async fn ensure_stream(
    jetstream: &jetstream::Context,
    namespace: &Namespace,
    domain: Domain,
    config: &EventsConfig,
) -> Result<stream::Stream, EventsError> {
    let name = namespace.stream_name(domain);
    let subjects = vec![namespace.stream_subjects(domain)];
    let wanted = stream::Config {
        name: name.clone(),
        subjects: subjects.clone(),
        retention: stream::RetentionPolicy::Limits,
        storage: stream::StorageType::File,
        // Parked events stay until an operator has looked at them.
        max_age: if domain == Domain::Parked {
            Duration::ZERO
        } else {
            config.nats_stream_max_age
        },
        duplicate_window: DUPLICATE_WINDOW,
        num_replicas: config.nats_stream_replicas,
        ..Default::default()
    };
    let mut stream = jetstream
        .get_or_create_stream(wanted)
        .await
        .map_err(EventsError::jetstream)?;
    let info = stream.info().await.map_err(EventsError::jetstream)?;
    if info.config.subjects != subjects {
        return Err(EventsError::StreamMismatch {
            stream: name,
            expected: subjects,
            actual: info.config.subjects.clone(),
        });
    }
    Ok(stream)
}
