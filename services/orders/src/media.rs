//! What orders needs to know of media, asked of the media service: which
//! documents each worker of an order has.

use hms_domain::{DocumentId, DocumentKind, OrderId, WorkerId};
use hms_grpc::client::ServiceChannel;
use hms_proto::ProtoEnum;
use hms_proto::media::v1::ListDocumentsRequest;
use hms_proto::media::v1::media_service_client::MediaServiceClient;

use crate::domain::StoredDocument;
use crate::error::OrderError;

#[derive(Clone)]
pub struct Media {
    client: MediaServiceClient<ServiceChannel>,
}

impl Media {
    pub fn new(channel: ServiceChannel) -> Self {
        Self {
            client: MediaServiceClient::new(channel),
        }
    }

    /// The documents stored for the order's workers.
    pub async fn documents(&self, order_id: OrderId) -> Result<Vec<StoredDocument>, OrderError> {
        let documents = self
            .client
            .clone()
            .list_documents(ListDocumentsRequest {
                order_id: order_id.to_string(),
            })
            .await
            .map_err(|status| {
                let cause = format!("{:?}: {}", status.code(), status.message());
                if hms_grpc::status::is_transient(status.code()) {
                    OrderError::MediaUnavailable(cause)
                } else {
                    OrderError::MediaFailed(cause)
                }
            })?
            .into_inner()
            .documents;
        Ok(documents
            .iter()
            .filter_map(|doc| {
                Some(StoredDocument {
                    id: DocumentId::parse(&doc.document_id).ok()?,
                    worker_id: WorkerId::parse(&doc.worker_id).ok()?,
                    kind: DocumentKind::from_i32(doc.kind).ok()?,
                })
            })
            .collect())
    }
}
