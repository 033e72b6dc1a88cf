use hms_domain::OrgNumber;
use tonic::Status;

/// Everything that can go wrong in the companies service.
#[derive(Debug, thiserror::Error)]
pub enum CompanyError {
    #[error("company not found")]
    NotFound,
    #[error("a company with organisation number {0} is already registered")]
    AlreadyRegistered(OrgNumber),
    #[error("{0}")]
    Transition(&'static str),
    #[error(
        "version {offered} of the data processing agreement is not the current one; read version {current} and accept that"
    )]
    NotCurrentAgreement { offered: u32, current: u32 },
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Events(#[from] hms_events::EventsError),
}

impl From<CompanyError> for Status {
    fn from(error: CompanyError) -> Self {
        match error {
            CompanyError::NotFound => Status::not_found(error.to_string()),
            CompanyError::AlreadyRegistered(_) => Status::already_exists(error.to_string()),
            CompanyError::Transition(_) | CompanyError::NotCurrentAgreement { .. } => {
                Status::failed_precondition(error.to_string())
            }
            CompanyError::Database(ref cause) => {
                hms_grpc::status::storage(hms_db::is_unavailable(cause), error)
            }
            CompanyError::Events(ref cause) => {
                hms_grpc::status::storage(cause.is_unavailable(), error)
            }
            CompanyError::Corrupt(_) => hms_grpc::status::internal(error),
        }
    }
}
