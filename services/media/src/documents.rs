//! Documents, the use cases: taking an upload in, listing and reading
//! documents back, and purging an order's documents for good. Who may ask
//! is checked before these are called ([`crate::grpc`]); what may be stored
//! and when is decided here.

use std::collections::HashMap;

use futures::StreamExt;
use hms_access_log::{Access, Action as AccessAction, Purpose};
use hms_company_status::Standing;
use hms_domain::{CompanyId, DocumentId, DocumentKind, OrderId, WorkerId};

use crate::decoding::{Decoders, Place};
use crate::deletions;
use crate::error::MediaError;
use crate::orders::Orders;
use crate::sanitize::ContentType;
use crate::storage::{Document, NewDocument, PurgeTotals, Store};
use crate::vault::Vault;

/// An upload allowed to start: the order takes documents for the worker,
/// its company is approved, and the bytes have a place in memory.
pub struct Upload {
    order_id: OrderId,
    worker_id: WorkerId,
    company_id: CompanyId,
    _place: Place,
}

/// A document found, not yet read.
pub struct Found {
    document: Document,
    wrapped_key: Vec<u8>,
    pub company_id: CompanyId,
}

/// One worker's photo and signature, decrypted, for the card producer.
pub struct PrintMaterial {
    pub photo: (ContentType, Vec<u8>),
    pub signature: (ContentType, Vec<u8>),
}

/// What a purge did to one order.
#[derive(Debug, Clone, Copy)]
pub enum PurgeOutcome {
    Purged(Purged),
    /// Orders does not know the order: nothing was touched.
    NotFound,
    /// Not approved or rejected: nothing was touched.
    NotDecided,
    /// The keys are destroyed but some objects are still in the store.
    ObjectsRemaining,
}

/// How many orders are searched for stray objects at once.
const ASKED_AT_ONCE: usize = 16;

/// What a purge removed, this time and in all.
#[derive(Debug, Clone, Copy)]
pub struct Purged {
    pub objects_deleted: u32,
    pub keys_destroyed: u32,
    pub totals: PurgeTotals,
}

#[derive(Clone)]
pub struct Documents {
    store: Store,
    vault: Vault,
    orders: Orders,
    decoders: Decoders,
}

impl Documents {
    pub fn new(store: Store, vault: Vault, orders: Orders, decoders: Decoders) -> Self {
        Self {
            store,
            vault,
            orders,
            decoders,
        }
    }

    /// Whose an order is: recorded here with its first document, else as
    /// orders says. An order's company never changes.
    pub async fn company_of(&self, order_id: OrderId) -> Result<CompanyId, MediaError> {
        match self.store.order_company(order_id).await? {
            Some(company) => Ok(company),
            None => Ok(self.orders.state(order_id).await?.company_id),
        }
    }

    /// Whether an upload for this order and worker may start: orders says
    /// the order takes documents, this service's projection says the
    /// company is approved, the order was not purged, and there is room.
    pub async fn begin_upload(
        &self,
        order_id: OrderId,
        worker_id: WorkerId,
    ) -> Result<Upload, MediaError> {
        let company_id = self.orders.upload_target(order_id, worker_id).await?;
        match self.store.standing(company_id).await? {
            Standing::Approved => {}
            other => return Err(MediaError::CompanyNotApproved(other.refusal())),
        }
        if self.store.is_purged(order_id).await? {
            return Err(MediaError::OrderPurged);
        }
        let place = self.decoders.admit().await?;
        Ok(Upload {
            order_id,
            worker_id,
            company_id,
            _place: place,
        })
    }

