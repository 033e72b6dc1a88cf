//! The cards database: cards and their history.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use hms_domain::{CardId, CardNumber, CardType, CompanyId, OrderId, WorkerId};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::domain::{Card, CardStatus, PrintState, StatusChange};
use crate::error::CardsError;

#[derive(Clone)]
pub struct Store {
    pub pool: PgPool,
}

#[derive(sqlx::FromRow)]
struct CardRow {
    card_id: Uuid,
    card_number: String,
    company_id: Uuid,
    order_id: Uuid,
    worker_id: Uuid,
    holder_name: String,
    employer_org_number: String,
    employer_name: String,
    card_type: String,
    issued_at: DateTime<Utc>,
    valid_until: DateTime<Utc>,
    status: String,
    print_state: String,
    status_index: i64,
}

const CARD_COLUMNS: &str = "card_id, card_number, company_id, order_id, worker_id, holder_name, \
    employer_org_number, employer_name, card_type, issued_at, valid_until, status, print_state, \
    status_index";

impl CardRow {
    fn into_card(self, history: Vec<StatusChange>) -> Result<Card, CardsError> {
        let corrupt = |what: &str| CardsError::Corrupt(format!("{what} of card {}", self.card_id));
        Ok(Card {
            card_number: CardNumber::parse(&self.card_number).map_err(|_| corrupt("number"))?,
            card_type: CardType::parse(&self.card_type).map_err(|_| corrupt("type"))?,
            status: CardStatus::parse(&self.status).ok_or_else(|| corrupt("status"))?,
            print_state: PrintState::parse(&self.print_state)
                .ok_or_else(|| corrupt("print state"))?,
            status_index: u64::try_from(self.status_index).map_err(|_| corrupt("status index"))?,
            card_id: CardId::from_uuid(self.card_id),
            company_id: CompanyId::from_uuid(self.company_id),
            order_id: OrderId::from_uuid(self.order_id),
            worker_id: WorkerId::from_uuid(self.worker_id),
            holder_name: self.holder_name,
            employer_org_number: self.employer_org_number,
            employer_name: self.employer_name,
            issued_at: self.issued_at,
            valid_until: self.valid_until,
            history,
        })
    }
}

/// A card to issue.
pub struct NewCard<'a> {
    pub card_id: CardId,
    pub card_number: &'a CardNumber,
    pub company_id: CompanyId,
    pub order_id: OrderId,
    pub worker_id: WorkerId,
    pub holder_name: &'a str,
    pub employer_org_number: &'a str,
    pub employer_name: &'a str,
    pub card_type: CardType,
    pub issued_at: DateTime<Utc>,
    pub valid_until: DateTime<Utc>,
}

impl Store {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    /// The workers of these orders who have a card already, as (order,
    /// worker) pairs.
    pub async fn carded_workers(
        tx: &mut PgConnection,
        order_ids: &[OrderId],
    ) -> Result<HashSet<(OrderId, WorkerId)>, CardsError> {
        let ids: Vec<Uuid> = order_ids.iter().map(|id| id.as_uuid()).collect();
        let rows: Vec<(Uuid, Uuid)> =
            sqlx::query_as("SELECT order_id, worker_id FROM cards WHERE order_id = ANY($1)")
                .bind(ids)
                .fetch_all(&mut *tx)
                .await?;
        Ok(rows
            .into_iter()
            .map(|(order, worker)| (OrderId::from_uuid(order), WorkerId::from_uuid(worker)))
            .collect())
    }

