//! What an order is, how it moves from draft to decision, and what it costs.

use chrono::{DateTime, NaiveDate, Utc};
use hms_crypto::FingerprintKey;
use hms_domain::{
    CardType, CompanyId, DocumentId, DocumentKind, Fodselsnummer, MaskedNationalId, NationalIdKind,
    OrderId, PersonName, PhoneNumber, Price, PriceList, Reason, WorkerId,
};

use hms_proto::events::v1 as events;
use hms_proto::time::timestamp;

use crate::error::OrderError;

/// The most workers one order may hold.
pub const MAX_WORKERS_PER_ORDER: usize = 200;

/// Where an order is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderStatus {
    Draft,
    Submitted,
    /// Sent back to the company to replace rejected documents.
    NeedsCorrection,
    Approved,
    Rejected,
    /// Closed without a decision, having waited too long.
    Closed,
}

impl OrderStatus {
    pub const ALL: [Self; 6] = [
        Self::Draft,
        Self::Submitted,
        Self::NeedsCorrection,
        Self::Approved,
        Self::Rejected,
        Self::Closed,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Submitted => "submitted",
            Self::NeedsCorrection => "needs_correction",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
            Self::Closed => "closed",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == value)
    }

    /// Whether the order's life is over (approved, rejected, or closed
    /// without a decision), so its personal data is due for redaction.
    pub const fn is_finished(self) -> bool {
        matches!(self, Self::Approved | Self::Rejected | Self::Closed)
    }

    /// Whether the company may add workers and upload documents: while it
    /// fills the order in, and while it corrects it.
    pub const fn is_open(self) -> bool {
        matches!(self, Self::Draft | Self::NeedsCorrection)
    }

    /// Whether a worker may still be taken off: until the decision.
    pub const fn removes_workers(self) -> bool {
        !self.is_finished()
    }
}

/// Why an order was closed without a decision: it waited longer than its
/// data may be kept for the purpose it was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClosureReason {
    /// A draft never submitted.
    DraftAbandoned,
    /// Returned for correction and never submitted again.
    CorrectionAbandoned,
    /// Its company was rejected or suspended, and stayed so.
    CompanyIneligible,
}

impl ClosureReason {
    pub const ALL: [Self; 3] = [
        Self::DraftAbandoned,
        Self::CorrectionAbandoned,
        Self::CompanyIneligible,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::DraftAbandoned => "draft_abandoned",
            Self::CorrectionAbandoned => "correction_abandoned",
            Self::CompanyIneligible => "company_ineligible",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|reason| reason.as_str() == value)
    }
}

/// A step in an order's life.
#[derive(Debug, Clone)]
pub enum Transition {
    /// The company submits, first or again after a correction.
    Submit,
    /// The back office sends it back with documents to replace.
    ReturnForCorrection,
    Approve,
    /// The back office's final no.
    Reject(Reason),
    /// Retention: the order waited too long for the company or for its
    /// company's standing.
    Close(ClosureReason),
}

impl Transition {
    /// The status an order in `from` moves to, or `None` if it is already
    /// there (a retried call changes nothing). The one place that says
    /// which steps an order may take.
    pub fn next_status(&self, from: OrderStatus) -> Result<Option<OrderStatus>, OrderError> {
        use OrderStatus::*;
        let refused = |why| Err(OrderError::Transition(why));
        match (self, from) {
            (Self::Submit, Submitted)
            | (Self::ReturnForCorrection, NeedsCorrection)
            | (Self::Approve, Approved)
            | (Self::Reject(_), Rejected)
            | (Self::Close(_), Closed) => Ok(None),
            (Self::Submit, Draft | NeedsCorrection) => Ok(Some(Submitted)),
            (Self::ReturnForCorrection, Submitted) => Ok(Some(NeedsCorrection)),
            (Self::Approve, Submitted) => Ok(Some(Approved)),
            (Self::Reject(_), Submitted | NeedsCorrection) => Ok(Some(Rejected)),
            (Self::Close(_), Draft | Submitted | NeedsCorrection) => Ok(Some(Closed)),
            (_, Approved) => refused("the order was approved"),
            (_, Rejected) => refused("the order was rejected"),
            (_, Closed) => refused("the order was closed without a decision"),
            (Self::ReturnForCorrection | Self::Approve | Self::Reject(_), Draft) => {
                refused("the order has not been submitted")
            }
            (Self::Approve, NeedsCorrection) => {
                refused("the order waits for the company's corrections")
            }
        }
    }
}

/// Why the back office rejects a document: a fixed list the company's
/// screens can explain, plus a note where none fits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectionReason {
    PhotoUnclear,
    NotAPassportPhoto,
    IdDocumentUnreadable,
    IdDocumentExpired,
    SignatureMissing,
    NameMismatch,
    /// Said in the note.
    Other,
}

