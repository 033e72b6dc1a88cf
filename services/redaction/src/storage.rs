//! Redaction receipts, and the record of redactions under way.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use hms_domain::{CompanyId, OrderId};
use hms_proto::events::v1::OrderRedacted;
use hms_proto::time::timestamp;
use sqlx::PgPool;
use uuid::Uuid;

use crate::domain::{Cause, Receipt, Removed, Trigger};
use crate::error::RedactionError;
use crate::signing::{self, ReceiptSigner};

#[derive(Clone)]
pub struct Store {
    pool: PgPool,
    signer: ReceiptSigner,
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
    cause: Option<String>,
    attestation: Option<String>,
}

const COLUMNS: &str = "order_id, company_id, trigger, started_at, completed_at, workers_masked, objects_deleted, keys_destroyed, cause, attestation";

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
            cause: match self.cause.as_deref() {
                None => None,
                Some(cause) => Some(Cause::parse(cause).ok_or_else(corrupt)?),
            },
            removed: Removed {
                workers_masked: u32::try_from(workers).map_err(|_| corrupt())?,
                objects_deleted: u32::try_from(objects).map_err(|_| corrupt())?,
                keys_destroyed: u32::try_from(keys).map_err(|_| corrupt())?,
            },
            started_at: self.started_at,
            completed_at,
            signed: self.attestation,
        }))
    }
}

/// A finished redaction, to turn into a receipt.
#[derive(Debug, Clone, Copy)]
pub struct Completion {
    pub order_id: OrderId,
    pub company_id: CompanyId,
    pub cause: Cause,
    pub removed: Removed,
}

fn uuids(order_ids: &[OrderId]) -> Vec<Uuid> {
    order_ids
        .iter()
        .map(|order_id| order_id.as_uuid())
        .collect()
}

/// Order and company ids as two arrays, for `unnest`.
fn columns(orders: &[(OrderId, Option<CompanyId>)]) -> (Vec<Uuid>, Vec<Option<Uuid>>) {
    orders
        .iter()
        .map(|(order_id, company_id)| (order_id.as_uuid(), company_id.map(|id| id.as_uuid())))
        .unzip()
}

impl Store {
    pub fn new(pool: PgPool, signer: ReceiptSigner) -> Self {
        Self { pool, signer }
    }

    pub fn signer(&self) -> &ReceiptSigner {
        &self.signer
    }

