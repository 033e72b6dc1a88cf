use tonic::Status;

/// Everything that can go wrong while redacting.
#[derive(Debug, thiserror::Error)]
pub enum RedactionError {
    #[error("no receipt: the order is not redacted (yet)")]
    NoReceipt,
    #[error("order not found")]
    UnknownOrder,
    #[error("the order is not decided; only decided orders are redacted")]
    NotDecided,
    /// orders or media could not answer now.
    #[error("{service} is unavailable: {message}")]
    Unavailable {
        service: &'static str,
        message: String,
    },
    /// orders or media failed, or refused us (our own misconfiguration).
    #[error("{service} failed ({code:?}): {message}")]
    Failed {
        service: &'static str,
        code: tonic::Code,
        message: String,
    },
    /// media destroyed the keys but the store still holds some objects
    /// (unreadable); the purge is asked for again.
    #[error("some of the order's objects could not be deleted yet")]
    ObjectsRemaining,
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Events(#[from] hms_events::EventsError),
}

impl RedactionError {
    /// Sorts a callee's answer: about the order, "try again later", or a
    /// failure on our side.
    pub fn from_call(service: &'static str, status: tonic::Status) -> Self {
        use tonic::Code::*;
        match status.code() {
            NotFound => Self::UnknownOrder,
            FailedPrecondition => Self::NotDecided,
            Unavailable | DeadlineExceeded | ResourceExhausted | Aborted | Cancelled => {
                Self::Unavailable {
                    service,
                    message: format!("{:?}: {}", status.code(), status.message()),
                }
            }
            code => Self::Failed {
                service,
                code,
                message: status.message().to_owned(),
            },
        }
    }

    /// Whether the order itself is the problem: nothing was removed and
    /// there is nothing to re-drive.
    pub fn is_about_the_order(&self) -> bool {
        matches!(self, Self::UnknownOrder | Self::NotDecided)
    }
}

impl From<RedactionError> for Status {
    fn from(error: RedactionError) -> Self {
        use RedactionError::*;
        match error {
            NoReceipt | UnknownOrder => Status::not_found(error.to_string()),
            NotDecided => Status::failed_precondition(error.to_string()),
            Unavailable { service, message } => hms_grpc::status::unavailable(service, message),
            ObjectsRemaining => Status::unavailable(error.to_string()),
            Database(ref cause) => hms_grpc::status::storage(hms_db::is_unavailable(cause), error),
            Events(ref cause) => hms_grpc::status::storage(cause.is_unavailable(), error),
            Failed { .. } | Corrupt(_) => hms_grpc::status::internal(error),
        }
    }
}

impl From<hms_signing_keys::KeyError> for RedactionError {
    fn from(error: hms_signing_keys::KeyError) -> Self {
        match error {
            hms_signing_keys::KeyError::Database(cause) => Self::Database(cause),
            hms_signing_keys::KeyError::Corrupt(what) => {
                Self::Corrupt(format!("a receipt key is unreadable: {what}"))
            }
        }
    }
}