impl RejectionReason {
    pub const ALL: [Self; 7] = [
        Self::PhotoUnclear,
        Self::NotAPassportPhoto,
        Self::IdDocumentUnreadable,
        Self::IdDocumentExpired,
        Self::SignatureMissing,
        Self::NameMismatch,
        Self::Other,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::PhotoUnclear => "photo_unclear",
            Self::NotAPassportPhoto => "not_a_passport_photo",
            Self::IdDocumentUnreadable => "id_document_unreadable",
            Self::IdDocumentExpired => "id_document_expired",
            Self::SignatureMissing => "signature_missing",
            Self::NameMismatch => "name_mismatch",
            Self::Other => "other",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|reason| reason.as_str() == value)
    }
}

/// The back office's decision on one document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Accepted,
    Rejected {
        reason: RejectionReason,
        /// Shown to the company; may name the person, so it is erased with
        /// the order's personal data and never leaves in an event.
        note: Option<Reason>,
    },
}

/// A document the back office asks to be replaced, as it sends it.
#[derive(Debug, Clone)]
pub struct DocumentRejection {
    pub document_id: DocumentId,
    pub reason: RejectionReason,
    pub note: Option<Reason>,
}

/// Why a rejection cannot be taken as sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RejectionError {
    #[error("a note is required when the reason is `other`")]
    NoteRequired,
}

impl DocumentRejection {
    pub fn new(
        document_id: DocumentId,
        reason: RejectionReason,
        note: Option<Reason>,
    ) -> Result<Self, RejectionError> {
        if reason == RejectionReason::Other && note.is_none() {
            return Err(RejectionError::NoteRequired);
        }
        Ok(Self {
            document_id,
            reason,
            note,
        })
    }
}

/// A document of an order as media holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredDocument {
    pub id: DocumentId,
    pub worker_id: WorkerId,
    pub kind: DocumentKind,
}

/// A document's review as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentReview {
    pub document: StoredDocument,
    pub decision: Decision,
    pub decided_at: DateTime<Utc>,
}

/// Why a return for correction cannot be made as asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ReviewError {
    #[error("name at least one document to reject")]
    NothingRejected,
    /// The rejection at this position names no document of the order.
    #[error("is not a document of this order")]
    UnknownDocument(usize),
    /// The rejection at this position names a document named before.
    #[error("names a document already rejected in this request")]
    SameDocumentTwice(usize),
}

/// The decision on each of the order's documents when it is returned:
/// those named are rejected, every other one is accepted.
pub fn review(
    documents: &[StoredDocument],
    rejections: Vec<DocumentRejection>,
) -> Result<Vec<(StoredDocument, Decision)>, ReviewError> {
    if rejections.is_empty() {
        return Err(ReviewError::NothingRejected);
    }
    let mut rejected: std::collections::HashMap<DocumentId, Decision> =
        std::collections::HashMap::new();
    for (index, rejection) in rejections.into_iter().enumerate() {
        if !documents.iter().any(|doc| doc.id == rejection.document_id) {
            return Err(ReviewError::UnknownDocument(index));
        }
        let decision = Decision::Rejected {
            reason: rejection.reason,
            note: rejection.note,
        };
        if rejected.insert(rejection.document_id, decision).is_some() {
            return Err(ReviewError::SameDocumentTwice(index));
        }
    }
    Ok(documents
        .iter()
        .map(|doc| {
            let decision = rejected.remove(&doc.id).unwrap_or(Decision::Accepted);
            (*doc, decision)
        })
        .collect())
}

/// What a client names a create request by, so that a retry finds the order
/// the first attempt made. The client chooses it, so it may hold anything,
/// a national identity number included: it is never stored, only its keyed
/// [`digest`](Self::digest), and that is erased with the order's personal
/// data.
#[derive(Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

/// Never shows the key: it may hold personal data.
impl std::fmt::Debug for IdempotencyKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IdempotencyKey(..)")
    }
}

/// Why an idempotency key is refused. Never quotes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IdempotencyKeyError {
    #[error("is required")]
    Empty,
    #[error("must not contain control characters")]
    ControlCharacters,
    #[error("must be at most {} characters", IdempotencyKey::MAX_CHARS)]
    TooLong,
}

impl IdempotencyKey {
    pub const MAX_CHARS: usize = 200;

    pub fn parse(input: &str) -> Result<Self, IdempotencyKeyError> {
        let key = input.trim();
        if key.is_empty() {
            Err(IdempotencyKeyError::Empty)
        } else if key.chars().any(char::is_control) {
            Err(IdempotencyKeyError::ControlCharacters)
        } else if key.chars().count() > Self::MAX_CHARS {
            Err(IdempotencyKeyError::TooLong)
        } else {
            Ok(Self(key.to_owned()))
        }
    }