    /// The receipts of those of `order_ids` that are redacted.
    pub async fn receipts(
        &self,
        order_ids: &[OrderId],
    ) -> Result<HashMap<OrderId, Receipt>, RedactionError> {
        let rows: Vec<RedactionRow> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM redactions WHERE order_id = ANY($1) AND completed_at IS NOT NULL"
        ))
        .bind(uuids(order_ids))
        .fetch_all(&self.pool)
        .await?;
        let mut receipts = HashMap::with_capacity(rows.len());
        for row in rows {
            if let Some(receipt) = row.receipt()? {
                receipts.insert(receipt.order_id, receipt);
            }
        }
        Ok(receipts)
    }

    /// Records that redactions start (again), before anything is removed.
    pub async fn begin(
        &self,
        orders: &[(OrderId, Option<CompanyId>)],
        trigger: Trigger,
    ) -> Result<(), RedactionError> {
        let (order_ids, company_ids) = columns(orders);
        sqlx::query(
            "INSERT INTO redactions (order_id, company_id, trigger, attempts) \
             SELECT order_id, company_id, $3, 1 FROM unnest($1::uuid[], $2::uuid[]) AS o(order_id, company_id) \
             ORDER BY order_id \
             ON CONFLICT (order_id) DO UPDATE SET attempts = redactions.attempts + 1, \
             company_id = COALESCE(redactions.company_id, EXCLUDED.company_id)",
        )
        .bind(order_ids)
        .bind(company_ids)
        .bind(trigger.as_str())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Forgets attempts that removed nothing.
    pub async fn abandon(&self, order_ids: &[OrderId]) -> Result<(), RedactionError> {
        if order_ids.is_empty() {
            return Ok(());
        }
        sqlx::query("DELETE FROM redactions WHERE order_id = ANY($1) AND completed_at IS NULL")
            .bind(uuids(order_ids))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn failed(&self, order_ids: &[OrderId], error: &str) -> Result<(), RedactionError> {
        sqlx::query(
            "UPDATE redactions SET last_error = $2 WHERE order_id = ANY($1) AND completed_at IS NULL",
        )
        .bind(uuids(order_ids))
        .bind(error)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Signs a receipt written before receipts were signed, once: a
    /// signature stored meanwhile stands.
    pub async fn attest(&self, receipt: &mut Receipt) -> Result<(), RedactionError> {
        let signed = signing::sign(&self.signer.attester().await?, receipt)?;
        let stored: String = sqlx::query_scalar(
            "UPDATE redactions SET attestation = COALESCE(attestation, $2) \
             WHERE order_id = $1 AND completed_at IS NOT NULL RETURNING attestation",
        )
        .bind(receipt.order_id.as_uuid())
        .bind(signed)
        .fetch_one(&self.pool)
        .await?;
        receipt.signed = Some(stored);
        Ok(())
    }

    /// Turns the records into signed receipts and announces them, each
    /// once: a second completion finds the receipt and publishes nothing.
    pub async fn complete(
        &self,
        completions: &[Completion],
    ) -> Result<Vec<Receipt>, RedactionError> {
        if completions.is_empty() {
            return Ok(Vec::new());
        }
        let order_ids: Vec<Uuid> = completions
            .iter()
            .map(|done| done.order_id.as_uuid())
            .collect();
        let company_ids: Vec<Uuid> = completions
            .iter()
            .map(|done| done.company_id.as_uuid())
            .collect();
        let count = |of: fn(&Removed) -> u32| -> Vec<i32> {
            completions
                .iter()
                .map(|done| i32::try_from(of(&done.removed)).unwrap_or(i32::MAX))
                .collect()
        };
        let attester = self.signer.attester().await?;
        let mut tx = self.pool.begin().await?;
        let completed: Vec<RedactionRow> = sqlx::query_as(&format!(
            "UPDATE redactions r SET completed_at = now(), company_id = d.company_id, \
             workers_masked = d.workers, objects_deleted = d.objects, keys_destroyed = d.keys, last_error = NULL, \
             cause = d.cause \
             FROM unnest($1::uuid[], $2::uuid[], $3::int[], $4::int[], $5::int[], $6::text[]) \
             AS d(order_id, company_id, workers, objects, keys, cause) \
             WHERE r.order_id = d.order_id AND r.completed_at IS NULL RETURNING {}",
            COLUMNS
                .split(", ")
                .map(|column| format!("r.{column}"))
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .bind(&order_ids)
        .bind(&company_ids)
        .bind(count(|removed| removed.workers_masked))
        .bind(count(|removed| removed.objects_deleted))
        .bind(count(|removed| removed.keys_destroyed))
        .bind(
            completions
                .iter()
                .map(|done| done.cause.as_str())
                .collect::<Vec<_>>(),
        )
        .fetch_all(&mut *tx)
        .await?;
        let mut receipts = Vec::with_capacity(completions.len());
        for row in completed {
            let order_id = row.order_id;
            let mut receipt = row
                .receipt()?
                .ok_or_else(|| RedactionError::Corrupt(format!("receipt of order {order_id}")))?;
            receipt.signed = Some(signing::sign(&attester, &receipt)?);
            hms_events::enqueue(
                &mut tx,
                &OrderRedacted {
                    order_id: receipt.order_id.to_string(),
                    company_id: receipt.company_id.to_string(),
                    workers_masked: receipt.removed.workers_masked,
                    objects_deleted: receipt.removed.objects_deleted,
                    keys_destroyed: receipt.removed.keys_destroyed,
                    occurred_at: Some(timestamp(receipt.completed_at)),
                },
            )
            .await?;
            receipts.push(receipt);
        }
        let (signed_orders, signatures): (Vec<Uuid>, Vec<Option<&str>>) = receipts
            .iter()
            .map(|receipt| (receipt.order_id.as_uuid(), receipt.signed.as_deref()))
            .unzip();
        sqlx::query(
            "UPDATE redactions r SET attestation = s.signed \
             FROM unnest($1::uuid[], $2::text[]) AS s(order_id, signed) WHERE r.order_id = s.order_id",
        )
        .bind(signed_orders)
        .bind(signatures)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        if receipts.len() < completions.len() {
            // Completed meanwhile by another attempt: their receipts stand.
            let done: Vec<OrderId> = receipts.iter().map(|receipt| receipt.order_id).collect();
            let others: Vec<OrderId> = completions
                .iter()
                .map(|completion| completion.order_id)
                .filter(|order_id| !done.contains(order_id))
                .collect();
            let found = self.receipts(&others).await?;
            if found.len() < others.len() {
                return Err(RedactionError::NoReceipt);
            }
            receipts.extend(found.into_values());
        }
        Ok(receipts)
    }

    /// Records that the card producer has orders' print material.
    pub async fn record_handovers(
        &self,
        orders: &[(OrderId, Option<CompanyId>)],
    ) -> Result<(), RedactionError> {
        let (order_ids, company_ids) = columns(orders);
        sqlx::query(
            "INSERT INTO handovers (order_id, company_id) \
             SELECT * FROM unnest($1::uuid[], $2::uuid[]) ON CONFLICT (order_id) DO NOTHING",
        )
        .bind(order_ids)
        .bind(company_ids)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Records that approved orders' documents wait for the handover.
    pub async fn await_print(
        &self,
        orders: &[(OrderId, Option<CompanyId>)],
    ) -> Result<(), RedactionError> {
        let (order_ids, company_ids) = columns(orders);
        sqlx::query(
            "INSERT INTO awaiting_print (order_id, company_id) \
             SELECT * FROM unnest($1::uuid[], $2::uuid[]) ON CONFLICT (order_id) DO NOTHING",
        )
        .bind(order_ids)
        .bind(company_ids)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// When approved orders began waiting for their print handover.
    pub async fn approved_at(
        &self,
        order_ids: &[OrderId],
    ) -> Result<HashMap<OrderId, DateTime<Utc>>, RedactionError> {
        let rows: Vec<(Uuid, DateTime<Utc>)> = sqlx::query_as(
            "SELECT order_id, approved_at FROM awaiting_print WHERE order_id = ANY($1)",
        )
        .bind(uuids(order_ids))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(order_id, at)| (OrderId::from_uuid(order_id), at))
            .collect())
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

    /// Those of `order_ids` whose print material the card producer has.
    pub async fn handed_over(
        &self,
        order_ids: &[OrderId],
    ) -> Result<HashSet<OrderId>, RedactionError> {
        let rows: Vec<Uuid> =
            sqlx::query_scalar("SELECT order_id FROM handovers WHERE order_id = ANY($1)")
                .bind(uuids(order_ids))
                .fetch_all(&self.pool)
                .await?;
        Ok(rows.into_iter().map(OrderId::from_uuid).collect())
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
