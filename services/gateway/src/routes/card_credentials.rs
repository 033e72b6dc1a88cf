//! The card as a credential anyone can check offline: its QR code (as
//! text, PNG or SVG) for the company and the back office, and, open to
//! everyone, the keys it is signed with and the status list that says
//! which cards no longer count. A verifier caches the last two and decides
//! with no network (`hms-card-verify`).

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use hms_proto::cards::v1 as pb;
use http::{HeaderValue, header};
use image::{ImageEncoder, Luma};
use qrcode::QrCode;
use serde::Serialize;
use utoipa::ToSchema;

use super::documents::FileBytes;
use super::time;
use crate::auth::Person;
use crate::extract::PathParams;
use crate::problem::{ApiError, Problem};
use crate::state::AppState;

/// Pixels per QR module in the PNG: a phone screen or a print at 300 dpi.
const PNG_MODULE_PIXELS: u32 = 8;

/// What a card's QR code holds.
#[derive(Debug, Serialize, ToSchema)]
pub struct CardCredential {
    /// `HMS1:` and the base45 of a zlib-compressed, Ed25519-signed
    /// COSE_Sign1 CWT: card number, holder, employer, card type, valid
    /// until, and the card's entry in the status list.
    pub payload: String,
    pub valid_until: Option<DateTime<Utc>>,
}

/// The keys credentials and status lists are signed with: a JWKS of
/// Ed25519 keys (RFC 8037) and when to fetch it again.
#[derive(Debug, Serialize, ToSchema)]
pub struct CredentialKeySet {
    pub keys: Vec<CredentialKey>,
    /// Seconds since the epoch: after this a key not in the set may sign,
    /// so a verifier holding only this set must not decide.
    pub exp: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CredentialKey {
    /// `OKP`.
    pub kty: String,
    /// `Ed25519`.
    pub crv: String,
    /// The public key, base64url.
    pub x: String,
    pub kid: String,
    /// `sig`.
    #[serde(rename = "use")]
    pub usage: String,
    /// `EdDSA`.
    pub alg: String,
}

async fn credential_of(
    state: &AppState,
    person: &Person,
    card_number: String,
) -> Result<pb::GetCardCredentialResponse, ApiError> {
    Ok(state
        .cards
        .clone()
        .get_card_credential(person.request(pb::GetCardCredentialRequest { card_number }))
        .await?
        .into_inner())
}

/// The payload as a QR code; a payload too long for one is the platform's
/// fault.
fn qr_code(payload: &str) -> Result<QrCode, ApiError> {
    QrCode::with_error_correction_level(payload.as_bytes(), qrcode::EcLevel::M)
        .map_err(|_| ApiError::bad_answer("a credential that fits a QR code"))
}

/// Never cached by anything between: it names a person.
fn private(content_type: &'static str, body: impl Into<axum::body::Body>) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("private, no-store"),
            ),
        ],
        body.into(),
    )
        .into_response()
}

/// The card's offline-verifiable credential: what its QR code holds.
#[utoipa::path(
    get,
    path = "/api/v1/cards/{card_number}/credential",
    tag = "cards",
    params(("card_number" = String, Path, description = "Ten digits; spaces allowed")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, body = CardCredential),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The card no longer counts", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn credential(
    State(state): State<AppState>,
    person: Person,
    PathParams(card_number): PathParams<String>,
) -> Result<Json<CardCredential>, ApiError> {
    let answer = credential_of(&state, &person, card_number).await?;
    Ok(Json(CardCredential {
        payload: answer.payload,
        valid_until: time(answer.valid_until.as_ref()),
    }))
}

/// The card's QR code as a PNG image.
#[utoipa::path(
    get,
    path = "/api/v1/cards/{card_number}/qr.png",
    tag = "cards",
    params(("card_number" = String, Path, description = "Ten digits; spaces allowed")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, body = FileBytes, content_type = "image/png"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The card no longer counts", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn qr_png(
    State(state): State<AppState>,
    person: Person,
    PathParams(card_number): PathParams<String>,
) -> Result<Response, ApiError> {
    let answer = credential_of(&state, &person, card_number).await?;
    let code = qr_code(&answer.payload)?;
    let image = code
        .render::<Luma<u8>>()
        .module_dimensions(PNG_MODULE_PIXELS, PNG_MODULE_PIXELS)
        .build();
    let mut png = Vec::new();
    image::codecs::png::PngEncoder::new(&mut png)
        .write_image(
            image.as_raw(),
            image.width(),
            image.height(),
            image::ExtendedColorType::L8,
        )
        .map_err(|_| ApiError::bad_answer("a QR code that encodes as PNG"))?;
    Ok(private("image/png", png))
}

/// The card's QR code as an SVG image, to print at any size.
#[utoipa::path(
    get,
    path = "/api/v1/cards/{card_number}/qr.svg",
    tag = "cards",
    params(("card_number" = String, Path, description = "Ten digits; spaces allowed")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, body = String, content_type = "image/svg+xml"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The card no longer counts", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn qr_svg(
    State(state): State<AppState>,
    person: Person,
    PathParams(card_number): PathParams<String>,
) -> Result<Response, ApiError> {
    let answer = credential_of(&state, &person, card_number).await?;
    let svg = qr_code(&answer.payload)?
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(256, 256)
        .build();
    Ok(private("image/svg+xml", svg))
}

/// The public keys of card credentials, for verifiers to cache. Open to
/// anyone.
#[utoipa::path(
    get,
    path = "/api/v1/public/card-credentials/keys",
    tag = "cards",
    responses(
        (status = 200, body = CredentialKeySet),
    )
)]
pub async fn keys(State(state): State<AppState>) -> Result<Response, ApiError> {
    let answer = state
        .cards
        .clone()
        .get_credential_keys(pb::GetCredentialKeysRequest {})
        .await?
        .into_inner();
    Ok(super::published_json(answer.key_set_json))
}

/// The status list of every card (IETF Token Status List, CWT, two bits a
/// card: 0 valid, 1 blocked, 3 deactivated), for verifiers to cache for
/// its time to live. Open to anyone.
#[utoipa::path(
    get,
    path = "/api/v1/public/card-credentials/status-list",
    tag = "cards",
    responses(
        (status = 200, body = FileBytes, content_type = "application/statuslist+cwt"),
    )
)]
pub async fn status_list(State(state): State<AppState>) -> Result<Response, ApiError> {
    let answer = state
        .cards
        .clone()
        .get_status_list(pb::GetStatusListRequest {})
        .await?
        .into_inner();
    let cache = HeaderValue::from_str(&format!("public, max-age={}", answer.ttl_seconds))
        .map_err(|_| ApiError::bad_answer("a time to live"))?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/statuslist+cwt"),
            ),
            (header::CACHE_CONTROL, cache),
        ],
        answer.token,
    )
        .into_response())
}