    /// What is stored in place of the key: keyed, because a key could be a
    /// national identity number, which a plain hash would not hide.
    pub fn digest(&self, key: &FingerprintKey) -> Vec<u8> {
        key.fingerprint([b"idempotency-key".as_slice(), self.0.as_bytes()])
    }
}

/// A worker as a client sends it, every field valid.
#[derive(Debug, Clone)]
pub struct NewWorker {
    pub name: PersonName,
    pub national_id: Fodselsnummer,
    pub phone: PhoneNumber,
    pub card_type: CardType,
    /// The last day of the employment, when the company knows it.
    pub employment_ends_on: Option<NaiveDate>,
}

/// A new order as a client sends it: at most
/// [`MAX_WORKERS_PER_ORDER`] workers, each person once.
#[derive(Debug, Clone)]
pub struct NewOrder {
    pub company_id: CompanyId,
    pub idempotency_key: IdempotencyKey,
    pub workers: Vec<NewWorker>,
}

/// Why a new order cannot be made as sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NewOrderError {
    #[error("an order holds at most {MAX_WORKERS_PER_ORDER} workers")]
    TooManyWorkers,
    /// The worker at this position is someone who is on the order already.
    #[error("the same person is already on the order")]
    SamePersonTwice(usize),
}

impl NewOrder {
    pub fn new(
        company_id: CompanyId,
        idempotency_key: IdempotencyKey,
        workers: Vec<NewWorker>,
    ) -> Result<Self, NewOrderError> {
        if workers.len() > MAX_WORKERS_PER_ORDER {
            return Err(NewOrderError::TooManyWorkers);
        }
        let mut seen = std::collections::HashSet::new();
        if let Some(index) = workers
            .iter()
            .position(|worker| !seen.insert(worker.national_id.clone()))
        {
            return Err(NewOrderError::SamePersonTwice(index));
        }
        Ok(Self {
            company_id,
            idempotency_key,
            workers,
        })
    }

    /// A keyed fingerprint of the normalised request, to recognise a retry.
    /// Keyed, because it is derived from the national identity numbers.
    pub fn fingerprint(&self, key: &FingerprintKey) -> Vec<u8> {
        let company = self.company_id.as_uuid();
        let exposed: Vec<String> = self
            .workers
            .iter()
            .map(|w| w.national_id.expose())
            .collect();
        let ends: Vec<String> = self
            .workers
            .iter()
            .map(|w| {
                w.employment_ends_on
                    .map(|day| day.to_string())
                    .unwrap_or_default()
            })
            .collect();
        let mut fields: Vec<&[u8]> = vec![company.as_bytes(), self.idempotency_key.0.as_bytes()];
        for ((worker, national_id), ends) in self.workers.iter().zip(&exposed).zip(&ends) {
            fields.extend([
                worker.name.as_str().as_bytes(),
                national_id.as_bytes(),
                worker.phone.as_str().as_bytes(),
                worker.card_type.as_str().as_bytes(),
                ends.as_bytes(),
            ]);
        }
        key.fingerprint(fields)
    }
}

/// What Folkeregisteret says of a worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PersonFinding {
    Resident,
    /// Registered as having moved abroad: flagged, the back office decides.
    Emigrated,
    Deceased,
    /// No such person: the number is wrong, or not theirs.
    NotFound,
}

impl PersonFinding {
    pub const ALL: [Self; 4] = [
        Self::Resident,
        Self::Emigrated,
        Self::Deceased,
        Self::NotFound,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Resident => "resident",
            Self::Emigrated => "emigrated",
            Self::Deceased => "deceased",
            Self::NotFound => "not_found",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|finding| finding.as_str() == value)
    }
}

/// What Aa-registeret says of the worker's employment with the company.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmploymentFinding {
    Active,
    /// No employment with the company today.
    None,
}

impl EmploymentFinding {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::None => "none",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [Self::Active, Self::None]
            .into_iter()
            .find(|finding| finding.as_str() == value)
    }
}

/// The registers' answer on one worker: what the back office sees instead
/// of the number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegisterCheck {
    pub person: PersonFinding,
    /// The name on the order is the registered one.
    pub name_matches: bool,
    pub employment: EmploymentFinding,
    pub checked_at: DateTime<Utc>,
}

