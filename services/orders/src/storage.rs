//! The orders database. National identity numbers are sealed before they are
//! written and only ever read back masked; every state change and the event
//! announcing it commit together.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use hms_access_log::{Access, Action as AccessAction, Purpose};
use hms_auth::UserCaller;
use hms_company_status::Standing;
use hms_crypto::{FingerprintKey, SealingKey};
use hms_domain::{
    CardType, CompanyId, DocumentId, DocumentKind, MaskedNationalId, Money, NationalIdKind,
    OrderId, PriceList, Reason, VatRate, WorkerId,
};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::domain::{
    CheckState, ClosureReason, Decision, DocumentReview, EmploymentFinding, MAX_WORKERS_PER_ORDER,
    NewOrder, NewWorker, Order, OrderStatus, PersonFinding, RegisterCheck, RejectionReason,
    StatusEvent, StoredDocument, Transition, Worker,
};

/// Who moves an order on: a person, or the platform's own retention.
#[derive(Debug, Clone)]
pub struct Actor {
    /// As recorded with a decision (`user:<id>`, `retention`).
    name: String,
    user_id: Option<Uuid>,
}

impl Actor {
    /// Closes orders left too long.
    pub fn retention() -> Self {
        Self {
            name: "retention".to_owned(),
            user_id: None,
        }
    }
}

impl From<&UserCaller> for Actor {
    fn from(person: &UserCaller) -> Self {
        Self {
            name: person.audit_name(),
            user_id: Some(person.user_id),
        }
    }
}
use crate::error::OrderError;

/// One record of a person as a worker, and what it holds of them now.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SubjectRecord {
    pub order_id: Uuid,
    pub worker_id: Uuid,
    pub company_id: Uuid,
    pub company_name: Option<String>,
    pub company_org_number: Option<String>,
    pub status: String,
    pub closed_because: Option<String>,
    pub card_type: String,
    pub ordered_at: DateTime<Utc>,
    pub decided_at: Option<DateTime<Utc>>,
    pub name: Option<String>,
    pub phone_held: bool,
    pub national_id_masked: String,
    pub national_id_held: bool,
    pub masked_at: Option<DateTime<Utc>>,
    pub register_findings_held: bool,
}

/// An approved order's workers, for issuing their cards.
pub struct ApprovedWorkers {
    pub company_id: CompanyId,
    pub approved_at: DateTime<Utc>,
    pub workers: Vec<ApprovedWorker>,
}

/// What a card shows of a worker, and how long the employment lasts.
pub struct ApprovedWorker {
    pub worker_id: WorkerId,
    pub name: String,
    pub card_type: CardType,
    pub employment_ends_on: Option<NaiveDate>,
}

#[derive(Clone)]
pub struct Store {
    pool: PgPool,
    national_id_key: SealingKey,
    fingerprint_key: FingerprintKey,
    price_list: PriceList,
}

#[derive(sqlx::FromRow)]
struct OrderRow {
    id: Uuid,
    company_id: Uuid,
    status: String,
    unit_net_ore: i64,
    vat_rate_basis_points: i32,
    created_at: DateTime<Utc>,
    submitted_at: Option<DateTime<Utc>>,
    submitted_by: Option<Uuid>,
    decided_at: Option<DateTime<Utc>>,
    rejection_reason: Option<String>,
    national_ids_masked_at: Option<DateTime<Utc>>,
    returned_at: Option<DateTime<Utc>>,
    closed_because: Option<String>,
}

const ORDER_COLUMNS: &str = "id, company_id, status, unit_net_ore, vat_rate_basis_points, created_at, \
                             submitted_at, submitted_by, decided_at, rejection_reason, \
                             national_ids_masked_at, returned_at, closed_because";

#[derive(sqlx::FromRow)]
struct ReviewRow {
    document_id: Uuid,
    order_id: Uuid,
    worker_id: Uuid,
    kind: String,
    decision: String,
    reason: Option<String>,
    note: Option<String>,
    decided_at: DateTime<Utc>,
}

const REVIEW_COLUMNS: &str =
    "document_id, order_id, worker_id, kind, decision, reason, note, decided_at";

impl TryFrom<ReviewRow> for DocumentReview {
    type Error = OrderError;

    fn try_from(row: ReviewRow) -> Result<Self, OrderError> {
        let corrupt = |what: &str| {
            OrderError::Corrupt(format!("{what} of the review of {}", row.document_id))
        };
        let decision = match (row.decision.as_str(), row.reason) {
            ("accepted", None) => Decision::Accepted,
            ("rejected", Some(reason)) => Decision::Rejected {
                reason: RejectionReason::parse(&reason).ok_or_else(|| corrupt("reason"))?,
                // Erased with the order's personal data.
                note: row
                    .note
                    .as_deref()
                    .and_then(|note| Reason::parse(note).ok()),
            },
            _ => return Err(corrupt("decision")),
        };
        Ok(DocumentReview {
            document: StoredDocument {
                id: DocumentId::from_uuid(row.document_id),
                worker_id: WorkerId::from_uuid(row.worker_id),
                kind: DocumentKind::parse(&row.kind).map_err(|_| corrupt("kind"))?,
            },
            decision,
            decided_at: row.decided_at,
        })
    }
}

#[derive(sqlx::FromRow)]
struct WorkerRow {
    id: Uuid,
    order_id: Uuid,
    position: i32,
    name: Option<String>,
    national_id_masked: String,
    national_id_kind: String,
    phone: Option<String>,
    card_type: String,
    employment_ends_on: Option<NaiveDate>,
    check_state: Option<String>,
    check_person: Option<String>,
    check_name_matches: Option<bool>,
    check_employment: Option<String>,
    check_checked_at: Option<DateTime<Utc>>,
    check_waiting_for: Option<String>,
}

/// A worker with their register check, from `WORKERS`.
const WORKER_COLUMNS: &str = "w.id, w.order_id, w.position, w.name, w.national_id_masked, \
                              w.national_id_kind, w.phone, w.card_type, w.employment_ends_on, \
                              c.state AS check_state, c.person AS check_person, \
                              c.name_matches AS check_name_matches, c.employment AS check_employment, \
                              c.checked_at AS check_checked_at, c.waiting_for AS check_waiting_for";
const WORKERS: &str = "workers w LEFT JOIN worker_checks c ON c.worker_id = w.id";

/// A register check just leased, as read.
#[derive(sqlx::FromRow)]
struct ClaimedRow {
    worker_id: Uuid,
    attempts: i32,
    sealed: Option<Vec<u8>>,
    name: Option<String>,
    org_number: Option<String>,
}

/// A worker to look up in the registers. Not `Debug`: it holds the number.
pub struct CheckJob {
    pub worker_id: WorkerId,
    pub attempts: i32,
    pub national_id: secrecy::SecretString,
    pub name: String,
    /// The company's, as this service's projection knows it.
    pub org_number: Option<String>,
}

