//! Consumers against the real NATS server: what it hands back must be what
//! we asked for (NATS 2.9 silently drops settings it does not know).

use std::time::Duration;

use async_nats::jetstream::consumer::pull;
use hms_events::{
    Consumer, Domain, Event, EventHandler, EventMeta, EventsConfig, EventsError, HandlerError,
};
use hms_proto::events::v1::{OrderApproved, OrderRejected};
use sqlx::PgConnection;

struct Ignore;

impl EventHandler<OrderApproved> for Ignore {
    async fn handle(
        &self,
        _: OrderApproved,
        _: &EventMeta,
        _: &mut PgConnection,
    ) -> Result<(), HandlerError> {
        Ok(())
    }
}

fn config() -> EventsConfig {
    EventsConfig {
        nats_url: std::env::var("HMS_TEST_NATS_URL")
            .unwrap_or_else(|_| "nats://127.0.0.1:4222".to_owned()),
        nats_namespace: format!("t{}", &uuid::Uuid::new_v4().simple().to_string()[..10]),
        ..EventsConfig::default()
    }
}

/// The pool is never used by `prepare`; a lazy one never connects.
fn unused_pool() -> sqlx::PgPool {
    sqlx::PgPool::connect_lazy("postgres://nobody@127.0.0.1:1/none").expect("a lazy pool")
}

async fn delete_streams(jetstream: &async_nats::jetstream::Context, config: &EventsConfig) {
    let namespace = config.namespace().expect("namespace");
    for domain in [Domain::Orders, Domain::Parked] {
        let _ = jetstream.delete_stream(namespace.stream_name(domain)).await;
    }
}

#[tokio::test]
async fn prepare_creates_a_consumer_filtered_on_one_subject() {
    let config = config();
    let jetstream = hms_events::connect(&config, "test").await.expect("NATS");
    let consumer =
        Consumer::<OrderApproved, _>::new("svc", unused_pool(), jetstream.clone(), &config, Ignore)
            .expect("a consumer");
    let prepared = consumer.prepare().await.expect("prepared");
    let info = prepared.cached_info();
    let namespace = config.namespace().expect("namespace");
    assert_eq!(info.name, "svc-order_approved");
    assert_eq!(
        info.config.filter_subject,
        namespace.subject(OrderApproved::TYPE)
    );
    // The server never drops a message on its own: we count deliveries.
    assert_eq!(info.config.max_deliver, -1);

    // Prepared again with other limits: the consumer is updated in place.
    let changed = EventsConfig {
        event_ack_wait: std::time::Duration::from_secs(42),
        ..config.clone()
    };
    let again = Consumer::<OrderApproved, _>::new(
        "svc",
        unused_pool(),
        jetstream.clone(),
        &changed,
        Ignore,
    )
    .expect("a consumer")
    .prepare()
    .await
    .expect("prepared again");
    assert_eq!(again.cached_info().config.ack_wait, Duration::from_secs(42));
    delete_streams(&jetstream, &config).await;
}

#[tokio::test]
async fn a_consumer_with_another_filter_is_refused_at_start_up() {
    let config = config();
    let namespace = config.namespace().expect("namespace");
    let jetstream = hms_events::connect(&config, "test").await.expect("NATS");
    let stream =
        hms_events::streams::ensure_stream(&jetstream, &namespace, Domain::Orders, &config)
            .await
            .expect("stream");
    stream
        .create_consumer(pull::Config {
            durable_name: Some("svc-order_approved".to_owned()),
            filter_subject: namespace.subject(OrderRejected::TYPE),
            ..Default::default()
        })
        .await
        .expect("a consumer with the wrong filter");

    let refused =
        Consumer::<OrderApproved, _>::new("svc", unused_pool(), jetstream.clone(), &config, Ignore)
            .expect("a consumer")
            .prepare()
            .await;
    match refused {
        Err(EventsError::ConsumerMismatch {
            expected, actual, ..
        }) => {
            assert_eq!(expected, namespace.subject(OrderApproved::TYPE));
            assert_eq!(actual, namespace.subject(OrderRejected::TYPE));
        }
        Err(other) => panic!("expected a mismatch, got {other}"),
        Ok(_) => panic!("expected a mismatch, got a consumer"),
    }
    delete_streams(&jetstream, &config).await;
}
