//! A stand-in for the card producer, the outside party that prints and
//! posts the physical HMS cards, for development and tests.
//!
//! The producer takes one print job per approved order over HTTP. A job
//! carries, per card, what is printed on it: the number, the holder's name,
//! the employer, the card type, valid until, and the holder's photo and
//! signature. Every job has an `Idempotency-Key`: the same key sent again is
//! the same job (answered as before, never printed twice); the same key
//! with other content is refused.
//!
//! | request | answer |
//! |---|---|
//! | `POST /v1/print-jobs` (JSON, `Authorization: Bearer`, `Idempotency-Key`) | 202 `{"id", "status": "accepted", "cards"}`; the same again for a repeated key (`Idempotent-Replayed: true`); 400 for a job it cannot print; 401 for a wrong key; 422 for a key reused with other content |
//! | `GET /_fake/jobs` | every job accepted so far, oldest first, with how often it was sent (images only as their size and SHA-256) |
//! | `POST /_fake/fail` `{"status": 503, "times": 2}` or `{"status": 503, "for_ms": 30000}` | the next `times` jobs, or every job for `for_ms`, answer `status` |
//! | `POST /_fake/delay` `{"ms": 3000}` | every job is answered this long after it is taken (or refused) |
//!
//! The `/_fake` endpoints are the fake's own: tests use them to see what
//! was sent and to make the producer misbehave.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};

/// The longest idempotency key taken.
const MAX_KEY_LEN: usize = 255;

/// A print job, as the producer takes it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobRequest {
    /// The orderer's own reference (the order).
    pub reference: String,
    pub cards: Vec<CardRequest>,
}

/// One card to print.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CardRequest {
    pub card_number: String,
    pub holder_name: String,
    pub employer_name: String,
    pub employer_org_number: String,
    /// `construction` or `cleaning`: the card's colour.
    pub card_type: String,
    /// `YYYY-MM-DD`.
    pub valid_until: String,
    pub photo: Image,
    pub signature: Image,
}

/// An image, base64 in the JSON.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Image {
    pub content_type: String,
    pub data: String,
}

/// A job the fake accepted, as `/_fake/jobs` shows it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Job {
    pub id: String,
    pub idempotency_key: String,
    pub reference: String,
    pub cards: Vec<Card>,
    /// How many times the job was sent and accepted (1 + replays).
    pub sent: u32,
    /// Milliseconds since the Unix epoch.
    pub accepted_at_ms: u64,
}

/// A card of an accepted job; its images only as size and digest.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Card {
    pub card_number: String,
    pub holder_name: String,
    pub employer_name: String,
    pub employer_org_number: String,
    pub card_type: String,
    pub valid_until: String,
    pub photo_bytes: usize,
    pub photo_sha256: String,
    pub signature_bytes: usize,
    pub signature_sha256: String,
}

/// How the fake is set up.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// The bearer key it demands; none: any caller is taken.
    pub api_key: Option<String>,
    /// Also append each accepted job to this file, one JSON per line.
    pub record: Option<PathBuf>,
}

#[derive(Default)]
struct Behaviour {
    jobs: Vec<Job>,
    /// The SHA-256 of each job's body, by job index: a replay must match.
    bodies: Vec<[u8; 32]>,
    failures: VecDeque<u16>,
    failing_until: Option<(Instant, u16)>,
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
        .route("/v1/print-jobs", post(submit))
        .route("/_fake/jobs", get(jobs))
        .route("/_fake/fail", post(fail))
        .route("/_fake/delay", post(delay))
        .with_state(fake)
}

/// The producer's error body.
fn refused(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(json!({"error": code, "message": message}))).into_response()
}

fn accepted(job: &Job, replayed: bool) -> Response {
    let mut response = (
        StatusCode::ACCEPTED,
        Json(json!({"id": job.id, "status": "accepted", "cards": job.cards.len()})),
    )
        .into_response();
    if replayed {
        response
            .headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    response
}

async fn submit(State(fake): State<Fake>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let (delay, failure) = {
        let mut behaviour = fake.behaviour();
        let failure = match behaviour.failing_until {
            Some((until, status)) if Instant::now() < until => Some(status),
            _ => behaviour.failures.pop_front(),
        };
        (behaviour.delay, failure)
    };
    let answer = take(&fake, &headers, &body, failure);
    // The job is taken (or refused) before the wait: a slow answer is one
    // the sender may never see, and send again.
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    answer
}

fn take(fake: &Fake, headers: &HeaderMap, body: &[u8], failure: Option<u16>) -> Response {
    if let Some(status) = failure {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        tracing::info!(%status, "failing a print job as told");
        return refused(
            status,
            "unavailable",
            "failure requested through /_fake/fail",
        );
    }
    if !authorised(&fake.settings, headers) {
        return refused(StatusCode::UNAUTHORIZED, "unauthorized", "wrong API key");
    }
    let Some(key) = headers
        .get("idempotency-key")
        .and_then(|value| value.to_str().ok())
        .filter(|key| !key.is_empty() && key.len() <= MAX_KEY_LEN)
    else {
        return refused(
            StatusCode::BAD_REQUEST,
            "idempotency_key_missing",
            "every print job needs an Idempotency-Key of 1 to 255 characters",
        );
    };
    let request: JobRequest = match serde_json::from_slice(body) {
        Ok(request) => request,
        Err(_) => return refused(StatusCode::BAD_REQUEST, "invalid_json", "not a print job"),
    };
    let cards = match printable(&request) {
        Ok(cards) => cards,
        Err(problem) => return refused(StatusCode::BAD_REQUEST, "invalid_job", problem),
    };
    let digest: [u8; 32] = Sha256::digest(body).into();

    let mut behaviour = fake.behaviour();
    if let Some(index) = behaviour
        .jobs
        .iter()
        .position(|job| job.idempotency_key == key)
    {
        if behaviour.bodies[index] != digest {
            return refused(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                "this Idempotency-Key was used for another job",
            );
        }
        let job = &mut behaviour.jobs[index];
        job.sent += 1;
        tracing::info!(job = %job.id, "print job sent again; answered as before");
        return accepted(job, true);
    }
    let job = Job {
        id: format!("job_{}", uuid::Uuid::new_v4().simple()),
        idempotency_key: key.to_owned(),
        reference: request.reference,
        cards,
        sent: 1,
        accepted_at_ms: now_ms(),
    };
    tracing::info!(job = %job.id, cards = job.cards.len(), "print job accepted");
    if let Some(path) = &fake.settings.record {
        record(path, &job);
    }
    let answer = accepted(&job, false);
    behaviour.jobs.push(job);
    behaviour.bodies.push(digest);
    answer
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| {
            u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
        })
}

