use tonic::Status;

use crate::sanitize::SanitizeError;

/// Everything that can go wrong in the media service.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error("document not found")]
    NotFound,
    /// orders does not know the order or the worker; its words.
    #[error("{0}")]
    TargetNotFound(String),
    #[error(transparent)]
    Rejected(#[from] SanitizeError),
    #[error("the document is larger than the limit of {0} bytes")]
    TooLarge(u64),
    #[error("{0}")]
    CompanyNotApproved(&'static str),
    #[error("the order does not accept documents any more")]
    OrderClosed,
    #[error("the order's documents have been deleted; it accepts no more")]
    OrderPurged,
    #[error("the orders service is unavailable: {0}")]
    OrdersUnavailable(String),
    /// Every decoder (or every place for an upload in memory) stayed busy
    /// for as long as an upload may wait.
    #[error("every image decoder is busy")]
    Busy,
    #[error(
        "this ID copy is a PDF, which is no longer opened; ask the company to upload a photo or scan of the document"
    )]
    UnsafeDocument,
    #[error("the orders service failed: {0}")]
    OrdersFailed(String),
    #[error("the order is not decided; its documents are kept")]
    NotDecided,
    #[error("the order is not approved; nothing of it is printed")]
    NotApproved,
    #[error("the object store failed: {0}")]
    Store(String),
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Crypto(#[from] hms_crypto::CryptoError),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Events(#[from] hms_events::EventsError),
}

impl From<MediaError> for Status {
    fn from(error: MediaError) -> Self {
        use MediaError::*;
        match error {
            NotFound | TargetNotFound(_) => Status::not_found(error.to_string()),
            Rejected(_) | TooLarge(_) => Status::invalid_argument(error.to_string()),
            CompanyNotApproved(_)
            | OrderClosed
            | OrderPurged
            | NotDecided
            | NotApproved
            | UnsafeDocument => Status::failed_precondition(error.to_string()),
            OrdersUnavailable(cause) => hms_grpc::status::unavailable("the orders service", cause),
            Busy => hms_grpc::status::unavailable("the media service", "every decoder is busy"),
            Store(cause) => hms_grpc::status::unavailable("the object store", cause),
            Database(ref cause) => hms_grpc::status::storage(hms_db::is_unavailable(cause), error),
            Events(ref cause) => hms_grpc::status::storage(cause.is_unavailable(), error),
            OrdersFailed(_) | Corrupt(_) | Crypto(_) => hms_grpc::status::internal(error),
        }
    }
}