    /// Issues cards, each with the first entry of its history, in one
    /// statement; the ids of those issued. A card whose number is taken
    /// (by another card, or by one before it in `cards`) is left out: it
    /// draws another number.
    pub async fn issue_all(
        tx: &mut PgConnection,
        cards: &[NewCard<'_>],
    ) -> Result<HashSet<CardId>, CardsError> {
        let texts = |value: fn(&NewCard<'_>) -> String| -> Vec<String> {
            cards.iter().map(value).collect()
        };
        let ids =
            |value: fn(&NewCard<'_>) -> Uuid| -> Vec<Uuid> { cards.iter().map(value).collect() };
        let issued: Vec<Uuid> = sqlx::query_scalar(
            "WITH issued AS (
                 INSERT INTO cards (card_id, card_number, company_id, order_id, worker_id, holder_name,
                                    employer_org_number, employer_name, card_type, issued_at,
                                    valid_until, status)
                 SELECT card_id, card_number, company_id, order_id, worker_id, holder_name,
                        employer_org_number, employer_name, card_type, issued_at, valid_until, $12
                 FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::uuid[], $5::uuid[], $6::text[],
                             $7::text[], $8::text[], $9::text[], $10::timestamptz[], $11::timestamptz[])
                      AS c(card_id, card_number, company_id, order_id, worker_id, holder_name,
                           employer_org_number, employer_name, card_type, issued_at, valid_until)
                 ON CONFLICT (card_number) DO NOTHING
                 RETURNING card_id, issued_at)
             INSERT INTO card_history (card_id, at, status, reason, changed_by_user_id)
             SELECT card_id, issued_at, $12, '', NULL FROM issued
             RETURNING card_id",
        )
        .bind(ids(|card| card.card_id.as_uuid()))
        .bind(texts(|card| card.card_number.as_str().to_owned()))
        .bind(ids(|card| card.company_id.as_uuid()))
        .bind(ids(|card| card.order_id.as_uuid()))
        .bind(ids(|card| card.worker_id.as_uuid()))
        .bind(texts(|card| card.holder_name.to_owned()))
        .bind(texts(|card| card.employer_org_number.to_owned()))
        .bind(texts(|card| card.employer_name.to_owned()))
        .bind(texts(|card| card.card_type.as_str().to_owned()))
        .bind(cards.iter().map(|card| card.issued_at).collect::<Vec<_>>())
        .bind(cards.iter().map(|card| card.valid_until).collect::<Vec<_>>())
        .bind(CardStatus::Active.as_str())
        .fetch_all(&mut *tx)
        .await?;
        Ok(issued.into_iter().map(CardId::from_uuid).collect())
    }

