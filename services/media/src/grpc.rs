//! The gRPC API. Uploads are checked in order of cost: identity, order and
//! company first, then the bytes (capped while they stream in), then the
//! decode; only a clean file is encrypted and stored.

use std::pin::Pin;

use hms_company_status::Standing;
use hms_domain::{CompanyId, DocumentId, OrderId, WorkerId};
use hms_grpc::client::ServiceChannel;
use hms_grpc::status::{enum_field, invalid_field, missing_field, parse_id};
use hms_proto::ProtoEnum;
use hms_proto::media::v1 as pb;
use hms_proto::orders::v1::order_internal_service_client::OrderInternalServiceClient;
use hms_proto::orders::v1::{GetOrderStateRequest, OrderStatus, ResolveUploadTargetRequest};
use hms_proto::time::timestamp;
use tokio_stream::Stream;
use tonic::{Request, Response, Status, Streaming};

use hms_auth::Caller;
use hms_authz::{Action, Authorizer};

use crate::authz;
use crate::decoding::Decoders;
use crate::deletions;
use crate::error::MediaError;
use crate::sanitize::ContentType;
use crate::storage::{Document, NewDocument, Store};
use crate::vault::Vault;

const DOWNLOAD_CHUNK: usize = 64 * 1024;

#[derive(Clone)]
pub struct MediaApi {
    store: Store,
    authorizer: Authorizer,
    vault: Vault,
    orders: OrderInternalServiceClient<ServiceChannel>,
    max_upload_bytes: u64,
    decoders: Decoders,
}

impl MediaApi {
    pub fn new(
        store: Store,
        authorizer: Authorizer,
        vault: Vault,
        orders: OrderInternalServiceClient<ServiceChannel>,
        max_upload_bytes: u64,
        decoders: Decoders,
    ) -> Self {
        Self {
            store,
            authorizer,
            vault,
            orders,
            max_upload_bytes,
            decoders,
        }
    }

    /// Lets a person do `action` on an order's documents: orders says whose
    /// the order is, identity whether the person may.
    async fn authorize_order(
        &self,
        caller: &Caller,
        order_id: OrderId,
        action: Action,
    ) -> Result<(), Status> {
        hms_authz::require_user(caller)?;
        let company = self.order_company(order_id).await?;
        self.authorizer
            .require_company(caller, company, action, || {
                Status::not_found("order not found")
            })
            .await
            .map(drop)
    }

    /// Whose an order is: recorded here with its first document, else as
    /// orders says. An order's company never changes.
    async fn order_company(&self, order_id: OrderId) -> Result<CompanyId, MediaError> {
        match self.store.order_company(order_id).await? {
            Some(company) => Ok(company),
            None => Ok(self.order_state(order_id).await?.0),
        }
    }

    /// Whose an order is, and where it stands, as orders says.
    async fn order_state(&self, order_id: OrderId) -> Result<(CompanyId, i32), MediaError> {
        let state = self
            .orders
            .clone()
            .get_order_state(GetOrderStateRequest {
                order_id: order_id.to_string(),
            })
            .await
            .map_err(from_orders)?
            .into_inner();
        Ok((company_from_orders(&state.company_id)?, state.status))
    }

    /// Asks orders whether the order still takes documents for this worker,
    /// and which company owns it.
    async fn upload_target(
        &self,
        order_id: OrderId,
        worker_id: WorkerId,
    ) -> Result<CompanyId, MediaError> {
        let target = self
            .orders
            .clone()
            .resolve_upload_target(ResolveUploadTargetRequest {
                order_id: order_id.to_string(),
                worker_id: worker_id.to_string(),
            })
            .await
            .map_err(from_orders)?
            .into_inner();
        if !target.accepts_documents {
            return Err(MediaError::OrderClosed);
        }
        company_from_orders(&target.company_id)
    }

    /// Whether an upload for this order and worker may start: orders says
    /// the order takes documents, this service's projection says the
    /// company is approved, and the order was not purged.
    async fn check_target(
        &self,
        order_id: OrderId,
        worker_id: WorkerId,
    ) -> Result<CompanyId, MediaError> {
        let company_id = self.upload_target(order_id, worker_id).await?;
        match self.store.standing(company_id).await? {
            Standing::Approved => {}
            other => return Err(MediaError::CompanyNotApproved(other.refusal())),
        }
        if self.store.is_purged(order_id).await? {
            return Err(MediaError::OrderPurged);
        }
        Ok(company_id)
    }

