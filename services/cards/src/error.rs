use tonic::Status;

/// Everything that can go wrong in the cards service.
#[derive(Debug, thiserror::Error)]
pub enum CardsError {
    #[error("card not found")]
    NotFound,
    #[error("{0}")]
    Transition(&'static str),
    /// The order is not approved (an event that contradicts orders).
    #[error("the order is not approved")]
    NotApproved,
    /// A service we ask could not answer now.
    #[error("{service} is unavailable: {message}")]
    Unavailable {
        service: &'static str,
        message: String,
    },
    /// A service we ask failed, or refused us.
    #[error("{service} failed ({code:?}): {message}")]
    Failed {
        service: &'static str,
        code: tonic::Code,
        message: String,
    },
    #[error("no free card number after several tries")]
    NumbersExhausted,
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Renewal(#[from] crate::domain::RenewalRefused),
    #[error("cannot sign a credential: {0}")]
    Signing(#[from] hms_card_credential::CredentialError),
    #[error(transparent)]
    Keys(#[from] hms_signing_keys::KeyError),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Events(#[from] hms_events::EventsError),
}

impl CardsError {
    /// Sorts a callee's answer.
    pub fn from_call(service: &'static str, status: &Status) -> Self {
        if status.code() == tonic::Code::FailedPrecondition {
            return Self::NotApproved;
        }
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

    /// Whether waiting fixes it: a dependency down, or refusing us.
    pub fn is_unavailable(&self) -> bool {
        match self {
            Self::Unavailable { .. } => true,
            // Refused (our credentials, our rights): an operator fixes it.
            // A bad or unknown order is the event's fault: retried, then
            // parked.
            Self::Failed { code, .. } => {
                !matches!(code, tonic::Code::InvalidArgument | tonic::Code::NotFound)
            }
            Self::Database(cause) => hms_db::is_unavailable(cause),
            Self::Events(cause) => cause.is_unavailable(),
            _ => false,
        }
    }
}

impl From<CardsError> for hms_events::HandlerError {
    fn from(error: CardsError) -> Self {
        match error {
            CardsError::NotApproved => Self::Reject(error.to_string()),
            error if error.is_unavailable() => Self::Unavailable(error.to_string()),
            error => Self::Retry(error.to_string()),
        }
    }
}

impl From<CardsError> for Status {
    fn from(error: CardsError) -> Self {
        use CardsError::*;
        match error {
            NotFound => Status::not_found(error.to_string()),
            Transition(_) | NotApproved | Renewal(_) => {
                Status::failed_precondition(error.to_string())
            }
            Unavailable { service, .. } => hms_grpc::status::unavailable(service, error),
            Database(ref cause) => hms_grpc::status::storage(hms_db::is_unavailable(cause), error),
            Events(ref cause) => hms_grpc::status::storage(cause.is_unavailable(), error),
            Keys(hms_signing_keys::KeyError::Database(ref cause)) => {
                hms_grpc::status::storage(hms_db::is_unavailable(cause), error)
            }
            Failed { .. } | NumbersExhausted | Corrupt(_) | Signing(_) | Keys(_) => {
                hms_grpc::status::internal(error)
            }
        }
    }
}
