use tonic::Status;

use crate::templates::TemplateError;

/// Everything that can go wrong in the notifications service.
#[derive(Debug, thiserror::Error)]
pub enum NotificationsError {
    /// An event about a company that neither this service nor companies
    /// knows.
    #[error("the company is not known")]
    UnknownCompany,
    /// An event about a grant not known here yet.
    #[error("the grant is not known yet")]
    UnknownGrant,
    /// A service we ask could not answer now; the event waits for it.
    #[error("{service} is unavailable: {message}")]
    Unavailable {
        service: &'static str,
        message: String,
    },
    /// A service we ask failed, or refused us (our own misconfiguration).
    #[error("{service} failed ({code:?}): {message}")]
    Failed {
        service: &'static str,
        code: tonic::Code,
        message: String,
    },
    #[error(transparent)]
    Template(#[from] TemplateError),
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl NotificationsError {
    /// Sorts a callee's answer: "try again later", or a failure.
    pub fn from_call(service: &'static str, status: &Status) -> Self {
        if hms_grpc::status::is_transient(status.code()) {
            Self::Unavailable {
                service,
                message: format!("{:?}", status.code()),
            }
        } else {
            Self::Failed {
                service,
                code: status.code(),
                message: status.message().to_owned(),
            }
        }
    }

    /// Whether waiting fixes it: a dependency is down or refuses us (which
    /// an operator fixes), not the event wrong. Events wait for these
    /// instead of being parked.
    pub fn is_unavailable(&self) -> bool {
        match self {
            Self::Unavailable { .. } => true,
            Self::Failed { code, .. } => *code != tonic::Code::InvalidArgument,
            Self::Database(cause) => hms_db::is_unavailable(cause),
            _ => false,
        }
    }
}

impl From<NotificationsError> for hms_events::HandlerError {
    fn from(error: NotificationsError) -> Self {
        if error.is_unavailable() {
            Self::Unavailable(error.to_string())
        } else {
            Self::Retry(error.to_string())
        }
    }
}

impl From<NotificationsError> for Status {
    fn from(error: NotificationsError) -> Self {
        use NotificationsError::*;
        match error {
            Unavailable { service, .. } => hms_grpc::status::unavailable(service, error),
            Database(ref cause) => hms_grpc::status::storage(hms_db::is_unavailable(cause), error),
            UnknownCompany | UnknownGrant | Failed { .. } | Template(_) | Corrupt(_) => {
                hms_grpc::status::internal(error)
            }
        }
    }
}
