use hms_access_log::{Access, Action as AccessAction, Purpose};
use hms_domain::{OrderId, WorkerId};
use hms_grpc::status::{missing_field, parse_id, parse_ids};
use hms_proto::orders::v1 as pb;
use hms_proto::time::{from_timestamp, timestamp};
use tonic::{Request, Response, Status};

use crate::authz::{Action, authorize};
use crate::storage::{MaskOutcome, Store};
use hms_proto::ProtoEnum;

/// The most orders one `GetOrderStates`, `MaskNationalIds` or
/// `ListApprovedWorkers` call names.
const AT_ONCE: usize = 500;

/// The orders a batch call names: 1 to `AT_ONCE`, each a valid id, each
/// once.
fn order_ids(values: &[String]) -> Result<Vec<OrderId>, Status> {
    parse_ids("order_ids", values, AT_ONCE, OrderId::parse)
}

pub struct OrderInternalApi {
    store: Store,
}

impl OrderInternalApi {
    pub fn new(store: Store) -> Self {
        Self { store }
    }
}

#[tonic::async_trait]
impl pb::order_internal_service_server::OrderInternalService for OrderInternalApi {
    async fn resolve_upload_target(
        &self,
        request: Request<pb::ResolveUploadTargetRequest>,
    ) -> Result<Response<pb::ResolveUploadTargetResponse>, Status> {
        authorize(&hms_grpc::caller(&request), Action::ResolveUploadTarget)?;
        let order_id = parse_id("order_id", &request.get_ref().order_id, OrderId::parse)?;
        let worker_id = parse_id("worker_id", &request.get_ref().worker_id, WorkerId::parse)?;
        let target = self.store.upload_target(order_id, worker_id).await?;
        Ok(Response::new(pb::ResolveUploadTargetResponse {
            company_id: target.company_id.to_string(),
            status: target.status.to_i32(),
            accepts_documents: target.status.is_open(),
        }))
    }

    async fn get_order_states(
        &self,
        request: Request<pb::GetOrderStatesRequest>,
    ) -> Result<Response<pb::GetOrderStatesResponse>, Status> {
        authorize(&hms_grpc::caller(&request), Action::ReadOrderState)?;
        let order_ids = order_ids(&request.get_ref().order_ids)?;
        let mut states = self.store.states(&order_ids).await?;
        let orders = order_ids
            .into_iter()
            .filter_map(|order_id| {
                let (company_id, status) = states.remove(&order_id)?;
                Some(pb::OrderState {
                    order_id: order_id.to_string(),
                    company_id: company_id.to_string(),
                    status: status.to_i32(),
                })
            })
            .collect();
        Ok(Response::new(pb::GetOrderStatesResponse { orders }))
    }

    async fn mask_national_ids(
        &self,
        request: Request<pb::MaskNationalIdsRequest>,
    ) -> Result<Response<pb::MaskNationalIdsResponse>, Status> {
        let caller = hms_grpc::caller(&request);
        authorize(&caller, Action::MaskNationalIds)?;
        let order_ids = order_ids(&request.get_ref().order_ids)?;
        let outcomes = self
            .store
            .mask_national_ids(&order_ids, &caller.audit_name())
            .await?;
        let orders = outcomes
            .into_iter()
            .map(|(order_id, outcome)| pb::MaskedOrder {
                order_id: order_id.to_string(),
                outcome: Some(match outcome {
                    MaskOutcome::Masked(masked) => {
                        pb::masked_order::Outcome::Masked(pb::MaskedNationalIds {
                            company_id: masked.company_id.to_string(),
                            workers_masked: masked.workers_masked,
                            workers_total: masked.workers_total,
                            masked_at: Some(timestamp(masked.masked_at)),
                            status: masked.status.to_i32(),
                            closed_because: masked.closed_because.map_or(0, ProtoEnum::to_i32),
                        })
                    }
                    MaskOutcome::NotFound => {
                        pb::masked_order::Outcome::Refused(pb::MaskRefusal::NotFound as i32)
                    }
                    MaskOutcome::NotDecided => {
                        pb::masked_order::Outcome::Refused(pb::MaskRefusal::NotDecided as i32)
                    }
                }),
            })
            .collect();
        Ok(Response::new(pb::MaskNationalIdsResponse { orders }))
    }

    async fn list_orders_awaiting_redaction(
        &self,
        request: Request<pb::ListOrdersAwaitingRedactionRequest>,
    ) -> Result<Response<pb::ListOrdersAwaitingRedactionResponse>, Status> {
        authorize(&hms_grpc::caller(&request), Action::ListAwaitingRedaction)?;
        let request = request.into_inner();
        let decided_before = request
            .decided_before
            .as_ref()
            .ok_or_else(|| missing_field("decided_before"))?;
        let decided_before = from_timestamp(decided_before)
            .ok_or_else(|| hms_grpc::status::invalid_field("decided_before", "is out of range"))?;
        let limit = hms_grpc::paging::page_size(request.page_size, 100, 1_000);
        let orders = self.store.awaiting_redaction(decided_before, limit).await?;
        Ok(Response::new(pb::ListOrdersAwaitingRedactionResponse {
            orders: orders
                .into_iter()
                .map(|order| pb::OrderAwaitingRedaction {
                    order_id: order.order_id.to_string(),
                    company_id: order.company_id.to_string(),
                    status: order.status.to_i32(),
                    decided_at: Some(timestamp(order.decided_at)),
                })
                .collect(),
        }))
    }

