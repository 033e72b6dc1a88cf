//! `NotificationService`: the messages sent to a company, and how their
//! sending went.

use hms_domain::CompanyId;
use hms_grpc::paging::{decode_token, encode_token, page_size};
use hms_grpc::status::{invalid_field, parse_id};
use hms_proto::ProtoEnum;
use hms_proto::notifications::v1 as pb;
use hms_proto::time::timestamp;
use tonic::{Request, Response, Status};

use crate::authz::{Guard, Visibility};
use crate::domain::{Channel, DeliveryStatus};
use crate::storage::{Delivery, Store};

hms_proto::proto_enum!(Channel => pb::Channel { Email, Sms });
hms_proto::proto_enum!(DeliveryStatus => pb::DeliveryStatus { Pending, Sent, Failed });

const DEFAULT_PAGE: u32 = 50;
const MAX_PAGE: u32 = 200;

pub struct NotificationApi {
    store: Store,
    guard: Guard,
}

impl NotificationApi {
    pub fn new(store: Store, guard: Guard) -> Self {
        Self { store, guard }
    }
}

#[tonic::async_trait]
impl pb::notification_service_server::NotificationService for NotificationApi {
    async fn list_deliveries(
        &self,
        request: Request<pb::ListDeliveriesRequest>,
    ) -> Result<Response<pb::ListDeliveriesResponse>, Status> {
        let caller = hms_grpc::caller(&request);
        let request = request.into_inner();
        let (company, visibility) = if request.company_id.is_empty() {
            self.guard.back_office(&caller).await?;
            (None, Visibility::All)
        } else {
            let company = parse_id("company_id", &request.company_id, CompanyId::parse)?;
            (Some(company), self.guard.company(&caller, company).await?)
        };
        let status = match request.status {
            0 => None,
            value => Some(
                DeliveryStatus::from_i32(value).map_err(|error| invalid_field("status", error))?,
            ),
        };
        let after = decode_token(&request.page_token)?;
        let size = page_size(request.page_size, DEFAULT_PAGE, MAX_PAGE);
        let mut deliveries = self
            .store
            .list(
                company.map(|id| id.as_uuid()),
                status,
                visibility.hidden(),
                after,
                i64::from(size) + 1,
            )
            .await?;
        let more = deliveries.len() > size as usize;
        deliveries.truncate(size as usize);
        let next_page_token = match deliveries.last() {
            Some(last) if more => encode_token(last.created_at, last.delivery_id),
            _ => String::new(),
        };
        Ok(Response::new(pb::ListDeliveriesResponse {
            deliveries: deliveries.into_iter().map(to_proto).collect(),
            next_page_token,
        }))
    }
}

fn to_proto(delivery: Delivery) -> pb::Delivery {
    pb::Delivery {
        delivery_id: delivery.delivery_id.to_string(),
        event_id: delivery.event_id,
        channel: Channel::parse(&delivery.channel).map_or(0, ProtoEnum::to_i32),
        template: delivery.kind,
        status: DeliveryStatus::parse(&delivery.status).map_or(0, ProtoEnum::to_i32),
        created_at: Some(timestamp(delivery.created_at)),
        company_id: delivery.company_id.to_string(),
        recipient: delivery.recipient,
        subject: delivery.subject.unwrap_or_default(),
        attempts: u32::try_from(delivery.attempts).unwrap_or(0),
        last_error: delivery.last_error.unwrap_or_default(),
        sent_at: delivery.sent_at.map(timestamp),
        body: delivery.body_text,
        language: delivery.language,
    }
}
