//! Errors as `application/problem+json` (RFC 9457). Every error the API
//! returns is one of [`ProblemKind`], each with a stable `type`, and is
//! mapped once, here, from the gRPC status a service answered with. Nothing
//! internal (causes, stack, personal data) reaches the body: services
//! already keep personal data out of their messages, and the message of an
//! internal or unavailable status is replaced.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// A problem details object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Problem {
    /// Identifies the kind of problem; stable, for clients to switch on.
    #[serde(rename = "type")]
    #[schema(example = "/problems/not-found")]
    pub kind: String,
    /// A short summary of the kind, the same for every occurrence.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong this time, for people.
    pub detail: String,
}

/// Every kind of error the API returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemKind {
    InvalidRequest,
    Unauthenticated,
    Forbidden,
    /// Allowed, but only soon after a BankID login: log in again.
    LoginRequired,
    NotFound,
    MethodNotAllowed,
    Conflict,
    PreconditionFailed,
    PayloadTooLarge,
    RateLimited,
    Unavailable,
    Internal,
}

impl ProblemKind {
    pub const fn slug(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid-request",
            Self::Unauthenticated => "unauthenticated",
            Self::Forbidden => "forbidden",
            Self::LoginRequired => "login-required",
            Self::NotFound => "not-found",
            Self::MethodNotAllowed => "method-not-allowed",
            Self::Conflict => "conflict",
            Self::PreconditionFailed => "precondition-failed",
            Self::PayloadTooLarge => "payload-too-large",
            Self::RateLimited => "rate-limited",
            Self::Unavailable => "unavailable",
            Self::Internal => "internal",
        }
    }

    pub const fn status(self) -> StatusCode {
        match self {
            Self::InvalidRequest => StatusCode::BAD_REQUEST,
            Self::Unauthenticated => StatusCode::UNAUTHORIZED,
            Self::Forbidden | Self::LoginRequired => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict | Self::PreconditionFailed => StatusCode::CONFLICT,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub const fn title(self) -> &'static str {
        match self {
            Self::InvalidRequest => "The request is not valid",
            Self::Unauthenticated => "Log in first",
            Self::Forbidden => "Not allowed",
            Self::LoginRequired => "Log in again",
            Self::NotFound => "Not found",
            Self::MethodNotAllowed => "Method not allowed",
            Self::Conflict => "It already exists",
            Self::PreconditionFailed => "Not possible in the current state",
            Self::PayloadTooLarge => "Too large",
            Self::RateLimited => "Too many requests",
            Self::Unavailable => "Temporarily unavailable",
            Self::Internal => "Something went wrong",
        }
    }
}

/// An error on its way to the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub kind: ProblemKind,
    pub detail: String,
}

impl ApiError {
    pub fn new(kind: ProblemKind, detail: impl Into<String>) -> Self {
        Self {
            kind,
            detail: detail.into(),
        }
    }

    pub fn invalid(detail: impl Into<String>) -> Self {
        Self::new(ProblemKind::InvalidRequest, detail)
    }

    /// A service answered with something the gateway cannot use (a
    /// missing part, an unknown enum value): the platform's fault, so a
    /// 500 for the client and the detail in the log.
    pub fn bad_answer(what: &'static str) -> Self {
        Self::internal(format_args!("a service's answer is unusable: {what}"))
    }

    /// Our fault: the cause goes to the log, the client learns only that.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(%cause, "internal error");
        Self::new(ProblemKind::Internal, "the error was logged")
    }

    pub fn unauthenticated() -> Self {
        Self::new(
            ProblemKind::Unauthenticated,
            "log in, or present a valid token",
        )
    }

    pub fn problem(&self) -> Problem {
        Problem {
            kind: format!("/problems/{}", self.kind.slug()),
            title: self.kind.title().to_owned(),
            status: self.kind.status().as_u16(),
            detail: self.detail.clone(),
        }
    }
}

