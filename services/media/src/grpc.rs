//! The gRPC API: reads the request (an upload's stream, capped while it
//! comes in), checks the caller with identity, and hands over to
//! [`Documents`]. No rule lives here.

use std::pin::Pin;

use hms_auth::Caller;
use hms_authz::{Action, Authorizer};
use hms_domain::{DocumentId, OrderId, WorkerId};
use hms_grpc::status::{enum_field, invalid_field, missing_field, parse_id};
use hms_proto::ProtoEnum;
use hms_proto::media::v1 as pb;
use hms_proto::time::timestamp;
use tokio_stream::Stream;
use tonic::{Request, Response, Status, Streaming};

use crate::authz;
use crate::documents::{Documents, PurgeOutcome};
use crate::error::MediaError;
use crate::sanitize::ContentType;
use crate::storage::Document;

const DOWNLOAD_CHUNK: usize = 64 * 1024;
/// The most orders one `PurgeOrderMedia` call purges.
const PURGE_AT_ONCE: usize = 500;

#[derive(Clone)]
pub struct MediaApi {
    documents: Documents,
    authorizer: Authorizer,
    max_upload_bytes: u64,
}

impl MediaApi {
    pub fn new(documents: Documents, authorizer: Authorizer, max_upload_bytes: u64) -> Self {
        Self {
            documents,
            authorizer,
            max_upload_bytes,
        }
    }

    /// Lets a person do `action` on an order's documents: media or orders
    /// says whose the order is, identity whether the person may.
    async fn authorize_order(
        &self,
        caller: &Caller,
        order_id: OrderId,
        action: Action,
    ) -> Result<(), Status> {
        hms_authz::require_user(caller)?;
        let company = self.documents.company_of(order_id).await?;
        self.authorizer
            .require_company(caller, company, action, || {
                Status::not_found("order not found")
            })
            .await
            .map(drop)
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
        // Checked in order of cost: the order and company first, then the
        // bytes, then the decode.
        let upload = self.documents.begin_upload(order_id, worker_id).await?;
        let bytes = self.read_file(&mut stream).await?;
        let document = self
            .documents
            .finish_upload(upload, kind, bytes, &caller.audit_name())
            .await?;
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
        let documents = self.documents.list(order_id).await?;
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
        let found = self.documents.find(document_id).await?;
        let reader = self
            .authorizer
            .require_company(&caller, found.company_id, Action::BackOfficeRead, || {
                MediaError::NotFound.into()
            })
            .await?;
        let (document, bytes) = self.documents.download(found, &reader.audit_name()).await?;
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
        let caller = hms_grpc::caller(&request);
        authz::authorize_purge(&caller)?;
        let order_ids = hms_grpc::status::parse_ids(
            "order_ids",
            &request.get_ref().order_ids,
            PURGE_AT_ONCE,
            OrderId::parse,
        )?;
        let outcomes = self
            .documents
            .purge(&order_ids, &caller.audit_name())
            .await?;
        let orders = outcomes
            .into_iter()
            .map(|(order_id, outcome)| {
                use pb::purged_order::Outcome;
                let outcome = match outcome {
                    PurgeOutcome::Purged(purged) => Outcome::Purged(pb::PurgedMedia {
                        objects_deleted: purged.objects_deleted,
                        keys_destroyed: purged.keys_destroyed,
                        purged_at: Some(timestamp(purged.totals.purged_at)),
                        total_objects_deleted: purged.totals.objects_deleted,
                        total_keys_destroyed: purged.totals.keys_destroyed,
                    }),
                    PurgeOutcome::NotFound => Outcome::Refused(pb::PurgeRefusal::NotFound as i32),
                    PurgeOutcome::NotDecided => {
                        Outcome::Refused(pb::PurgeRefusal::NotDecided as i32)
                    }
                    PurgeOutcome::ObjectsRemaining => {
                        Outcome::Refused(pb::PurgeRefusal::ObjectsRemaining as i32)
                    }
                };
                pb::PurgedOrder {
                    order_id: order_id.to_string(),
                    outcome: Some(outcome),
                }
            })
            .collect();
        Ok(Response::new(pb::PurgeOrderMediaResponse { orders }))
    }

    async fn get_print_material(
        &self,
        request: Request<pb::GetPrintMaterialRequest>,
    ) -> Result<Response<pb::GetPrintMaterialResponse>, Status> {
        let caller = hms_grpc::caller(&request);
        authz::authorize_print_material(&caller)?;
        let request = request.get_ref();
        let order_id = parse_id("order_id", &request.order_id, OrderId::parse)?;
        let worker_id = parse_id("worker_id", &request.worker_id, WorkerId::parse)?;
        let material = self
            .documents
            .print_material(order_id, worker_id, &caller.audit_name())
            .await?;
        Ok(Response::new(pb::GetPrintMaterialResponse {
            photo: Some(print_image(material.photo)),
            signature: Some(print_image(material.signature)),
        }))
    }
}

fn print_image((content_type, data): (ContentType, Vec<u8>)) -> pb::PrintImage {
    pb::PrintImage {
        content_type: content_type.as_str().to_owned(),
        data,
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
