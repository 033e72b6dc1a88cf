//! The media database: document metadata, wrapped keys, purge tombstones and
//! the queue of objects to delete from the store.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use hms_access_log::{Access, Action as AccessAction, Purpose};
use hms_domain::{CompanyId, DocumentId, DocumentKind, OrderId, WorkerId};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::error::MediaError;
use crate::sanitize::ContentType;

#[derive(Clone)]
pub struct Store {
    pool: PgPool,
}

/// A stored document's metadata.
#[derive(Debug, Clone)]
pub struct Document {
    pub id: DocumentId,
    pub order_id: OrderId,
    pub worker_id: WorkerId,
    pub kind: DocumentKind,
    pub content_type: ContentType,
    pub size_bytes: u64,
    pub object_path: String,
    pub uploaded_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct DocumentRow {
    id: Uuid,
    order_id: Uuid,
    worker_id: Uuid,
    kind: String,
    content_type: String,
    size_bytes: i64,
    object_path: String,
    uploaded_at: DateTime<Utc>,
}

const DOCUMENT_COLUMNS: &str =
    "id, order_id, worker_id, kind, content_type, size_bytes, object_path, uploaded_at";

impl TryFrom<DocumentRow> for Document {
    type Error = MediaError;

    fn try_from(row: DocumentRow) -> Result<Self, MediaError> {
        let corrupt = |what: &str| MediaError::Corrupt(format!("{what} of document {}", row.id));
        Ok(Document {
            id: DocumentId::from_uuid(row.id),
            order_id: OrderId::from_uuid(row.order_id),
            worker_id: WorkerId::from_uuid(row.worker_id),
            kind: DocumentKind::parse(&row.kind).map_err(|_| corrupt("kind"))?,
            content_type: ContentType::parse(&row.content_type)
                .ok_or_else(|| corrupt("content type"))?,
            size_bytes: u64::try_from(row.size_bytes).map_err(|_| corrupt("size"))?,
            object_path: row.object_path,
            uploaded_at: row.uploaded_at,
        })
    }
}

/// A document about to be recorded.
pub struct NewDocument<'a> {
    pub id: DocumentId,
    pub order_id: OrderId,
    pub company_id: CompanyId,
    pub worker_id: WorkerId,
    pub kind: DocumentKind,
    pub content_type: ContentType,
    pub size_bytes: u64,
    pub object_path: &'a str,
    pub wrapped_key: &'a [u8],
    pub master_key_id: &'a str,
    /// Who uploaded it, for the access log.
    pub uploaded_by: &'a str,
}

/// An object waiting to be deleted from the store.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PendingDeletion {
    pub object_path: String,
    pub order_id: Uuid,
}

/// Which documents of an order to destroy before its decision.
pub enum Destroy<'a> {
    /// Rejected by the back office: each with its worker, kind and reason
    /// code, as orders announced them.
    Rejected(&'a [(DocumentId, WorkerId, DocumentKind, String)]),
    /// Every document of a worker taken off the order.
    Worker(WorkerId),
}

/// Wakes the sweep when objects queued for deletion commit.
pub static DELETIONS: hms_db::wake::Signal = hms_db::wake::Signal::new("object deletions");

/// An order's purge counters.
#[derive(Debug, Clone, Copy)]
pub struct PurgeTotals {
    pub purged_at: DateTime<Utc>,
    pub objects_deleted: u32,
    pub keys_destroyed: u32,
}

impl Store {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    /// Whether the order's documents were purged (no more uploads).
    pub async fn is_purged(&self, order_id: OrderId) -> Result<bool, MediaError> {
        let purged: Option<Option<DateTime<Utc>>> =
            sqlx::query_scalar("SELECT purged_at FROM media_orders WHERE order_id = $1")
                .bind(order_id.as_uuid())
                .fetch_optional(&self.pool)
                .await?;
        Ok(matches!(purged, Some(Some(_))))
    }

    /// The company an order belongs to, as recorded with its first document.
    pub async fn order_company(&self, order_id: OrderId) -> Result<Option<CompanyId>, MediaError> {
        let company: Option<Option<Uuid>> =
            sqlx::query_scalar("SELECT company_id FROM media_orders WHERE order_id = $1")
                .bind(order_id.as_uuid())
                .fetch_optional(&self.pool)
                .await?;
        Ok(company.flatten().map(CompanyId::from_uuid))
    }

