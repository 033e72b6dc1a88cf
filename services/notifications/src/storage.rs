//! The notifications database: what it knows of companies and grants, and
//! every message with how its sending went.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use hms_domain::Language;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::domain::{Channel, DeliveryStatus};
use crate::error::NotificationsError;
use crate::notices::Contact;

/// Wakes the delivery worker when a recorded message commits.
pub static NEW_DELIVERIES: hms_db::wake::Signal = hms_db::wake::Signal::new("deliveries");

#[derive(Clone)]
pub struct Store {
    pub pool: PgPool,
}

/// A company as notifications knows it.
#[derive(Debug, Clone)]
pub struct KnownCompany {
    pub company_id: Uuid,
    pub org_number: String,
    pub name: String,
    pub contact: Contact,
    pub language: Language,
}

#[derive(sqlx::FromRow)]
struct CompanyRow {
    company_id: Uuid,
    org_number: String,
    name: String,
    email: String,
    phone: String,
    language: String,
}

impl From<CompanyRow> for KnownCompany {
    fn from(row: CompanyRow) -> Self {
        Self {
            company_id: row.company_id,
            org_number: row.org_number,
            name: row.name,
            contact: Contact {
                email: row.email,
                phone: row.phone,
            },
            language: Language::parse(&row.language).unwrap_or(Language::Nb),
        }
    }
}

/// A grant as notifications knows it.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct KnownGrant {
    pub grant_id: Uuid,
    pub company_id: Uuid,
    pub grantee_user_id: Option<Uuid>,
    pub grantee_label: String,
    pub supplier_org: Option<String>,
    pub supplier_name: Option<String>,
    pub parent_grant_id: Option<Uuid>,
    pub valid_until: Option<DateTime<Utc>>,
}

/// A message to record.
pub struct NewDelivery<'a> {
    pub event_id: &'a str,
    /// What makes the event itself: the same event under another id has
    /// the same key.
    pub dedupe_key: &'a str,
    pub company_id: Uuid,
    pub channel: Channel,
    pub recipient: &'a str,
    pub kind: &'a str,
    pub language: Language,
    pub subject: Option<&'a str>,
    pub body_text: &'a str,
    pub body_html: Option<&'a str>,
}

/// A message, with how its sending went.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Delivery {
    pub delivery_id: Uuid,
    pub event_id: String,
    pub company_id: Uuid,
    pub channel: String,
    pub recipient: String,
    pub kind: String,
    pub language: String,
    pub subject: Option<String>,
    pub body_text: String,
    pub body_html: Option<String>,
    pub status: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

const DELIVERY_COLUMNS: &str = "delivery_id, event_id, company_id, channel, recipient, kind, \
    language, subject, body_text, body_html, status, attempts, last_error, created_at, sent_at";

impl Store {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    // Companies.

    /// What is known of a company as of its `version`, unless a newer
    /// version is known already (a redelivery changes nothing).
    pub async fn company_known(
        tx: &mut PgConnection,
        company: &KnownCompany,
        version: i64,
    ) -> Result<(), NotificationsError> {
        sqlx::query(
            "INSERT INTO companies (company_id, org_number, name, email, phone, language, version)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (company_id) DO UPDATE
             SET org_number = EXCLUDED.org_number, name = EXCLUDED.name,
                 email = EXCLUDED.email, phone = EXCLUDED.phone,
                 language = EXCLUDED.language, version = EXCLUDED.version
             WHERE companies.version < EXCLUDED.version",
        )
        .bind(company.company_id)
        .bind(&company.org_number)
        .bind(&company.name)
        .bind(&company.contact.email)
        .bind(&company.contact.phone)
        .bind(company.language.as_str())
        .bind(version)
        .execute(&mut *tx)
        .await?;
        Ok(())
    }

    /// A company's new contact, unless a newer change is known already.
    /// False if the company is not known yet.
    pub async fn contact_changed(
        tx: &mut PgConnection,
        company_id: Uuid,
        contact: &Contact,
        version: i64,
    ) -> Result<bool, NotificationsError> {
        let known: Option<i64> =
            sqlx::query_scalar("SELECT version FROM companies WHERE company_id = $1 FOR UPDATE")
                .bind(company_id)
                .fetch_optional(&mut *tx)
                .await?;
        match known {
            None => Ok(false),
            Some(known) if known >= version => Ok(true),
            Some(_) => {
                sqlx::query(
                    "UPDATE companies SET email = $2, phone = $3, version = $4
                     WHERE company_id = $1",
                )
                .bind(company_id)
                .bind(&contact.email)
                .bind(&contact.phone)
                .bind(version)
                .execute(&mut *tx)
                .await?;
                Ok(true)
            }
        }
    }

    pub async fn company(
        tx: &mut PgConnection,
        company_id: Uuid,
    ) -> Result<Option<KnownCompany>, NotificationsError> {
        let row: Option<CompanyRow> = sqlx::query_as(
            "SELECT company_id, org_number, name, email, phone, language
             FROM companies WHERE company_id = $1",
        )
        .bind(company_id)
        .fetch_optional(&mut *tx)
        .await?;
        Ok(row.map(KnownCompany::from))
    }

