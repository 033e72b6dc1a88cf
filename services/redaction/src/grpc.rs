use hms_domain::OrderId;
use hms_grpc::status::parse_id;
use hms_proto::ProtoEnum;
use hms_proto::redaction::v1 as pb;
use hms_proto::time::timestamp;
use tonic::{Request, Response, Status};

use crate::authz::Guard;
use crate::domain::{Cause, Receipt, Trigger};
use crate::error::RedactionError;
use crate::redactor::Redactor;

pub struct RedactionApi {
    redactor: Redactor,
    guard: Guard,
}

impl RedactionApi {
    pub fn new(redactor: Redactor, guard: Guard) -> Self {
        Self { redactor, guard }
    }
}

#[tonic::async_trait]
impl pb::redaction_service_server::RedactionService for RedactionApi {
    async fn get_receipt(
        &self,
        request: Request<pb::GetReceiptRequest>,
    ) -> Result<Response<pb::GetReceiptResponse>, Status> {
        let caller = hms_grpc::caller(&request);
        hms_authz::require_user(&caller)?;
        let order_id = parse_id("order_id", &request.get_ref().order_id, OrderId::parse)?;
        let receipt = self
            .redactor
            .receipt(order_id)
            .await?
            .ok_or(RedactionError::NoReceipt)?;
        if let Err(refused) = self.guard.read_receipt(&caller, receipt.company_id).await {
            // The worker whose data it was may read it too (GDPR art. 15).
            let subject_key = caller.user().and_then(|user| user.subject_key.as_deref());
            let theirs = match subject_key {
                Some(key) if refused.code() == tonic::Code::NotFound => {
                    self.redactor.is_subject_of(key, order_id).await?
                }
                _ => false,
            };
            if !theirs {
                return Err(refused);
            }
        }
        Ok(Response::new(pb::GetReceiptResponse {
            receipt: Some(receipt_to_proto(receipt)),
        }))
    }

    async fn get_receipt_keys(
        &self,
        _request: Request<pb::GetReceiptKeysRequest>,
    ) -> Result<Response<pb::GetReceiptKeysResponse>, Status> {
        let keys = self.redactor.receipt_keys().await?;
        Ok(Response::new(pb::GetReceiptKeysResponse {
            key_set_json: keys.to_json(),
        }))
    }

    async fn redact_order(
        &self,
        request: Request<pb::RedactOrderRequest>,
    ) -> Result<Response<pb::RedactOrderResponse>, Status> {
        let order_id = parse_id("order_id", &request.get_ref().order_id, OrderId::parse)?;
        let operator = self.guard.redact(&hms_grpc::caller(&request)).await?;
        tracing::info!(%order_id, %operator, "manual redaction");
        let receipt = self
            .redactor
            .redact_one(order_id, None, Trigger::Manual)
            .await?;
        Ok(Response::new(pb::RedactOrderResponse {
            receipt: Some(receipt_to_proto(receipt)),
        }))
    }
}

hms_proto::proto_enum!(Trigger => pb::Trigger { Event, Reconciler, Manual, Handover, Deadline });

hms_proto::proto_enum!(Cause => pb::RedactionCause {
    Approved,
    Rejected,
    DraftAbandoned,
    CorrectionAbandoned,
    CompanyIneligible,
});

fn receipt_to_proto(receipt: Receipt) -> pb::Receipt {
    pb::Receipt {
        order_id: receipt.order_id.to_string(),
        company_id: receipt.company_id.to_string(),
        workers_masked: receipt.removed.workers_masked,
        objects_deleted: receipt.removed.objects_deleted,
        keys_destroyed: receipt.removed.keys_destroyed,
        trigger: receipt.trigger.to_i32(),
        cause: receipt.cause.map_or(0, ProtoEnum::to_i32),
        started_at: Some(timestamp(receipt.started_at)),
        completed_at: Some(timestamp(receipt.completed_at)),
        signed: receipt.signed.unwrap_or_default(),
    }
}