impl RegisterCheck {
    /// Why no card may be approved on this check, if one may not. A name
    /// spelt otherwise and an emigrated person are shown, not refused: the
    /// back office judges them against the ID copy.
    pub const fn refusal(&self) -> Option<&'static str> {
        match (self.person, self.employment) {
            (PersonFinding::NotFound, _) => Some("is not in Folkeregisteret"),
            (PersonFinding::Deceased, _) => Some("is registered as deceased"),
            (_, EmploymentFinding::None) => {
                Some("has no active employment with the company in Aa-registeret")
            }
            _ => None,
        }
    }
}

/// Where a worker's register check stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckState {
    /// Asked, or to be asked again; `waiting_for` says what held it up
    /// (a register that did not answer), never personal data.
    Pending {
        waiting_for: Option<String>,
    },
    Done(RegisterCheck),
}

/// Why an order cannot be approved on its workers' register checks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotApprovable {
    #[error("worker {position}: the register check is not finished{}", waiting_for.as_ref().map(|what| format!(" (waiting for {what})")).unwrap_or_default())]
    Pending {
        position: i32,
        waiting_for: Option<String>,
    },
    #[error(
        "the register checks are older than allowed; they are being done again, try again shortly"
    )]
    Stale,
    #[error("worker {position} {reason}")]
    Refused { position: i32, reason: &'static str },
}

/// Whether the registers allow approving cards for these workers now:
/// every check done, none older than `max_age`, none refusing.
pub fn register_verdict(
    workers: &[Worker],
    now: DateTime<Utc>,
    max_age: std::time::Duration,
) -> Result<(), NotApprovable> {
    let oldest_allowed = now - chrono::Duration::from_std(max_age).unwrap_or(chrono::Duration::MAX);
    let mut stale = false;
    for worker in workers {
        match &worker.check {
            None => {
                return Err(NotApprovable::Pending {
                    position: worker.position,
                    waiting_for: None,
                });
            }
            Some(CheckState::Pending { waiting_for }) => {
                return Err(NotApprovable::Pending {
                    position: worker.position,
                    waiting_for: waiting_for.clone(),
                });
            }
            Some(CheckState::Done(check)) => {
                if let Some(reason) = check.refusal() {
                    return Err(NotApprovable::Refused {
                        position: worker.position,
                        reason,
                    });
                }
                stale |= check.checked_at < oldest_allowed;
            }
        }
    }
    if stale {
        return Err(NotApprovable::Stale);
    }
    Ok(())
}

/// Whether a name on an order is the registered one: the same words, in
/// any case and spacing, or the same first and last name (a middle name
/// left out).
pub fn names_match(on_order: &str, registered: &str) -> bool {
    let words = |name: &str| -> Vec<String> {
        name.split(|c: char| c.is_whitespace() || c == '-')
            .filter(|word| !word.is_empty())
            .map(str::to_uppercase)
            .collect()
    };
    let (ours, theirs) = (words(on_order), words(registered));
    if ours.is_empty() || theirs.is_empty() {
        return false;
    }
    ours == theirs || (ours.first() == theirs.first() && ours.last() == theirs.last())
}

/// A stored worker. Only the masked number is ever read back.
#[derive(Debug, Clone)]
pub struct Worker {
    pub id: WorkerId,
    pub position: i32,
    /// Erased with the order's personal data, unless its cards need it.
    pub name: Option<String>,
    pub national_id_masked: MaskedNationalId,
    pub national_id_kind: NationalIdKind,
    /// Erased with the order's personal data.
    pub phone: Option<String>,
    /// The registers' answer, once the order was submitted.
    pub check: Option<CheckState>,
    pub card_type: CardType,
    pub employment_ends_on: Option<NaiveDate>,
}

/// A stored order with its workers.
#[derive(Debug, Clone)]
pub struct Order {
    pub id: OrderId,
    pub company_id: CompanyId,
    pub status: OrderStatus,
    pub workers: Vec<Worker>,
    pub price_list: PriceList,
    pub created_at: DateTime<Utc>,
    pub submitted_at: Option<DateTime<Utc>>,
    /// The user who submitted it.
    pub submitted_by: Option<uuid::Uuid>,
    pub decided_at: Option<DateTime<Utc>>,
    pub rejection_reason: Option<String>,
    pub national_ids_masked_at: Option<DateTime<Utc>>,
    /// When it was last sent back for correction.
    pub returned_at: Option<DateTime<Utc>>,
    /// Why it was closed, if it was.
    pub closed_because: Option<ClosureReason>,
    /// The latest decision on each document reviewed.
    pub reviews: Vec<DocumentReview>,
}

