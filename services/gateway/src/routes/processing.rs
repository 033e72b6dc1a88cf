//! The records of processing (GDPR art. 30), for anyone: what personal data
//! the platform processes, why, for whom, with whom, and when it is erased,
//! as kept in the repository (`docs/processing-register.json`) and held to
//! the code by `tests/e2e/processing_register.rs`.

use axum::response::Response;

use super::published_json;

/// The register, as built into the gateway.
const REGISTER: &str = include_str!("../../../../docs/processing-register.json");

/// The records of processing: activities, processors, and each category
/// of personal data with where it is kept and when it is erased. Open to
/// anyone.
#[utoipa::path(
    get,
    path = "/api/v1/public/processing-register",
    tag = "documentation",
    responses(
        (status = 200, description = "The register (JSON)", content_type = "application/json"),
    )
)]
pub async fn register() -> Response {
    published_json(REGISTER.to_owned())
}
