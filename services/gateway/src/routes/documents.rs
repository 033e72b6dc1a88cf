//! A worker's documents: passport photo, ID document and signature. An
//! upload streams through to the media service as it arrives; the gateway
//! never holds the whole file, and stops reading once it passes the limit.

use super::Answered;
use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use hms_proto::ProtoEnum;
use hms_proto::media::v1 as pb;
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;
use utoipa::ToSchema;

use super::time;
use crate::auth::Person;
use crate::extract::PathParams;
use crate::problem::{ApiError, Problem, ProblemKind};
use crate::state::AppState;

/// What a document is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DocumentKind {
    PassportPhoto,
    IdDocument,
    Signature,
}

hms_proto::proto_enum!(DocumentKind => pb::DocumentKind { PassportPhoto, IdDocument, Signature });

#[derive(Debug, Serialize, ToSchema)]
pub struct Document {
    pub document_id: String,
    pub order_id: String,
    pub worker_id: String,
    pub kind: DocumentKind,
    /// Sniffed from the bytes: `image/jpeg` or `image/png`
    /// (`application/pdf` only for ID copies uploaded before PDFs were
    /// refused).
    pub content_type: String,
    /// Of the stored file; images are re-encoded without their metadata.
    pub size_bytes: u64,
    pub uploaded_at: Option<DateTime<Utc>>,
}

/// The file: a JPEG or PNG image, as raw bytes. ID copies too: a photo or
/// scan of the document, not a PDF.
pub struct FileBytes;

impl utoipa::PartialSchema for FileBytes {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
            .into()
    }
}

impl ToSchema for FileBytes {}

#[derive(Debug, Deserialize)]
pub struct DocumentPath {
    pub order_id: String,
    pub worker_id: String,
    pub kind: DocumentKind,
}

/// Why the gateway stopped an upload before media saw all of it.
enum Cut {
    TooLarge,
    BodyFailed,
}

