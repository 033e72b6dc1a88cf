//! A stand-in for LINK Mobility's SMS REST API, for development and tests,
//! where the real provider cannot be reached and must not be paid.
//!
//! | request | answer |
//! |---|---|
//! | `POST /sms/send` (JSON, basic authentication) | 200 `{"messageId", "resultCode": 1005, "description": "Queued"}`; 400 for a request the provider would refuse; 401 for wrong credentials |
//! | `GET /_fake/messages` | every message accepted so far, oldest first |
//! | `POST /_fake/fail` `{"status": 500, "times": 2}` | the next `times` sends answer `status` |
//! | `POST /_fake/delay` `{"ms": 3000}` | every send waits this long before answering |
//!
//! The `/_fake` endpoints are the fake's own: tests use them to see what
//! was sent and to make the provider misbehave.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

/// What `POST /sms/send` takes, as LINK Mobility documents it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SendRequest {
    pub source: String,
    #[serde(rename = "sourceTON", default)]
    pub source_ton: String,
    pub destination: String,
    pub user_data: String,
    pub platform_id: String,
    #[serde(default)]
    pub platform_partner_id: String,
    #[serde(default)]
    pub ref_id: String,
    #[serde(default)]
    pub use_delivery_report: bool,
}

/// A message the fake accepted.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Received {
    pub message_id: String,
    pub ref_id: String,
    pub source: String,
    pub destination: String,
    pub user_data: String,
    /// Milliseconds since the Unix epoch.
    pub received_at_ms: u64,
}

/// How the fake is set up.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// Basic-authentication credentials it demands; none: any are taken.
    pub credentials: Option<(String, String)>,
    /// Also append each accepted message to this file, one JSON per line.
    pub record: Option<PathBuf>,
}

#[derive(Default)]
struct Behaviour {
    received: Vec<Received>,
    failures: VecDeque<u16>,
    delay: Duration,
}

#[derive(Clone)]
struct Fake {
    settings: Arc<Settings>,
    behaviour: Arc<Mutex<Behaviour>>,
}

impl Fake {
    fn behaviour(&self) -> std::sync::MutexGuard<'_, Behaviour> {
        // A panic while holding the lock leaves plain data behind; use it.
        self.behaviour
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

pub fn router(settings: Settings) -> Router {
    let fake = Fake {
        settings: Arc::new(settings),
        behaviour: Arc::default(),
    };
    Router::new()
        .route("/sms/send", post(send))
        .route("/_fake/messages", get(messages))
        .route("/_fake/fail", post(fail))
        .route("/_fake/delay", post(delay))
        .with_state(fake)
}

/// The provider's error body.
fn refused(status: StatusCode, result_code: u32, description: &str) -> Response {
    (
        status,
        Json(json!({"resultCode": result_code, "description": description})),
    )
        .into_response()
}

async fn send(State(fake): State<Fake>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let (delay, failure) = {
        let mut behaviour = fake.behaviour();
        (behaviour.delay, behaviour.failures.pop_front())
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    if let Some(status) = failure {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        tracing::info!(%status, "failing a send as told");
        return refused(status, 1000, "failure requested through /_fake/fail");
    }
    if !authorised(&fake.settings, &headers) {
        return refused(StatusCode::UNAUTHORIZED, 1003, "Unauthorized");
    }
    let request: SendRequest = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(_) => return refused(StatusCode::BAD_REQUEST, 1001, "Invalid JSON request"),
    };
    if let Some(problem) = invalid(&request) {
        return refused(StatusCode::BAD_REQUEST, 1002, problem);
    }
    let received = Received {
        message_id: Uuid::new_v4().simple().to_string(),
        ref_id: request.ref_id,
        source: request.source,
        destination: request.destination,
        user_data: request.user_data,
        received_at_ms: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| {
                u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
            }),
    };
    tracing::info!(ref_id = %received.ref_id, destination = %received.destination, "text message accepted");
    if let Some(path) = &fake.settings.record {
        record(path, &received);
    }
    let message_id = received.message_id.clone();
    fake.behaviour().received.push(received);
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        Json(json!({"messageId": message_id, "resultCode": 1005, "description": "Queued"})),
    )
        .into_response()
}

fn authorised(settings: &Settings, headers: &HeaderMap) -> bool {
    let Some((username, password)) = &settings.credentials else {
        return true;
    };
    let expected = STANDARD.encode(format!("{username}:{password}"));
    headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Basic "))
        .is_some_and(|given| given == expected)
}

/// What the provider refuses: no way to reach the phone, nothing to say,
/// no account.
fn invalid(request: &SendRequest) -> Option<&'static str> {
    let digits = request.destination.strip_prefix('+').unwrap_or_default();
    if !(8..=15).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Some("Invalid destination");
    }
    if request.user_data.is_empty() {
        return Some("Empty message");
    }
    if request.source.is_empty() {
        return Some("Invalid source");
    }
    if request.platform_id.is_empty() {
        return Some("Invalid platformId");
    }
    None
}

fn record(path: &std::path::Path, received: &Received) {
    use std::io::Write;
    let line = match serde_json::to_string(received) {
        Ok(line) => line,
        Err(_) => return,
    };
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .and_then(|mut file| writeln!(file, "{line}"));
    if let Err(error) = written {
        tracing::warn!(%error, path = %path.display(), "cannot record a message");
    }
}

async fn messages(State(fake): State<Fake>) -> Json<Vec<Received>> {
    Json(fake.behaviour().received.clone())
}

#[derive(Deserialize)]
struct Fail {
    status: u16,
    #[serde(default = "once")]
    times: usize,
}

fn once() -> usize {
    1
}

async fn fail(State(fake): State<Fake>, Json(fail): Json<Fail>) -> StatusCode {
    if StatusCode::from_u16(fail.status).is_err() {
        return StatusCode::BAD_REQUEST;
    }
    let mut behaviour = fake.behaviour();
    behaviour
        .failures
        .extend(std::iter::repeat_n(fail.status, fail.times));
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
struct Delay {
    ms: u64,
}

async fn delay(State(fake): State<Fake>, Json(delay): Json<Delay>) -> StatusCode {
    fake.behaviour().delay = Duration::from_millis(delay.ms);
    StatusCode::NO_CONTENT
}
