//! What every request passes through: a request id, a span that continues
//! the caller's trace, a time limit, body limits, CORS for the configured
//! origins, security headers on every response, and a count of every
//! answer by route and status.

use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

use crate::config::Settings;
use crate::limits::{self, Limits};
use crate::problem::{ApiError, ProblemKind};

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

pub fn wrap(router: Router, config: &Settings, limits: Limits) -> Router {
    metrics::describe_counter!(
        "http_server_requests_total",
        "Requests answered, by route pattern, method and status"
    );
    metrics::describe_histogram!(
        "http_server_request_duration_seconds",
        metrics::Unit::Seconds,
        "Time from a request's arrival to its answer"
    );
    let timeout = config.request_timeout;
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::list(config.cors_origins.clone()))
        .allow_credentials(true)
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            HeaderName::from_static("idempotency-key"),
            REQUEST_ID,
        ])
        .expose_headers([REQUEST_ID])
        .max_age(Duration::from_secs(600));
    let headers = ServiceBuilder::new()
        .layer(SetResponseHeaderLayer::overriding(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=63072000; includeSubDomains"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        // The docs page sets its own policy; everything else is data.
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ));
    router
        // Innermost, so a panic's 500 still passes every layer around it.
        .layer(CatchPanicLayer::custom(
            |_: Box<dyn std::any::Any + Send>| {
                ApiError::internal("a request handler panicked").into_response()
            },
        ))
        .layer(axum::middleware::from_fn(move |request, next| {
            within(timeout, request, next)
        }))
        .layer(DefaultBodyLimit::max(config.max_json_bytes))
        .layer(axum::middleware::from_fn_with_state(
            limits,
            limits::per_client,
        ))
        .layer(cors)
        .layer(headers)
        .layer(axum::middleware::from_fn(count))
        .layer(
            ServiceBuilder::new()
                .layer(axum::middleware::from_fn(drop_unusable_request_id))
                .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
                .layer(
                    TraceLayer::new_for_http()
                        .make_span_with(span)
                        .on_response(log_response)
                        .on_failure(()),
                )
                .layer(PropagateRequestIdLayer::new(REQUEST_ID)),
        )
}

/// One span per request, continuing the caller's trace. It names the route
/// pattern, never the query (a login's code) or the values in the path.
fn span(request: &Request) -> tracing::Span {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str);
    let request_id = request
        .headers()
        .get(&REQUEST_ID)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    let span = tracing::info_span!(
        "http",
        otel.name = %format!("{} {route}", request.method()),
        otel.kind = "server",
        http.request.method = %request.method(),
        http.route = route,
        request_id,
        user_id = tracing::field::Empty,
    );
    hms_telemetry::continue_from_http(&span, request.headers());
    span
}

/// Counts and times requests by route pattern, method and status, as
/// `http_server_requests_total` and `http_server_request_duration_seconds`;
/// a path no route matches counts as `unmatched`, so label values never
/// come from the caller.
async fn count(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_owned();
    let method = match *request.method() {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        Method::HEAD => "HEAD",
        _ => "other",
    };
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    metrics::counter!(
        "http_server_requests_total",
        "route" => route.clone(),
        "method" => method,
        "status" => response.status().as_str().to_owned(),
    )
    .increment(1);
    metrics::histogram!(
        "http_server_request_duration_seconds",
        "route" => route,
        "method" => method,
    )
    .record(started.elapsed().as_secs_f64());
    response
}

/// One line per answered request, refusals included, so that a burst of
/// 401s, 403s or 429s shows in the logs. The span around it names the
/// method, route pattern and request id; nothing of the request's
/// headers, query or body is written.
fn log_response<B>(response: &Response<B>, latency: Duration, _span: &tracing::Span) {
    let status = response.status().as_u16();
    let latency_ms = latency.as_secs_f64() * 1000.0;
    match status {
        500.. => tracing::error!(status, latency_ms, "request answered"),
        401 | 403 | 429 => tracing::warn!(status, latency_ms, "request refused"),
        _ => tracing::info!(status, latency_ms, "request answered"),
    }
}

/// A client's own `x-request-id` is kept only if it looks like one (up to
/// 64 letters, digits and dashes): it goes into logs and traces, which
/// must not carry whatever a client chose to put there. Otherwise a new
/// one is made.
async fn drop_unusable_request_id(mut request: Request, next: Next) -> Response {
    let usable = request
        .headers()
        .get(&REQUEST_ID)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|id| {
            !id.is_empty()
                && id.len() <= 64
                && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    if !usable {
        request.headers_mut().remove(&REQUEST_ID);
    }
    next.run(request).await
}

/// Answers in time or with a problem; the work behind a cut-off request is
/// dropped with it.
async fn within(limit: Duration, request: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            ApiError::new(ProblemKind::Unavailable, "the request took too long").into_response()
        }
    }
}
