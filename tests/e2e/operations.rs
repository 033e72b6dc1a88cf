//! What operators rely on: health, reflection, a clean stop.

use std::time::{Duration, Instant};

use futures::StreamExt;
use hms_test_support::{ServiceName, TestEnv};
use tonic_reflection::pb::v1::ServerReflectionRequest;
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_service_serves_reflection_and_stops_cleanly_on_sigterm() {
    let mut env = TestEnv::new();
    env.start_all().await;
    // Each lists what it answers, and nothing it would answer UNIMPLEMENTED.
    for (service, apis) in [
        (
            ServiceName::Identity,
            &["hms.identity.v1.IdentityService"][..],
        ),
        (ServiceName::Companies, &["hms.companies.v1.CompanyService"]),
        (
            ServiceName::Orders,
            &[
                "hms.orders.v1.OrderService",
                "hms.orders.v1.OrderInternalService",
            ],
        ),
        (ServiceName::Media, &["hms.media.v1.MediaService"]),
        (
            ServiceName::Redaction,
            &["hms.redaction.v1.RedactionService"],
        ),
        (
            ServiceName::Notifications,
            &["hms.notifications.v1.NotificationService"],
        ),
        (ServiceName::Cards, &["hms.cards.v1.CardService"]),
        (ServiceName::Gateway, &[]),
    ] {
        let mut client = ServerReflectionClient::new(env.channel(service).await);
        let request = ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::ListServices(String::new())),
        };
        let mut responses = client
            .server_reflection_info(futures::stream::iter([request]))
            .await
            .expect("reflection")
            .into_inner();
        let Some(Ok(response)) = responses.next().await else {
            panic!("{} answered no reflection", service.as_str());
        };
        let Some(MessageResponse::ListServicesResponse(list)) = response.message_response else {
            panic!("{} answered something else", service.as_str());
        };
        let mut names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
        names.sort();
        let mut expected: Vec<String> = apis
            .iter()
            .chain(&[
                "grpc.health.v1.Health",
                "grpc.reflection.v1.ServerReflection",
            ])
            .map(|name| (*name).to_owned())
            .collect();
        expected.sort();
        assert_eq!(names, expected, "{}", service.as_str());
    }

    for service in ServiceName::ALL {
        let stopping = Instant::now();
        let code = env.stop(service).await;
        assert_eq!(code, Some(0), "{} exits cleanly", service.as_str());
        assert!(
            stopping.elapsed() < Duration::from_secs(10),
            "{} stopped in {:?}",
            service.as_str(),
            stopping.elapsed()
        );
    }
}
