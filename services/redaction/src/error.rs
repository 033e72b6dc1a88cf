use tonic::Status;

/// Everything that can go wrong while redacting.
#[derive(Debug, thiserror::Error)]
pub enum RedactionError {
    #[error("no receipt: the order is not redacted (yet)")]
    NoReceipt,
    /// orders or media said no for good (the order is unknown or not
    /// decided).
    #[error("{service} refused: {message}")]
    Refused {
        service: &'static str,
        code: tonic::Code,
        message: String,
    },
    /// orders or media could not answer now.
    #[error("{service} is unavailable: {message}")]
    Unavailable {
        service: &'static str,
        message: String,
    },
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Events(#[from] hms_events::EventsError),
}

impl RedactionError {
    /// Sorts a callee's answer into "try again later" and "will not work".
    pub fn from_call(service: &'static str, status: tonic::Status) -> Self {
        use tonic::Code::*;
        match status.code() {
            InvalidArgument | FailedPrecondition | PermissionDenied | Unauthenticated => {
                Self::Refused {
                    service,
                    code: status.code(),
                    message: status.message().to_owned(),
                }
            }
            // NotFound too: a decision event can overtake nothing, so an
            // unknown order is a bad event, but it is retried a bounded number
            // of times before it is parked.
            _ => Self::Unavailable {
                service,
                message: format!("{:?}: {}", status.code(), status.message()),
            },
        }
    }
}

impl From<RedactionError> for Status {
    fn from(error: RedactionError) -> Self {
        match error {
            RedactionError::NoReceipt => Status::not_found(error.to_string()),
            RedactionError::Refused {
                code: tonic::Code::InvalidArgument,
                ..
            } => Status::invalid_argument(error.to_string()),
            RedactionError::Refused { .. } => Status::failed_precondition(error.to_string()),
            RedactionError::Unavailable { service, message } => {
                hms_grpc::status::unavailable(service, message)
            }
            RedactionError::Corrupt(_)
            | RedactionError::Database(_)
            | RedactionError::Events(_) => hms_grpc::status::internal(error),
        }
    }
}