impl Order {
    /// The documents the back office rejected: the company replaces them
    /// before it submits again.
    pub fn rejected_documents(&self) -> impl Iterator<Item = DocumentId> + '_ {
        self.reviews
            .iter()
            .filter(|review| matches!(review.decision, Decision::Rejected { .. }))
            .map(|review| review.document.id)
    }

    pub fn price(&self) -> Result<Price, OrderError> {
        let quantity = u32::try_from(self.workers.len()).unwrap_or(u32::MAX);
        self.price_list
            .price(quantity)
            .map_err(|error| OrderError::Corrupt(format!("price of order {}: {error}", self.id)))
    }

    /// The event announcing that the order reached its status; a draft
    /// announces nothing, and a return for correction is announced with
    /// its rejections ([`returned_event`](Self::returned_event)).
    pub fn status_event(&self) -> Result<Option<StatusEvent>, OrderError> {
        let order_id = self.id.to_string();
        let company_id = self.company_id.to_string();
        let worker_count = u32::try_from(self.workers.len()).unwrap_or(u32::MAX);
        Ok(Some(match self.status {
            OrderStatus::Draft | OrderStatus::NeedsCorrection => return Ok(None),
            OrderStatus::Submitted => {
                let price = self.price()?;
                StatusEvent::Submitted(events::OrderSubmitted {
                    order_id,
                    company_id,
                    worker_count,
                    occurred_at: self.submitted_at.map(timestamp),
                    submitted_by_user_id: self
                        .submitted_by
                        .map(|id| id.to_string())
                        .unwrap_or_default(),
                    net_ore: price.net.ore(),
                    vat_ore: price.vat.ore(),
                    gross_ore: price.gross.ore(),
                })
            }
            OrderStatus::Approved => StatusEvent::Approved(events::OrderApproved {
                order_id,
                company_id,
                worker_count,
                occurred_at: self.decided_at.map(timestamp),
            }),
            OrderStatus::Rejected => StatusEvent::Rejected(events::OrderRejected {
                order_id,
                company_id,
                reason: self.rejection_reason.clone().unwrap_or_default(),
                occurred_at: self.decided_at.map(timestamp),
            }),
            OrderStatus::Closed => StatusEvent::Closed(events::OrderClosed {
                order_id,
                company_id,
                reason: self
                    .closed_because
                    .map(ClosureReason::as_str)
                    .unwrap_or_default()
                    .to_owned(),
                occurred_at: self.decided_at.map(timestamp),
            }),
        }))
    }
}

impl Order {
    /// Announces the order's return, naming what is to be destroyed: the
    /// documents rejected now.
    pub fn returned_event(
        &self,
        rejected_now: &[StoredDocument],
    ) -> events::OrderReturnedForCorrection {
        events::OrderReturnedForCorrection {
            order_id: self.id.to_string(),
            company_id: self.company_id.to_string(),
            rejected: rejected_now
                .iter()
                .map(|doc| {
                    let reason = self
                        .reviews
                        .iter()
                        .find(|review| review.document.id == doc.id)
                        .and_then(|review| match review.decision {
                            Decision::Rejected { reason, .. } => Some(reason.as_str()),
                            Decision::Accepted => None,
                        })
                        .unwrap_or_default();
                    events::RejectedDocument {
                        document_id: doc.id.to_string(),
                        worker_id: doc.worker_id.to_string(),
                        kind: doc.kind.as_str().to_owned(),
                        reason: reason.to_owned(),
                    }
                })
                .collect(),
            occurred_at: self.returned_at.map(timestamp),
        }
    }
}

/// What an order's change of status publishes.
#[derive(Debug, Clone, PartialEq)]
pub enum StatusEvent {
    Submitted(events::OrderSubmitted),
    Approved(events::OrderApproved),
    Rejected(events::OrderRejected),
    Closed(events::OrderClosed),
}

/// The documents a worker still lacks before the order can be submitted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingDocuments {
    pub position: i32,
    pub worker_id: WorkerId,
    pub kinds: Vec<DocumentKind>,
}

/// Which workers lack which documents, given what media holds.
pub fn missing_documents(
    workers: &[Worker],
    stored: &[(WorkerId, DocumentKind)],
) -> Vec<MissingDocuments> {
    workers
        .iter()
        .filter_map(|worker| {
            let kinds: Vec<DocumentKind> = DocumentKind::ALL
                .iter()
                .copied()
                .filter(|kind| !stored.contains(&(worker.id, *kind)))
                .collect();
            (!kinds.is_empty()).then_some(MissingDocuments {
                position: worker.position,
                worker_id: worker.id,
                kinds,
            })
        })
        .collect()
}