    pub async fn company_by_org(
        tx: &mut PgConnection,
        org_number: &str,
    ) -> Result<Option<KnownCompany>, NotificationsError> {
        let row: Option<CompanyRow> = sqlx::query_as(
            "SELECT company_id, org_number, name, email, phone, language
             FROM companies WHERE org_number = $1
             ORDER BY version DESC LIMIT 1",
        )
        .bind(org_number)
        .fetch_optional(&mut *tx)
        .await?;
        Ok(row.map(KnownCompany::from))
    }

    // Grants.

    pub async fn grant_given(
        tx: &mut PgConnection,
        grant: &KnownGrant,
    ) -> Result<(), NotificationsError> {
        sqlx::query(
            "INSERT INTO grants (grant_id, company_id, grantee_user_id, grantee_label, supplier_org,
                                 supplier_name, parent_grant_id, valid_until)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (grant_id) DO NOTHING",
        )
        .bind(grant.grant_id)
        .bind(grant.company_id)
        .bind(grant.grantee_user_id)
        .bind(&grant.grantee_label)
        .bind(&grant.supplier_org)
        .bind(&grant.supplier_name)
        .bind(grant.parent_grant_id)
        .bind(grant.valid_until)
        .execute(&mut *tx)
        .await?;
        Ok(())
    }

    pub async fn grant_revoked(
        tx: &mut PgConnection,
        grant_id: Uuid,
        at: DateTime<Utc>,
    ) -> Result<(), NotificationsError> {
        sqlx::query("UPDATE grants SET revoked_at = COALESCE(revoked_at, $2) WHERE grant_id = $1")
            .bind(grant_id)
            .bind(at)
            .execute(&mut *tx)
            .await?;
        Ok(())
    }

    pub async fn grant(
        tx: &mut PgConnection,
        grant_id: Uuid,
    ) -> Result<Option<KnownGrant>, NotificationsError> {
        Ok(sqlx::query_as(
            "SELECT grant_id, company_id, grantee_user_id, grantee_label, supplier_org,
                    supplier_name, parent_grant_id, valid_until
             FROM grants WHERE grant_id = $1",
        )
        .bind(grant_id)
        .fetch_optional(&mut *tx)
        .await?)
    }

    /// A grant in force that ends before `before` and whose company was
    /// not told yet (none of `skip`), claimed for telling (`FOR UPDATE SKIP
    /// LOCKED`, so replicas share the work).
    pub async fn grant_ending(
        tx: &mut PgConnection,
        before: DateTime<Utc>,
        skip: &[Uuid],
    ) -> Result<Option<KnownGrant>, NotificationsError> {
        Ok(sqlx::query_as(
            "SELECT grant_id, company_id, grantee_user_id, grantee_label, supplier_org,
                    supplier_name, parent_grant_id, valid_until
             FROM grants
             WHERE revoked_at IS NULL AND expiry_noticed_at IS NULL
               AND valid_until IS NOT NULL AND valid_until > now() AND valid_until <= $1
               AND NOT (grant_id = ANY($2))
             ORDER BY valid_until LIMIT 1
             FOR UPDATE SKIP LOCKED",
        )
        .bind(before)
        .bind(skip)
        .fetch_optional(&mut *tx)
        .await?)
    }

    pub async fn expiry_noticed(
        tx: &mut PgConnection,
        grant_id: Uuid,
    ) -> Result<(), NotificationsError> {
        sqlx::query("UPDATE grants SET expiry_noticed_at = now() WHERE grant_id = $1")
            .bind(grant_id)
            .execute(&mut *tx)
            .await?;
        Ok(())
    }

    // Deliveries.

    /// Records a message to send, once per event (by its content),
    /// recipient and channel, and wakes the worker when the transaction
    /// commits.
    pub async fn record(
        tx: &mut PgConnection,
        delivery: NewDelivery<'_>,
    ) -> Result<(), NotificationsError> {
        sqlx::query(
            "INSERT INTO deliveries (delivery_id, event_id, dedupe_key, company_id, channel,
                                     recipient, kind, language, subject, body_text, body_html,
                                     status)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'pending')
             ON CONFLICT (dedupe_key, recipient, channel) DO NOTHING",
        )
        .bind(Uuid::now_v7())
        .bind(delivery.event_id)
        .bind(delivery.dedupe_key)
        .bind(delivery.company_id)
        .bind(delivery.channel.as_str())
        .bind(delivery.recipient)
        .bind(delivery.kind)
        .bind(delivery.language.as_str())
        .bind(delivery.subject)
        .bind(delivery.body_text)
        .bind(delivery.body_html)
        .execute(&mut *tx)
        .await?;
        NEW_DELIVERIES.arm();
        Ok(())
    }

    /// Messages due to be sent, each leased for `lease` under `lease_id`
    /// and counted as attempted: another replica (or this one after a
    /// crash) takes it only once the lease is over, and only what holds the
    /// lease may record the outcome.
    pub async fn claim_due(
        &self,
        limit: i64,
        lease: std::time::Duration,
        lease_id: Uuid,
    ) -> Result<Vec<Delivery>, NotificationsError> {
        Ok(sqlx::query_as(&format!(
            "WITH due AS MATERIALIZED (
                 SELECT delivery_id AS due_delivery FROM deliveries
                 WHERE status = 'pending' AND next_attempt_at <= now()
                 ORDER BY next_attempt_at LIMIT $1
                 FOR UPDATE SKIP LOCKED
             )
             UPDATE deliveries SET next_attempt_at = now() + make_interval(secs => $2),
                    lease_id = $3, attempts = deliveries.attempts + 1
             FROM due WHERE deliveries.delivery_id = due.due_delivery
             RETURNING {DELIVERY_COLUMNS}"
        ))
        .bind(limit)
        .bind(lease.as_secs_f64())
        .bind(lease_id)
        .fetch_all(&self.pool)
        .await?)
    }

    /// The provider accepted these (each with its reference, if it gave
    /// one); those recorded, leaving out any whose lease was lost meanwhile.
    pub async fn sent_all(
        &self,
        sent: &[(Uuid, Option<String>)],
        lease_id: Uuid,
    ) -> Result<HashSet<Uuid>, NotificationsError> {
        if sent.is_empty() {
            return Ok(HashSet::new());
        }
        let (ids, references): (Vec<Uuid>, Vec<Option<String>>) = sent.iter().cloned().unzip();
        let recorded: Vec<Uuid> = sqlx::query_scalar(
            "UPDATE deliveries d SET status = 'sent', sent_at = now(), provider_reference = s.reference,
                    last_error = NULL, lease_id = NULL
             FROM unnest($1::uuid[], $2::text[]) AS s(delivery_id, reference)
             WHERE d.delivery_id = s.delivery_id AND d.lease_id = $3 AND d.status = 'pending'
             RETURNING d.delivery_id",
        )
        .bind(ids)
        .bind(references)
        .bind(lease_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(recorded.into_iter().collect())
    }

    /// To be tried again after `wait`. False if the lease was lost.
    pub async fn retry_later(
        &self,
        delivery_id: Uuid,
        lease_id: Uuid,
        wait: std::time::Duration,
        reason: &str,
    ) -> Result<bool, NotificationsError> {
        let done = sqlx::query(
            "UPDATE deliveries SET last_error = $4, lease_id = NULL,
                    next_attempt_at = now() + make_interval(secs => $3)
             WHERE delivery_id = $1 AND lease_id = $2 AND status = 'pending'",
        )
        .bind(delivery_id)
        .bind(lease_id)
        .bind(wait.as_secs_f64())
        .bind(reason)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Given up. False if the lease was lost.
    pub async fn failed(
        &self,
        delivery_id: Uuid,
        lease_id: Uuid,
        reason: &str,
    ) -> Result<bool, NotificationsError> {
        let done = sqlx::query(
            "UPDATE deliveries SET status = 'failed', last_error = $3, failed_at = now(),
                    lease_id = NULL
             WHERE delivery_id = $1 AND lease_id = $2 AND status = 'pending'",
        )
        .bind(delivery_id)
        .bind(lease_id)
        .bind(reason)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Deletes messages recorded before `before`, a batch at a time; how
    /// many.
    pub async fn prune(&self, before: DateTime<Utc>) -> Result<u64, NotificationsError> {
        let mut deleted = 0;
        loop {
            let batch = sqlx::query(
                "DELETE FROM deliveries WHERE delivery_id IN (
                     SELECT delivery_id FROM deliveries
                     WHERE created_at < $1 AND status <> 'pending'
                     LIMIT 1000
                 )",
            )
            .bind(before)
            .execute(&self.pool)
            .await?
            .rows_affected();
            deleted += batch;
            if batch < 1000 {
                return Ok(deleted);
            }
        }
    }

    /// A company's messages (or every company's), newest first, after
    /// `after` (a page's last), without the kinds in `hidden`.
    pub async fn list(
        &self,
        company_id: Option<Uuid>,
        status: Option<DeliveryStatus>,
        hidden: &[&str],
        after: Option<(DateTime<Utc>, Uuid)>,
        limit: i64,
    ) -> Result<Vec<Delivery>, NotificationsError> {
        // Two statements rather than `$1 IS NULL OR company_id = $1`, so a
        // company's page uses its index whatever plan is cached.
        let company_filter = if company_id.is_some() {
            "company_id = $1"
        } else {
            "$1::uuid IS NULL"
        };
        Ok(sqlx::query_as(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM deliveries
             WHERE {company_filter}
               AND ($2::text IS NULL OR status = $2)
               AND NOT (kind = ANY($3))
               AND ($4::timestamptz IS NULL OR (created_at, delivery_id) < ($4, $5))
             ORDER BY created_at DESC, delivery_id DESC LIMIT $6"
        ))
        .bind(company_id)
        .bind(status.map(DeliveryStatus::as_str))
        .bind(hidden)
        .bind(after.map(|(at, _)| at))
        .bind(after.map(|(_, id)| id))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }
}