    /// The company's standing in this service's projection of company events.
    pub async fn standing(
        &self,
        company_id: CompanyId,
    ) -> Result<hms_company_status::Standing, MediaError> {
        let mut conn = self.pool.acquire().await?;
        Ok(hms_company_status::standing(&mut conn, company_id).await?)
    }

    /// Records a stored object and its key. A document of the same kind for
    /// the same worker is replaced: its key is destroyed and its object
    /// queued for deletion. Refused if the order was purged meanwhile (the
    /// order's row lock orders this against purges).
    pub async fn record(
        &self,
        new: NewDocument<'_>,
    ) -> Result<(Document, Option<String>), MediaError> {
        let mut tx = self.pool.begin().await?;
        lock_order(&mut tx, new.order_id, Some(new.company_id)).await?;
        let purged: Option<DateTime<Utc>> =
            sqlx::query_scalar("SELECT purged_at FROM media_orders WHERE order_id = $1")
                .bind(new.order_id.as_uuid())
                .fetch_one(&mut *tx)
                .await?;
        if purged.is_some() {
            return Err(MediaError::OrderPurged);
        }
        let replaced: Option<(Uuid, String)> = sqlx::query_as(
            "DELETE FROM documents WHERE order_id = $1 AND worker_id = $2 AND kind = $3 RETURNING id, object_path",
        )
        .bind(new.order_id.as_uuid())
        .bind(new.worker_id.as_uuid())
        .bind(new.kind.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        if let Some((_, path)) = &replaced {
            queue_deletion(&mut tx, path, new.order_id).await?;
        }
        let row: DocumentRow = sqlx::query_as(&format!(
            "INSERT INTO documents (id, order_id, worker_id, kind, content_type, size_bytes, object_path) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {DOCUMENT_COLUMNS}"
        ))
        .bind(new.id.as_uuid())
        .bind(new.order_id.as_uuid())
        .bind(new.worker_id.as_uuid())
        .bind(new.kind.as_str())
        .bind(new.content_type.as_str())
        .bind(i64::try_from(new.size_bytes).map_err(|_| MediaError::TooLarge(new.size_bytes))?)
        .bind(new.object_path)
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query("INSERT INTO document_keys (document_id, wrapped_key, master_key_id) VALUES ($1, $2, $3)")
            .bind(new.id.as_uuid())
            .bind(new.wrapped_key)
            .bind(new.master_key_id)
            .execute(&mut *tx)
            .await?;
        Access::new(
            new.company_id,
            AccessAction::DocumentUploaded,
            Purpose::Ordering,
            new.uploaded_by,
        )
        .order(new.order_id)
        .workers([new.worker_id])
        .document(new.id)
        .record(&mut tx)
        .await?;
        tx.commit().await?;
        Ok((row.try_into()?, replaced.map(|(_, path)| path)))
    }

    pub async fn list(&self, order_id: OrderId) -> Result<Vec<Document>, MediaError> {
        let rows: Vec<DocumentRow> = sqlx::query_as(&format!(
            "SELECT {DOCUMENT_COLUMNS} FROM documents WHERE order_id = $1 ORDER BY worker_id, kind"
        ))
        .bind(order_id.as_uuid())
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(Document::try_from).collect()
    }

    /// A document and its wrapped key.
    pub async fn get_with_key(&self, id: DocumentId) -> Result<(Document, Vec<u8>), MediaError> {
        let row: Option<(Vec<u8>,)> =
            sqlx::query_as("SELECT wrapped_key FROM document_keys WHERE document_id = $1")
                .bind(id.as_uuid())
                .fetch_optional(&self.pool)
                .await?;
        let (wrapped_key,) = row.ok_or(MediaError::NotFound)?;
        let document: DocumentRow = sqlx::query_as(&format!(
            "SELECT {DOCUMENT_COLUMNS} FROM documents WHERE id = $1"
        ))
        .bind(id.as_uuid())
        .fetch_optional(&self.pool)
        .await?
        .ok_or(MediaError::NotFound)?;
        Ok((document.try_into()?, wrapped_key))
    }

    /// A worker's documents of the given kinds with their wrapped keys, in
    /// one read: what printing a card needs.
    pub async fn worker_documents_with_keys(
        &self,
        order_id: OrderId,
        worker_id: WorkerId,
        kinds: &[DocumentKind],
    ) -> Result<Vec<(Document, Vec<u8>)>, MediaError> {
        #[derive(sqlx::FromRow)]
        struct Keyed {
            #[sqlx(flatten)]
            document: DocumentRow,
            wrapped_key: Vec<u8>,
        }
        let kinds: Vec<&str> = kinds.iter().map(|kind| kind.as_str()).collect();
        let rows: Vec<Keyed> = sqlx::query_as(&format!(
            "SELECT {DOCUMENT_COLUMNS}, wrapped_key FROM documents \
             JOIN document_keys ON document_id = id \
             WHERE order_id = $1 AND worker_id = $2 AND kind = ANY($3)"
        ))
        .bind(order_id.as_uuid())
        .bind(worker_id.as_uuid())
        .bind(&kinds)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|row| Ok((Document::try_from(row.document)?, row.wrapped_key)))
            .collect()
    }

