use tonic::Status;

/// Everything that can go wrong in the orders service.
#[derive(Debug, thiserror::Error)]
pub enum OrderError {
    #[error("order not found")]
    NotFound,
    #[error("worker not found on this order")]
    WorkerNotFound,
    #[error("{0}")]
    CompanyNotApproved(&'static str),
    #[error("{0}")]
    AgreementNotAccepted(String),
    #[error("the idempotency key was already used for a different order")]
    IdempotencyConflict,
    #[error("a {industry} company orders {} cards, not {card_type} cards", industry.card_type())]
    WrongCardType {
        industry: hms_domain::Industry,
        card_type: hms_domain::CardType,
    },
    #[error("this person is already on the order")]
    DuplicateWorker,
    #[error("an order holds at most {0} workers")]
    TooManyWorkers(usize),
    #[error("the order has no workers")]
    NoWorkers,
    #[error("{0}")]
    Transition(&'static str),
    #[error("{0}")]
    DocumentsMissing(String),
    #[error(transparent)]
    NotApprovable(#[from] crate::domain::NotApprovable),
    /// The review as sent cannot be taken; the field it is about.
    #[error("{0}: {1}")]
    Review(String, crate::domain::ReviewError),
    #[error("the media service is unavailable: {0}")]
    MediaUnavailable(String),
    #[error("the media service failed: {0}")]
    MediaFailed(String),
    #[error("the identity service is unavailable: {0}")]
    IdentityUnavailable(String),
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Crypto(#[from] hms_crypto::CryptoError),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Events(#[from] hms_events::EventsError),
}

impl From<OrderError> for Status {
    fn from(error: OrderError) -> Self {
        use OrderError::*;
        match error {
            NotFound | WorkerNotFound => Status::not_found(error.to_string()),
            DuplicateWorker => Status::already_exists(error.to_string()),
            WrongCardType { .. } => hms_grpc::status::invalid_field("workers.card_type", &error),
            Review(field, problem) => hms_grpc::status::invalid_field(&field, problem),
            CompanyNotApproved(_)
            | AgreementNotAccepted(_)
            | IdempotencyConflict
            | TooManyWorkers(_)
            | NoWorkers
            | Transition(_)
            | DocumentsMissing(_)
            | NotApprovable(_) => Status::failed_precondition(error.to_string()),
            MediaUnavailable(cause) => hms_grpc::status::unavailable("the media service", cause),
            IdentityUnavailable(cause) => {
                hms_grpc::status::unavailable("the identity service", cause)
            }
            Database(ref cause) => hms_grpc::status::storage(hms_db::is_unavailable(cause), error),
            Events(ref cause) => hms_grpc::status::storage(cause.is_unavailable(), error),
            MediaFailed(_) | Corrupt(_) | Crypto(_) => hms_grpc::status::internal(error),
        }
    }
}
