use hms_domain::{CompanyId, NationalIdPolicy, OrderId, Reason, WorkerId};
use hms_grpc::paging;
use hms_grpc::status::{invalid_field, missing_field, parse_id};
use hms_proto::orders::v1 as pb;
use tonic::{Request, Response, Status};

use super::{order_to_proto, parse_rejections, parse_worker, record_to_proto, status_filter};
use hms_authz::Action;

use crate::authz::Guard;
use crate::domain::{IdempotencyKey, MAX_WORKERS_PER_ORDER, NewOrder, NewOrderError};
use crate::ordering::Ordering;
use crate::storage::{Cursor, OrderFilter, Store};

pub struct OrderApi {
    ordering: Ordering,
    store: Store,
    guard: Guard,
    policy: NationalIdPolicy,
}

impl OrderApi {
    pub fn new(ordering: Ordering, store: Store, guard: Guard, policy: NationalIdPolicy) -> Self {
        Self {
            ordering,
            store,
            guard,
            policy,
        }
    }
}

#[tonic::async_trait]
impl pb::order_service_server::OrderService for OrderApi {
    async fn create_order(
        &self,
        request: Request<pb::CreateOrderRequest>,
    ) -> Result<Response<pb::CreateOrderResponse>, Status> {
        let caller = hms_grpc::caller(&request);
        let request = request.into_inner();
        let company_id = parse_id("company_id", &request.company_id, CompanyId::parse)?;
        let person = self
            .guard
            .company(&caller, company_id, Action::CardsOrder)
            .await?;
        let idempotency_key = IdempotencyKey::parse(&request.idempotency_key)
            .map_err(|problem| invalid_field("idempotency_key", problem))?;
        if request.workers.len() > MAX_WORKERS_PER_ORDER {
            return Err(invalid_field("workers", NewOrderError::TooManyWorkers));
        }
        let workers = request
            .workers
            .into_iter()
            .enumerate()
            .map(|(index, worker)| parse_worker(&format!("workers[{index}]"), worker, self.policy))
            .collect::<Result<Vec<_>, _>>()?;
        let new =
            NewOrder::new(company_id, idempotency_key, workers).map_err(|error| match error {
                NewOrderError::TooManyWorkers => invalid_field("workers", error),
                NewOrderError::SamePersonTwice(index) => {
                    invalid_field(&format!("workers[{index}].national_id"), error)
                }
            })?;
        let order = self.ordering.create(new, &person).await?;
        Ok(Response::new(pb::CreateOrderResponse {
            order: Some(order_to_proto(order)?),
        }))
    }

    async fn add_worker(
        &self,
        request: Request<pb::AddWorkerRequest>,
    ) -> Result<Response<pb::AddWorkerResponse>, Status> {
        let caller = hms_grpc::caller(&request);
        let request = request.into_inner();
        let order_id = parse_id("order_id", &request.order_id, OrderId::parse)?;
        let person = self
            .guard
            .order(&caller, order_id, Action::CardsOrder)
            .await?;
        let worker = request.worker.ok_or_else(|| missing_field("worker"))?;
        let worker = parse_worker("worker", worker, self.policy)?;
        let (order, added) = self.ordering.add_worker(order_id, worker, &person).await?;
        let order = order_to_proto(order)?;
        let worker = order
            .workers
            .iter()
            .find(|w| w.worker_id == added.to_string())
            .cloned();
        Ok(Response::new(pb::AddWorkerResponse {
            order: Some(order),
            worker,
        }))
    }

    async fn remove_worker(
        &self,
        request: Request<pb::RemoveWorkerRequest>,
    ) -> Result<Response<pb::RemoveWorkerResponse>, Status> {
        let caller = hms_grpc::caller(&request);
        let request = request.into_inner();
        let order_id = parse_id("order_id", &request.order_id, OrderId::parse)?;
        let worker_id = parse_id("worker_id", &request.worker_id, WorkerId::parse)?;
        self.guard
            .order(&caller, order_id, Action::CardsOrder)
            .await?;
        let order = self.ordering.remove_worker(order_id, worker_id).await?;
        Ok(Response::new(pb::RemoveWorkerResponse {
            order: Some(order_to_proto(order)?),
        }))
    }

    async fn return_order_for_correction(
        &self,
        request: Request<pb::ReturnOrderForCorrectionRequest>,
    ) -> Result<Response<pb::ReturnOrderForCorrectionResponse>, Status> {
        let caller = hms_grpc::caller(&request);
        let request = request.into_inner();
        let order_id = parse_id("order_id", &request.order_id, OrderId::parse)?;
        // Each document of every worker, at most.
        if request.rejections.len() > 3 * MAX_WORKERS_PER_ORDER {
            return Err(invalid_field("rejections", "names too many documents"));
        }
        let rejections = parse_rejections("rejections", request.rejections)?;
        let decided_by = self
            .guard
            .order(&caller, order_id, Action::OrdersDecide)
            .await?;
        let order = self
            .ordering
            .return_for_correction(order_id, rejections, &decided_by)
            .await?;
        Ok(Response::new(pb::ReturnOrderForCorrectionResponse {
            order: Some(order_to_proto(order)?),
        }))
    }

