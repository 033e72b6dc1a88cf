//! The gateway's own rules, checked in-process with `Router::oneshot`: no
//! service runs, and every service the gateway would call is unreachable.
//! What needs the services is in `tests/e2e/gateway.rs`.

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::connect_info::MockConnectInfo;
use axum::http::{Method, Request, StatusCode, header};
use axum::response::Response;
use governor::Quota;
use hms_auth::{AuthError, KeySource, KeysFuture, TokenFuture, TokenSource, TokenVerifier};
use hms_layout::ServiceName;
use hms_proto::audit::v1::audit_service_client::AuditServiceClient;
use hms_proto::cards::v1::card_service_client::CardServiceClient;
use hms_proto::companies::v1::company_service_client::CompanyServiceClient;
use hms_proto::identity::v1::identity_service_client::IdentityServiceClient;
use hms_proto::media::v1::media_service_client::MediaServiceClient;
use hms_proto::notifications::v1::notification_service_client::NotificationServiceClient;
use hms_proto::orders::v1::order_service_client::OrderServiceClient;
use hms_proto::redaction::v1::redaction_service_client::RedactionServiceClient;
use serde_json::Value;
use tower::ServiceExt;

use crate::config::{RateLimits, Settings};
use crate::limits::Limits;
use crate::state::AppState;

/// Identity is out of reach: no keys, no tokens.
struct Unreachable;

impl KeySource for Unreachable {
    fn fetch(&self) -> KeysFuture<'_> {
        Box::pin(async { Err(AuthError::IdentityUnavailable) })
    }
}

impl TokenSource for Unreachable {
    fn token<'a>(&'a self, _audience: &'a str) -> TokenFuture<'a> {
        Box::pin(async { Err(AuthError::IdentityUnavailable) })
    }
}

fn quota(per_minute: u32, burst: u32) -> Quota {
    let nonzero = |n| NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN);
    Quota::per_minute(nonzero(per_minute)).allow_burst(nonzero(burst))
}

/// The gateway as configured by default, except `adjust`, in front of
/// services that do not answer.
fn gateway(adjust: impl FnOnce(&mut Settings)) -> Router {
    let mut settings = Settings {
        http_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        // Nothing listens on the discard port.
        companies_url: "http://127.0.0.1:9".to_owned(),
        orders_url: "http://127.0.0.1:9".to_owned(),
        media_url: "http://127.0.0.1:9".to_owned(),
        notifications_url: "http://127.0.0.1:9".to_owned(),
        cards_url: "http://127.0.0.1:9".to_owned(),
        redaction_url: "http://127.0.0.1:9".to_owned(),
        audit_url: "http://127.0.0.1:9".to_owned(),
        max_upload_bytes: 1024,
        after_login_url: "/".to_owned(),
        cookie_secure: true,
        cors_origins: vec![header::HeaderValue::from_static(
            "https://bestill.hms-kort.no",
        )],
        request_timeout: Duration::from_secs(10),
        rate_limits: RateLimits {
            per_client: quota(1200, 20),
            per_person: quota(600, 20),
            logins_per_client: quota(30, 10),
            client_ip_header: None,
        },
        max_json_bytes: 1024,
    };
    adjust(&mut settings);
    let tokens: Arc<dyn TokenSource> = Arc::new(Unreachable);
    let channel = |service| {
        hms_grpc::client::connect("http://127.0.0.1:9", service, tokens.clone()).expect("a channel")
    };
    let limits = Limits::new(&settings.rate_limits);
    let state = AppState {
        verifier: TokenVerifier::new("gateway", Arc::new(Unreachable)),
        identity: IdentityServiceClient::new(channel(ServiceName::Identity)),
        companies: CompanyServiceClient::new(channel(ServiceName::Companies)),
        orders: OrderServiceClient::new(channel(ServiceName::Orders)),
        media: MediaServiceClient::new(channel(ServiceName::Media)),
        notifications: NotificationServiceClient::new(channel(ServiceName::Notifications)),
        cards: CardServiceClient::new(channel(ServiceName::Cards)),
        redaction: RedactionServiceClient::new(channel(ServiceName::Redaction)),
        audit: AuditServiceClient::new(channel(ServiceName::Audit)),
        max_upload_bytes: settings.max_upload_bytes,
        cookies: crate::auth::CookieJar { secure: true },
        after_login_url: settings.after_login_url.clone(),
        browser_origins: settings.cors_origins.clone().into(),
        limits,
    };
    crate::app(state, &settings)
        .expect("the API")
        .layer(MockConnectInfo(SocketAddr::from(([192, 0, 2, 7], 40_000))))
}

async fn send(app: &Router, request: Request<Body>) -> (Response, Value) {
    let response = app.clone().oneshot(request).await.expect("an answer");
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20).await.expect("a body");
    let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (Response::from_parts(parts, Body::empty()), json)
}

fn get(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).expect("a request")
}

fn post(path: &str) -> Request<Body> {
    Request::post(path).body(Body::empty()).expect("a request")
}

fn assert_problem(response: &Response, problem: &Value, status: StatusCode, kind: &str) {
    assert_eq!(response.status(), status, "{problem}");
    assert_eq!(
        response.headers().get(header::CONTENT_TYPE),
        Some(&header::HeaderValue::from_static(
            "application/problem+json"
        ))
    );
    assert_eq!(problem["type"], format!("/problems/{kind}"), "{problem}");
    assert_eq!(problem["status"], status.as_u16());
}