    /// Reads the file's chunks, refusing as soon as it passes the cap.
    async fn read_file(
        &self,
        stream: &mut Streaming<pb::UploadDocumentRequest>,
    ) -> Result<Vec<u8>, Status> {
        let mut bytes = Vec::new();
        while let Some(message) = stream.message().await? {
            match message.part {
                Some(pb::upload_document_request::Part::Chunk(chunk)) => {
                    if (bytes.len() + chunk.len()) as u64 > self.max_upload_bytes {
                        return Err(MediaError::TooLarge(self.max_upload_bytes).into());
                    }
                    bytes.extend_from_slice(&chunk);
                }
                Some(pb::upload_document_request::Part::Metadata(_)) => {
                    return Err(invalid_field(
                        "metadata",
                        "may only come in the first message",
                    ));
                }
                None => {}
            }
        }
        Ok(bytes)
    }

    #[tracing::instrument(name = "media.purge", skip(self), fields(%order_id))]
    async fn purge(&self, order_id: OrderId) -> Result<pb::PurgeOrderMediaResponse, MediaError> {
        // Only the redaction service may ask, but it may be wrong (or its
        // key stolen): documents of an order in progress are never purged.
        let (_, status) = self.order_state(order_id).await?;
        let decided = [OrderStatus::Approved as i32, OrderStatus::Rejected as i32];
        if !decided.contains(&status) {
            return Err(MediaError::NotDecided);
        }
        let record = self.store.purge(order_id).await?;
        let mut deleted =
            deletions::delete_pending(&self.store, &self.vault, Some(order_id)).await?;
        // Objects stored by an upload that crashed before it was recorded
        // are in no table; the order's prefix in the store finds them.
        let strays = self.vault.delete_order_objects(order_id).await?;
        if strays > 0 {
            self.store.count_stray_deletions(order_id, strays).await?;
            deleted.deleted += strays;
        }
        if deleted.failed > 0 {
            // The keys are destroyed already; the objects are unreadable and
            // stay queued. Redaction retries until they are gone.
            return Err(MediaError::Store(format!(
                "{} objects could not be deleted yet",
                deleted.failed
            )));
        }
        let totals = self.store.purge_totals(order_id).await?;
        tracing::info!(
            objects_deleted = deleted.deleted,
            keys_destroyed = record.keys_destroyed,
            "order media purged"
        );
        Ok(pb::PurgeOrderMediaResponse {
            objects_deleted: deleted.deleted,
            keys_destroyed: record.keys_destroyed,
            purged_at: Some(timestamp(totals.purged_at)),
            total_objects_deleted: totals.objects_deleted,
            total_keys_destroyed: totals.keys_destroyed,
        })
    }
}

#[tonic::async_trait]
impl pb::media_service_server::MediaService for MediaApi {
    async fn upload_document(
        &self,
        request: Request<Streaming<pb::UploadDocumentRequest>>,
    ) -> Result<Response<pb::UploadDocumentResponse>, Status> {
        let caller = hms_grpc::caller(&request);
        hms_authz::require_user(&caller)?;
        let mut stream = request.into_inner();
        let metadata = match stream.message().await?.and_then(|message| message.part) {
            Some(pb::upload_document_request::Part::Metadata(metadata)) => metadata,
            _ => return Err(missing_field("metadata (the first message of an upload)")),
        };
        let order_id = parse_id("metadata.order_id", &metadata.order_id, OrderId::parse)?;
        let worker_id = parse_id("metadata.worker_id", &metadata.worker_id, WorkerId::parse)?;
        let kind = enum_field("metadata.kind", "document kind", metadata.kind)?;
        self.authorize_order(&caller, order_id, Action::CardsOrder)
            .await?;
        let company_id = self.check_target(order_id, worker_id).await?;

        // A place in memory for the file before any of it is read.
        let _place = self.decoders.admit().await?;
        let bytes = self.read_file(&mut stream).await?;
        let sanitized = self.decoders.sanitize(kind, bytes).await?;
        // The upload may have streamed for a while: the order must still
        // take documents now.
        self.upload_target(order_id, worker_id).await?;

        let document_id = DocumentId::new();
        let stored = self
            .vault
            .put(order_id, document_id, &sanitized.bytes)
            .await?;
        let recorded = self
            .store
            .record(NewDocument {
                id: document_id,
                order_id,
                company_id,
                worker_id,
                kind,
                content_type: sanitized.content_type,
                size_bytes: sanitized.bytes.len() as u64,
                object_path: &stored.path,
                wrapped_key: &stored.wrapped_key,
                master_key_id: self.vault.master_key_id(),
            })
            .await;
        let document = match recorded {
            Ok((document, replaced)) => {
                if replaced.is_some() {
                    // The replaced object's key is gone; remove the object now.
                    let _ =
                        deletions::delete_pending(&self.store, &self.vault, Some(order_id)).await;
                }
                document
            }
            Err(error) => {
                // Its key exists nowhere now, but the object must not linger.
                if self.vault.delete(&stored.path).await.is_err() {
                    let _ = self.store.queue_orphan(&stored.path, order_id).await;
                }
                return Err(error.into());
            }
        };
        tracing::info!(document_id = %document.id, %order_id, kind = kind.as_str(), size = document.size_bytes, "document stored");
        Ok(Response::new(pb::UploadDocumentResponse {
            document: Some(document_to_proto(document)),
        }))
    }

