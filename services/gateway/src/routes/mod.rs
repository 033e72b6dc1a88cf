//! The REST API, one module per resource. Handlers turn JSON into a gRPC
//! request, forward the person's token, and turn the answer back into JSON;
//! authorization stays in the services.

pub mod access;
pub mod access_log;
pub mod agreements;
pub mod auth;
pub mod card_credentials;
pub mod cards;
pub mod companies;
pub mod documents;
pub mod me;
pub mod notifications;
pub mod orders;
pub mod processing;
pub mod receipts;

use chrono::{DateTime, Utc};
use hms_proto::ProtoEnum;
use serde::Deserialize;
use utoipa::ToSchema;

/// Why the back office refuses or suspends.
#[derive(Debug, Deserialize, ToSchema)]
pub struct Reason {
    /// Shown to the company.
    pub reason: String,
}

/// How many items a page holds, when the client says: 1 to 500. A number
/// outside is refused rather than quietly changed, as the document says.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(try_from = "u32")]
pub struct PageSize(u32);

impl PageSize {
    pub const MAX: u32 = 500;

    /// For the gRPC request, where 0 asks for the service's default.
    pub fn requested(size: Option<Self>) -> u32 {
        size.map_or(0, |size| size.0)
    }
}

impl TryFrom<u32> for PageSize {
    type Error = &'static str;

    fn try_from(size: u32) -> Result<Self, Self::Error> {
        if (1..=Self::MAX).contains(&size) {
            Ok(Self(size))
        } else {
            Err("must be between 1 and 500")
        }
    }
}

/// An enum of the API, in a service's answer (its protobuf twin, declared
/// with `hms_proto::proto_enum!`). A value the gateway does not know is the
/// platform's fault: a 500 whose cause is logged.
pub trait Answered: ProtoEnum {
    fn answered(value: i32) -> Result<Self, crate::problem::ApiError> {
        Self::from_i32(value)
            .map_err(|_| crate::problem::ApiError::bad_answer(std::any::type_name::<Self>()))
    }
}

impl<T: ProtoEnum> Answered for T {}

/// A protobuf string field, where empty means absent.
pub fn non_empty(value: String) -> Option<String> {
    Some(value).filter(|value| !value.is_empty())
}

/// A published JSON document (keys), which anything between may cache for
/// an hour.
pub fn published_json(document: String) -> axum::response::Response {
    use axum::response::IntoResponse;
    use http::{HeaderValue, header};
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=3600"),
            ),
        ],
        document,
    )
        .into_response()
}

/// A protobuf time as the API shows times (RFC 3339, UTC).
pub fn time(timestamp: Option<&prost_types::Timestamp>) -> Option<DateTime<Utc>> {
    hms_proto::time::from_timestamp(timestamp?)
}