#[tokio::test]
async fn every_answer_carries_the_security_headers_and_a_request_id() {
    let app = gateway(|_| {});
    for path in ["/api/openapi.json", "/api/v1/me", "/no/such/route"] {
        let (response, _) = send(&app, get(path)).await;
        let headers = response.headers();
        for (name, value) in [
            (
                "strict-transport-security",
                "max-age=63072000; includeSubDomains",
            ),
            ("x-content-type-options", "nosniff"),
            ("x-frame-options", "DENY"),
            ("referrer-policy", "no-referrer"),
            ("cache-control", "no-store"),
        ] {
            assert_eq!(
                headers.get(name).and_then(|v| v.to_str().ok()),
                Some(value),
                "{path}: {name}"
            );
        }
        assert!(headers.contains_key("x-request-id"), "{path}");
    }
}

#[tokio::test]
async fn a_person_without_a_token_is_refused_before_any_service_is_asked() {
    let app = gateway(|_| {});
    let (response, problem) = send(&app, get("/api/v1/me")).await;
    assert_problem(
        &response,
        &problem,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    );
    let with_token = |token: &str| {
        Request::get("/api/v1/me")
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .body(Body::empty())
            .expect("a request")
    };
    let (response, problem) = send(&app, with_token("not-a-token")).await;
    assert_problem(
        &response,
        &problem,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    );
    // A token signed with a key the gateway has not fetched yet, while
    // identity is out of reach: try again, not log in again.
    let signed_elsewhere = "eyJhbGciOiJFZERTQSIsImtpZCI6Im5ldy1rZXkiLCJ0eXAiOiJKV1QifQ.\
                            eyJzdWIiOiJ4In0.c2lnbmF0dXJl";
    let (response, problem) = send(&app, with_token(signed_elsewhere)).await;
    assert_problem(
        &response,
        &problem,
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
    );
}

#[tokio::test]
async fn a_service_that_is_down_is_a_503_with_retry_after() {
    let app = gateway(|_| {});
    let (response, problem) = send(&app, post("/api/v1/auth/login")).await;
    assert_problem(
        &response,
        &problem,
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
    );
    assert_eq!(
        response
            .headers()
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok()),
        Some("5")
    );
}

#[tokio::test]
async fn a_burst_passes_up_to_its_size_then_429() {
    let app = gateway(|settings| {
        settings.rate_limits.per_client = quota(1, 20);
        settings.rate_limits.logins_per_client = quota(1, 10);
    });
    for request in 1..=20 {
        let (response, _) = send(&app, get("/api/openapi.json")).await;
        assert_eq!(response.status(), StatusCode::OK, "request {request}");
    }
    let (response, problem) = send(&app, get("/api/openapi.json")).await;
    assert_problem(
        &response,
        &problem,
        StatusCode::TOO_MANY_REQUESTS,
        "rate-limited",
    );
    let retry_after: u64 = response
        .headers()
        .get(header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After in seconds");
    assert!((1..=60).contains(&retry_after), "{retry_after}");
}

#[tokio::test]
async fn logins_have_a_stricter_burst_than_the_rest() {
    let app = gateway(|settings| settings.rate_limits.logins_per_client = quota(1, 3));
    for _ in 0..3 {
        let (response, _) = send(&app, post("/api/v1/auth/login")).await;
        // Identity is down here, but the limiter let the request through.
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    }
    let (response, problem) = send(&app, post("/api/v1/auth/login")).await;
    assert_problem(
        &response,
        &problem,
        StatusCode::TOO_MANY_REQUESTS,
        "rate-limited",
    );
    // Refreshing and everything else are not logins.
    let (response, _) = send(&app, get("/api/openapi.json")).await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_json_body_over_the_limit_is_refused_as_too_large() {
    let app = gateway(|_| {});
    let oversized = format!("{{\"state\":\"{}\",\"code\":\"x\"}}", "s".repeat(4096));
    let (response, problem) = send(
        &app,
        Request::post("/api/v1/auth/token")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(oversized))
            .expect("a request"),
    )
    .await;
    assert_problem(
        &response,
        &problem,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload-too-large",
    );
}

#[tokio::test]
async fn browsers_may_call_from_the_configured_origin_only() {
    let app = gateway(|_| {});
    let preflight = |origin: &'static str| {
        Request::builder()
            .method(Method::OPTIONS)
            .uri("/api/v1/me")
            .header(header::ORIGIN, origin)
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, "GET")
            .body(Body::empty())
            .expect("a request")
    };
    let (allowed, _) = send(&app, preflight("https://bestill.hms-kort.no")).await;
    assert_eq!(
        allowed
            .headers()
            .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
            .and_then(|v| v.to_str().ok()),
        Some("https://bestill.hms-kort.no")
    );
    let (elsewhere, _) = send(&app, preflight("https://evil.example")).await;
    assert!(
        !elsewhere
            .headers()
            .contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN)
    );
}

#[tokio::test]
async fn anyone_reads_the_records_of_processing() {
    let app = gateway(|_| {});
    let (response, register) = send(&app, get("/api/v1/public/processing-register")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(register["categories"].as_array().is_some_and(|categories| {
        categories
            .iter()
            .any(|category| category["id"] == "worker.national_id")
    }));
}

#[tokio::test]
async fn the_openapi_document_describes_the_routes_served() {
    let app = gateway(|_| {});
    let (response, document) = send(&app, get("/api/openapi.json")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        document["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1"))
    );
    for path in [
        "/api/v1/auth/logout",
        "/api/v1/companies/{company_id}/access",
        "/api/v1/orders/{order_id}/submit",
        "/api/v1/backoffice/companies/{company_id}/suspend",
    ] {
        assert!(document["paths"][path].is_object(), "{path}");
    }
    // Every schema the document refers to is in it.
    let text = document.to_string();
    for reference in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
        let name = reference.split('"').next().unwrap_or_default();
        assert!(
            document["components"]["schemas"][name].is_object(),
            "{name} is referred to but missing"
        );
    }
}