    async fn record(
        tx: &mut PgConnection,
        card_id: CardId,
        status: CardStatus,
        at: DateTime<Utc>,
        reason: &str,
        by: Option<Uuid>,
    ) -> Result<(), CardsError> {
        sqlx::query(
            "INSERT INTO card_history (card_id, at, status, reason, changed_by_user_id)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(card_id.as_uuid())
        .bind(at)
        .bind(status.as_str())
        .bind(reason)
        .bind(by)
        .execute(&mut *tx)
        .await?;
        Ok(())
    }

    /// A card by its number, with its history.
    pub async fn by_number(&self, number: &CardNumber) -> Result<Option<Card>, CardsError> {
        let mut connection = self.pool.acquire().await?;
        let row: Option<CardRow> = sqlx::query_as(&format!(
            "SELECT {CARD_COLUMNS} FROM cards WHERE card_number = $1"
        ))
        .bind(number.as_str())
        .fetch_optional(&mut *connection)
        .await?;
        match row {
            Some(row) => {
                let history = Self::history(&mut connection, row.card_id).await?;
                Ok(Some(row.into_card(history)?))
            }
            None => Ok(None),
        }
    }

    async fn history(
        connection: &mut PgConnection,
        card_id: Uuid,
    ) -> Result<Vec<StatusChange>, CardsError> {
        let rows: Vec<(String, DateTime<Utc>, String, Option<Uuid>)> = sqlx::query_as(
            "SELECT status, at, reason, changed_by_user_id FROM card_history
             WHERE card_id = $1 ORDER BY at, status",
        )
        .bind(card_id)
        .fetch_all(&mut *connection)
        .await?;
        rows.into_iter()
            .map(|(status, at, reason, changed_by)| {
                Ok(StatusChange {
                    status: CardStatus::parse(&status).ok_or_else(|| {
                        CardsError::Corrupt(format!("a status in the history of {card_id}"))
                    })?,
                    at,
                    reason,
                    changed_by,
                })
            })
            .collect()
    }

    /// A company's cards, newest first, after `after` (a page's last).
    pub async fn list(
        &self,
        company_id: CompanyId,
        status: Option<CardStatus>,
        after: Option<(DateTime<Utc>, Uuid)>,
        limit: i64,
    ) -> Result<Vec<Card>, CardsError> {
        let mut connection = self.pool.acquire().await?;
        let rows: Vec<CardRow> = sqlx::query_as(&format!(
            "SELECT {CARD_COLUMNS} FROM cards
             WHERE company_id = $1
               AND ($2::text IS NULL OR status = $2)
               AND ($3::timestamptz IS NULL OR (issued_at, card_id) < ($3, $4))
             ORDER BY issued_at DESC, card_id DESC LIMIT $5"
        ))
        .bind(company_id.as_uuid())
        .bind(status.map(CardStatus::as_str))
        .bind(after.map(|(at, _)| at))
        .bind(after.map(|(_, id)| id))
        .bind(limit)
        .fetch_all(&mut *connection)
        .await?;
        let mut cards = Vec::with_capacity(rows.len());
        for row in rows {
            let history = Self::history(&mut connection, row.card_id).await?;
            cards.push(row.into_card(history)?);
        }
        Ok(cards)
    }

    /// The cards of these workers, newest first.
    pub async fn of_workers(&self, workers: &[Uuid]) -> Result<Vec<Card>, CardsError> {
        if workers.is_empty() {
            return Ok(Vec::new());
        }
        let mut connection = self.pool.acquire().await?;
        let rows: Vec<CardRow> = sqlx::query_as(&format!(
            "SELECT {CARD_COLUMNS} FROM cards WHERE worker_id = ANY($1) \
             ORDER BY issued_at DESC, card_id DESC LIMIT 1000"
        ))
        .bind(workers)
        .fetch_all(&mut *connection)
        .await?;
        let mut cards = Vec::with_capacity(rows.len());
        for row in rows {
            let history = Self::history(&mut connection, row.card_id).await?;
            cards.push(row.into_card(history)?);
        }
        Ok(cards)
    }

    /// Moves an active card to `status`, with who and why; `None` if it
    /// was not active (by the time the row was locked).
    pub async fn end(
        tx: &mut PgConnection,
        card_id: CardId,
        status: CardStatus,
        reason: &str,
        by: Option<Uuid>,
    ) -> Result<bool, CardsError> {
        let now = Utc::now();
        let changed =
            sqlx::query("UPDATE cards SET status = $2 WHERE card_id = $1 AND status = 'active'")
                .bind(card_id.as_uuid())
                .bind(status.as_str())
                .execute(&mut *tx)
                .await?;
        if changed.rows_affected() == 0 {
            return Ok(false);
        }
        Self::record(tx, card_id, status, now, reason, by).await?;
        Ok(true)
    }

    /// Active cards past their end, expired (at most `limit`), claimed so
    /// that replicas share the work.
    pub async fn expire_due(tx: &mut PgConnection, limit: i64) -> Result<Vec<Card>, CardsError> {
        let rows: Vec<CardRow> = sqlx::query_as(&format!(
            "WITH due AS MATERIALIZED (
                 SELECT card_id AS due_card FROM cards
                 WHERE status = 'active' AND valid_until <= now()
                 ORDER BY valid_until LIMIT $1
                 FOR UPDATE SKIP LOCKED
             )
             UPDATE cards SET status = 'expired'
             FROM due WHERE cards.card_id = due.due_card
             RETURNING {CARD_COLUMNS}"
        ))
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
        let mut cards = Vec::with_capacity(rows.len());
        for row in rows {
            let card_id = CardId::from_uuid(row.card_id);
            let at = row.valid_until;
            Self::record(tx, card_id, CardStatus::Expired, at, "", None).await?;
            cards.push(row.into_card(Vec::new())?);
        }
        Ok(cards)
    }

