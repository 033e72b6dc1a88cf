//! What media needs to know of orders, asked of the orders service: whose an
//! order is, whether it still takes documents, whether it is decided.

use hms_domain::{CompanyId, OrderId, WorkerId};
use hms_grpc::client::ServiceChannel;
use hms_proto::orders::v1::order_internal_service_client::OrderInternalServiceClient;
use hms_proto::orders::v1::{GetOrderStateRequest, OrderStatus, ResolveUploadTargetRequest};

use crate::error::MediaError;

/// An order as media sees it.
#[derive(Debug, Clone, Copy)]
pub struct OrderState {
    pub company_id: CompanyId,
    /// Approved or rejected: its documents may be purged.
    pub decided: bool,
    /// Approved: its photos and signatures may be printed.
    pub approved: bool,
}

#[derive(Clone)]
pub struct Orders {
    client: OrderInternalServiceClient<ServiceChannel>,
}

impl Orders {
    pub fn new(channel: ServiceChannel) -> Self {
        Self {
            client: OrderInternalServiceClient::new(channel),
        }
    }

    /// Whose the order is, and whether it is decided.
    pub async fn state(&self, order_id: OrderId) -> Result<OrderState, MediaError> {
        let state = self
            .client
            .clone()
            .get_order_state(GetOrderStateRequest {
                order_id: order_id.to_string(),
            })
            .await
            .map_err(refusal)?
            .into_inner();
        let status = OrderStatus::try_from(state.status);
        Ok(OrderState {
            company_id: company(&state.company_id)?,
            decided: matches!(status, Ok(OrderStatus::Approved | OrderStatus::Rejected)),
            approved: status == Ok(OrderStatus::Approved),
        })
    }

    /// The company whose order takes documents for this worker now;
    /// refused if it takes none.
    pub async fn upload_target(
        &self,
        order_id: OrderId,
        worker_id: WorkerId,
    ) -> Result<CompanyId, MediaError> {
        let target = self
            .client
            .clone()
            .resolve_upload_target(ResolveUploadTargetRequest {
                order_id: order_id.to_string(),
                worker_id: worker_id.to_string(),
            })
            .await
            .map_err(refusal)?
            .into_inner();
        if !target.accepts_documents {
            return Err(MediaError::OrderClosed);
        }
        company(&target.company_id)
    }
}

/// A company id in an answer of the orders service.
fn company(id: &str) -> Result<CompanyId, MediaError> {
    CompanyId::parse(id)
        .map_err(|_| MediaError::Corrupt("orders answered with an invalid company id".to_owned()))
}

/// What a refusal of the orders service means here.
fn refusal(status: tonic::Status) -> MediaError {
    let cause = format!("{:?}: {}", status.code(), status.message());
    match status.code() {
        tonic::Code::NotFound => MediaError::TargetNotFound(status.message().to_owned()),
        code if hms_grpc::status::is_transient(code) => MediaError::OrdersUnavailable(cause),
        _ => MediaError::OrdersFailed(cause),
    }
}
