//! The cards database: cards and their history.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use hms_domain::{CardId, CardNumber, CardType, CompanyId, OrderId, WorkerId};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::domain::{Card, CardStatus, StatusChange};
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
}

const CARD_COLUMNS: &str = "card_id, card_number, company_id, order_id, worker_id, holder_name, \
    employer_org_number, employer_name, card_type, issued_at, valid_until, status";

impl CardRow {
    fn into_card(self, history: Vec<StatusChange>) -> Result<Card, CardsError> {
        let corrupt = |what: &str| CardsError::Corrupt(format!("{what} of card {}", self.card_id));
        Ok(Card {
            card_number: CardNumber::parse(&self.card_number).map_err(|_| corrupt("number"))?,
            card_type: CardType::parse(&self.card_type).map_err(|_| corrupt("type"))?,
            status: CardStatus::parse(&self.status).ok_or_else(|| corrupt("status"))?,
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

    /// The workers of an order who have a card already.
    pub async fn carded_workers(
        tx: &mut PgConnection,
        order_id: OrderId,
    ) -> Result<HashSet<Uuid>, CardsError> {
        let rows: Vec<Uuid> = sqlx::query_scalar("SELECT worker_id FROM cards WHERE order_id = $1")
            .bind(order_id.as_uuid())
            .fetch_all(&mut *tx)
            .await?;
        Ok(rows.into_iter().collect())
    }

    /// Issues a card; false if its number is taken (draw another).
    pub async fn issue(tx: &mut PgConnection, card: &NewCard<'_>) -> Result<bool, CardsError> {
        let inserted = sqlx::query(
            "INSERT INTO cards (card_id, card_number, company_id, order_id, worker_id, holder_name,
                                employer_org_number, employer_name, card_type, issued_at,
                                valid_until, status)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'active')
             ON CONFLICT (card_number) DO NOTHING",
        )
        .bind(card.card_id.as_uuid())
        .bind(card.card_number.as_str())
        .bind(card.company_id.as_uuid())
        .bind(card.order_id.as_uuid())
        .bind(card.worker_id.as_uuid())
        .bind(card.holder_name)
        .bind(card.employer_org_number)
        .bind(card.employer_name)
        .bind(card.card_type.as_str())
        .bind(card.issued_at)
        .bind(card.valid_until)
        .execute(&mut *tx)
        .await?;
        if inserted.rows_affected() == 0 {
            return Ok(false);
        }
        Self::record(
            tx,
            card.card_id,
            CardStatus::Active,
            card.issued_at,
            "",
            None,
        )
        .await?;
        Ok(true)
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
            "UPDATE cards SET status = 'expired'
             WHERE card_id IN (
                 SELECT card_id FROM cards
                 WHERE status = 'active' AND valid_until <= now()
                 ORDER BY valid_until LIMIT $1
                 FOR UPDATE SKIP LOCKED
             )
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
            "UPDATE cards SET {set}
             WHERE card_id IN (
                 SELECT card_id FROM cards
                 WHERE status = 'active' AND {unset} IS NULL
                   AND valid_until > now()
                   AND valid_until <= now() + make_interval(days => $1)
                 ORDER BY valid_until LIMIT $2
                 FOR UPDATE SKIP LOCKED
             )
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
