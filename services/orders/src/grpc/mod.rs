//! The gRPC APIs: [`public::OrderApi`] for clients (through the gateway) and
//! [`internal::OrderInternalApi`] for other services. Requests are parsed
//! into domain values here; handlers stay thin.

pub mod internal;
pub mod public;

use chrono::{NaiveDate, Utc};
use chrono_tz::Europe::Oslo;
use hms_domain::{DocumentId, Fodselsnummer, NationalIdPolicy, PersonName, PhoneNumber, Reason};
use hms_grpc::status::{enum_field, invalid_field};
use hms_proto::orders::v1 as pb;
use hms_proto::time::{timestamp, timestamp_opt};
use hms_proto::{EnumError, ProtoEnum};
use tonic::Status;

use crate::domain::{
    CheckState, ClosureReason, Decision, DocumentRejection, DocumentReview, EmploymentFinding,
    NewWorker, Order, OrderStatus, PersonFinding, RejectionReason, Worker,
};
use crate::error::OrderError;
use crate::storage::SubjectRecord;

/// Parses one worker; `field` is its path in the request (`workers[2]`).
pub fn parse_worker(
    field: &str,
    worker: pb::NewWorker,
    policy: NationalIdPolicy,
) -> Result<NewWorker, Status> {
    let card_type = enum_field(&format!("{field}.card_type"), "card type", worker.card_type)?;
    Ok(NewWorker {
        name: PersonName::parse(&worker.name)
            .map_err(|e| invalid_field(&format!("{field}.name"), e))?,
        national_id: Fodselsnummer::parse(&worker.national_id, policy)
            .map_err(|e| invalid_field(&format!("{field}.national_id"), e))?,
        phone: PhoneNumber::parse(&worker.phone)
            .map_err(|e| invalid_field(&format!("{field}.phone"), e))?,
        card_type,
        employment_ends_on: employment_end(
            &format!("{field}.employment_ends_on"),
            &worker.employment_ends_on,
        )?,
    })
}

/// The last day of an employment: a date to come, or none.
fn employment_end(field: &str, text: &str) -> Result<Option<NaiveDate>, Status> {
    if text.is_empty() {
        return Ok(None);
    }
    let day = NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| invalid_field(field, "is not a date (YYYY-MM-DD)"))?;
    // A card for an employment already over would never count.
    if day < Utc::now().with_timezone(&Oslo).date_naive() {
        return Err(invalid_field(field, "is in the past"));
    }
    Ok(Some(day))
}

hms_proto::proto_enum!(OrderStatus => pb::OrderStatus { Draft, Submitted, NeedsCorrection, Approved, Rejected, Closed });

hms_proto::proto_enum!(PersonFinding => pb::PersonFinding { Resident, Emigrated, Deceased, NotFound });

hms_proto::proto_enum!(EmploymentFinding => pb::EmploymentFinding { Active, None });

fn check_to_proto(check: CheckState) -> pb::RegisterCheck {
    match check {
        CheckState::Pending { waiting_for } => pb::RegisterCheck {
            state: pb::RegisterCheckState::Pending as i32,
            waiting_for: waiting_for.unwrap_or_default(),
            ..Default::default()
        },
        CheckState::Done(check) => pb::RegisterCheck {
            state: pb::RegisterCheckState::Done as i32,
            person: check.person.to_i32(),
            name_matches: check.name_matches,
            employment: check.employment.to_i32(),
            checked_at: Some(timestamp(check.checked_at)),
            waiting_for: String::new(),
        },
    }
}

hms_proto::proto_enum!(ClosureReason => pb::ClosureReason {
    DraftAbandoned,
    CorrectionAbandoned,
    CompanyIneligible,
});

hms_proto::proto_enum!(RejectionReason => pb::DocumentRejectionReason {
    PhotoUnclear,
    NotAPassportPhoto,
    IdDocumentUnreadable,
    IdDocumentExpired,
    SignatureMissing,
    NameMismatch,
    Other,
});

/// Parses the back office's rejections; `field` is their path.
pub fn parse_rejections(
    field: &str,
    rejections: Vec<pb::DocumentRejection>,
) -> Result<Vec<DocumentRejection>, Status> {
    rejections
        .into_iter()
        .enumerate()
        .map(|(index, rejection)| {
            let at = |name: &str| format!("{field}[{index}].{name}");
            let document_id = DocumentId::parse(&rejection.document_id)
                .map_err(|e| invalid_field(&at("document_id"), e))?;
            let reason = enum_field(&at("reason"), "rejection reason", rejection.reason)?;
            let note = match rejection.note.trim() {
                "" => None,
                note => Some(Reason::parse(note).map_err(|e| invalid_field(&at("note"), e))?),
            };
            DocumentRejection::new(document_id, reason, note)
                .map_err(|e| invalid_field(&at("note"), e))
        })
        .collect()
}