    /// Marks orders purged, destroys the keys of all their documents and
    /// queues their objects for deletion, in one transaction. Returns the
    /// keys destroyed now, per order that had any.
    pub async fn purge(
        &self,
        order_ids: &[OrderId],
        by: &str,
    ) -> Result<HashMap<Uuid, u32>, MediaError> {
        let mut ids: Vec<Uuid> = order_ids.iter().map(|id| id.as_uuid()).collect();
        // Locked in one order, so two purges never wait on each other in a
        // circle (an upload locks one order's row the same way).
        ids.sort_unstable();
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO media_orders (order_id, purged_at) \
             SELECT order_id, now() FROM unnest($1::uuid[]) AS order_id ORDER BY order_id \
             ON CONFLICT (order_id) DO UPDATE SET purged_at = COALESCE(media_orders.purged_at, now())",
        )
        .bind(&ids)
        .execute(&mut *tx)
        .await?;
        let keys_of: Vec<Uuid> = sqlx::query_scalar(
            "DELETE FROM document_keys k USING documents d \
             WHERE k.document_id = d.id AND d.order_id = ANY($1) RETURNING d.order_id",
        )
        .bind(&ids)
        .fetch_all(&mut *tx)
        .await?;
        let objects: Vec<(String, Uuid, Uuid)> = sqlx::query_as(
            "DELETE FROM documents WHERE order_id = ANY($1) RETURNING object_path, order_id, worker_id",
        )
        .bind(&ids)
        .fetch_all(&mut *tx)
        .await?;
        let mut workers_of: BTreeMap<Uuid, BTreeSet<Uuid>> = BTreeMap::new();
        for (_, order_id, worker_id) in &objects {
            workers_of.entry(*order_id).or_default().insert(*worker_id);
        }
        record_destructions(&mut tx, &workers_of, Purpose::DataDeletion, by).await?;
        let (paths, owners): (Vec<String>, Vec<Uuid>) = objects
            .into_iter()
            .map(|(path, order_id, _)| (path, order_id))
            .unzip();
        sqlx::query(
            "INSERT INTO object_deletions (object_path, order_id) \
             SELECT * FROM unnest($1::text[], $2::uuid[]) ON CONFLICT DO NOTHING",
        )
        .bind(&paths)
        .bind(&owners)
        .execute(&mut *tx)
        .await?;
        let mut keys_destroyed: HashMap<Uuid, u32> = HashMap::new();
        for order_id in keys_of {
            *keys_destroyed.entry(order_id).or_default() += 1;
        }
        let (counted, counts): (Vec<Uuid>, Vec<i32>) = keys_destroyed
            .iter()
            .map(|(order_id, keys)| (*order_id, *keys as i32))
            .unzip();
        sqlx::query(
            "UPDATE media_orders m SET total_keys_destroyed = m.total_keys_destroyed + k.keys \
             FROM unnest($1::uuid[], $2::int[]) AS k(order_id, keys) WHERE m.order_id = k.order_id",
        )
        .bind(&counted)
        .bind(&counts)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(keys_destroyed)
    }

    /// Objects waiting for deletion, oldest first: those of `orders`, or
    /// all.
    pub async fn pending_deletions(
        &self,
        orders: Option<&[OrderId]>,
        limit: i64,
    ) -> Result<Vec<PendingDeletion>, MediaError> {
        let orders: Option<Vec<Uuid>> =
            orders.map(|orders| orders.iter().map(|id| id.as_uuid()).collect());
        Ok(sqlx::query_as(
            "SELECT object_path, order_id FROM object_deletions \
             WHERE $1::uuid[] IS NULL OR order_id = ANY($1) ORDER BY queued_at LIMIT $2",
        )
        .bind(orders)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    /// The store confirmed these deletions; each counts against its order
    /// if the order is purged.
    pub async fn deletions_done(&self, done: &[PendingDeletion]) -> Result<(), MediaError> {
        let paths: Vec<&str> = done
            .iter()
            .map(|pending| pending.object_path.as_str())
            .collect();
        sqlx::query(
            "WITH locked AS (SELECT object_path FROM object_deletions WHERE object_path = ANY($1) \
             ORDER BY object_path FOR UPDATE), \
             done AS (DELETE FROM object_deletions WHERE object_path IN (SELECT object_path FROM locked) \
             RETURNING order_id) \
             UPDATE media_orders m SET total_objects_deleted = m.total_objects_deleted + d.objects \
             FROM (SELECT order_id, count(*)::int AS objects FROM done GROUP BY order_id) d \
             WHERE m.order_id = d.order_id AND m.purged_at IS NOT NULL",
        )
        .bind(&paths)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn deletion_failed(
        &self,
        pending: &PendingDeletion,
        error: &str,
    ) -> Result<(), MediaError> {
        sqlx::query("UPDATE object_deletions SET attempts = attempts + 1, last_error = $2 WHERE object_path = $1")
            .bind(&pending.object_path)
            .bind(error)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Counts objects found below a purged order's prefix and deleted.
    pub async fn count_stray_deletions(
        &self,
        order_id: OrderId,
        count: u32,
    ) -> Result<(), MediaError> {
        sqlx::query("UPDATE media_orders SET total_objects_deleted = total_objects_deleted + $2 WHERE order_id = $1")
            .bind(order_id.as_uuid())
            .bind(count as i32)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The purge counters of purged orders among `order_ids`.
    pub async fn purge_totals(
        &self,
        order_ids: &[OrderId],
    ) -> Result<HashMap<Uuid, PurgeTotals>, MediaError> {
        let ids: Vec<Uuid> = order_ids.iter().map(|id| id.as_uuid()).collect();
        let rows: Vec<(Uuid, DateTime<Utc>, i32, i32)> = sqlx::query_as(
            "SELECT order_id, purged_at, total_objects_deleted, total_keys_destroyed \
             FROM media_orders WHERE order_id = ANY($1) AND purged_at IS NOT NULL",
        )
        .bind(&ids)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(order_id, purged_at, objects, keys)| {
                let totals = PurgeTotals {
                    purged_at,
                    objects_deleted: objects as u32,
                    keys_destroyed: keys as u32,
                };
                (order_id, totals)
            })
            .collect())
    }

    /// Forgets an object that was stored but never recorded (the upload
    /// failed after the store accepted it).
    pub async fn queue_orphan(&self, path: &str, order_id: OrderId) -> Result<(), MediaError> {
        let mut conn = self.pool.acquire().await?;
        queue_deletion(&mut conn, path, order_id).await
    }
}

impl Store {
    /// Destroys documents of an order not yet decided, in `tx`: their keys
    /// go (the objects are unreadable from the commit on), their objects
    /// are queued for deletion and the sweep woken, and each is recorded
    /// with why. A rejected document already gone (replaced by an upload
    /// meanwhile, which destroyed its key) is recorded all the same.
    /// Idempotent. How many keys were destroyed now.
    pub async fn destroy(
        tx: &mut PgConnection,
        order_id: OrderId,
        which: Destroy<'_>,
    ) -> Result<u32, MediaError> {
        let gone: Vec<(Uuid, Uuid, String, String)> = match &which {
            Destroy::Rejected(documents) => {
                let ids: Vec<Uuid> = documents.iter().map(|(id, ..)| id.as_uuid()).collect();
                sqlx::query_as(
                    "DELETE FROM documents WHERE order_id = $1 AND id = ANY($2) \
                     RETURNING id, worker_id, kind, object_path",
                )
                .bind(order_id.as_uuid())
                .bind(&ids)
                .fetch_all(&mut *tx)
                .await?
            }
            Destroy::Worker(worker_id) => {
                sqlx::query_as(
                    "DELETE FROM documents WHERE order_id = $1 AND worker_id = $2 \
                     RETURNING id, worker_id, kind, object_path",
                )
                .bind(order_id.as_uuid())
                .bind(worker_id.as_uuid())
                .fetch_all(&mut *tx)
                .await?
            }
        };
        for (_, _, _, path) in &gone {
            queue_deletion(tx, path, order_id).await?;
        }
        if !gone.is_empty() {
            let workers: BTreeSet<Uuid> =
                gone.iter().map(|(_, worker_id, _, _)| *worker_id).collect();
            let purpose = match which {
                Destroy::Rejected(_) => Purpose::CaseReview,
                Destroy::Worker(_) => Purpose::Ordering,
            };
            record_destructions(
                tx,
                &BTreeMap::from([(order_id.as_uuid(), workers)]),
                purpose,
                "service:media",
            )
            .await?;
        }
        // What is recorded: each document named, or each one found.
        let recorded: Vec<(Uuid, Uuid, String, String)> = match which {
            Destroy::Rejected(documents) => documents
                .iter()
                .map(|(id, worker_id, kind, reason)| {
                    (
                        id.as_uuid(),
                        worker_id.as_uuid(),
                        kind.as_str().to_owned(),
                        format!("rejected:{reason}"),
                    )
                })
                .collect(),
            Destroy::Worker(_) => gone
                .iter()
                .map(|(id, worker_id, kind, _)| {
                    (*id, *worker_id, kind.clone(), "worker_removed".to_owned())
                })
                .collect(),
        };
        let mut ids = Vec::with_capacity(recorded.len());
        let mut workers = Vec::with_capacity(recorded.len());
        let mut kinds = Vec::with_capacity(recorded.len());
        let mut reasons = Vec::with_capacity(recorded.len());
        for (id, worker_id, kind, reason) in recorded {
            ids.push(id);
            workers.push(worker_id);
            kinds.push(kind);
            reasons.push(reason);
        }
        sqlx::query(
            "INSERT INTO document_destructions (document_id, order_id, worker_id, kind, reason) \
             SELECT d.id, $1, d.worker_id, d.kind, d.reason \
             FROM unnest($2::uuid[], $3::uuid[], $4::text[], $5::text[]) AS d(id, worker_id, kind, reason) \
             ON CONFLICT (document_id) DO NOTHING",
        )
        .bind(order_id.as_uuid())
        .bind(&ids)
        .bind(&workers)
        .bind(&kinds)
        .bind(&reasons)
        .execute(&mut *tx)
        .await?;
        if !gone.is_empty() {
            DELETIONS.arm();
        }
        Ok(gone.len() as u32)
    }
}

/// Takes the order's row lock, creating the row if media has not seen the
/// order yet. Uploads and purges of one order are thereby serialised.
async fn lock_order(
    tx: &mut PgConnection,
    order_id: OrderId,
    company_id: Option<CompanyId>,
) -> Result<(), MediaError> {
    sqlx::query(
        "INSERT INTO media_orders (order_id, company_id) VALUES ($1, $2) \
         ON CONFLICT (order_id) DO UPDATE SET company_id = COALESCE(media_orders.company_id, EXCLUDED.company_id)",
    )
    .bind(order_id.as_uuid())
    .bind(company_id.map(|id| id.as_uuid()))
    .execute(&mut *tx)
    .await?;
    Ok(())
}

async fn queue_deletion(
    conn: &mut PgConnection,
    path: &str,
    order_id: OrderId,
) -> Result<(), MediaError> {
    sqlx::query("INSERT INTO object_deletions (object_path, order_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
        .bind(path)
        .bind(order_id.as_uuid())
        .execute(conn)
        .await?;
    Ok(())
}

/// Records, per order, that its workers' documents were destroyed.
async fn record_destructions(
    tx: &mut PgConnection,
    workers_of: &BTreeMap<Uuid, BTreeSet<Uuid>>,
    purpose: Purpose,
    by: &str,
) -> Result<(), MediaError> {
    if workers_of.is_empty() {
        return Ok(());
    }
    let orders: Vec<Uuid> = workers_of.keys().copied().collect();
    let companies: Vec<(Uuid, Uuid)> = sqlx::query_as(
        "SELECT order_id, company_id FROM media_orders WHERE order_id = ANY($1) AND company_id IS NOT NULL",
    )
    .bind(&orders)
    .fetch_all(&mut *tx)
    .await?;
    let destructions: Vec<Access> = companies
        .into_iter()
        .filter_map(|(order_id, company_id)| {
            let workers = workers_of.get(&order_id)?;
            Some(
                Access::new(company_id, AccessAction::DocumentsDestroyed, purpose, by)
                    .order(order_id)
                    .workers(workers),
            )
        })
        .collect();
    Ok(hms_access_log::record_all(&mut *tx, destructions).await?)
}

impl Store {
    /// Records an access that changes nothing here (a download, print
    /// material handed over), before the data is handed out.
    pub async fn record_access(&self, access: Access) -> Result<(), MediaError> {
        Ok(hms_access_log::record_alone(&self.pool, [access]).await?)
    }
}