    /// Cleans the file, seals it under a key of its own and records it, in
    /// place of any earlier document of the same kind for the worker.
    pub async fn finish_upload(
        &self,
        upload: Upload,
        kind: DocumentKind,
        bytes: Vec<u8>,
        uploaded_by: &str,
    ) -> Result<Document, MediaError> {
        let Upload {
            order_id,
            worker_id,
            company_id,
            ..
        } = upload;
        let sanitized = self.decoders.sanitize(kind, bytes).await?;
        // The upload may have streamed for a while: the order must still
        // take documents now.
        self.orders.upload_target(order_id, worker_id).await?;

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
                uploaded_by,
            })
            .await;
        match recorded {
            Ok((document, replaced)) => {
                if replaced.is_some() {
                    // The replaced object's key is gone; remove the object now.
                    let _ = deletions::delete_pending(&self.store, &self.vault, Some(&[order_id]))
                        .await;
                }
                tracing::info!(document_id = %document.id, %order_id, kind = kind.as_str(), size = document.size_bytes, "document stored");
                Ok(document)
            }
            Err(error) => {
                // Its key exists nowhere now, but the object must not linger.
                if self.vault.delete(&stored.path).await.is_err() {
                    let _ = self.store.queue_orphan(&stored.path, order_id).await;
                }
                Err(error)
            }
        }
    }

    pub async fn list(&self, order_id: OrderId) -> Result<Vec<Document>, MediaError> {
        self.store.list(order_id).await
    }

    /// A found document's clean bytes for the back office, recorded in
    /// the access log before a byte is handed out.
    pub async fn download(
        &self,
        found: Found,
        by: &str,
    ) -> Result<(Document, Vec<u8>), MediaError> {
        let access = Access::new(
            found.company_id,
            AccessAction::DocumentDownloaded,
            Purpose::CaseReview,
            by,
        )
        .order(found.document.order_id)
        .workers([found.document.worker_id])
        .document(found.document.id);
        let read = self.read(found).await?;
        self.store.record_access(access).await?;
        Ok(read)
    }

    /// A document, and the company whose order it belongs to (for the
    /// caller to be checked against), before it is read.
    pub async fn find(&self, document_id: DocumentId) -> Result<Found, MediaError> {
        let (document, wrapped_key) = self.store.get_with_key(document_id).await?;
        // Recorded with the document: no call to orders, so an orders
        // outage cannot make a document's existence show.
        let company_id = self.company_of(document.order_id).await?;
        Ok(Found {
            document,
            wrapped_key,
            company_id,
        })
    }

    /// A found document's clean bytes.
    pub async fn read(&self, found: Found) -> Result<(Document, Vec<u8>), MediaError> {
        let Found {
            document,
            wrapped_key,
            ..
        } = found;
        // Stored before PDFs were refused; never handed to a viewer now.
        if document.content_type == ContentType::Pdf {
            return Err(MediaError::UnsafeDocument);
        }
        let bytes = self
            .vault
            .get(document.id, &document.object_path, &wrapped_key)
            .await?;
        Ok((document, bytes))
    }

    /// A worker's photo and signature, for printing the card: only of an
    /// approved order whose documents are not purged yet.
    pub async fn print_material(
        &self,
        order_id: OrderId,
        worker_id: WorkerId,
        by: &str,
    ) -> Result<PrintMaterial, MediaError> {
        let state = self.orders.state(order_id).await?;
        if !state.approved {
            return Err(MediaError::NotApproved);
        }
        const KINDS: [DocumentKind; 2] = [DocumentKind::PassportPhoto, DocumentKind::Signature];
        let mut documents = self
            .store
            .worker_documents_with_keys(order_id, worker_id, &KINDS)
            .await?;
        if documents.len() < KINDS.len() {
            // Purged (perhaps just now), or never uploaded.
            return Err(if self.store.is_purged(order_id).await? {
                MediaError::OrderPurged
            } else {
                MediaError::NotFound
            });
        }
        let mut take = |kind: DocumentKind| {
            let at = documents
                .iter()
                .position(|(document, _)| document.kind == kind)
                .ok_or(MediaError::NotFound)?;
            let (document, wrapped_key) = documents.swap_remove(at);
            Ok::<_, MediaError>(Found {
                document,
                wrapped_key,
                company_id: state.company_id,
            })
        };
        let (photo, signature) = (
            take(DocumentKind::PassportPhoto)?,
            take(DocumentKind::Signature)?,
        );
        let ((photo, photo_bytes), (signature, signature_bytes)) =
            futures::try_join!(self.read(photo), self.read(signature))?;
        self.store
            .record_access(
                Access::new(
                    state.company_id,
                    AccessAction::PrintMaterialSent,
                    Purpose::CardPrinting,
                    by,
                )
                .order(order_id)
                .workers([worker_id]),
            )
            .await?;
        Ok(PrintMaterial {
            photo: (photo.content_type, photo_bytes),
            signature: (signature.content_type, signature_bytes),
        })
    }

    /// Destroys every key of the orders' documents, then the objects. Only
    /// for decided orders, whoever asks: redaction may be wrong (or its key
    /// stolen), and documents of an order in progress are never purged.
    /// Each order answers for itself; `order_ids` are distinct.
    #[tracing::instrument(name = "media.purge", skip_all, fields(orders = order_ids.len()))]
    pub async fn purge(
        &self,
        order_ids: &[OrderId],
        by: &str,
    ) -> Result<Vec<(OrderId, PurgeOutcome)>, MediaError> {
        // Orders away: nothing is touched, the caller asks again.
        let states = self.orders.states(order_ids).await?;
        let mut decided = Vec::with_capacity(order_ids.len());
        let mut refused: HashMap<OrderId, PurgeOutcome> = HashMap::new();
        for order_id in order_ids {
            match states.get(order_id) {
                Some(state) if state.decided => decided.push(*order_id),
                Some(_) => {
                    refused.insert(*order_id, PurgeOutcome::NotDecided);
                }
                None => {
                    refused.insert(*order_id, PurgeOutcome::NotFound);
                }
            }
        }
        if decided.is_empty() {
            return Ok(order_ids
                .iter()
                .map(|order_id| (*order_id, refused[order_id]))
                .collect());
        }
        let keys_destroyed = self.store.purge(&decided, by).await?;
        let mut deleted =
            deletions::delete_pending(&self.store, &self.vault, Some(&decided)).await?;
        // Objects stored by an upload that crashed before it was recorded
        // are in no table; the order's prefix in the store finds them.
        let strays: Vec<(OrderId, Result<u32, MediaError>)> =
            futures::stream::iter(decided.clone())
                .map(|order_id| {
                    let vault = self.vault.clone();
                    async move { (order_id, vault.delete_order_objects(order_id).await) }
                })
                .buffer_unordered(ASKED_AT_ONCE)
                .collect()
                .await;
        for (order_id, found) in strays {
            let counts = deleted.entry(order_id.as_uuid()).or_default();
            match found {
                Ok(0) => {}
                Ok(strays) => {
                    self.store.count_stray_deletions(order_id, strays).await?;
                    counts.deleted += strays;
                }
                Err(error) => {
                    tracing::warn!(%error, "cannot look for stray objects; the purge is retried");
                    counts.failed += 1;
                }
            }
        }
        let totals = self.store.purge_totals(&decided).await?;
        let mut objects_deleted = 0;
        let outcomes = order_ids
            .iter()
            .map(|&order_id| {
                if let Some(refusal) = refused.get(&order_id) {
                    return Ok((order_id, *refusal));
                }
                let id = order_id.as_uuid();
                let counts = deleted.get(&id).copied().unwrap_or_default();
                objects_deleted += counts.deleted;
                // The keys are destroyed already; the objects are unreadable
                // and stay queued. Redaction asks again until they are gone.
                if counts.failed > 0 {
                    return Ok((order_id, PurgeOutcome::ObjectsRemaining));
                }
                let totals = *totals.get(&id).ok_or_else(|| {
                    MediaError::Corrupt(format!("order {order_id} is not purged"))
                })?;
                tracing::info!(
                    %order_id,
                    objects_deleted = counts.deleted,
                    keys_destroyed = keys_destroyed.get(&id).copied().unwrap_or(0),
                    "order media purged"
                );
                Ok((
                    order_id,
                    PurgeOutcome::Purged(Purged {
                        objects_deleted: counts.deleted,
                        keys_destroyed: keys_destroyed.get(&id).copied().unwrap_or(0),
                        totals,
                    }),
                ))
            })
            .collect::<Result<Vec<_>, MediaError>>()?;
        tracing::debug!(
            orders = decided.len(),
            objects_deleted,
            "orders' media purged"
        );
        Ok(outcomes)
    }
}