    /// Active cards ending within `days` whose company was not told so
    /// yet, marked as told (at most `limit`).
    pub async fn ending_within(
        tx: &mut PgConnection,
        days: u32,
        limit: i64,
    ) -> Result<Vec<Card>, CardsError> {
        // Told 30 days ahead counts as told 60 days ahead too: a card found
        // only within 30 days is told once.
        let (set, unset) = match days {
            60 => ("expiring_60_told_at = now()", "expiring_60_told_at"),
            30 => (
                "expiring_30_told_at = now(),
                 expiring_60_told_at = COALESCE(expiring_60_told_at, now())",
                "expiring_30_told_at",
            ),
            _ => return Err(CardsError::Corrupt(format!("no notice {days} days ahead"))),
        };
        let rows: Vec<CardRow> = sqlx::query_as(&format!(
            "WITH due AS MATERIALIZED (
                 SELECT card_id AS due_card FROM cards
                 WHERE status = 'active' AND {unset} IS NULL
                   AND valid_until > now()
                   AND valid_until <= now() + make_interval(days => $1)
                 ORDER BY valid_until LIMIT $2
                 FOR UPDATE SKIP LOCKED
             )
             UPDATE cards SET {set}
             FROM due WHERE cards.card_id = due.due_card
             RETURNING {CARD_COLUMNS}"
        ))
        .bind(i32::try_from(days).unwrap_or(i32::MAX))
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
        rows.into_iter()
            .map(|row| row.into_card(Vec::new()))
            .collect()
    }
}

/// Wakes the printer when a new print job commits.
pub static PRINT_JOBS: hms_db::wake::Signal = hms_db::wake::Signal::new("print jobs");

/// A print job leased to this worker.
pub struct PrintJobLease {
    pub order_id: OrderId,
    /// This attempt included.
    pub attempts: u32,
    /// The trace of the approval that queued it.
    pub trace_context: hms_telemetry::TraceContext,
}

/// A print job recorded as handed over.
pub struct HandedOver {
    pub order_id: OrderId,
    pub company_id: CompanyId,
    pub producer_job_id: String,
    /// Its cards that count (active), now marked handed over.
    pub cards: u32,
}

/// What is printed on one card, besides the images media holds.
pub struct CardToPrint {
    pub worker_id: WorkerId,
    pub card_number: CardNumber,
    pub holder_name: String,
    pub employer_name: String,
    pub employer_org_number: String,
    pub card_type: CardType,
    pub valid_until: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct CardToPrintRow {
    order_id: Uuid,
    worker_id: Uuid,
    card_number: String,
    holder_name: String,
    employer_name: String,
    employer_org_number: String,
    card_type: String,
    valid_until: DateTime<Utc>,
}

impl Store {
    /// Queues orders' print jobs in `tx`, each once, and wakes the printer
    /// when `tx` commits.
    pub async fn queue_prints(
        tx: &mut PgConnection,
        orders: &[(OrderId, CompanyId)],
    ) -> Result<(), CardsError> {
        let trace_context =
            serde_json::to_string(&hms_telemetry::current_trace_context()).unwrap_or_default();
        let (order_ids, company_ids): (Vec<Uuid>, Vec<Uuid>) = orders
            .iter()
            .map(|(order_id, company_id)| (order_id.as_uuid(), company_id.as_uuid()))
            .unzip();
        sqlx::query(
            "INSERT INTO print_jobs (order_id, company_id, trace_context)
             SELECT order_id, company_id, $3 FROM unnest($1::uuid[], $2::uuid[]) AS j(order_id, company_id)
             ON CONFLICT (order_id) DO NOTHING",
        )
        .bind(order_ids)
        .bind(company_ids)
        .bind(trace_context)
        .execute(&mut *tx)
        .await?;
        PRINT_JOBS.arm();
        Ok(())
    }