    async fn list_documents(
        &self,
        request: Request<pb::ListDocumentsRequest>,
    ) -> Result<Response<pb::ListDocumentsResponse>, Status> {
        let caller = hms_grpc::caller(&request);
        let order_id = parse_id("order_id", &request.get_ref().order_id, OrderId::parse)?;
        if !authz::lists_documents(&caller) {
            self.authorize_order(&caller, order_id, Action::OrdersRead)
                .await?;
        }
        let documents = self.store.list(order_id).await?;
        Ok(Response::new(pb::ListDocumentsResponse {
            documents: documents.into_iter().map(document_to_proto).collect(),
        }))
    }

    type DownloadDocumentStream =
        Pin<Box<dyn Stream<Item = Result<pb::DownloadDocumentResponse, Status>> + Send + 'static>>;

    async fn download_document(
        &self,
        request: Request<pb::DownloadDocumentRequest>,
    ) -> Result<Response<Self::DownloadDocumentStream>, Status> {
        let caller = hms_grpc::caller(&request);
        hms_authz::require_user(&caller)?;
        let document_id = parse_id(
            "document_id",
            &request.get_ref().document_id,
            DocumentId::parse,
        )?;
        let (document, wrapped_key) = self.store.get_with_key(document_id).await?;
        // Recorded with the document: no call to orders, so an orders outage
        // cannot make a document's existence show.
        let company = self.order_company(document.order_id).await?;
        self.authorizer
            .require_company(&caller, company, Action::BackOfficeRead, || {
                MediaError::NotFound.into()
            })
            .await?;
        // Stored before PDFs were refused; never handed to a viewer now.
        if document.content_type == ContentType::Pdf {
            return Err(MediaError::UnsafeDocument.into());
        }
        let bytes = self
            .vault
            .get(document_id, &document.object_path, &wrapped_key)
            .await?;
        let mut messages = vec![Ok(pb::DownloadDocumentResponse {
            part: Some(pb::download_document_response::Part::Document(
                document_to_proto(document),
            )),
        })];
        messages.extend(bytes.chunks(DOWNLOAD_CHUNK).map(|chunk| {
            Ok(pb::DownloadDocumentResponse {
                part: Some(pb::download_document_response::Part::Chunk(chunk.to_vec())),
            })
        }));
        Ok(Response::new(Box::pin(tokio_stream::iter(messages))))
    }

    async fn purge_order_media(
        &self,
        request: Request<pb::PurgeOrderMediaRequest>,
    ) -> Result<Response<pb::PurgeOrderMediaResponse>, Status> {
        authz::authorize_purge(&hms_grpc::caller(&request))?;
        let order_id = parse_id("order_id", &request.get_ref().order_id, OrderId::parse)?;
        Ok(Response::new(self.purge(order_id).await?))
    }
}

/// A company id in an answer of the orders service.
fn company_from_orders(id: &str) -> Result<CompanyId, MediaError> {
    CompanyId::parse(id)
        .map_err(|_| MediaError::Corrupt("orders answered with an invalid company id".to_owned()))
}

/// What an answer of the orders service means here.
fn from_orders(status: tonic::Status) -> MediaError {
    let cause = format!("{:?}: {}", status.code(), status.message());
    match status.code() {
        tonic::Code::NotFound => MediaError::TargetNotFound(status.message().to_owned()),
        code if hms_grpc::status::is_transient(code) => MediaError::OrdersUnavailable(cause),
        _ => MediaError::OrdersFailed(cause),
    }
}

fn document_to_proto(document: Document) -> pb::Document {
    pb::Document {
        document_id: document.id.to_string(),
        order_id: document.order_id.to_string(),
        worker_id: document.worker_id.to_string(),
        kind: document.kind.to_i32(),
        content_type: document.content_type.as_str().to_owned(),
        size_bytes: document.size_bytes,
        uploaded_at: Some(timestamp(document.uploaded_at)),
    }
}
