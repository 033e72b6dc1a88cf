//! The gRPC APIs: [`public::OrderApi`] for clients (through the gateway) and
//! [`internal::OrderInternalApi`] for other services. Requests are parsed
//! into domain values here; handlers stay thin.

pub mod internal;
pub mod public;

use hms_domain::{
    CardType, DocumentKind, Fodselsnummer, NationalIdKind, NationalIdPolicy, PersonName,
    PhoneNumber,
};
use hms_grpc::status::{invalid_field, missing_field};
use hms_proto::orders::v1 as pb;
use hms_proto::time::{timestamp, timestamp_opt};
use tonic::Status;

use crate::domain::{NewWorker, Order, OrderStatus, Worker};
use crate::error::OrderError;

/// Parses one worker; `field` is its path in the request (`workers[2]`).
pub fn parse_worker(
    field: &str,
    worker: pb::NewWorker,
    policy: NationalIdPolicy,
) -> Result<NewWorker, Status> {
    let card_type = match pb::CardType::try_from(worker.card_type) {
        Ok(pb::CardType::Construction) => CardType::Construction,
        Ok(pb::CardType::Cleaning) => CardType::Cleaning,
        Ok(pb::CardType::Unspecified) => return Err(missing_field(&format!("{field}.card_type"))),
        Err(_) => {
            return Err(invalid_field(
                &format!("{field}.card_type"),
                "is not a known card type",
            ));
        }
    };
    Ok(NewWorker {
        name: PersonName::parse(&worker.name)
            .map_err(|e| invalid_field(&format!("{field}.name"), e))?,
        national_id: Fodselsnummer::parse(&worker.national_id, policy)
            .map_err(|e| invalid_field(&format!("{field}.national_id"), e))?,
        phone: PhoneNumber::parse(&worker.phone)
            .map_err(|e| invalid_field(&format!("{field}.phone"), e))?,
        card_type,
    })
}

pub fn status_to_proto(status: OrderStatus) -> pb::OrderStatus {
    match status {
        OrderStatus::Draft => pb::OrderStatus::Draft,
        OrderStatus::Submitted => pb::OrderStatus::Submitted,
        OrderStatus::Approved => pb::OrderStatus::Approved,
        OrderStatus::Rejected => pb::OrderStatus::Rejected,
    }
}

pub fn status_from_proto(status: i32) -> Result<Option<OrderStatus>, Status> {
    match pb::OrderStatus::try_from(status) {
        Ok(pb::OrderStatus::Unspecified) => Ok(None),
        Ok(pb::OrderStatus::Draft) => Ok(Some(OrderStatus::Draft)),
        Ok(pb::OrderStatus::Submitted) => Ok(Some(OrderStatus::Submitted)),
        Ok(pb::OrderStatus::Approved) => Ok(Some(OrderStatus::Approved)),
        Ok(pb::OrderStatus::Rejected) => Ok(Some(OrderStatus::Rejected)),
        Err(_) => Err(invalid_field("status", "is not a known status")),
    }
}

pub fn document_kind_from_media(kind: i32) -> Option<DocumentKind> {
    use hms_proto::media::v1::DocumentKind as Media;
    match Media::try_from(kind).ok()? {
        Media::PassportPhoto => Some(DocumentKind::PassportPhoto),
        Media::IdDocument => Some(DocumentKind::IdDocument),
        Media::Signature => Some(DocumentKind::Signature),
        Media::Unspecified => None,
    }
}

fn worker_to_proto(worker: Worker) -> pb::Worker {
    pb::Worker {
        worker_id: worker.id.to_string(),
        name: worker.name,
        national_id_masked: worker.national_id_masked.to_string(),
        national_id_kind: match worker.national_id_kind {
            NationalIdKind::Fodselsnummer => pb::NationalIdKind::Fodselsnummer,
            NationalIdKind::DNumber => pb::NationalIdKind::DNumber,
            NationalIdKind::HNumber => pb::NationalIdKind::HNumber,
        } as i32,
        phone: worker.phone,
        card_type: match worker.card_type {
            CardType::Construction => pb::CardType::Construction,
            CardType::Cleaning => pb::CardType::Cleaning,
        } as i32,
    }
}

pub fn order_to_proto(order: Order) -> Result<pb::Order, OrderError> {
    let price = order.price()?;
    Ok(pb::Order {
        order_id: order.id.to_string(),
        company_id: order.company_id.to_string(),
        status: status_to_proto(order.status) as i32,
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
    })
}