/// A sentence naming who lacks what, without personal data.
pub fn describe_missing(missing: &[MissingDocuments]) -> String {
    let parts: Vec<String> = missing
        .iter()
        .map(|worker| {
            let kinds: Vec<&str> = worker.kinds.iter().map(|kind| kind.label()).collect();
            format!(
                "worker {} ({}) lacks {}",
                worker.position,
                worker.worker_id,
                kinds.join(", ")
            )
        })
        .collect();
    format!("documents are missing: {}", parts.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use OrderStatus::*;

    fn worker(position: i32) -> Worker {
        Worker {
            id: WorkerId::new(),
            position,
            name: Some("Kari Nordmann".to_owned()),
            national_id_masked: MaskedNationalId::parse("010190*****").expect("masked"),
            national_id_kind: NationalIdKind::Fodselsnummer,
            phone: Some("+4791234567".to_owned()),
            check: None,
            card_type: CardType::Construction,
            employment_ends_on: None,
        }
    }

    #[test]
    fn every_step_from_every_status_is_decided_here() {
        let reject = || Transition::Reject(Reason::parse("fraud").expect("valid"));
        let submit = || Transition::Submit;
        let back = || Transition::ReturnForCorrection;
        let approve = || Transition::Approve;
        let close = || Transition::Close(ClosureReason::DraftAbandoned);
        // `Ok(Some(to))` moves, `Ok(None)` is a retry that changes nothing,
        // `Err(())` is refused.
        let table: [(Transition, OrderStatus, Result<Option<OrderStatus>, ()>); 30] = [
            (submit(), Draft, Ok(Some(Submitted))),
            (submit(), Submitted, Ok(None)),
            (submit(), NeedsCorrection, Ok(Some(Submitted))),
            (submit(), Approved, Err(())),
            (submit(), Rejected, Err(())),
            (submit(), Closed, Err(())),
            (back(), Draft, Err(())),
            (back(), Submitted, Ok(Some(NeedsCorrection))),
            (back(), NeedsCorrection, Ok(None)),
            (back(), Approved, Err(())),
            (back(), Rejected, Err(())),
            (back(), Closed, Err(())),
            (approve(), Draft, Err(())),
            (approve(), Submitted, Ok(Some(Approved))),
            (approve(), NeedsCorrection, Err(())),
            (approve(), Approved, Ok(None)),
            (approve(), Rejected, Err(())),
            (approve(), Closed, Err(())),
            (reject(), Draft, Err(())),
            (reject(), Submitted, Ok(Some(Rejected))),
            (reject(), NeedsCorrection, Ok(Some(Rejected))),
            (reject(), Approved, Err(())),
            (reject(), Rejected, Ok(None)),
            (reject(), Closed, Err(())),
            (close(), Draft, Ok(Some(Closed))),
            (close(), Submitted, Ok(Some(Closed))),
            (close(), NeedsCorrection, Ok(Some(Closed))),
            (close(), Approved, Err(())),
            (close(), Rejected, Err(())),
            (close(), Closed, Ok(None)),
        ];
        let covered: std::collections::HashSet<_> = table
            .iter()
            .map(|(step, from, _)| (std::mem::discriminant(step), *from as u8))
            .collect();
        assert_eq!(
            covered.len(),
            5 * OrderStatus::ALL.len(),
            "every kind of step from every status, once"
        );
        for (transition, from, expected) in table {
            assert_eq!(
                transition.next_status(from).map_err(drop),
                expected,
                "{transition:?} from {from:?}"
            );
        }
    }

    #[test]
    fn only_open_orders_take_workers_and_documents_and_none_decided_loses_one() {
        let open: Vec<OrderStatus> = OrderStatus::ALL
            .into_iter()
            .filter(|status| status.is_open())
            .collect();
        assert_eq!(open, vec![Draft, NeedsCorrection]);
        let removable: Vec<OrderStatus> = OrderStatus::ALL
            .into_iter()
            .filter(|status| status.removes_workers())
            .collect();
        assert_eq!(removable, vec![Draft, Submitted, NeedsCorrection]);
        assert!(!Closed.is_open() && !Closed.removes_workers());
        for status in OrderStatus::ALL {
            assert_eq!(OrderStatus::parse(status.as_str()), Some(status));
        }
        let finished: Vec<OrderStatus> = OrderStatus::ALL
            .into_iter()
            .filter(|status| status.is_finished())
            .collect();
        assert_eq!(finished, vec![Approved, Rejected, Closed]);
        for reason in ClosureReason::ALL {
            assert_eq!(ClosureReason::parse(reason.as_str()), Some(reason));
        }
    }

    fn document(worker_id: WorkerId, kind: DocumentKind) -> StoredDocument {
        StoredDocument {
            id: DocumentId::new(),
            worker_id,
            kind,
        }
    }

    #[test]
    fn a_review_rejects_what_is_named_and_accepts_the_rest() {
        let worker = WorkerId::new();
        let photo = document(worker, DocumentKind::PassportPhoto);
        let id_copy = document(worker, DocumentKind::IdDocument);
        let documents = [photo, id_copy];
        let rejection = |doc: &StoredDocument, reason| {
            DocumentRejection::new(doc.id, reason, None).expect("a rejection")
        };
        let decided = review(
            &documents,
            vec![rejection(&photo, RejectionReason::PhotoUnclear)],
        )
        .expect("a review");
        assert_eq!(
            decided,
            vec![
                (
                    photo,
                    Decision::Rejected {
                        reason: RejectionReason::PhotoUnclear,
                        note: None
                    }
                ),
                (id_copy, Decision::Accepted),
            ]
        );
        assert_eq!(
            review(&documents, vec![]),
            Err(ReviewError::NothingRejected)
        );
        let stranger = document(worker, DocumentKind::Signature);
        assert_eq!(
            review(
                &documents,
                vec![
                    rejection(&photo, RejectionReason::PhotoUnclear),
                    rejection(&stranger, RejectionReason::SignatureMissing),
                ]
            ),
            Err(ReviewError::UnknownDocument(1))
        );
        assert_eq!(
            review(
                &documents,
                vec![
                    rejection(&photo, RejectionReason::PhotoUnclear),
                    rejection(&photo, RejectionReason::NotAPassportPhoto),
                ]
            ),
            Err(ReviewError::SameDocumentTwice(1))
        );
        assert_eq!(
            DocumentRejection::new(photo.id, RejectionReason::Other, None).err(),
            Some(RejectionError::NoteRequired)
        );
        for reason in RejectionReason::ALL {
            assert_eq!(RejectionReason::parse(reason.as_str()), Some(reason));
        }
    }

    #[test]
    fn names_match_as_people_write_them() {
        assert!(names_match("Kari Nordmann", "KARI NORDMANN"));
        assert!(names_match("kari  nordmann", "KARI NORDMANN"));
        assert!(names_match("Kari Nordmann", "KARI MARIE NORDMANN"));
        assert!(names_match(
            "Kari Marie Nordmann-Hansen",
            "KARI MARIE NORDMANN HANSEN"
        ));
        assert!(!names_match("Kari Hansen", "KARI NORDMANN"));
        assert!(!names_match("Ola Nordmann", "KARI NORDMANN"));
        assert!(!names_match("", "KARI NORDMANN"));
    }

    #[test]
    fn only_a_missing_person_a_death_or_no_employment_stop_an_approval() {
        let check = |person, name_matches, employment| RegisterCheck {
            person,
            name_matches,
            employment,
            checked_at: Utc::now(),
        };
        use EmploymentFinding as Job;
        use PersonFinding as Person;
        assert_eq!(check(Person::Resident, true, Job::Active).refusal(), None);
        assert_eq!(check(Person::Resident, false, Job::Active).refusal(), None);
        assert_eq!(check(Person::Emigrated, true, Job::Active).refusal(), None);
        for stopped in [
            check(Person::NotFound, true, Job::Active),
            check(Person::Deceased, true, Job::Active),
            check(Person::Resident, true, Job::None),
        ] {
            assert!(stopped.refusal().is_some(), "{stopped:?}");
        }
        for finding in PersonFinding::ALL {
            assert_eq!(PersonFinding::parse(finding.as_str()), Some(finding));
        }
    }

    #[test]
    fn an_order_is_approved_on_fresh_finished_checks_that_refuse_nothing() {
        let now = Utc::now();
        let day = std::time::Duration::from_secs(86_400);
        let done = |employment, age_hours: i64| {
            Some(CheckState::Done(RegisterCheck {
                person: PersonFinding::Resident,
                name_matches: true,
                employment,
                checked_at: now - chrono::Duration::hours(age_hours),
            }))
        };
        let with = |check: Option<CheckState>| Worker { check, ..worker(1) };
        assert_eq!(
            register_verdict(&[with(done(EmploymentFinding::Active, 1))], now, day),
            Ok(())
        );
        assert!(matches!(
            register_verdict(&[with(None)], now, day),
            Err(NotApprovable::Pending { position: 1, .. })
        ));
        let waiting = with(Some(CheckState::Pending {
            waiting_for: Some("Folkeregisteret could not be reached".to_owned()),
        }));
        let refusal = register_verdict(&[waiting], now, day).expect_err("pending");
        assert!(refusal.to_string().contains("Folkeregisteret"), "{refusal}");
        assert!(matches!(
            register_verdict(&[with(done(EmploymentFinding::None, 1))], now, day),
            Err(NotApprovable::Refused { position: 1, .. })
        ));
        assert_eq!(
            register_verdict(&[with(done(EmploymentFinding::Active, 25))], now, day),
            Err(NotApprovable::Stale)
        );
    }

    #[test]
    fn missing_documents_are_named_per_worker() {
        let (first, second) = (worker(1), worker(2));
        let stored = vec![
            (first.id, DocumentKind::PassportPhoto),
            (first.id, DocumentKind::IdDocument),
            (first.id, DocumentKind::Signature),
            (second.id, DocumentKind::IdDocument),
        ];
        let missing = missing_documents(&[first, second.clone()], &stored);
        assert_eq!(
            missing,
            vec![MissingDocuments {
                position: 2,
                worker_id: second.id,
                kinds: vec![DocumentKind::PassportPhoto, DocumentKind::Signature],
            }]
        );
        let sentence = describe_missing(&missing);
        assert!(
            sentence.contains("worker 2") && sentence.contains("passport photo, signature"),
            "{sentence}"
        );
        assert!(!sentence.contains("Kari"), "{sentence}");
    }

    #[test]
    fn the_price_follows_the_number_of_workers() {
        let order = Order {
            id: OrderId::new(),
            company_id: CompanyId::new(),
            status: Draft,
            workers: vec![worker(1), worker(2)],
            price_list: PriceList::STANDARD,
            created_at: Utc::now(),
            submitted_at: None,
            submitted_by: None,
            decided_at: None,
            rejection_reason: None,
            national_ids_masked_at: None,
            returned_at: None,
            closed_because: None,
            reviews: Vec::new(),
        };
        assert_eq!(order.price().expect("price").gross.ore(), 33_225);
    }

    #[test]
    fn each_status_after_draft_announces_itself_with_its_own_time() {
        let decided = Utc::now();
        let mut order = Order {
            id: OrderId::new(),
            company_id: CompanyId::new(),
            status: Draft,
            workers: vec![worker(1), worker(2)],
            price_list: PriceList::STANDARD,
            created_at: decided,
            submitted_at: Some(decided - chrono::Duration::hours(1)),
            submitted_by: Some(uuid::Uuid::now_v7()),
            decided_at: Some(decided),
            rejection_reason: Some("blurred photo".to_owned()),
            national_ids_masked_at: None,
            returned_at: None,
            closed_because: None,
            reviews: Vec::new(),
        };
        let announced = || order.status_event().expect("a price");
        assert_eq!(announced(), None);
        order.status = Submitted;
        let Some(StatusEvent::Submitted(submitted)) = order.status_event().expect("a price") else {
            panic!("a submission");
        };
        assert_eq!(submitted.worker_count, 2);
        assert_eq!(submitted.gross_ore, 33_225, "2 cards with VAT");
        assert_eq!(
            submitted.submitted_by_user_id,
            order
                .submitted_by
                .map(|id| id.to_string())
                .unwrap_or_default()
        );
        assert_eq!(submitted.occurred_at, order.submitted_at.map(timestamp));
        order.status = Approved;
        let Some(StatusEvent::Approved(approved)) = order.status_event().expect("a price") else {
            panic!("an approval");
        };
        assert_eq!(approved.occurred_at, Some(timestamp(decided)));
        order.status = Rejected;
        let Some(StatusEvent::Rejected(rejected)) = order.status_event().expect("a price") else {
            panic!("a rejection");
        };
        assert_eq!(rejected.reason, "blurred photo");
        assert_eq!(rejected.order_id, order.id.to_string());
    }

    #[test]
    fn a_new_order_names_each_person_once() {
        let policy = hms_domain::NationalIdPolicy {
            allow_synthetic: true,
        };
        let person = |number: &str| NewWorker {
            name: PersonName::parse("Kari Nordmann").expect("a name"),
            national_id: Fodselsnummer::parse(number, policy).expect("a number"),
            phone: PhoneNumber::parse("+4791234567").expect("a phone"),
            card_type: CardType::Construction,
            employment_ends_on: None,
        };
        let key = || IdempotencyKey::parse("order-1").expect("a key");
        // Synthetic numbers of the BankID simulator's test persons.
        let (kari, ola) = ("14838510117", "02917820204");
        let twice = NewOrder::new(
            CompanyId::new(),
            key(),
            vec![person(kari), person(ola), person(kari)],
        );
        assert_eq!(twice.err(), Some(NewOrderError::SamePersonTwice(2)));
        let many = (0..=MAX_WORKERS_PER_ORDER).map(|_| person(kari)).collect();
        assert_eq!(
            NewOrder::new(CompanyId::new(), key(), many).err(),
            Some(NewOrderError::TooManyWorkers)
        );
        let order = NewOrder::new(CompanyId::new(), key(), vec![person(kari), person(ola)]);
        assert_eq!(order.map(|order| order.workers.len()).ok(), Some(2));
    }
}