/// Uploads one document for a worker of a draft order, replacing any of
/// the same kind.
#[utoipa::path(
    put,
    path = "/api/v1/orders/{order_id}/workers/{worker_id}/documents/{kind}",
    tag = "orders",
    params(
        ("order_id" = uuid::Uuid, Path),
        ("worker_id" = uuid::Uuid, Path),
        ("kind" = DocumentKind, Path),
    ),
    request_body(content = FileBytes, content_type = "application/octet-stream", description = "The file, at most the configured size"),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 201, body = Document),
        (status = 400, description = "Not a JPEG or PNG image (PDFs are refused), or too many pixels", body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The order takes no documents now", body = Problem, content_type = "application/problem+json"),
        (status = 413, body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Every image decoder is busy; try again after `Retry-After`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn upload(
    State(state): State<AppState>,
    person: Person,
    PathParams(path): PathParams<DocumentPath>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<Document>), ApiError> {
    let limit = state.max_upload_bytes;
    let too_large = || {
        ApiError::new(
            ProblemKind::PayloadTooLarge,
            format!("a document may be at most {limit} bytes"),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit) {
        return Err(too_large());
    }
    let metadata = pb::UploadDocumentRequest {
        part: Some(pb::upload_document_request::Part::Metadata(
            pb::UploadMetadata {
                order_id: path.order_id,
                worker_id: path.worker_id,
                kind: path.kind.to_i32(),
            },
        )),
    };
    let (cut_tx, cut_rx) = oneshot::channel();
    let chunks = futures::stream::unfold(
        (body.into_data_stream(), 0u64, Some(cut_tx)),
        move |(mut body, mut sent, mut cut)| async move {
            let cut_with = |reason: Cut, cut: &mut Option<oneshot::Sender<Cut>>| {
                if let Some(cut) = cut.take() {
                    let _ = cut.send(reason);
                }
            };
            match body.next().await {
                None => None,
                Some(Ok(bytes)) => {
                    sent += bytes.len() as u64;
                    if sent > limit {
                        cut_with(Cut::TooLarge, &mut cut);
                        // Never end the stream: an ended stream is a
                        // complete file to media. The call is dropped
                        // instead, which cancels it.
                        std::future::pending::<()>().await;
                    }
                    let chunk = pb::UploadDocumentRequest {
                        part: Some(pb::upload_document_request::Part::Chunk(bytes.to_vec())),
                    };
                    Some((chunk, (body, sent, cut)))
                }
                Some(Err(_)) => {
                    cut_with(Cut::BodyFailed, &mut cut);
                    std::future::pending::<()>().await;
                    None
                }
            }
        },
    );
    let messages = futures::stream::once(async { metadata }).chain(chunks);
    let mut media = state.media.clone();
    let upload = media.upload_document(person.request(messages));
    let document = tokio::select! {
        answer = upload => answer?.into_inner().document,
        Ok(cut) = cut_rx => {
            return Err(match cut {
                Cut::TooLarge => too_large(),
                Cut::BodyFailed => ApiError::invalid("the upload was interrupted"),
            });
        }
    };
    Ok((StatusCode::CREATED, Json(document_from(document)?)))
}

/// Back office: one document, decrypted, as it was stored (images
/// re-encoded without their metadata). Streamed from media as it arrives.
#[utoipa::path(
    get,
    path = "/api/v1/documents/{document_id}",
    tag = "back office",
    params(("document_id" = uuid::Uuid, Path)),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The file", content(
            (FileBytes = "image/jpeg"),
            (FileBytes = "image/png"),
            (FileBytes = "application/pdf"),
        )),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn download(
    State(state): State<AppState>,
    person: Person,
    PathParams(document_id): PathParams<String>,
) -> Result<Response, ApiError> {
    let mut parts = state
        .media
        .clone()
        .download_document(person.request(pb::DownloadDocumentRequest { document_id }))
        .await?
        .into_inner();
    let document = match parts.message().await?.and_then(|first| first.part) {
        Some(pb::download_document_response::Part::Document(document)) => document,
        _ => return Err(ApiError::bad_answer("a download without its document")),
    };
    let content_type = HeaderValue::from_str(&document.content_type)
        .map_err(|_| ApiError::bad_answer("an unusable content type"))?;
    let chunks = parts.filter_map(|part| async move {
        match part {
            Ok(pb::DownloadDocumentResponse {
                part: Some(pb::download_document_response::Part::Chunk(chunk)),
            }) => Some(Ok(Bytes::from(chunk))),
            Ok(_) => None,
            // The client sees a cut-off body, never a wrong one.
            Err(status) => Some(Err(std::io::Error::other(status.code().description()))),
        }
    });
    let mut response = Response::new(Body::from_stream(chunks));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, content_type);
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment"),
    );
    headers.insert(
        header::CONTENT_LENGTH,
        HeaderValue::from(document.size_bytes),
    );
    Ok(response)
}

/// The documents of an order's workers.
#[utoipa::path(
    get,
    path = "/api/v1/orders/{order_id}/documents",
    tag = "orders",
    params(("order_id" = uuid::Uuid, Path)),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, body = [Document]),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    person: Person,
    PathParams(order_id): PathParams<String>,
) -> Result<Json<Vec<Document>>, ApiError> {
    let documents = state
        .media
        .clone()
        .list_documents(person.request(pb::ListDocumentsRequest { order_id }))
        .await?
        .into_inner()
        .documents;
    documents
        .into_iter()
        .map(|document| document_from(Some(document)))
        .collect::<Result<_, _>>()
        .map(Json)
}

fn document_from(document: Option<pb::Document>) -> Result<Document, ApiError> {
    let document = document.ok_or_else(|| ApiError::bad_answer("no document"))?;
    let kind = DocumentKind::answered(document.kind)?;
    Ok(Document {
        uploaded_at: time(document.uploaded_at.as_ref()),
        document_id: document.document_id,
        order_id: document.order_id,
        worker_id: document.worker_id,
        kind,
        content_type: document.content_type,
        size_bytes: document.size_bytes,
    })
}
