//! The REST API, one module per resource. Handlers turn JSON into a gRPC
//! request, forward the person's token, and turn the answer back into JSON;
//! authorization stays in the services.

/// An enum of the API and its protobuf twin, variant for variant: into a
/// request, and back from an answer, where a value the gateway does not
/// know is the platform's fault (a 500 whose cause is logged).
macro_rules! proto_enum {
    ($pb:ident :: $proto:ident => $api:ident { $($variant:ident),+ $(,)? }) => {
        impl From<$api> for $pb::$proto {
            fn from(value: $api) -> Self {
                match value {
                    $($api::$variant => $pb::$proto::$variant,)+
                }
            }
        }

        impl $api {
            /// The value a service answered with.
            pub fn from_proto(value: i32) -> Result<Self, crate::problem::ApiError> {
                match $pb::$proto::try_from(value) {
                    $(Ok($pb::$proto::$variant) => Ok(Self::$variant),)+
                    _ => Err(crate::problem::ApiError::bad_answer(concat!(
                        "unknown ",
                        stringify!($proto)
                    ))),
                }
            }
        }
    };
}

pub mod access;
pub mod auth;
pub mod companies;
pub mod documents;
pub mod orders;

use chrono::{DateTime, Utc};
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

/// A protobuf string field, where empty means absent.
pub fn non_empty(value: String) -> Option<String> {
    Some(value).filter(|value| !value.is_empty())
}

/// A protobuf time as the API shows times (RFC 3339, UTC).
pub fn time(timestamp: Option<&prost_types::Timestamp>) -> Option<DateTime<Utc>> {
    hms_proto::time::from_timestamp(timestamp?)
}