fn review_to_proto(review: DocumentReview) -> pb::DocumentReview {
    let (decision, reason, note) = match review.decision {
        Decision::Accepted => (pb::DocumentDecision::Accepted, 0, String::new()),
        Decision::Rejected { reason, note } => (
            pb::DocumentDecision::Rejected,
            reason.to_i32(),
            note.map(|note| note.as_str().to_owned())
                .unwrap_or_default(),
        ),
    };
    pb::DocumentReview {
        document_id: review.document.id.to_string(),
        worker_id: review.document.worker_id.to_string(),
        kind: review.document.kind.to_i32(),
        decision: decision as i32,
        reason,
        note,
        decided_at: Some(timestamp(review.decided_at)),
    }
}

/// A status to filter by: none when left out.
pub fn status_filter(status: i32) -> Result<Option<OrderStatus>, Status> {
    match OrderStatus::from_i32(status) {
        Ok(status) => Ok(Some(status)),
        Err(EnumError::Unspecified) => Ok(None),
        Err(EnumError::Unknown) => Err(invalid_field("status", "is not a known status")),
    }
}

fn worker_to_proto(worker: Worker) -> pb::Worker {
    pb::Worker {
        worker_id: worker.id.to_string(),
        name: worker.name.unwrap_or_default(),
        national_id_masked: worker.national_id_masked.to_string(),
        national_id_kind: worker.national_id_kind.to_i32(),
        phone: worker.phone.unwrap_or_default(),
        card_type: worker.card_type.to_i32(),
        employment_ends_on: worker
            .employment_ends_on
            .map(|day| day.to_string())
            .unwrap_or_default(),
        register_check: worker.check.map(check_to_proto),
    }
}

pub fn order_to_proto(order: Order) -> Result<pb::Order, OrderError> {
    let price = order.price()?;
    Ok(pb::Order {
        order_id: order.id.to_string(),
        company_id: order.company_id.to_string(),
        status: order.status.to_i32(),
        price: Some(pb::Price {
            unit_net_ore: price.unit_net.ore(),
            quantity: price.quantity,
            net_ore: price.net.ore(),
            vat_rate_basis_points: price.vat_rate.basis_points(),
            vat_ore: price.vat.ore(),
            gross_ore: price.gross.ore(),
            currency: "NOK".to_owned(),
        }),
        workers: order.workers.into_iter().map(worker_to_proto).collect(),
        created_at: Some(timestamp(order.created_at)),
        submitted_at: timestamp_opt(order.submitted_at),
        decided_at: timestamp_opt(order.decided_at),
        rejection_reason: order.rejection_reason.unwrap_or_default(),
        national_ids_masked_at: timestamp_opt(order.national_ids_masked_at),
        returned_at: timestamp_opt(order.returned_at),
        closed_because: order.closed_because.map_or(0, ProtoEnum::to_i32),
        reviews: order.reviews.into_iter().map(review_to_proto).collect(),
    })
}

/// A person's record as a worker, as they see it.
pub fn record_to_proto(record: SubjectRecord) -> Result<pb::MyRecord, OrderError> {
    let corrupt = |what: &str| OrderError::Corrupt(format!("{what} of order {}", record.order_id));
    let status = OrderStatus::parse(&record.status).ok_or_else(|| corrupt("status"))?;
    let closed_because = match record.closed_because.as_deref() {
        None => 0,
        Some(reason) => ClosureReason::parse(reason)
            .ok_or_else(|| corrupt("closure reason"))?
            .to_i32(),
    };
    let card_type = hms_domain::CardType::parse(&record.card_type)
        .map_err(|_| corrupt("card type"))?
        .to_i32();
    Ok(pb::MyRecord {
        order_id: record.order_id.to_string(),
        worker_id: record.worker_id.to_string(),
        company_id: record.company_id.to_string(),
        company_name: record.company_name.unwrap_or_default(),
        company_org_number: record.company_org_number.unwrap_or_default(),
        order_status: status.to_i32(),
        closed_because,
        card_type,
        ordered_at: Some(timestamp(record.ordered_at)),
        decided_at: record.decided_at.map(timestamp),
        name: record.name.unwrap_or_default(),
        phone_held: record.phone_held,
        national_id_masked: record.national_id_masked,
        national_id_held: record.national_id_held,
        national_id_masked_at: record.masked_at.map(timestamp),
        register_findings_held: record.register_findings_held,
    })
}
