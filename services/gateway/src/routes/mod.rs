//! The REST API, one module per resource. Handlers turn JSON into a gRPC
//! request, forward the person's token, and turn the answer back into JSON;
//! authorization stays in the services.

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

/// A protobuf time as the API shows times (RFC 3339, UTC).
pub fn time(timestamp: Option<&prost_types::Timestamp>) -> Option<DateTime<Utc>> {
    hms_proto::time::from_timestamp(timestamp?)
}