impl From<tonic::Status> for ApiError {
    fn from(status: tonic::Status) -> Self {
        use tonic::Code;
        if hms_grpc::status::is_login_required(&status) {
            return Self::new(ProblemKind::LoginRequired, status.message());
        }
        let kind = match status.code() {
            Code::InvalidArgument | Code::OutOfRange => ProblemKind::InvalidRequest,
            Code::Unauthenticated => ProblemKind::Unauthenticated,
            Code::PermissionDenied => ProblemKind::Forbidden,
            Code::NotFound => ProblemKind::NotFound,
            Code::AlreadyExists | Code::Aborted => ProblemKind::Conflict,
            Code::FailedPrecondition => ProblemKind::PreconditionFailed,
            Code::ResourceExhausted => ProblemKind::RateLimited,
            Code::Unavailable | Code::DeadlineExceeded | Code::Cancelled => {
                ProblemKind::Unavailable
            }
            Code::Ok | Code::Unknown | Code::Unimplemented | Code::Internal | Code::DataLoss => {
                ProblemKind::Internal
            }
        };
        let detail = match kind {
            // Services word these for the caller, without personal data.
            ProblemKind::InvalidRequest
            | ProblemKind::Forbidden
            | ProblemKind::LoginRequired
            | ProblemKind::NotFound
            | ProblemKind::Conflict
            | ProblemKind::PreconditionFailed => status.message().to_owned(),
            ProblemKind::Unauthenticated => ApiError::unauthenticated().detail,
            ProblemKind::RateLimited => "slow down and try again".to_owned(),
            // Causes stay in the logs.
            ProblemKind::Unavailable => {
                tracing::warn!(code = ?status.code(), "a service is unavailable");
                "try again shortly".to_owned()
            }
            ProblemKind::PayloadTooLarge
            | ProblemKind::MethodNotAllowed
            | ProblemKind::Internal => {
                return Self::internal(format_args!(
                    "a service failed: {:?} {}",
                    status.code(),
                    status.message()
                ));
            }
        };
        Self { kind, detail }
    }
}

/// How long a client is asked to wait after a `503`: long enough for a
/// dependency's restart or failover, short enough not to lose the user.
const RETRY_UNAVAILABLE_AFTER_SECS: u32 = 5;

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.kind.status(), axum::Json(self.problem())).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        // "Try again" is only useful with a when; rate limits set their own.
        if self.kind == ProblemKind::Unavailable {
            headers.insert(
                header::RETRY_AFTER,
                HeaderValue::from(RETRY_UNAVAILABLE_AFTER_SECS),
            );
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_detail_never_reaches_the_client() {
        let error = ApiError::from(tonic::Status::internal(
            "database error: relation workers violates constraint",
        ));
        assert_eq!(error.kind, ProblemKind::Internal);
        assert!(!error.detail.contains("database"));
        let error = ApiError::from(tonic::Status::unavailable("orders at 10.0.0.7 refused"));
        assert_eq!(error.kind.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(!error.detail.contains("10.0.0.7"));
    }

    #[test]
    fn unavailable_says_when_to_try_again() {
        let response = ApiError::from(tonic::Status::unavailable("database down")).into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            response.headers().get(header::RETRY_AFTER),
            Some(&HeaderValue::from(RETRY_UNAVAILABLE_AFTER_SECS))
        );
        let response = ApiError::from(tonic::Status::not_found("order not found")).into_response();
        assert!(!response.headers().contains_key(header::RETRY_AFTER));
    }

    #[test]
    fn each_kind_has_its_own_stable_type() {
        let kinds = [
            ProblemKind::InvalidRequest,
            ProblemKind::Unauthenticated,
            ProblemKind::Forbidden,
            ProblemKind::NotFound,
            ProblemKind::MethodNotAllowed,
            ProblemKind::Conflict,
            ProblemKind::PreconditionFailed,
            ProblemKind::PayloadTooLarge,
            ProblemKind::RateLimited,
            ProblemKind::Unavailable,
            ProblemKind::Internal,
        ];
        let slugs: std::collections::BTreeSet<_> = kinds.iter().map(|k| k.slug()).collect();
        assert_eq!(slugs.len(), kinds.len());
        let problem = ApiError::from(tonic::Status::not_found("order not found")).problem();
        assert_eq!(problem.kind, "/problems/not-found");
        assert_eq!(problem.status, 404);
        assert_eq!(problem.detail, "order not found");
    }
}
