use tonic::Status;

use crate::templates::TemplateError;

/// Everything that can go wrong in the notifications service.
#[derive(Debug, thiserror::Error)]
pub enum NotificationsError {
    /// An event about a company not known here yet: its registration is
    /// still on its way.
    #[error("the company is not known yet")]
    UnknownCompany,
    /// An event about a grant not known here yet.
    #[error("the grant is not known yet")]
    UnknownGrant,
    /// Identity could not say who acted; the event waits for it.
    #[error("identity is unavailable: {0}")]
    IdentityUnavailable(String),
    /// Identity refused or failed us: our own misconfiguration.
    #[error("identity failed ({code:?}): {message}")]
    Identity { code: tonic::Code, message: String },
    #[error(transparent)]
    Template(#[from] TemplateError),
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl NotificationsError {
    /// Sorts identity's answer: "try again later", or a failure on our side.
    pub fn from_identity(status: &Status) -> Self {
        use tonic::Code::*;
        match status.code() {
            Unavailable | DeadlineExceeded | ResourceExhausted | Aborted | Cancelled => {
                Self::IdentityUnavailable(format!("{:?}", status.code()))
            }
            code => Self::Identity {
                code,
                message: status.message().to_owned(),
            },
        }
    }

    /// Whether waiting fixes it: a dependency is down, not the event wrong.
    pub fn is_unavailable(&self) -> bool {
        match self {
            Self::IdentityUnavailable(_) => true,
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
            IdentityUnavailable(_) => hms_grpc::status::unavailable("identity", error.to_string()),
            Database(ref cause) => hms_grpc::status::storage(hms_db::is_unavailable(cause), error),
            UnknownCompany | UnknownGrant | Identity { .. } | Template(_) | Corrupt(_) => {
                hms_grpc::status::internal(error)
            }
        }
    }
}
