use tonic::Status;

/// Everything that can go wrong in the identity service.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("the login provider is unavailable; try again shortly")]
    ProviderUnavailable,
    /// Deliberately vague: state, code, token or claims did not check out.
    #[error("the login could not be completed; start again")]
    LoginFailed,
    #[error("this login method's level is too low; use BankID")]
    LoginLevelTooLow,
    #[error("invalid or expired credentials")]
    InvalidCredentials,
    #[error("not found")]
    NotFound,
    /// A grant that does not exist, or that the asker may not see.
    #[error("grant not found")]
    GrantNotFound,
    #[error("not allowed")]
    Denied,
    /// Not allowed, and why.
    #[error("{0}")]
    Refused(&'static str),
    #[error("this needs a recent BankID login; log in again")]
    StepUpRequired,
    #[error("{field}: {problem}")]
    Invalid {
        field: &'static str,
        problem: String,
    },
    #[error("{0}")]
    Precondition(&'static str),
    #[error("the company register is unavailable; try again shortly")]
    RegisterUnavailable,
    #[error("the companies service is unavailable; try again shortly")]
    CompaniesUnavailable,
    #[error("could not sign a token")]
    Signing,
    #[error("stored data is inconsistent: {0}")]
    Corrupt(&'static str),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Events(#[from] hms_events::EventsError),
}

impl IdentityError {
    pub fn invalid(field: &'static str, problem: impl std::fmt::Display) -> Self {
        Self::Invalid {
            field,
            problem: problem.to_string(),
        }
    }
}

impl From<IdentityError> for Status {
    fn from(error: IdentityError) -> Self {
        use IdentityError::*;
        match error {
            ProviderUnavailable | RegisterUnavailable | CompaniesUnavailable => {
                Status::unavailable(error.to_string())
            }
            LoginFailed | LoginLevelTooLow => Status::failed_precondition(error.to_string()),
            InvalidCredentials => Status::unauthenticated(error.to_string()),
            NotFound | GrantNotFound => Status::not_found(error.to_string()),
            Denied | Refused(_) => Status::permission_denied(error.to_string()),
            StepUpRequired => hms_grpc::status::login_required(),
            Invalid { .. } => Status::invalid_argument(error.to_string()),
            Precondition(_) => Status::failed_precondition(error.to_string()),
            Database(ref cause) => hms_grpc::status::storage(hms_db::is_unavailable(cause), error),
            Events(ref cause) => hms_grpc::status::storage(cause.is_unavailable(), error),
            Signing | Corrupt(_) => hms_grpc::status::internal(error),
        }
    }
}
