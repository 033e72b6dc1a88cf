use tonic::Status;

/// Everything that can go wrong in the audit service.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Events(#[from] hms_events::EventsError),
}

impl From<hms_signing_keys::KeyError> for AuditError {
    fn from(error: hms_signing_keys::KeyError) -> Self {
        match error {
            hms_signing_keys::KeyError::Database(cause) => Self::Database(cause),
            hms_signing_keys::KeyError::Corrupt(what) => {
                Self::Corrupt(format!("a checkpoint key is unreadable: {what}"))
            }
        }
    }
}

impl From<AuditError> for Status {
    fn from(error: AuditError) -> Self {
        match error {
            AuditError::Database(ref cause) => {
                hms_grpc::status::storage(hms_db::is_unavailable(cause), error)
            }
            AuditError::Events(ref cause) => {
                hms_grpc::status::storage(cause.is_unavailable(), error)
            }
            AuditError::Corrupt(_) => hms_grpc::status::internal(error),
        }
    }
}
