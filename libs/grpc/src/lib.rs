//! gRPC the same way in every service.
//!
//! [`GrpcServer`] binds the configured address (port 0 picks one; the
//! runtime announces it through `HMS_ADDR_FILE`), serves health and
//! reflection beside the service's own APIs, opens a span per call that
//! continues the caller's trace, identifies the caller, counts and times
//! calls for Prometheus, and drains in-flight calls on shutdown.
//! [`client`] builds channels whose calls carry the current trace and a
//! token from identity for the callee. [`status`] turns domain errors into
//! `tonic::Status` without leaking internals.

mod authenticate;
pub mod client;
mod metered;
pub mod paging;
pub mod server;
pub mod status;

pub use server::{GrpcApis, GrpcServer, ServerConfig};

/// The [`hms_auth::Caller`] of a request, put there by the server's
/// authentication layer.
pub fn caller<T>(request: &tonic::Request<T>) -> hms_auth::Caller {
    request
        .extensions()
        .get::<hms_auth::Caller>()
        .cloned()
        .unwrap_or(hms_auth::Caller::Anonymous)
}
