//! Orders as audit needs it: which worker records a person asking about
//! themselves is the subject of.

use std::collections::BTreeSet;

use hms_grpc::client::ServiceChannel;
use hms_proto::orders::v1::ListSubjectWorkersRequest;
use hms_proto::orders::v1::order_internal_service_client::OrderInternalServiceClient;
use tonic::Status;
use uuid::Uuid;

#[derive(Clone)]
pub struct Orders {
    client: OrderInternalServiceClient<ServiceChannel>,
}

impl Orders {
    pub fn new(client: OrderInternalServiceClient<ServiceChannel>) -> Self {
        Self { client }
    }

    /// The ids of the worker records a subject key points to.
    pub async fn workers_of(&self, subject_key: &str) -> Result<BTreeSet<Uuid>, Status> {
        let answer = self
            .client
            .clone()
            .list_subject_workers(ListSubjectWorkersRequest {
                subject_key: subject_key.to_owned(),
            })
            .await
            .map_err(|status| match status.code() {
                tonic::Code::Unavailable | tonic::Code::DeadlineExceeded => {
                    hms_grpc::status::unavailable("the orders service", status.message())
                }
                code => {
                    tracing::error!(?code, "orders refused the subject's workers");
                    Status::internal("the orders service failed")
                }
            })?
            .into_inner();
        answer
            .workers
            .iter()
            .map(|worker| Uuid::try_parse(&worker.worker_id))
            .collect::<Result<_, _>>()
            .map_err(|_| {
                Status::internal("the orders service answered a worker id that is no UUID")
            })
    }
}
