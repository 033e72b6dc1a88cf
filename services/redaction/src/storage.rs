//! Redaction receipts, and the record of redactions under way.

use chrono::{DateTime, Utc};
use hms_domain::{CompanyId, OrderId};
use hms_proto::events::v1::OrderRedacted;
use hms_proto::time::timestamp;
use sqlx::PgPool;
use uuid::Uuid;

use crate::domain::{Receipt, Removed, Trigger};
use crate::error::RedactionError;

#[derive(Clone)]
pub struct Store {
    pool: PgPool,
}

#[derive(sqlx::FromRow)]
struct RedactionRow {
    order_id: Uuid,
    company_id: Option<Uuid>,
    trigger: String,
    started_at: DateTime<Utc>,
    completed_at: Option<DateTime<Utc>>,
    workers_masked: Option<i32>,
    objects_deleted: Option<i32>,
    keys_destroyed: Option<i32>,
}

const COLUMNS: &str = "order_id, company_id, trigger, started_at, completed_at, workers_masked, objects_deleted, keys_destroyed";

impl RedactionRow {
    /// The receipt, if the redaction is complete.
    fn receipt(self) -> Result<Option<Receipt>, RedactionError> {
        let (Some(completed_at), Some(workers), Some(objects), Some(keys)) = (
            self.completed_at,
            self.workers_masked,
            self.objects_deleted,
            self.keys_destroyed,
        ) else {
            return Ok(None);
        };
        let corrupt = || RedactionError::Corrupt(format!("receipt of order {}", self.order_id));
        Ok(Some(Receipt {
            order_id: OrderId::from_uuid(self.order_id),
            company_id: self
                .company_id
                .map(CompanyId::from_uuid)
                .ok_or_else(corrupt)?,
            trigger: Trigger::parse(&self.trigger).ok_or_else(corrupt)?,
            removed: Removed {
                workers_masked: u32::try_from(workers).map_err(|_| corrupt())?,
                objects_deleted: u32::try_from(objects).map_err(|_| corrupt())?,
                keys_destroyed: u32::try_from(keys).map_err(|_| corrupt())?,
            },
            started_at: self.started_at,
            completed_at,
        }))
    }
}