fn authorised(settings: &Settings, headers: &HeaderMap) -> bool {
    let Some(api_key) = &settings.api_key else {
        return true;
    };
    headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .is_some_and(|given| given == api_key)
}

/// What the producer cannot print: no cards, a card without a name or a
/// number, an unknown card type, an image that is not a JPEG or PNG.
fn printable(request: &JobRequest) -> Result<Vec<Card>, &'static str> {
    if request.cards.is_empty() {
        return Err("a job needs at least one card");
    }
    request
        .cards
        .iter()
        .map(|card| {
            if card.card_number.len() != 10 || !card.card_number.bytes().all(|b| b.is_ascii_digit())
            {
                return Err("a card number is ten digits");
            }
            if card.holder_name.trim().is_empty() || card.employer_name.trim().is_empty() {
                return Err("a card needs the holder's and the employer's name");
            }
            if !matches!(card.card_type.as_str(), "construction" | "cleaning") {
                return Err("card_type is construction or cleaning");
            }
            if !is_date(&card.valid_until) {
                return Err("valid_until is YYYY-MM-DD");
            }
            let photo = image(&card.photo).ok_or("the photo is not a JPEG or PNG")?;
            let signature = image(&card.signature).ok_or("the signature is not a JPEG or PNG")?;
            Ok(Card {
                card_number: card.card_number.clone(),
                holder_name: card.holder_name.clone(),
                employer_name: card.employer_name.clone(),
                employer_org_number: card.employer_org_number.clone(),
                card_type: card.card_type.clone(),
                valid_until: card.valid_until.clone(),
                photo_bytes: photo.len(),
                photo_sha256: hex(&Sha256::digest(&photo)),
                signature_bytes: signature.len(),
                signature_sha256: hex(&Sha256::digest(&signature)),
            })
        })
        .collect()
}

fn is_date(value: &str) -> bool {
    let bytes = value.as_bytes();
    bytes.len() == 10
        && bytes[4] == b'-'
        && bytes[7] == b'-'
        && bytes
            .iter()
            .enumerate()
            .all(|(at, b)| at == 4 || at == 7 || b.is_ascii_digit())
}

/// The image's bytes, if they are what their content type says.
fn image(image: &Image) -> Option<Vec<u8>> {
    let bytes = STANDARD.decode(&image.data).ok()?;
    let fits = match image.content_type.as_str() {
        "image/jpeg" => bytes.starts_with(&[0xFF, 0xD8, 0xFF]),
        "image/png" => bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
        _ => false,
    };
    fits.then_some(bytes)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn record(path: &std::path::Path, job: &Job) {
    use std::io::Write;
    let Ok(line) = serde_json::to_string(job) else {
        return;
    };
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .and_then(|mut file| writeln!(file, "{line}"));
    if let Err(error) = written {
        tracing::warn!(%error, path = %path.display(), "cannot record a print job");
    }
}

async fn jobs(State(fake): State<Fake>) -> Json<Vec<Job>> {
    Json(fake.behaviour().jobs.clone())
}

#[derive(Deserialize)]
struct Fail {
    status: u16,
    #[serde(default)]
    times: Option<usize>,
    #[serde(default)]
    for_ms: Option<u64>,
}

async fn fail(State(fake): State<Fake>, Json(fail): Json<Fail>) -> StatusCode {
    if StatusCode::from_u16(fail.status).is_err() {
        return StatusCode::BAD_REQUEST;
    }
    let mut behaviour = fake.behaviour();
    match (fail.times, fail.for_ms) {
        (Some(_), Some(_)) => return StatusCode::BAD_REQUEST,
        (_, Some(ms)) => {
            behaviour.failing_until =
                Some((Instant::now() + Duration::from_millis(ms), fail.status));
        }
        (times, None) => behaviour
            .failures
            .extend(std::iter::repeat_n(fail.status, times.unwrap_or(1))),
    }
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
