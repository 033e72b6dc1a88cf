//! The gRPC API: the access log as the company and the back office read
//! it, and the keys its checkpoints are signed with.

use chrono::{DateTime, Utc};
use hms_domain::CompanyId;
use hms_grpc::paging;
use hms_grpc::status::{invalid_field, parse_id};
use hms_proto::ProtoEnum;
use hms_proto::audit::v1 as pb;
use hms_proto::time::{from_timestamp, timestamp};
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::authz::Guard;
use crate::checkpoints::Checkpointer;
use crate::domain::{Action, Entry, Purpose, hex};
use crate::orders::Orders;
use crate::storage::{Filter, Store, StoredCheckpoint};

hms_proto::proto_enum!(Action => pb::AccessAction {
    WorkerDataCreated,
    WorkerDataRead,
    DocumentUploaded,
    DocumentDownloaded,
    RegisterChecked,
    PrintMaterialSent,
    NationalIdMasked,
    DocumentsDestroyed,
    GrantGiven,
    GrantRevoked,
    GrantFirstUsed,
});

hms_proto::proto_enum!(Purpose => pb::AccessPurpose {
    Ordering,
    CaseReview,
    RegisterCheck,
    CardPrinting,
    DataDeletion,
    AccessManagement,
});

pub struct AuditApi {
    store: Store,
    checkpoints: Checkpointer,
    orders: Orders,
    guard: Guard,
}

impl AuditApi {
    pub fn new(store: Store, checkpoints: Checkpointer, orders: Orders, guard: Guard) -> Self {
        Self {
            store,
            checkpoints,
            orders,
            guard,
        }
    }
}

/// The most entries a person's own view holds.
const MINE_AT_MOST: u32 = 1000;

/// A time bound of the request, when given.
fn bound(
    field: &str,
    at: Option<&hms_proto::time::Timestamp>,
) -> Result<Option<DateTime<Utc>>, Status> {
    at.map(|at| from_timestamp(at).ok_or_else(|| invalid_field(field, "is not a valid time")))
        .transpose()
}

/// Pages continue after an entry's number.
fn after_seq(token: &str) -> Result<u64, Status> {
    if token.is_empty() {
        return Ok(0);
    }
    token
        .parse()
        .map_err(|_| invalid_field("page_token", "is not a token this service issued"))
}

#[tonic::async_trait]
impl pb::audit_service_server::AuditService for AuditApi {
    async fn list_access_log(
        &self,
        request: Request<pb::ListAccessLogRequest>,
    ) -> Result<Response<pb::ListAccessLogResponse>, Status> {
        let caller = hms_grpc::caller(&request);
        hms_authz::require_user(&caller)?;
        let request = request.into_inner();
        let company = parse_id("company_id", &request.company_id, CompanyId::parse)?;
        let worker_id = match request.worker_id.as_str() {
            "" => None,
            id => {
                Some(Uuid::try_parse(id).map_err(|_| invalid_field("worker_id", "is not a UUID"))?)
            }
        };
        let filter = Filter {
            worker_id,
            from: bound("from", request.from.as_ref())?,
            until: bound("until", request.until.as_ref())?,
            after_seq: after_seq(&request.page_token)?,
        };
        if let (Some(from), Some(until)) = (filter.from, filter.until)
            && until < from
        {
            return Err(invalid_field("until", "is before from"));
        }
        let limit = paging::page_size(request.page_size, 100, 1000);
        self.guard.read_log(&caller, company).await?;
        let entries = self.store.list(company, filter, limit).await?;
        let next_page_token = match entries.last() {
            Some(last) if entries.len() == limit as usize => last.seq.to_string(),
            _ => String::new(),
        };
        let checkpoint = self.store.latest_checkpoint(company).await?;
        Ok(Response::new(pb::ListAccessLogResponse {
            entries: entries.into_iter().map(entry_to_proto).collect(),
            next_page_token,
            checkpoint: checkpoint.map(checkpoint_to_proto),
        }))
    }

    async fn list_my_access_log(
        &self,
        request: Request<pb::ListMyAccessLogRequest>,
    ) -> Result<Response<pb::ListMyAccessLogResponse>, Status> {
        let caller = hms_grpc::caller(&request);
        let person = hms_authz::require_user(&caller)?;
        let Some(subject_key) = &person.subject_key else {
            return Ok(Response::new(pb::ListMyAccessLogResponse::default()));
        };
        let mine = self.orders.workers_of(subject_key).await?;
        let ids: Vec<Uuid> = mine.iter().copied().collect();
        let entries = self.store.about_workers(&ids, MINE_AT_MOST).await?;
        Ok(Response::new(pb::ListMyAccessLogResponse {
            entries: entries
                .into_iter()
                .map(|mut entry| {
                    // Nothing of anyone else: a coworker on the same order
                    // is left out of the entry.
                    entry
                        .record
                        .worker_ids
                        .retain(|worker| mine.contains(worker));
                    entry_to_proto(entry)
                })
                .collect(),
        }))
    }

    async fn get_checkpoint_keys(
        &self,
        _request: Request<pb::GetCheckpointKeysRequest>,
    ) -> Result<Response<pb::GetCheckpointKeysResponse>, Status> {
        let keys = self.checkpoints.key_set().await?;
        Ok(Response::new(pb::GetCheckpointKeysResponse {
            key_set_json: keys.to_json(),
        }))
    }
}

fn id(id: Option<Uuid>) -> String {
    id.map(|id| id.to_string()).unwrap_or_default()
}

fn entry_to_proto(entry: Entry) -> pb::AccessEntry {
    let record = entry.record;
    pb::AccessEntry {
        company_id: record.company_id.to_string(),
        seq: entry.seq,
        action: record.action.to_i32(),
        purpose: record.purpose.to_i32(),
        actor: record.actor,
        order_id: id(record.order_id),
        worker_ids: record.worker_ids.iter().map(ToString::to_string).collect(),
        document_id: id(record.document_id),
        grant_id: id(record.grant_id),
        occurred_at: Some(timestamp(record.occurred_at)),
        recorded_at: Some(timestamp(entry.recorded_at)),
        hash: hex(&entry.hash),
        previous_hash: hex(&entry.previous_hash),
    }
}

fn checkpoint_to_proto(checkpoint: StoredCheckpoint) -> pb::Checkpoint {
    pb::Checkpoint {
        company_id: checkpoint.company_id.to_string(),
        seq: u64::try_from(checkpoint.seq).unwrap_or_default(),
        head_hash: hex(&checkpoint.head_hash),
        signed_at: Some(timestamp(checkpoint.signed_at)),
        signed: checkpoint.signed,
    }
}