impl TryFrom<WorkerRow> for Worker {
    type Error = OrderError;

    fn try_from(row: WorkerRow) -> Result<Self, OrderError> {
        let corrupt = |what: &str| OrderError::Corrupt(format!("{what} of worker {}", row.id));
        Ok(Worker {
            id: WorkerId::from_uuid(row.id),
            position: row.position,
            national_id_masked: MaskedNationalId::parse(&row.national_id_masked)
                .ok_or_else(|| corrupt("masked national id"))?,
            national_id_kind: NationalIdKind::parse(&row.national_id_kind)
                .ok_or_else(|| corrupt("national id kind"))?,
            card_type: CardType::parse(&row.card_type).map_err(|_| corrupt("card type"))?,
            check: match row.check_state.as_deref() {
                None => None,
                Some("pending") => Some(CheckState::Pending {
                    waiting_for: row.check_waiting_for,
                }),
                Some("done") => Some(CheckState::Done(RegisterCheck {
                    person: row
                        .check_person
                        .as_deref()
                        .and_then(PersonFinding::parse)
                        .ok_or_else(|| corrupt("register check"))?,
                    name_matches: row.check_name_matches.unwrap_or(false),
                    employment: row
                        .check_employment
                        .as_deref()
                        .and_then(EmploymentFinding::parse)
                        .ok_or_else(|| corrupt("register check"))?,
                    checked_at: row
                        .check_checked_at
                        .ok_or_else(|| corrupt("register check"))?,
                })),
                Some(_) => return Err(corrupt("register check")),
            },
            name: row.name,
            phone: row.phone,
            employment_ends_on: row.employment_ends_on,
        })
    }
}

fn order_from_rows(
    row: OrderRow,
    workers: Vec<Worker>,
    reviews: Vec<DocumentReview>,
) -> Result<Order, OrderError> {
    let corrupt = |what: &str| OrderError::Corrupt(format!("{what} of order {}", row.id));
    Ok(Order {
        id: OrderId::from_uuid(row.id),
        company_id: CompanyId::from_uuid(row.company_id),
        status: OrderStatus::parse(&row.status).ok_or_else(|| corrupt("status"))?,
        workers,
        price_list: PriceList {
            unit_net: Money::from_ore(row.unit_net_ore).map_err(|_| corrupt("unit price"))?,
            vat_rate: u32::try_from(row.vat_rate_basis_points)
                .ok()
                .and_then(|bp| VatRate::from_basis_points(bp).ok())
                .ok_or_else(|| corrupt("VAT rate"))?,
        },
        created_at: row.created_at,
        submitted_at: row.submitted_at,
        submitted_by: row.submitted_by,
        decided_at: row.decided_at,
        rejection_reason: row.rejection_reason,
        national_ids_masked_at: row.national_ids_masked_at,
        returned_at: row.returned_at,
        closed_because: closure_reason(row.closed_because.as_deref())
            .map_err(|()| corrupt("closure reason"))?,
        reviews,
    })
}

/// Where a listing continues: after this creation time and id.
#[derive(Debug, Clone, Copy)]
pub struct Cursor {
    pub created_at: DateTime<Utc>,
    pub id: Uuid,
}

/// What a listing asks for.
#[derive(Debug, Clone, Copy)]
pub struct OrderFilter {
    pub company_id: Option<CompanyId>,
    pub status: Option<OrderStatus>,
}

/// The outcome of masking an order's numbers.
#[derive(Debug, Clone, Copy)]
pub struct Masked {
    pub company_id: CompanyId,
    /// Approved, rejected or closed: why the data had to go.
    pub status: OrderStatus,
    pub closed_because: Option<ClosureReason>,
    pub workers_masked: u32,
    pub workers_total: u32,
    pub masked_at: DateTime<Utc>,
}

/// What masking did to one order of a batch.
#[derive(Debug, Clone, Copy)]
pub enum MaskOutcome {
    /// Its numbers are masked, now or before.
    Masked(Masked),
    NotFound,
    /// Not approved, rejected or closed: left as it is.
    NotDecided,
}

/// A decided order that still holds national identity numbers.
#[derive(Debug, Clone, Copy)]
pub struct AwaitingRedaction {
    pub order_id: OrderId,
    pub company_id: CompanyId,
    pub status: OrderStatus,
    pub decided_at: DateTime<Utc>,
}

/// What media needs to know before it accepts a document.
#[derive(Debug, Clone, Copy)]
pub struct UploadTarget {
    pub company_id: CompanyId,
    pub status: OrderStatus,
}

impl Store {
    pub fn new(
        pool: PgPool,
        national_id_key: SealingKey,
        fingerprint_key: FingerprintKey,
        price_list: PriceList,
    ) -> Self {
        Self {
            pool,
            national_id_key,
            fingerprint_key,
            price_list,
        }
    }

    /// Creates a draft order, or returns the one an earlier call with the
    /// same idempotency key created (until the order's personal data is
    /// erased).
    pub async fn create(
        &self,
        new: NewOrder,
        subjects: &[String],
        by: &UserCaller,
    ) -> Result<Order, OrderError> {
        if subjects.len() != new.workers.len() {
            return Err(OrderError::Corrupt("a subject key per worker".to_owned()));
        }
        let fingerprint = new.fingerprint(&self.fingerprint_key);
        let key_digest = new.idempotency_key.digest(&self.fingerprint_key);
        let mut tx = self.pool.begin().await?;
        if let Some(order) = self
            .replay(&mut tx, &new, &key_digest, &fingerprint)
            .await?
        {
            return Ok(order);
        }
        ensure_company_approved(&mut tx, new.company_id).await?;
        ensure_cards_of_its_trade(
            &mut tx,
            new.company_id,
            new.workers.iter().map(|worker| worker.card_type),
        )
        .await?;
        let order_id = OrderId::new();
        let inserted = sqlx::query(
            "INSERT INTO orders (id, company_id, idempotency_key_digest, request_fingerprint, status, unit_net_ore, \
             vat_rate_basis_points) VALUES ($1, $2, $3, $4, 'draft', $5, $6)",
        )
        .bind(order_id.as_uuid())
        .bind(new.company_id.as_uuid())
        .bind(&key_digest)
        .bind(&fingerprint)
        .bind(self.price_list.unit_net.ore())
        .bind(self.price_list.vat_rate.basis_points() as i32)
        .execute(&mut *tx)
        .await;
        match inserted {
            Ok(_) => {}
            Err(error) if hms_db::is_unique_violation(&error) => {
                // A concurrent retry won the race; answer with its order.
                drop(tx);
                let mut tx = self.pool.begin().await?;
                return self
                    .replay(&mut tx, &new, &key_digest, &fingerprint)
                    .await?
                    .ok_or(OrderError::NotFound);
            }
            Err(error) => return Err(error.into()),
        }
        for (index, (worker, subject)) in new.workers.iter().zip(subjects).enumerate() {
            self.insert_worker(&mut tx, order_id, index as i32 + 1, worker, subject)
                .await?;
        }
        let order = load_order(&mut tx, order_id).await?;
        Access::new(
            order.company_id,
            AccessAction::WorkerDataCreated,
            Purpose::Ordering,
            by.audit_name(),
        )
        .order(order.id)
        .workers(order.workers.iter().map(|worker| worker.id))
        .record(&mut tx)
        .await?;
        tx.commit().await?;
        tracing::info!(order_id = %order.id, company_id = %order.company_id, workers = order.workers.len(), "order created");
        Ok(order)
    }