impl Store {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    pub async fn receipt(&self, order_id: OrderId) -> Result<Option<Receipt>, RedactionError> {
        let row: Option<RedactionRow> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM redactions WHERE order_id = $1"
        ))
        .bind(order_id.as_uuid())
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(row) => row.receipt(),
            None => Ok(None),
        }
    }

    /// Records that a redaction starts (again), before anything is removed.
    pub async fn begin(
        &self,
        order_id: OrderId,
        company_id: Option<CompanyId>,
        trigger: Trigger,
    ) -> Result<(), RedactionError> {
        sqlx::query(
            "INSERT INTO redactions (order_id, company_id, trigger, attempts) VALUES ($1, $2, $3, 1) \
             ON CONFLICT (order_id) DO UPDATE SET attempts = redactions.attempts + 1, \
             company_id = COALESCE(redactions.company_id, EXCLUDED.company_id)",
        )
        .bind(order_id.as_uuid())
        .bind(company_id.map(|id| id.as_uuid()))
        .bind(trigger.as_str())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Forgets an attempt that removed nothing.
    pub async fn abandon(&self, order_id: OrderId) -> Result<(), RedactionError> {
        sqlx::query("DELETE FROM redactions WHERE order_id = $1 AND completed_at IS NULL")
            .bind(order_id.as_uuid())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn failed(&self, order_id: OrderId, error: &str) -> Result<(), RedactionError> {
        sqlx::query(
            "UPDATE redactions SET last_error = $2 WHERE order_id = $1 AND completed_at IS NULL",
        )
        .bind(order_id.as_uuid())
        .bind(error)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Turns the record into a receipt and announces it, once: a second
    /// completion finds the receipt and publishes nothing.
    pub async fn complete(
        &self,
        order_id: OrderId,
        company_id: CompanyId,
        removed: Removed,
    ) -> Result<Receipt, RedactionError> {
        let mut tx = self.pool.begin().await?;
        let completed: Option<RedactionRow> = sqlx::query_as(&format!(
            "UPDATE redactions SET completed_at = now(), company_id = $2, workers_masked = $3, \
             objects_deleted = $4, keys_destroyed = $5, last_error = NULL \
             WHERE order_id = $1 AND completed_at IS NULL RETURNING {COLUMNS}"
        ))
        .bind(order_id.as_uuid())
        .bind(company_id.as_uuid())
        .bind(removed.workers_masked as i32)
        .bind(removed.objects_deleted as i32)
        .bind(removed.keys_destroyed as i32)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = completed else {
            drop(tx);
            return self
                .receipt(order_id)
                .await?
                .ok_or(RedactionError::NoReceipt);
        };
        let receipt = row
            .receipt()?
            .ok_or_else(|| RedactionError::Corrupt(format!("receipt of order {order_id}")))?;
        hms_events::enqueue(
            &mut tx,
            &OrderRedacted {
                order_id: order_id.to_string(),
                company_id: company_id.to_string(),
                workers_masked: removed.workers_masked,
                objects_deleted: removed.objects_deleted,
                keys_destroyed: removed.keys_destroyed,
                occurred_at: Some(timestamp(receipt.completed_at)),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(receipt)
    }

    /// Records that the card producer has an order's print material.
    pub async fn record_handover(
        &self,
        order_id: OrderId,
        company_id: Option<CompanyId>,
    ) -> Result<(), RedactionError> {
        sqlx::query(
            "INSERT INTO handovers (order_id, company_id) VALUES ($1, $2) \
             ON CONFLICT (order_id) DO NOTHING",
        )
        .bind(order_id.as_uuid())
        .bind(company_id.map(|id| id.as_uuid()))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Records that an approved order's documents wait for the handover.
    pub async fn await_print(
        &self,
        order_id: OrderId,
        company_id: Option<CompanyId>,
    ) -> Result<(), RedactionError> {
        sqlx::query(
            "INSERT INTO awaiting_print (order_id, company_id) VALUES ($1, $2) \
             ON CONFLICT (order_id) DO NOTHING",
        )
        .bind(order_id.as_uuid())
        .bind(company_id.map(|id| id.as_uuid()))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// When an approved order began waiting for its print handover.
    pub async fn approved_at(
        &self,
        order_id: OrderId,
    ) -> Result<Option<DateTime<Utc>>, RedactionError> {
        Ok(
            sqlx::query_scalar("SELECT approved_at FROM awaiting_print WHERE order_id = $1")
                .bind(order_id.as_uuid())
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// Approved orders that waited for their handover since before
    /// `before` and are not redacted.
    pub async fn past_print_deadline(
        &self,
        before: DateTime<Utc>,
    ) -> Result<Vec<(OrderId, Option<CompanyId>)>, RedactionError> {
        let rows: Vec<(Uuid, Option<Uuid>)> = sqlx::query_as(
            "SELECT w.order_id, w.company_id FROM awaiting_print w \
             LEFT JOIN redactions r ON r.order_id = w.order_id \
             WHERE w.approved_at < $1 AND r.completed_at IS NULL \
             ORDER BY w.approved_at LIMIT 1000",
        )
        .bind(before)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(order, company)| (OrderId::from_uuid(order), company.map(CompanyId::from_uuid)))
            .collect())
    }

    /// Whether the card producer has the order's print material.
    pub async fn handed_over(&self, order_id: OrderId) -> Result<bool, RedactionError> {
        Ok(
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM handovers WHERE order_id = $1)")
                .bind(order_id.as_uuid())
                .fetch_one(&self.pool)
                .await?,
        )
    }

    /// Redactions started before `before` that never completed.
    pub async fn unfinished(
        &self,
        before: DateTime<Utc>,
    ) -> Result<Vec<(OrderId, Option<CompanyId>)>, RedactionError> {
        let rows: Vec<(Uuid, Option<Uuid>)> = sqlx::query_as(
            "SELECT order_id, company_id FROM redactions WHERE completed_at IS NULL AND started_at < $1 \
             ORDER BY started_at LIMIT 1000",
        )
        .bind(before)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(order, company)| (OrderId::from_uuid(order), company.map(CompanyId::from_uuid)))
            .collect())
    }
}