    async fn get_order(
        &self,
        request: Request<pb::GetOrderRequest>,
    ) -> Result<Response<pb::GetOrderResponse>, Status> {
        let caller = hms_grpc::caller(&request);
        hms_authz::require_user(&caller)?;
        let order_id = parse_id("order_id", &request.get_ref().order_id, OrderId::parse)?;
        let order = self.store.get(order_id).await?;
        let person = self
            .guard
            .order_of(&caller, order.company_id, Action::OrdersRead)
            .await?;
        let purpose = self.guard.purpose_of_reading(&person).await;
        self.store
            .record_reads(std::slice::from_ref(&order), &person, purpose)
            .await?;
        Ok(Response::new(pb::GetOrderResponse {
            order: Some(order_to_proto(order)?),
        }))
    }

    async fn list_orders(
        &self,
        request: Request<pb::ListOrdersRequest>,
    ) -> Result<Response<pb::ListOrdersResponse>, Status> {
        let caller = hms_grpc::caller(&request);
        let request = request.into_inner();
        let company_id = match request.company_id.trim() {
            "" => None,
            id => Some(CompanyId::parse(id).map_err(|e| invalid_field("company_id", e))?),
        };
        let (person, purpose) = match company_id {
            Some(company_id) => {
                let person = self
                    .guard
                    .company(&caller, company_id, Action::OrdersRead)
                    .await?;
                let purpose = self.guard.purpose_of_reading(&person).await;
                (person, purpose)
            }
            None => {
                self.guard.back_office(&caller).await?;
                let person = hms_authz::require_user(&caller)?.clone();
                (person, hms_access_log::Purpose::CaseReview)
            }
        };
        let filter = OrderFilter {
            company_id,
            status: status_filter(request.status)?,
        };
        let limit = paging::page_size(request.page_size, 50, 500);
        let after = paging::decode_token(&request.page_token)?
            .map(|(created_at, id)| Cursor { created_at, id });
        let orders = self.store.list(filter, after, limit).await?;
        self.store.record_reads(&orders, &person, purpose).await?;
        let next_page_token = match orders.last() {
            Some(last) if orders.len() == limit as usize => {
                paging::encode_token(last.created_at, last.id.as_uuid())
            }
            _ => String::new(),
        };
        Ok(Response::new(pb::ListOrdersResponse {
            orders: orders
                .into_iter()
                .map(order_to_proto)
                .collect::<Result<_, _>>()?,
            next_page_token,
        }))
    }

    async fn list_my_records(
        &self,
        request: Request<pb::ListMyRecordsRequest>,
    ) -> Result<Response<pb::ListMyRecordsResponse>, Status> {
        let caller = hms_grpc::caller(&request);
        let person = hms_authz::require_user(&caller)?;
        // A person whose token has no subject key (issued before they were
        // kept) has no records to find.
        let records = match &person.subject_key {
            Some(subject_key) => self.store.subject_records(subject_key).await?,
            None => Vec::new(),
        };
        Ok(Response::new(pb::ListMyRecordsResponse {
            records: records
                .into_iter()
                .map(record_to_proto)
                .collect::<Result<_, _>>()?,
        }))
    }

    async fn submit_order(
        &self,
        request: Request<pb::SubmitOrderRequest>,
    ) -> Result<Response<pb::SubmitOrderResponse>, Status> {
        let caller = hms_grpc::caller(&request);
        hms_authz::require_user(&caller)?;
        let order_id = parse_id("order_id", &request.get_ref().order_id, OrderId::parse)?;
        let current = self.store.get(order_id).await?;
        let submitter = self
            .guard
            .order_of(&caller, current.company_id, Action::CardsOrder)
            .await?;
        let order = self.ordering.submit(current, &submitter).await?;
        Ok(Response::new(pb::SubmitOrderResponse {
            order: Some(order_to_proto(order)?),
        }))
    }

    async fn approve_order(
        &self,
        request: Request<pb::ApproveOrderRequest>,
    ) -> Result<Response<pb::ApproveOrderResponse>, Status> {
        let order_id = parse_id("order_id", &request.get_ref().order_id, OrderId::parse)?;
        let decided_by = self
            .guard
            .order(&hms_grpc::caller(&request), order_id, Action::OrdersDecide)
            .await?;
        let order = self.ordering.approve(order_id, &decided_by).await?;
        Ok(Response::new(pb::ApproveOrderResponse {
            order: Some(order_to_proto(order)?),
        }))
    }

    async fn reject_order(
        &self,
        request: Request<pb::RejectOrderRequest>,
    ) -> Result<Response<pb::RejectOrderResponse>, Status> {
        let order_id = parse_id("order_id", &request.get_ref().order_id, OrderId::parse)?;
        let reason =
            Reason::parse(&request.get_ref().reason).map_err(|e| invalid_field("reason", e))?;
        let decided_by = self
            .guard
            .order(&hms_grpc::caller(&request), order_id, Action::OrdersDecide)
            .await?;
        let order = self.ordering.reject(order_id, reason, &decided_by).await?;
        Ok(Response::new(pb::RejectOrderResponse {
            order: Some(order_to_proto(order)?),
        }))
    }
}