    /// The order created earlier with this key, if any; refused if it was
    /// created from a different request.
    async fn replay(
        &self,
        tx: &mut PgConnection,
        new: &NewOrder,
        key_digest: &[u8],
        fingerprint: &[u8],
    ) -> Result<Option<Order>, OrderError> {
        let existing: Option<(Uuid, Option<Vec<u8>>)> = sqlx::query_as(
            "SELECT id, request_fingerprint FROM orders WHERE company_id = $1 AND idempotency_key_digest = $2",
        )
        .bind(new.company_id.as_uuid())
        .bind(key_digest)
        .fetch_optional(&mut *tx)
        .await?;
        // Key digest and fingerprint are erased together with the personal
        // data: a retry that late creates a new draft.
        match existing {
            None => Ok(None),
            Some((id, Some(stored))) if stored == fingerprint => {
                Ok(Some(load_order(tx, OrderId::from_uuid(id)).await?))
            }
            Some(_) => Err(OrderError::IdempotencyConflict),
        }
    }

    async fn insert_worker(
        &self,
        tx: &mut PgConnection,
        order_id: OrderId,
        position: i32,
        worker: &NewWorker,
        subject_key: &str,
    ) -> Result<(), OrderError> {
        let worker_id = WorkerId::new();
        let sealed = self.national_id_key.seal(
            worker.national_id.expose().as_bytes(),
            worker_id.as_uuid().as_bytes(),
        )?;
        sqlx::query(
            "INSERT INTO workers (id, order_id, position, name, national_id_sealed, national_id_masked, \
             national_id_kind, phone, card_type, employment_ends_on, subject_key) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(worker_id.as_uuid())
        .bind(order_id.as_uuid())
        .bind(position)
        .bind(worker.name.as_str())
        .bind(sealed)
        .bind(worker.national_id.masked().as_str())
        .bind(worker.national_id.kind().as_str())
        .bind(worker.phone.as_str())
        .bind(worker.card_type.as_str())
        .bind(worker.employment_ends_on)
        .bind(subject_key)
        .execute(tx)
        .await?;
        Ok(())
    }

    /// Adds a worker to a draft order. The same person twice is refused.
    pub async fn add_worker(
        &self,
        order_id: OrderId,
        worker: NewWorker,
        subject_key: &str,
        by: &UserCaller,
    ) -> Result<(Order, WorkerId), OrderError> {
        let mut tx = self.pool.begin().await?;
        let order = lock_order(&mut tx, order_id).await?;
        if !order.status.is_open() {
            return Err(OrderError::Transition(
                "workers can only be added to a draft order or one returned for correction",
            ));
        }
        ensure_company_approved(&mut tx, order.company_id).await?;
        ensure_cards_of_its_trade(&mut tx, order.company_id, [worker.card_type]).await?;
        if order.workers.len() >= MAX_WORKERS_PER_ORDER {
            return Err(OrderError::TooManyWorkers(MAX_WORKERS_PER_ORDER));
        }
        let sealed: Vec<(Uuid, Option<Vec<u8>>)> =
            sqlx::query_as("SELECT id, national_id_sealed FROM workers WHERE order_id = $1")
                .bind(order_id.as_uuid())
                .fetch_all(&mut *tx)
                .await?;
        let wanted = worker.national_id.expose();
        for (id, sealed) in sealed {
            let Some(sealed) = sealed else { continue };
            let existing = self.national_id_key.open(&sealed, id.as_bytes())?;
            if existing.as_slice() == wanted.as_bytes() {
                return Err(OrderError::DuplicateWorker);
            }
        }
        let position = order.workers.iter().map(|w| w.position).max().unwrap_or(0) + 1;
        self.insert_worker(&mut tx, order_id, position, &worker, subject_key)
            .await?;
        let order = load_order(&mut tx, order_id).await?;
        let added = order
            .workers
            .iter()
            .find(|w| w.position == position)
            .map(|w| w.id)
            .ok_or_else(|| OrderError::Corrupt("added worker not found".to_owned()))?;
        Access::new(
            order.company_id,
            AccessAction::WorkerDataCreated,
            Purpose::Ordering,
            by.audit_name(),
        )
        .order(order.id)
        .workers([added])
        .record(&mut tx)
        .await?;
        tx.commit().await?;
        Ok((order, added))
    }

    /// Whether the company may order, in this service's projection.
    pub async fn ensure_company_approved(&self, company_id: CompanyId) -> Result<(), OrderError> {
        let mut conn = self.pool.acquire().await?;
        ensure_company_approved(&mut conn, company_id).await
    }

    /// Records an access that changes nothing here (a service reading
    /// workers), before the data is handed out.
    pub async fn record_accesses(
        &self,
        accesses: impl IntoIterator<Item = Access>,
    ) -> Result<(), OrderError> {
        Ok(hms_access_log::record_alone(&self.pool, accesses).await?)
    }

    /// Records that `reader` was shown these orders' workers, before they
    /// are shown: an order without workers shows nobody.
    pub async fn record_reads(
        &self,
        orders: &[Order],
        reader: &UserCaller,
        purpose: Purpose,
    ) -> Result<(), OrderError> {
        let mut reads = Vec::new();
        for order in orders.iter().filter(|order| !order.workers.is_empty()) {
            let workers: Vec<WorkerId> = order.workers.iter().map(|worker| worker.id).collect();
            reads.push(
                Access::new(
                    order.company_id,
                    AccessAction::WorkerDataRead,
                    purpose,
                    reader.audit_name(),
                )
                .order(order.id)
                .workers(workers),
            );
        }
        Ok(hms_access_log::record_alone(&self.pool, reads).await?)
    }

    /// Every record of the person with this subject key, newest first.
    pub async fn subject_records(
        &self,
        subject_key: &str,
    ) -> Result<Vec<SubjectRecord>, OrderError> {
        Ok(sqlx::query_as(
            "SELECT w.order_id, w.id AS worker_id, o.company_id, s.name AS company_name, \
             s.org_number AS company_org_number, o.status, o.closed_because, w.card_type, \
             o.created_at AS ordered_at, o.decided_at, w.name, w.phone IS NOT NULL AS phone_held, \
             w.national_id_masked, w.national_id_sealed IS NOT NULL AS national_id_held, w.masked_at, \
             EXISTS (SELECT 1 FROM worker_checks c WHERE c.worker_id = w.id AND c.person IS NOT NULL) \
               AS register_findings_held \
             FROM workers w JOIN orders o ON o.id = w.order_id \
             LEFT JOIN hms_company_status s ON s.company_id = o.company_id \
             WHERE w.subject_key = $1 ORDER BY o.created_at DESC, w.id LIMIT 1000",
        )
        .bind(subject_key)
        .fetch_all(&self.pool)
        .await?)
    }

    /// The workers, orders and companies a subject key points to.
    pub async fn subject_workers(
        &self,
        subject_key: &str,
    ) -> Result<Vec<(Uuid, Uuid, Uuid)>, OrderError> {
        Ok(sqlx::query_as(
            "SELECT w.id, w.order_id, o.company_id FROM workers w JOIN orders o ON o.id = w.order_id \
             WHERE w.subject_key = $1 ORDER BY o.created_at DESC, w.id LIMIT 1000",
        )
        .bind(subject_key)
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn get(&self, order_id: OrderId) -> Result<Order, OrderError> {
        let mut conn = self.pool.acquire().await?;
        load_order(&mut conn, order_id).await
    }

    pub async fn list(
        &self,
        filter: OrderFilter,
        after: Option<Cursor>,
        limit: u32,
    ) -> Result<Vec<Order>, OrderError> {
        let rows: Vec<OrderRow> = sqlx::query_as(&format!(
            "SELECT {ORDER_COLUMNS} FROM orders \
             WHERE ($1::uuid IS NULL OR company_id = $1) AND ($2::text IS NULL OR status = $2) \
               AND ($3::timestamptz IS NULL OR (created_at, id) > ($3, $4)) \
             ORDER BY created_at, id LIMIT $5"
        ))
        .bind(filter.company_id.map(|id| id.as_uuid()))
        .bind(filter.status.map(OrderStatus::as_str))
        .bind(after.map(|cursor| cursor.created_at))
        .bind(after.map(|cursor| cursor.id))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        let ids: Vec<Uuid> = rows.iter().map(|row| row.id).collect();
        let mut workers: HashMap<Uuid, Vec<Worker>> = HashMap::new();
        let worker_rows: Vec<WorkerRow> = sqlx::query_as(&format!(
            "SELECT {WORKER_COLUMNS} FROM {WORKERS} WHERE w.order_id = ANY($1) ORDER BY w.position"
        ))
        .bind(&ids)
        .fetch_all(&self.pool)
        .await?;
        for row in worker_rows {
            workers
                .entry(row.order_id)
                .or_default()
                .push(row.try_into()?);
        }
        let mut reviews: HashMap<Uuid, Vec<DocumentReview>> = HashMap::new();
        let review_rows: Vec<ReviewRow> = sqlx::query_as(&format!(
            "SELECT {REVIEW_COLUMNS} FROM document_reviews WHERE order_id = ANY($1) \
             ORDER BY worker_id, kind, decided_at"
        ))
        .bind(&ids)
        .fetch_all(&self.pool)
        .await?;
        for row in review_rows {
            reviews
                .entry(row.order_id)
                .or_default()
                .push(row.try_into()?);
        }
        rows.into_iter()
            .map(|row| {
                let own = workers.remove(&row.id).unwrap_or_default();
                let reviewed = reviews.remove(&row.id).unwrap_or_default();
                order_from_rows(row, own, reviewed)
            })
            .collect()
    }

    /// Moves an order on; a repeated step changes nothing and publishes
    /// nothing. `check` runs with the order locked, before the change.
    pub async fn transition(
        &self,
        order_id: OrderId,
        transition: Transition,
        actor: &Actor,
        check: impl FnOnce(&Order) -> Result<(), OrderError> + Send,
    ) -> Result<Order, OrderError> {
        let mut tx = self.pool.begin().await?;
        let order = lock_order(&mut tx, order_id).await?;
        let Some(next) = transition.next_status(order.status)? else {
            return Ok(order);
        };
        check(&order)?;
        let (reason, closed_because) = match &transition {
            Transition::Reject(reason) => (Some(reason.as_str().to_owned()), None),
            Transition::Close(why) => (None, Some(why.as_str())),
            Transition::Submit | Transition::Approve | Transition::ReturnForCorrection => {
                (None, None)
            }
        };
        let timestamp_column = match next {
            OrderStatus::Submitted => "submitted_at = now(), submitted_by = $5",
            OrderStatus::Approved | OrderStatus::Rejected | OrderStatus::Closed => {
                "decided_at = now(), decided_by = $3"
            }
            OrderStatus::Draft | OrderStatus::NeedsCorrection => {
                return Err(OrderError::Corrupt(format!(
                    "{} is not reached by a plain transition",
                    next.as_str()
                )));
            }
        };
        let row: OrderRow = sqlx::query_as(&format!(
            "UPDATE orders SET status = $2, {timestamp_column}, rejection_reason = COALESCE($4, rejection_reason), \
             closed_because = COALESCE($6, closed_because) WHERE id = $1 RETURNING {ORDER_COLUMNS}"
        ))
        .bind(order_id.as_uuid())
        .bind(next.as_str())
        .bind(&actor.name)
        .bind(&reason)
        .bind(actor.user_id)
        .bind(closed_because)
        .fetch_one(&mut *tx)
        .await?;
        // A decision changes the order's row alone; a submission also
        // queues the workers' register checks, which they show.
        let workers = if next == OrderStatus::Submitted {
            queue_checks(&mut tx, order_id).await?;
            fetch_workers(&mut tx, order_id).await?
        } else {
            order.workers
        };
        let order = order_from_rows(row, workers, order.reviews)?;
        // Announced in the same transaction (outbox).
        let _event_id = match order.status_event()? {
            Some(StatusEvent::Submitted(event)) => hms_events::enqueue(&mut tx, &event).await?,
            Some(StatusEvent::Approved(event)) => hms_events::enqueue(&mut tx, &event).await?,
            Some(StatusEvent::Rejected(event)) => hms_events::enqueue(&mut tx, &event).await?,
            Some(StatusEvent::Closed(event)) => hms_events::enqueue(&mut tx, &event).await?,
            None => {
                return Err(OrderError::Corrupt(format!(
                    "an order moved to {} announces nothing",
                    order.status.as_str()
                )));
            }
        };
        tx.commit().await?;
        tracing::info!(order_id = %order.id, to = next.as_str(), "order transition");
        Ok(order)
    }

    /// Sends a submitted order back to the company with the back office's
    /// decision on each of its documents, and announces the rejected ones
    /// for media to destroy, in one transaction. With the order locked, the
    /// documents reviewed must still belong to its workers.
    pub async fn return_for_correction(
        &self,
        order_id: OrderId,
        decisions: Vec<(StoredDocument, Decision)>,
        actor: &Actor,
    ) -> Result<Order, OrderError> {
        let mut tx = self.pool.begin().await?;
        let order = lock_order(&mut tx, order_id).await?;
        if Transition::ReturnForCorrection
            .next_status(order.status)?
            .is_none()
        {
            return Ok(order);
        }
        let workers: Vec<WorkerId> = order.workers.iter().map(|w| w.id).collect();
        if decisions
            .iter()
            .any(|(doc, _)| !workers.contains(&doc.worker_id))
        {
            return Err(OrderError::Transition(
                "workers changed while reviewing; try again",
            ));
        }
        let mut rejected_now = Vec::new();
        let (mut ids, mut workers, mut kinds) = (Vec::new(), Vec::new(), Vec::new());
        let (mut labels, mut reasons, mut notes) = (Vec::new(), Vec::new(), Vec::new());
        for (document, decision) in &decisions {
            let (label, reason, note) = match decision {
                Decision::Accepted => ("accepted", None, None),
                Decision::Rejected { reason, note } => {
                    rejected_now.push(*document);
                    (
                        "rejected",
                        Some(reason.as_str()),
                        note.as_ref().map(Reason::as_str),
                    )
                }
            };
            ids.push(document.id.as_uuid());
            workers.push(document.worker_id.as_uuid());
            kinds.push(document.kind.as_str());
            labels.push(label);
            reasons.push(reason);
            notes.push(note);
        }
        // Every document of the order in one statement.
        sqlx::query(
            "INSERT INTO document_reviews (document_id, order_id, worker_id, kind, decision, reason, note, decided_by) \
             SELECT d.id, $2, d.worker_id, d.kind, d.decision, d.reason, d.note, $8 \
             FROM unnest($1::uuid[], $3::uuid[], $4::text[], $5::text[], $6::text[], $7::text[]) \
               AS d(id, worker_id, kind, decision, reason, note) \
             ON CONFLICT (document_id) DO UPDATE SET decision = EXCLUDED.decision, reason = EXCLUDED.reason, \
             note = EXCLUDED.note, decided_by = EXCLUDED.decided_by, decided_at = now()",
        )
        .bind(&ids)
        .bind(order_id.as_uuid())
        .bind(&workers)
        .bind(&kinds)
        .bind(&labels)
        .bind(&reasons)
        .bind(&notes)
        .bind(&actor.name)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE orders SET status = 'needs_correction', returned_at = now() WHERE id = $1",
        )
        .bind(order_id.as_uuid())
        .execute(&mut *tx)
        .await?;
        let order = load_order(&mut tx, order_id).await?;
        hms_events::enqueue(&mut tx, &order.returned_event(&rejected_now)).await?;
        tx.commit().await?;
        tracing::info!(order_id = %order.id, rejected = rejected_now.len(), "order returned for correction");
        Ok(order)
    }

    /// Takes a worker off an order not yet decided: their row, sealed
    /// number and reviews go now, and `worker_removed` has media destroy
    /// their documents. A submitted order keeps at least one worker.
    pub async fn remove_worker(
        &self,
        order_id: OrderId,
        worker_id: WorkerId,
    ) -> Result<Order, OrderError> {
        let mut tx = self.pool.begin().await?;
        let order = lock_order(&mut tx, order_id).await?;
        if !order.status.removes_workers() {
            return Err(OrderError::Transition(
                "workers cannot be removed from a decided order",
            ));
        }
        if !order.workers.iter().any(|worker| worker.id == worker_id) {
            return Err(OrderError::WorkerNotFound);
        }
        if order.status != OrderStatus::Draft && order.workers.len() == 1 {
            return Err(OrderError::Transition(
                "the last worker of a submitted order cannot be removed; the back office rejects the order instead",
            ));
        }
        sqlx::query("DELETE FROM document_reviews WHERE order_id = $1 AND worker_id = $2")
            .bind(order_id.as_uuid())
            .bind(worker_id.as_uuid())
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM workers WHERE order_id = $1 AND id = $2")
            .bind(order_id.as_uuid())
            .bind(worker_id.as_uuid())
            .execute(&mut *tx)
            .await?;
        hms_events::enqueue(
            &mut tx,
            &hms_proto::events::v1::WorkerRemoved {
                order_id: order_id.to_string(),
                company_id: order.company_id.to_string(),
                worker_id: worker_id.to_string(),
                occurred_at: Some(hms_proto::time::timestamp(Utc::now())),
            },
        )
        .await?;
        let order = load_order(&mut tx, order_id).await?;
        tx.commit().await?;
        tracing::info!(%order_id, %worker_id, "worker removed");
        Ok(order)
    }

    /// Leases up to `limit` register checks, each for `lease`, with the
    /// worker's number opened for the lookup: of `order`, those due and
    /// those never tried; of any order, those due.
    /// A worker whose number is masked already needs no check: dropped.
    pub async fn claim_checks(
        &self,
        order: Option<OrderId>,
        limit: u32,
        lease: std::time::Duration,
    ) -> Result<Vec<CheckJob>, OrderError> {
        let rows: Vec<ClaimedRow> = sqlx::query_as(
            "WITH due AS (SELECT worker_id FROM worker_checks \
               WHERE state = 'pending' AND (due_at <= now() OR (order_id = $1 AND attempts = 0)) \
                 AND ($1::uuid IS NULL OR order_id = $1) \
               ORDER BY due_at LIMIT $2 FOR UPDATE SKIP LOCKED), \
             leased AS (UPDATE worker_checks c SET due_at = now() + make_interval(secs => $3), \
               attempts = c.attempts + 1 FROM due WHERE c.worker_id = due.worker_id \
               RETURNING c.worker_id, c.attempts) \
             SELECT l.worker_id, l.attempts, w.national_id_sealed AS sealed, w.name, s.org_number \
             FROM leased l JOIN workers w ON w.id = l.worker_id JOIN orders o ON o.id = w.order_id \
             LEFT JOIN hms_company_status s ON s.company_id = o.company_id",
        )
        .bind(order.map(|id| id.as_uuid()))
        .bind(i64::from(limit))
        .bind(lease.as_secs_f64())
        .fetch_all(&self.pool)
        .await?;
        let mut jobs = Vec::with_capacity(rows.len());
        for ClaimedRow {
            worker_id,
            attempts,
            sealed,
            name,
            org_number,
        } in rows
        {
            let (Some(sealed), Some(name)) = (sealed, name) else {
                sqlx::query("DELETE FROM worker_checks WHERE worker_id = $1")
                    .bind(worker_id)
                    .execute(&self.pool)
                    .await?;
                continue;
            };
            let opened = self.national_id_key.open(&sealed, worker_id.as_bytes())?;
            let national_id = std::str::from_utf8(&opened)
                .map_err(|_| OrderError::Corrupt(format!("sealed number of worker {worker_id}")))?
                .to_owned();
            jobs.push(CheckJob {
                worker_id: WorkerId::from_uuid(worker_id),
                attempts,
                national_id: national_id.into(),
                name,
                org_number,
            });
        }
        Ok(jobs)
    }

    /// Records the registers' answer on a worker.
    pub async fn record_check(
        &self,
        worker_id: WorkerId,
        check: &RegisterCheck,
    ) -> Result<(), OrderError> {
        let mut tx = self.pool.begin().await?;
        let checked: Option<(Uuid, Uuid)> = sqlx::query_as(
            "UPDATE worker_checks c SET state = 'done', person = $2, name_matches = $3, employment = $4, \
             checked_at = $5, waiting_for = NULL FROM orders o \
             WHERE c.worker_id = $1 AND o.id = c.order_id RETURNING o.id, o.company_id",
        )
        .bind(worker_id.as_uuid())
        .bind(check.person.as_str())
        .bind(check.name_matches)
        .bind(check.employment.as_str())
        .bind(check.checked_at)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some((order_id, company_id)) = checked {
            Access::new(
                company_id,
                AccessAction::RegisterChecked,
                Purpose::RegisterCheck,
                "service:orders",
            )
            .order(order_id)
            .workers([worker_id])
            .record(&mut tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// A register did not answer: the check waits `wait` and says why.
    pub async fn check_later(
        &self,
        worker_id: WorkerId,
        wait: std::time::Duration,
        waiting_for: &str,
    ) -> Result<(), OrderError> {
        sqlx::query(
            "UPDATE worker_checks SET due_at = now() + make_interval(secs => $2), waiting_for = $3 \
             WHERE worker_id = $1 AND state = 'pending'",
        )
        .bind(worker_id.as_uuid())
        .bind(wait.as_secs_f64())
        .bind(waiting_for)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Asks the registers again about the order's workers (a check grown
    /// too old to approve on).
    pub async fn recheck(&self, order_id: OrderId) -> Result<(), OrderError> {
        let mut tx = self.pool.begin().await?;
        queue_checks(&mut tx, order_id).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Orders left too long without a decision, oldest first, with why:
    /// drafts created before `draft_before`, orders returned for
    /// correction before `correction_before`, and any undecided order of
    /// a company rejected or suspended before `ineligible_before` (as
    /// this service's projection saw it).
    pub async fn due_for_closing(
        &self,
        draft_before: DateTime<Utc>,
        correction_before: DateTime<Utc>,
        ineligible_before: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<(OrderId, ClosureReason)>, OrderError> {
        let rows: Vec<(Uuid, String)> = sqlx::query_as(
            "SELECT o.id, CASE \
               WHEN c.status IN ('rejected', 'suspended') AND c.updated_at < $3 THEN 'company_ineligible' \
               WHEN o.status = 'draft' THEN 'draft_abandoned' \
               ELSE 'correction_abandoned' END \
             FROM orders o LEFT JOIN hms_company_status c ON c.company_id = o.company_id \
             WHERE o.status IN ('draft', 'submitted', 'needs_correction') AND ( \
               (o.status = 'draft' AND o.created_at < $1) \
               OR (o.status = 'needs_correction' AND o.returned_at < $2) \
               OR (c.status IN ('rejected', 'suspended') AND c.updated_at < $3)) \
             ORDER BY o.created_at, o.id LIMIT $4",
        )
        .bind(draft_before)
        .bind(correction_before)
        .bind(ineligible_before)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|(id, reason)| {
                let reason = ClosureReason::parse(&reason)
                    .ok_or_else(|| OrderError::Corrupt(format!("closure reason {reason}")))?;
                Ok((OrderId::from_uuid(id), reason))
            })
            .collect()
    }

    /// Erases the full national identity numbers of decided orders (and
    /// the request fingerprints derived from them), in one transaction.
    /// Orders that are unknown or not decided are left as they are.
    /// Idempotent. `order_ids` are distinct.
    pub async fn mask_national_ids(
        &self,
        order_ids: &[OrderId],
        by: &str,
    ) -> Result<Vec<(OrderId, MaskOutcome)>, OrderError> {
        let mut ids: Vec<Uuid> = order_ids.iter().map(|id| id.as_uuid()).collect();
        // Locked in one order, so two batches never wait on each other in a
        // circle.
        ids.sort_unstable();
        let mut tx = self.pool.begin().await?;
        // id, company, status, why closed, when masked
        type Found = (Uuid, Uuid, String, Option<String>, Option<DateTime<Utc>>);
        let found: Vec<Found> = sqlx::query_as(
            "SELECT id, company_id, status, closed_because, national_ids_masked_at \
                 FROM orders WHERE id = ANY($1) ORDER BY id FOR UPDATE",
        )
        .bind(&ids)
        .fetch_all(&mut *tx)
        .await?;
        let mut states: HashMap<Uuid, (CompanyId, OrderStatus, Option<ClosureReason>)> =
            HashMap::new();
        let mut masked_at: HashMap<Uuid, DateTime<Utc>> = HashMap::new();
        for (id, company_id, status, closed_because, masked_before) in found {
            let corrupt = |what: &str| OrderError::Corrupt(format!("{what} of order {id}"));
            let status = OrderStatus::parse(&status).ok_or_else(|| corrupt("status"))?;
            let closed_because = closure_reason(closed_because.as_deref())
                .map_err(|()| corrupt("closure reason"))?;
            states.insert(
                id,
                (CompanyId::from_uuid(company_id), status, closed_because),
            );
            if let Some(at) = masked_before {
                masked_at.insert(id, at);
            }
        }
        let decided: Vec<Uuid> = ids
            .iter()
            .copied()
            .filter(|id| {
                states
                    .get(id)
                    .is_some_and(|(_, status, _)| status.is_finished())
            })
            .collect();
        let masked_workers: Vec<(Uuid, Uuid)> = sqlx::query_as(
            "UPDATE workers SET national_id_sealed = NULL, masked_at = now() \
             WHERE order_id = ANY($1) AND national_id_sealed IS NOT NULL RETURNING order_id, id",
        )
        .bind(&decided)
        .fetch_all(&mut *tx)
        .await?;
        let mut masked_by_order: BTreeMap<Uuid, Vec<Uuid>> = BTreeMap::new();
        for (order_id, worker_id) in &masked_workers {
            masked_by_order
                .entry(*order_id)
                .or_default()
                .push(*worker_id);
        }
        let accesses = masked_by_order.iter().filter_map(|(order_id, workers)| {
            let (company_id, _, _) = states.get(order_id)?;
            Some(
                Access::new(
                    company_id,
                    AccessAction::NationalIdMasked,
                    Purpose::DataDeletion,
                    by,
                )
                .order(order_id)
                .workers(workers),
            )
        });
        hms_access_log::record_all(&mut tx, accesses).await?;
        let masked_now: Vec<Uuid> = masked_workers
            .into_iter()
            .map(|(order_id, _)| order_id)
            .collect();
        let totals: HashMap<Uuid, i64> = sqlx::query_as(
            "SELECT order_id, count(*) FROM workers WHERE order_id = ANY($1) GROUP BY order_id",
        )
        .bind(&decided)
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .collect();
        // An order masked before had the rest removed with its numbers, and
        // a decided order takes nothing new: asked again (at the print
        // handover, by the reconciler), it is not written again.
        let unmasked: Vec<Uuid> = decided
            .iter()
            .copied()
            .filter(|id| !masked_at.contains_key(id) || masked_by_order.contains_key(id))
            .collect();
        if !unmasked.is_empty() {
            // The back office's notes may name the person.
            sqlx::query(
                "UPDATE document_reviews SET note = NULL WHERE order_id = ANY($1) AND note IS NOT NULL",
            )
            .bind(&unmasked)
            .execute(&mut *tx)
            .await?;
            // What the registers said of the workers served the decision alone.
            sqlx::query("DELETE FROM worker_checks WHERE order_id = ANY($1)")
                .bind(&unmasked)
                .execute(&mut *tx)
                .await?;
            // Phone numbers served the order alone; names stay only where the
            // cards carry them (approved orders).
            sqlx::query(
                "UPDATE workers w SET phone = NULL, \
                 name = CASE WHEN o.status = 'approved' THEN w.name ELSE NULL END \
                 FROM orders o WHERE o.id = w.order_id AND o.id = ANY($1) \
                   AND (w.phone IS NOT NULL OR (o.status <> 'approved' AND w.name IS NOT NULL))",
            )
            .bind(&unmasked)
            .execute(&mut *tx)
            .await?;
            let masked_first: Vec<(Uuid, DateTime<Utc>)> = sqlx::query_as(
                "UPDATE orders SET national_ids_masked_at = COALESCE(national_ids_masked_at, now()), \
                 request_fingerprint = NULL, idempotency_key_digest = NULL \
                 WHERE id = ANY($1) RETURNING id, national_ids_masked_at",
            )
            .bind(&unmasked)
            .fetch_all(&mut *tx)
            .await?;
            masked_at.extend(masked_first);
        }
        tx.commit().await?;
        let mut masked_per_order: HashMap<Uuid, u32> = HashMap::new();
        for id in masked_now {
            *masked_per_order.entry(id).or_default() += 1;
        }
        for (order_id, workers_masked) in &masked_per_order {
            tracing::info!(%order_id, workers_masked, "national identity numbers masked");
        }
        order_ids
            .iter()
            .map(|&order_id| {
                let id = order_id.as_uuid();
                let outcome = match states.get(&id) {
                    None => MaskOutcome::NotFound,
                    Some((_, status, _)) if !status.is_finished() => MaskOutcome::NotDecided,
                    Some(&(company_id, status, closed_because)) => MaskOutcome::Masked(Masked {
                        company_id,
                        status,
                        closed_because,
                        workers_masked: masked_per_order.get(&id).copied().unwrap_or(0),
                        workers_total: totals.get(&id).copied().unwrap_or(0) as u32,
                        masked_at: *masked_at.get(&id).ok_or_else(|| {
                            OrderError::Corrupt(format!("order {id} vanished while masked"))
                        })?,
                    }),
                };
                Ok((order_id, outcome))
            })
            .collect()
    }

    pub async fn awaiting_redaction(
        &self,
        decided_before: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<AwaitingRedaction>, OrderError> {
        let rows: Vec<(Uuid, Uuid, String, DateTime<Utc>)> = sqlx::query_as(
            "SELECT id, company_id, status, decided_at FROM orders \
             WHERE national_ids_masked_at IS NULL AND status IN ('approved', 'rejected', 'closed') AND decided_at < $1 \
             ORDER BY decided_at, id LIMIT $2",
        )
        .bind(decided_before)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|(id, company_id, status, decided_at)| {
                Ok(AwaitingRedaction {
                    order_id: OrderId::from_uuid(id),
                    company_id: CompanyId::from_uuid(company_id),
                    status: OrderStatus::parse(&status)
                        .ok_or_else(|| OrderError::Corrupt(format!("status of order {id}")))?,
                    decided_at,
                })
            })
            .collect()
    }

    /// Approved orders decided in `[from, before)`, oldest first, after the
    /// `(decided_at, id)` of the previous page.
    pub async fn approved_between(
        &self,
        from: DateTime<Utc>,
        before: DateTime<Utc>,
        after: Option<(DateTime<Utc>, Uuid)>,
        limit: u32,
    ) -> Result<Vec<(OrderId, DateTime<Utc>)>, OrderError> {
        let (after_at, after_id) = after.unzip();
        let rows: Vec<(Uuid, DateTime<Utc>)> = sqlx::query_as(
            "SELECT id, decided_at FROM orders \
             WHERE status = 'approved' AND decided_at >= $1 AND decided_at < $2 \
               AND ($3::timestamptz IS NULL OR (decided_at, id) > ($3, $4)) \
             ORDER BY decided_at, id LIMIT $5",
        )
        .bind(from)
        .bind(before)
        .bind(after_at)
        .bind(after_id)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(id, decided_at)| (OrderId::from_uuid(id), decided_at))
            .collect())
    }

    /// The order's company and status.
    pub async fn state(&self, order_id: OrderId) -> Result<(CompanyId, OrderStatus), OrderError> {
        self.states(&[order_id])
            .await?
            .remove(&order_id)
            .ok_or(OrderError::NotFound)
    }

    /// The company and status of each of `order_ids` that exists.
    pub async fn states(
        &self,
        order_ids: &[OrderId],
    ) -> Result<HashMap<OrderId, (CompanyId, OrderStatus)>, OrderError> {
        let ids: Vec<Uuid> = order_ids.iter().map(|id| id.as_uuid()).collect();
        let rows: Vec<(Uuid, Uuid, String)> =
            sqlx::query_as("SELECT id, company_id, status FROM orders WHERE id = ANY($1)")
                .bind(&ids)
                .fetch_all(&self.pool)
                .await?;
        rows.into_iter()
            .map(|(id, company_id, status)| {
                let status = OrderStatus::parse(&status)
                    .ok_or_else(|| OrderError::Corrupt(format!("status of order {id}")))?;
                Ok((
                    OrderId::from_uuid(id),
                    (CompanyId::from_uuid(company_id), status),
                ))
            })
            .collect()
    }

    /// An approved order's workers as cards need them: names and card
    /// types, never their numbers.
    /// The approved ones of `order_ids`, with their workers in the order
    /// the company listed them, and those known but not approved: two reads
    /// however many orders.
    pub async fn approved_workers(
        &self,
        order_ids: &[OrderId],
    ) -> Result<(HashMap<OrderId, ApprovedWorkers>, HashSet<OrderId>), OrderError> {
        let ids: Vec<Uuid> = order_ids.iter().map(|id| id.as_uuid()).collect();
        let found: Vec<(Uuid, Uuid, String, Option<DateTime<Utc>>)> = sqlx::query_as(
            "SELECT id, company_id, status, decided_at FROM orders WHERE id = ANY($1)",
        )
        .bind(&ids)
        .fetch_all(&self.pool)
        .await?;
        let mut orders = HashMap::with_capacity(found.len());
        let mut not_approved = HashSet::new();
        for (id, company_id, status, decided_at) in found {
            if status != OrderStatus::Approved.as_str() {
                not_approved.insert(OrderId::from_uuid(id));
                continue;
            }
            orders.insert(
                OrderId::from_uuid(id),
                ApprovedWorkers {
                    company_id: CompanyId::from_uuid(company_id),
                    approved_at: decided_at
                        .ok_or_else(|| OrderError::Corrupt(format!("decision time of {id}")))?,
                    workers: Vec::new(),
                },
            );
        }
        let approved_ids: Vec<Uuid> = orders.keys().map(|id| id.as_uuid()).collect();
        let rows: Vec<(Uuid, Uuid, String, String, Option<NaiveDate>)> = sqlx::query_as(
            "SELECT order_id, id, name, card_type, employment_ends_on FROM workers
             WHERE order_id = ANY($1) ORDER BY order_id, position",
        )
        .bind(&approved_ids)
        .fetch_all(&self.pool)
        .await?;
        for (order_id, id, name, card_type, employment_ends_on) in rows {
            let card_type = CardType::parse(&card_type)
                .map_err(|_| OrderError::Corrupt(format!("card type of worker {id}")))?;
            if let Some(order) = orders.get_mut(&OrderId::from_uuid(order_id)) {
                order.workers.push(ApprovedWorker {
                    worker_id: WorkerId::from_uuid(id),
                    name,
                    card_type,
                    employment_ends_on,
                });
            }
        }
        Ok((orders, not_approved))
    }

    pub async fn upload_target(
        &self,
        order_id: OrderId,
        worker_id: WorkerId,
    ) -> Result<UploadTarget, OrderError> {
        let row: Option<(Uuid, String, bool)> = sqlx::query_as(
            "SELECT o.company_id, o.status, EXISTS (SELECT 1 FROM workers w WHERE w.order_id = o.id AND w.id = $2) \
             FROM orders o WHERE o.id = $1",
        )
        .bind(order_id.as_uuid())
        .bind(worker_id.as_uuid())
        .fetch_optional(&self.pool)
        .await?;
        let (company_id, status, has_worker) = row.ok_or(OrderError::NotFound)?;
        if !has_worker {
            return Err(OrderError::WorkerNotFound);
        }
        Ok(UploadTarget {
            company_id: CompanyId::from_uuid(company_id),
            status: OrderStatus::parse(&status)
                .ok_or_else(|| OrderError::Corrupt(format!("status of order {order_id}")))?,
        })
    }
}

/// A stored closure reason: none, or one of the known.
fn closure_reason(stored: Option<&str>) -> Result<Option<ClosureReason>, ()> {
    stored
        .map(|reason| ClosureReason::parse(reason).ok_or(()))
        .transpose()
}

/// Queues a register check of every worker of the order, from scratch.
/// The call that queued them runs them at once (a check never tried is
/// its order's to claim); the background checker takes them only if that
/// call did not get to it, a little later.
async fn queue_checks(tx: &mut PgConnection, order_id: OrderId) -> Result<(), OrderError> {
    sqlx::query(
        "INSERT INTO worker_checks (worker_id, order_id, state, due_at) \
         SELECT id, order_id, 'pending', now() + interval '30 seconds' FROM workers WHERE order_id = $1 \
         ON CONFLICT (worker_id) DO UPDATE SET state = 'pending', due_at = EXCLUDED.due_at, attempts = 0, \
         person = NULL, name_matches = NULL, employment = NULL, checked_at = NULL, waiting_for = NULL",
    )
    .bind(order_id.as_uuid())
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Refuses work for a company that is not approved, or has not accepted
/// the data processing agreement in force, as far as this service has
/// heard from the companies service.
pub async fn ensure_company_approved(
    db: &mut PgConnection,
    company_id: CompanyId,
) -> Result<(), OrderError> {
    match hms_company_status::standing(db, company_id).await? {
        Standing::Approved => {}
        other => return Err(OrderError::CompanyNotApproved(other.refusal())),
    }
    let agreement = hms_company_status::agreement(db, company_id).await?;
    if agreement.accepted_current() {
        Ok(())
    } else {
        Err(OrderError::AgreementNotAccepted(agreement.refusal()))
    }
}

/// Refuses a card of another trade than the company's: a cleaning company's
/// workers get cleaning cards. A company whose trade this service has not
/// heard of is not held up.
async fn ensure_cards_of_its_trade(
    db: &mut PgConnection,
    company_id: CompanyId,
    card_types: impl IntoIterator<Item = CardType>,
) -> Result<(), OrderError> {
    let Some(industry) = hms_company_status::industry(db, company_id).await? else {
        return Ok(());
    };
    match card_types
        .into_iter()
        .find(|card_type| *card_type != industry.card_type())
    {
        Some(card_type) => Err(OrderError::WrongCardType {
            industry,
            card_type,
        }),
        None => Ok(()),
    }
}

async fn load_order(db: &mut PgConnection, order_id: OrderId) -> Result<Order, OrderError> {
    fetch_order(db, order_id, "").await
}

async fn lock_order(db: &mut PgConnection, order_id: OrderId) -> Result<Order, OrderError> {
    fetch_order(db, order_id, "FOR UPDATE").await
}

async fn fetch_workers(
    db: &mut PgConnection,
    order_id: OrderId,
) -> Result<Vec<Worker>, OrderError> {
    let workers: Vec<WorkerRow> = sqlx::query_as(&format!(
        "SELECT {WORKER_COLUMNS} FROM {WORKERS} WHERE w.order_id = $1 ORDER BY w.position"
    ))
    .bind(order_id.as_uuid())
    .fetch_all(&mut *db)
    .await?;
    workers.into_iter().map(Worker::try_from).collect()
}

async fn fetch_order(
    db: &mut PgConnection,
    order_id: OrderId,
    lock: &str,
) -> Result<Order, OrderError> {
    let row: OrderRow = sqlx::query_as(&format!(
        "SELECT {ORDER_COLUMNS} FROM orders WHERE id = $1 {lock}"
    ))
    .bind(order_id.as_uuid())
    .fetch_optional(&mut *db)
    .await?
    .ok_or(OrderError::NotFound)?;
    let workers = fetch_workers(db, order_id).await?;
    let reviews: Vec<ReviewRow> = sqlx::query_as(&format!(
        "SELECT {REVIEW_COLUMNS} FROM document_reviews WHERE order_id = $1 \
         ORDER BY worker_id, kind, decided_at"
    ))
    .bind(order_id.as_uuid())
    .fetch_all(&mut *db)
    .await?;
    let reviews = reviews
        .into_iter()
        .map(DocumentReview::try_from)
        .collect::<Result<_, _>>()?;
    order_from_rows(row, workers, reviews)
}