    async fn list_approved_orders(
        &self,
        request: Request<pb::ListApprovedOrdersRequest>,
    ) -> Result<Response<pb::ListApprovedOrdersResponse>, Status> {
        authorize(&hms_grpc::caller(&request), Action::ListApprovedOrders)?;
        let request = request.into_inner();
        let instant = |field: &str, value: Option<&hms_proto::time::Timestamp>| {
            let value = value.ok_or_else(|| missing_field(field))?;
            from_timestamp(value)
                .ok_or_else(|| hms_grpc::status::invalid_field(field, "is out of range"))
        };
        let from = instant("decided_from", request.decided_from.as_ref())?;
        let before = instant("decided_before", request.decided_before.as_ref())?;
        let after = hms_grpc::paging::decode_token(&request.page_token)?;
        let limit = hms_grpc::paging::page_size(request.page_size, 100, 1_000);
        let orders = self
            .store
            .approved_between(from, before, after, limit + 1)
            .await?;
        let more = orders.len() > limit as usize;
        let page = &orders[..orders.len().min(limit as usize)];
        let next_page_token = match page.last() {
            Some((order_id, decided_at)) if more => {
                hms_grpc::paging::encode_token(*decided_at, order_id.as_uuid())
            }
            _ => String::new(),
        };
        Ok(Response::new(pb::ListApprovedOrdersResponse {
            order_ids: page
                .iter()
                .map(|(order_id, _)| order_id.to_string())
                .collect(),
            next_page_token,
        }))
    }

    async fn list_approved_workers(
        &self,
        request: Request<pb::ListApprovedWorkersRequest>,
    ) -> Result<Response<pb::ListApprovedWorkersResponse>, Status> {
        let caller = hms_grpc::caller(&request);
        authorize(&caller, Action::ListApprovedWorkers)?;
        let order_ids = order_ids(&request.get_ref().order_ids)?;
        let (mut approved, not_approved) = self.store.approved_workers(&order_ids).await?;
        // Cards reads the names to print them: recorded before it has them.
        let reads: Vec<Access> = order_ids
            .iter()
            .filter_map(|order_id| {
                let order = approved.get(order_id)?;
                Some(
                    Access::new(
                        order.company_id,
                        AccessAction::WorkerDataRead,
                        Purpose::CardPrinting,
                        caller.audit_name(),
                    )
                    .order(order_id)
                    .workers(order.workers.iter().map(|worker| worker.worker_id)),
                )
            })
            .collect();
        self.store.record_accesses(reads).await?;
        let not_approved = order_ids
            .iter()
            .filter(|order_id| not_approved.contains(order_id))
            .map(ToString::to_string)
            .collect();
        let orders = order_ids
            .into_iter()
            .filter_map(|order_id| {
                let order = approved.remove(&order_id)?;
                Some(pb::ApprovedOrder {
                    order_id: order_id.to_string(),
                    company_id: order.company_id.to_string(),
                    approved_at: Some(timestamp(order.approved_at)),
                    workers: order
                        .workers
                        .into_iter()
                        .map(|worker| pb::ApprovedWorker {
                            worker_id: worker.worker_id.to_string(),
                            name: worker.name,
                            card_type: worker.card_type.to_i32(),
                            employment_ends_on: worker
                                .employment_ends_on
                                .map(|day| day.to_string())
                                .unwrap_or_default(),
                        })
                        .collect(),
                })
            })
            .collect();
        Ok(Response::new(pb::ListApprovedWorkersResponse {
            orders,
            not_approved,
        }))
    }

    async fn list_subject_workers(
        &self,
        request: Request<pb::ListSubjectWorkersRequest>,
    ) -> Result<Response<pb::ListSubjectWorkersResponse>, Status> {
        authorize(&hms_grpc::caller(&request), Action::ListSubjectWorkers)?;
        let subject_key = request.into_inner().subject_key;
        if subject_key.is_empty() || subject_key.len() > 100 {
            return Err(hms_grpc::status::invalid_field(
                "subject_key",
                "is not a subject key",
            ));
        }
        let workers = self.store.subject_workers(&subject_key).await?;
        Ok(Response::new(pb::ListSubjectWorkersResponse {
            workers: workers
                .into_iter()
                .map(|(worker_id, order_id, company_id)| pb::SubjectWorker {
                    worker_id: worker_id.to_string(),
                    order_id: order_id.to_string(),
                    company_id: company_id.to_string(),
                })
                .collect(),
        }))
    }
}