    /// Leases up to `limit` due print jobs for `lease`, counting the attempt.
    pub async fn lease_print_jobs(
        &self,
        limit: i64,
        lease: Duration,
        lease_id: Uuid,
    ) -> Result<Vec<PrintJobLease>, CardsError> {
        // The due jobs are chosen once, in the CTE. As an `IN (…)` subquery
        // PostgreSQL may run the choice again within the statement while
        // other transactions change the table, and more than `limit` jobs
        // come back leased: under the pipeline bench, 24 for a limit of 3.
        let rows: Vec<(Uuid, i32, String)> = sqlx::query_as(
            "WITH due AS MATERIALIZED (
                 SELECT order_id FROM print_jobs
                 WHERE state = 'pending' AND next_attempt_at <= now()
                   AND (leased_until IS NULL OR leased_until < now())
                 ORDER BY next_attempt_at LIMIT $3
                 FOR UPDATE SKIP LOCKED)
             UPDATE print_jobs j SET lease_id = $1,
                    leased_until = now() + $2 * interval '1 millisecond',
                    attempts = j.attempts + 1
             FROM due WHERE j.order_id = due.order_id
             RETURNING j.order_id, j.attempts, j.trace_context",
        )
        .bind(lease_id)
        .bind(i64::try_from(lease.as_millis()).unwrap_or(i64::MAX))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(order_id, attempts, trace_context)| PrintJobLease {
                order_id: OrderId::from_uuid(order_id),
                attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
                trace_context: serde_json::from_str(&trace_context).unwrap_or_default(),
            })
            .collect())
    }

    /// The cards of these orders that still count, to print, by order.
    pub async fn cards_to_print(
        &self,
        order_ids: &[OrderId],
    ) -> Result<HashMap<OrderId, Vec<CardToPrint>>, CardsError> {
        let ids: Vec<Uuid> = order_ids.iter().map(|id| id.as_uuid()).collect();
        let rows: Vec<CardToPrintRow> = sqlx::query_as(
            "SELECT order_id, worker_id, card_number, holder_name, employer_name,
                    employer_org_number, card_type, valid_until
             FROM cards WHERE order_id = ANY($1) AND status = 'active'
             ORDER BY order_id, card_number",
        )
        .bind(ids)
        .fetch_all(&self.pool)
        .await?;
        let mut by_order: HashMap<OrderId, Vec<CardToPrint>> = HashMap::new();
        for row in rows {
            let corrupt = |what: &str| CardsError::Corrupt(format!("{what} of a card to print"));
            by_order
                .entry(OrderId::from_uuid(row.order_id))
                .or_default()
                .push(CardToPrint {
                    worker_id: WorkerId::from_uuid(row.worker_id),
                    card_number: CardNumber::parse(&row.card_number)
                        .map_err(|_| corrupt("number"))?,
                    card_type: CardType::parse(&row.card_type).map_err(|_| corrupt("type"))?,
                    holder_name: row.holder_name,
                    employer_name: row.employer_name,
                    employer_org_number: row.employer_org_number,
                    valid_until: row.valid_until,
                });
        }
        Ok(by_order)
    }

    /// Marks the orders' jobs (each with the producer's id for it) and
    /// cards handed over, in `tx`, in three statements however many orders;
    /// orders recorded before are left out of what comes back. A job given
    /// up meanwhile counts as handed over: the producer has it.
    pub async fn mark_handed_over(
        tx: &mut PgConnection,
        handovers: &[(OrderId, String)],
    ) -> Result<Vec<HandedOver>, CardsError> {
        let (order_ids, job_ids): (Vec<Uuid>, Vec<&str>) = handovers
            .iter()
            .map(|(order_id, job_id)| (order_id.as_uuid(), job_id.as_str()))
            .unzip();
        // Locked in one order first, so two transactions never wait on each
        // other in a circle (the updates lock in whatever order they join).
        sqlx::query(
            "SELECT order_id FROM print_jobs WHERE order_id = ANY($1)
             ORDER BY order_id FOR UPDATE",
        )
        .bind(&order_ids)
        .execute(&mut *tx)
        .await?;
        let handed: Vec<(Uuid, Uuid, String)> = sqlx::query_as(
            "UPDATE print_jobs j SET state = 'handed_over', handed_over_at = now(),
                    producer_job_id = h.job_id, lease_id = NULL, leased_until = NULL,
                    last_error = NULL
             FROM unnest($1::uuid[], $2::text[]) AS h(order_id, job_id)
             WHERE j.order_id = h.order_id AND j.state <> 'handed_over'
             RETURNING j.order_id, j.company_id, h.job_id",
        )
        .bind(&order_ids)
        .bind(&job_ids)
        .fetch_all(&mut *tx)
        .await?;
        if handed.is_empty() {
            return Ok(Vec::new());
        }
        let handed_ids: Vec<Uuid> = handed.iter().map(|(order_id, ..)| *order_id).collect();
        let printed: Vec<(Uuid, i64)> = sqlx::query_as(
            "WITH printed AS (
                 UPDATE cards SET print_state = 'handed_over'
                 WHERE order_id = ANY($1) AND status = 'active'
                 RETURNING order_id)
             SELECT order_id, count(*) FROM printed GROUP BY order_id",
        )
        .bind(&handed_ids)
        .fetch_all(&mut *tx)
        .await?;
        let printed: HashMap<Uuid, i64> = printed.into_iter().collect();
        Ok(handed
            .into_iter()
            .map(|(order_id, company_id, producer_job_id)| HandedOver {
                order_id: OrderId::from_uuid(order_id),
                company_id: CompanyId::from_uuid(company_id),
                producer_job_id,
                cards: u32::try_from(printed.get(&order_id).copied().unwrap_or(0))
                    .unwrap_or(u32::MAX),
            })
            .collect())
    }

    /// Puts a leased job back for a later attempt; false if the lease was
    /// lost or the job settled meanwhile.
    pub async fn print_later(
        &self,
        order_id: OrderId,
        lease_id: Uuid,
        wait: Duration,
        reason: &str,
    ) -> Result<bool, CardsError> {
        let updated = sqlx::query(
            "UPDATE print_jobs SET next_attempt_at = now() + $3 * interval '1 millisecond', last_error = $4,
                    lease_id = NULL, leased_until = NULL
             WHERE order_id = $1 AND lease_id = $2 AND state = 'pending'",
        )
        .bind(order_id.as_uuid())
        .bind(lease_id)
        .bind(i64::try_from(wait.as_millis()).unwrap_or(i64::MAX))
        .bind(reason)
        .execute(&self.pool)
        .await?;
        Ok(updated.rows_affected() == 1)
    }

    /// Gives up a pending job in `tx`: its cards need a new photo. The
    /// company and each card's number and holder, or nothing if the job was
    /// not pending.
    pub async fn abandon_print(
        tx: &mut PgConnection,
        order_id: OrderId,
        reason: &str,
    ) -> Result<Option<(CompanyId, Vec<(String, String)>)>, CardsError> {
        let company: Option<Uuid> = sqlx::query_scalar(
            "UPDATE print_jobs SET state = 'abandoned', abandoned_at = now(), last_error = $2,
                    lease_id = NULL, leased_until = NULL
             WHERE order_id = $1 AND state = 'pending'
             RETURNING company_id",
        )
        .bind(order_id.as_uuid())
        .bind(reason)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(company) = company else {
            return Ok(None);
        };
        let cards: Vec<(String, String)> = sqlx::query_as(
            "UPDATE cards SET print_state = 'needs_photo' WHERE order_id = $1
             RETURNING card_number, holder_name",
        )
        .bind(order_id.as_uuid())
        .fetch_all(&mut *tx)
        .await?;
        Ok(Some((CompanyId::from_uuid(company), cards)))
    }
}
