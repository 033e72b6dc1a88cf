//! What media needs to know of orders, asked of the orders service: whose an
//! order is, whether it still takes documents, whether it is decided.

use hms_domain::{CompanyId, OrderId, WorkerId};
use hms_grpc::client::ServiceChannel;
use hms_proto::orders::v1::order_internal_service_client::OrderInternalServiceClient;
use std::collections::HashMap;

use hms_proto::orders::v1::{GetOrderStatesRequest, OrderStatus, ResolveUploadTargetRequest};

use crate::error::MediaError;

/// The most orders one call asks about (orders' limit).
const AT_ONCE: usize = 500;

/// An order as media sees it.
#[derive(Debug, Clone, Copy)]
pub struct OrderState {
    pub company_id: CompanyId,
    /// Approved, rejected or closed: its documents may be purged.
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
        self.states(&[order_id])
            .await?
            .remove(&order_id)
            .ok_or_else(|| MediaError::TargetNotFound("order not found".to_owned()))
    }

    /// The state of each of `order_ids` that orders knows, `AT_ONCE` per
    /// call.
    pub async fn states(
        &self,
        order_ids: &[OrderId],
    ) -> Result<HashMap<OrderId, OrderState>, MediaError> {
        let mut states = HashMap::with_capacity(order_ids.len());
        for chunk in order_ids.chunks(AT_ONCE) {
            let answered = self
                .client
                .clone()
                .get_order_states(GetOrderStatesRequest {
                    order_ids: chunk.iter().map(ToString::to_string).collect(),
                })
                .await
                .map_err(refusal)?
                .into_inner();
            for state in answered.orders {
                let order_id = OrderId::parse(&state.order_id).map_err(|_| {
                    MediaError::OrdersFailed("answered an order id that is not one".to_owned())
                })?;
                let status = OrderStatus::try_from(state.status);
                states.insert(
                    order_id,
                    OrderState {
                        company_id: company(&state.company_id)?,
                        decided: matches!(
                            status,
                            Ok(OrderStatus::Approved | OrderStatus::Rejected | OrderStatus::Closed)
                        ),
                        approved: status == Ok(OrderStatus::Approved),
                    },
                );
            }
        }
        Ok(states)
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
