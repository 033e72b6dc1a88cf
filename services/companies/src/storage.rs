//! The companies database. Every change and the event announcing it are
//! written in one transaction.

use chrono::{DateTime, Utc};
use hms_domain::{CompanyId, Industry, Language};
use hms_proto::ProtoEnum;
use hms_proto::events::v1 as events;
use hms_proto::time::timestamp;
use sqlx::PgPool;
use uuid::Uuid;

use crate::domain::{
    Acceptance, Agreement, AgreementText, Company, CompanyStatus, ContactChange, Decision,
    NewCompany, NewContact,
};
use crate::error::CompanyError;

#[derive(Clone)]
pub struct Store {
    pool: PgPool,
}

#[derive(sqlx::FromRow)]
struct CompanyRow {
    id: Uuid,
    org_number: String,
    name: String,
    contact_email: String,
    contact_phone: String,
    industry: String,
    language: String,
    status: String,
    status_reason: Option<String>,
    version: i64,
    registered_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<CompanyRow> for Company {
    type Error = CompanyError;

    fn try_from(row: CompanyRow) -> Result<Self, Self::Error> {
        Ok(Company {
            id: CompanyId::from_uuid(row.id),
            industry: Industry::parse(&row.industry)
                .map_err(|_| CompanyError::Corrupt(format!("industry of company {}", row.id)))?,
            language: Language::parse(&row.language)
                .map_err(|_| CompanyError::Corrupt(format!("language of company {}", row.id)))?,
            status: CompanyStatus::parse(&row.status)
                .ok_or_else(|| CompanyError::Corrupt(format!("status of company {}", row.id)))?,
            org_number: row.org_number,
            name: row.name,
            email: row.contact_email,
            phone: row.contact_phone,
            status_reason: row.status_reason,
            version: row.version,
            registered_at: row.registered_at,
            updated_at: row.updated_at,
        })
    }
}

const COLUMNS: &str = "id, org_number, name, contact_email, contact_phone, industry, language, \
                       status, status_reason, version, registered_at, updated_at";

/// Where a listing continues: after this registration time and id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub registered_at: DateTime<Utc>,
    pub id: Uuid,
}

impl Store {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    pub async fn register(&self, new: NewCompany) -> Result<Company, CompanyError> {
        let mut tx = self.pool.begin().await?;
        let inserted = sqlx::query_as::<_, CompanyRow>(&format!(
            "INSERT INTO companies (id, org_number, name, contact_email, contact_phone, industry, \
             language, status, version) VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', 1) RETURNING {COLUMNS}"
        ))
        .bind(CompanyId::new().as_uuid())
        .bind(new.org_number.as_str())
        .bind(new.name.as_str())
        .bind(new.email.as_str())
        .bind(new.phone.as_str())
        .bind(new.industry.as_str())
        .bind(new.language.as_str())
        .fetch_one(&mut *tx)
        .await;
        let company = match inserted {
            Ok(row) => Company::try_from(row)?,
            Err(error) if hms_db::is_unique_violation(&error) => {
                return Err(CompanyError::AlreadyRegistered(new.org_number));
            }
            Err(error) => return Err(error.into()),
        };
        hms_events::enqueue(
            &mut tx,
            &events::CompanyRegistered {
                company_id: company.id.to_string(),
                org_number: company.org_number.clone(),
                name: company.name.clone(),
                industry: company.industry.to_i32(),
                version: company.version,
                occurred_at: Some(timestamp(company.registered_at)),
                contact: Some(hms_proto::companies::v1::ContactInfo {
                    email: company.email.clone(),
                    phone: company.phone.clone(),
                }),
                language: company.language.to_i32(),
            },
        )
        .await?;
        tx.commit().await?;
        tracing::info!(company_id = %company.id, "company registered");
        Ok(company)
    }

    pub async fn get(&self, id: CompanyId) -> Result<Company, CompanyError> {
        sqlx::query_as::<_, CompanyRow>(&format!("SELECT {COLUMNS} FROM companies WHERE id = $1"))
            .bind(id.as_uuid())
            .fetch_optional(&self.pool)
            .await?
            .ok_or(CompanyError::NotFound)?
            .try_into()
    }

    /// The company, locked until the transaction ends.
    async fn lock(
        tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
        id: CompanyId,
    ) -> Result<Company, CompanyError> {
        sqlx::query_as::<_, CompanyRow>(&format!(
            "SELECT {COLUMNS} FROM companies WHERE id = $1 FOR UPDATE"
        ))
        .bind(id.as_uuid())
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(CompanyError::NotFound)?
        .try_into()
    }

    /// Companies, oldest first, after `cursor`, optionally in one status.
    pub async fn list(
        &self,
        status: Option<CompanyStatus>,
        after: Option<Cursor>,
        limit: u32,
    ) -> Result<Vec<Company>, CompanyError> {
        let rows = sqlx::query_as::<_, CompanyRow>(&format!(
            "SELECT {COLUMNS} FROM companies \
             WHERE ($1::text IS NULL OR status = $1) \
               AND ($2::timestamptz IS NULL OR (registered_at, id) > ($2, $3)) \
             ORDER BY registered_at, id LIMIT $4"
        ))
        .bind(status.map(CompanyStatus::as_str))
        .bind(after.map(|cursor| cursor.registered_at))
        .bind(after.map(|cursor| cursor.id))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(Company::try_from).collect()
    }

    /// Applies a back-office decision; a repeated decision changes nothing
    /// and publishes nothing.
    pub async fn decide(
        &self,
        id: CompanyId,
        decision: Decision,
        decided_by: &str,
    ) -> Result<Company, CompanyError> {
        let mut tx = self.pool.begin().await?;
        let current = Self::lock(&mut tx, id).await?;
        let Some(next) = decision.next_status(current.status)? else {
            return Ok(current);
        };
        let reason = decision.reason().map(|reason| reason.as_str().to_owned());
        let company: Company = sqlx::query_as::<_, CompanyRow>(&format!(
            "UPDATE companies SET status = $2, status_reason = $3, version = version + 1, updated_at = now() \
             WHERE id = $1 RETURNING {COLUMNS}"
        ))
        .bind(id.as_uuid())
        .bind(next.as_str())
        .bind(&reason)
        .fetch_one(&mut *tx)
        .await?
        .try_into()?;
        sqlx::query(
            "INSERT INTO company_decisions (company_id, from_status, to_status, reason, decided_by) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id.as_uuid())
        .bind(current.status.as_str())
        .bind(next.as_str())
        .bind(&reason)
        .bind(decided_by)
        .execute(&mut *tx)
        .await?;

        let company_id = company.id.to_string();
        let occurred_at = Some(timestamp(company.updated_at));
        let version = company.version;
        let reason = reason.unwrap_or_default();
        match next {
            CompanyStatus::Approved => {
                hms_events::enqueue(
                    &mut tx,
                    &events::CompanyApproved {
                        company_id,
                        version,
                        occurred_at,
                    },
                )
                .await?
            }
            CompanyStatus::Rejected => {
                hms_events::enqueue(
                    &mut tx,
                    &events::CompanyRejected {
                        company_id,
                        reason,
                        version,
                        occurred_at,
                    },
                )
                .await?
            }
            CompanyStatus::Suspended => {
                hms_events::enqueue(
                    &mut tx,
                    &events::CompanySuspended {
                        company_id,
                        reason,
                        version,
                        occurred_at,
                    },
                )
                .await?
            }
            CompanyStatus::Pending => {
                return Err(CompanyError::Corrupt("decision back to pending".to_owned()));
            }
        };
        tx.commit().await?;
        tracing::info!(company_id = %company.id, from = current.status.as_str(), to = next.as_str(), "company decision");
        Ok(company)
    }

    /// Changes the contact details, keeps the change in the history and
    /// announces it, in one transaction. The same details again change
    /// nothing and announce nothing.
    pub async fn update_contact(
        &self,
        id: CompanyId,
        contact: NewContact,
        changed_by: Uuid,
    ) -> Result<Company, CompanyError> {
        let mut tx = self.pool.begin().await?;
        let current = Self::lock(&mut tx, id).await?;
        if current.email == contact.email.as_str() && current.phone == contact.phone.as_str() {
            return Ok(current);
        }
        let company: Company = sqlx::query_as::<_, CompanyRow>(&format!(
            "UPDATE companies SET contact_email = $2, contact_phone = $3, version = version + 1, \
             updated_at = now() WHERE id = $1 RETURNING {COLUMNS}"
        ))
        .bind(id.as_uuid())
        .bind(contact.email.as_str())
        .bind(contact.phone.as_str())
        .fetch_one(&mut *tx)
        .await?
        .try_into()?;
        sqlx::query(
            "INSERT INTO contact_changes \
             (company_id, old_email, old_phone, new_email, new_phone, changed_by_user_id, version, changed_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(id.as_uuid())
        .bind(&current.email)
        .bind(&current.phone)
        .bind(&company.email)
        .bind(&company.phone)
        .bind(changed_by)
        .bind(company.version)
        .bind(company.updated_at)
        .execute(&mut *tx)
        .await?;
        hms_events::enqueue(
            &mut tx,
            &events::ContactInfoChanged {
                company_id: company.id.to_string(),
                old_contact: Some(hms_proto::companies::v1::ContactInfo {
                    email: current.email.clone(),
                    phone: current.phone.clone(),
                }),
                new_contact: Some(hms_proto::companies::v1::ContactInfo {
                    email: company.email.clone(),
                    phone: company.phone.clone(),
                }),
                changed_by_user_id: changed_by.to_string(),
                version: company.version,
                occurred_at: Some(timestamp(company.updated_at)),
            },
        )
        .await?;
        tx.commit().await?;
        tracing::info!(company_id = %company.id, version = company.version, "contact details changed");
        Ok(company)
    }

    /// The latest changes of a company's contact details, newest first.
    pub async fn contact_history(
        &self,
        id: CompanyId,
        limit: i64,
    ) -> Result<Vec<ContactChange>, CompanyError> {
        let rows = sqlx::query_as::<_, (String, String, String, String, Uuid, i64, DateTime<Utc>)>(
            "SELECT old_email, old_phone, new_email, new_phone, changed_by_user_id, version, changed_at \
             FROM contact_changes WHERE company_id = $1 ORDER BY id DESC LIMIT $2",
        )
        .bind(id.as_uuid())
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(
                |(old_email, old_phone, new_email, new_phone, changed_by, version, changed_at)| {
                    ContactChange {
                        old_email,
                        old_phone,
                        new_email,
                        new_phone,
                        changed_by,
                        version,
                        changed_at,
                    }
                },
            )
            .collect())
    }

    /// Publishes the first version of the agreement if none is, once
    /// however many replicas start at once.
    pub async fn publish_first_agreement(&self, text: &AgreementText) -> Result<(), CompanyError> {
        let mut tx = self.pool.begin().await?;
        lock_agreements(&mut tx).await?;
        let published: Option<AgreementRow> = sqlx::query_as(&format!(
            "INSERT INTO agreement_versions (version, text, sha256, published_by) \
             SELECT 1, $1, $2, 'platform' WHERE NOT EXISTS (SELECT 1 FROM agreement_versions) \
             RETURNING {AGREEMENT_COLUMNS}"
        ))
        .bind(text.as_str())
        .bind(text.sha256())
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(published) = published {
            announce_agreement(&mut tx, &published.try_into()?).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Publishes a new version: the next number. The current text again
    /// publishes nothing and answers the current version.
    pub async fn publish_agreement(
        &self,
        text: &AgreementText,
        published_by: &str,
    ) -> Result<Agreement, CompanyError> {
        let mut tx = self.pool.begin().await?;
        lock_agreements(&mut tx).await?;
        let current = current_agreement(&mut tx).await?;
        if current.sha256 == text.sha256() {
            return Ok(current);
        }
        let published: Agreement = sqlx::query_as::<_, AgreementRow>(&format!(
            "INSERT INTO agreement_versions (version, text, sha256, published_by) \
             VALUES ($1, $2, $3, $4) RETURNING {AGREEMENT_COLUMNS}"
        ))
        .bind(db_version(current.version + 1)?)
        .bind(text.as_str())
        .bind(text.sha256())
        .bind(published_by)
        .fetch_one(&mut *tx)
        .await?
        .try_into()?;
        announce_agreement(&mut tx, &published).await?;
        tx.commit().await?;
        tracing::info!(version = published.version, %published_by, "agreement published");
        Ok(published)
    }

    /// The current version, and every version the company accepted, newest
    /// first.
    pub async fn agreement(
        &self,
        company: CompanyId,
    ) -> Result<(Agreement, Vec<Acceptance>), CompanyError> {
        let mut conn = self.pool.acquire().await?;
        let current = current_agreement(&mut conn).await?;
        let acceptances: Vec<AcceptanceRow> = sqlx::query_as(&format!(
            "SELECT {ACCEPTANCE_COLUMNS} FROM agreement_acceptances WHERE company_id = $1 \
             ORDER BY version DESC"
        ))
        .bind(company.as_uuid())
        .fetch_all(&mut *conn)
        .await?;
        let acceptances = acceptances
            .into_iter()
            .map(Acceptance::try_from)
            .collect::<Result<_, _>>()?;
        Ok((current, acceptances))
    }

    /// Records that `accepted_by` accepted `version` for the company, and
    /// announces it; only the current version may be accepted, and once.
    pub async fn accept_agreement(
        &self,
        company: CompanyId,
        version: u32,
        accepted_by: Uuid,
    ) -> Result<Acceptance, CompanyError> {
        let mut tx = self.pool.begin().await?;
        Self::lock(&mut tx, company).await?;
        // A version published meanwhile waits for this acceptance, so the
        // person never accepts a text they were not shown.
        sqlx::query("SELECT pg_advisory_xact_lock_shared(hashtext($1))")
            .bind(AGREEMENTS_LOCK)
            .execute(&mut *tx)
            .await?;
        let current = current_agreement(&mut tx).await?;
        if version != current.version {
            return Err(CompanyError::NotCurrentAgreement {
                offered: version,
                current: current.version,
            });
        }
        let inserted: Option<AcceptanceRow> = sqlx::query_as(&format!(
            "INSERT INTO agreement_acceptances (company_id, version, sha256, accepted_by_user_id) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (company_id, version) DO NOTHING \
             RETURNING {ACCEPTANCE_COLUMNS}"
        ))
        .bind(company.as_uuid())
        .bind(db_version(version)?)
        .bind(&current.sha256)
        .bind(accepted_by)
        .fetch_optional(&mut *tx)
        .await?;
        let acceptance = match inserted {
            Some(row) => {
                let acceptance = Acceptance::try_from(row)?;
                hms_events::enqueue(
                    &mut tx,
                    &events::AgreementAccepted {
                        company_id: company.to_string(),
                        version: acceptance.version,
                        occurred_at: Some(timestamp(acceptance.accepted_at)),
                    },
                )
                .await?;
                acceptance
            }
            None => sqlx::query_as::<_, AcceptanceRow>(&format!(
                "SELECT {ACCEPTANCE_COLUMNS} FROM agreement_acceptances \
                 WHERE company_id = $1 AND version = $2"
            ))
            .bind(company.as_uuid())
            .bind(db_version(version)?)
            .fetch_one(&mut *tx)
            .await?
            .try_into()?,
        };
        tx.commit().await?;
        Ok(acceptance)
    }
}

/// Taken to publish a version (exclusively) and to accept one (shared).
const AGREEMENTS_LOCK: &str = "hms_companies_agreements";

async fn lock_agreements(tx: &mut sqlx::PgConnection) -> Result<(), CompanyError> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))")
        .bind(AGREEMENTS_LOCK)
        .execute(tx)
        .await?;
    Ok(())
}

/// A version number as the database keeps it.
fn db_version(version: u32) -> Result<i32, CompanyError> {
    i32::try_from(version).map_err(|_| CompanyError::Corrupt("agreement version".to_owned()))
}

const AGREEMENT_COLUMNS: &str = "version, text, sha256, published_at";
const ACCEPTANCE_COLUMNS: &str = "version, sha256, accepted_by_user_id, accepted_at";

#[derive(sqlx::FromRow)]
struct AgreementRow {
    version: i32,
    text: String,
    sha256: String,
    published_at: DateTime<Utc>,
}

impl TryFrom<AgreementRow> for Agreement {
    type Error = CompanyError;

    fn try_from(row: AgreementRow) -> Result<Self, Self::Error> {
        Ok(Agreement {
            version: u32::try_from(row.version)
                .map_err(|_| CompanyError::Corrupt("agreement version".to_owned()))?,
            text: row.text,
            sha256: row.sha256,
            published_at: row.published_at,
        })
    }
}

#[derive(sqlx::FromRow)]
struct AcceptanceRow {
    version: i32,
    sha256: String,
    accepted_by_user_id: Uuid,
    accepted_at: DateTime<Utc>,
}

impl TryFrom<AcceptanceRow> for Acceptance {
    type Error = CompanyError;

    fn try_from(row: AcceptanceRow) -> Result<Self, Self::Error> {
        Ok(Acceptance {
            version: u32::try_from(row.version)
                .map_err(|_| CompanyError::Corrupt("agreement version".to_owned()))?,
            sha256: row.sha256,
            accepted_by: row.accepted_by_user_id,
            accepted_at: row.accepted_at,
        })
    }
}

async fn current_agreement(db: &mut sqlx::PgConnection) -> Result<Agreement, CompanyError> {
    sqlx::query_as::<_, AgreementRow>(&format!(
        "SELECT {AGREEMENT_COLUMNS} FROM agreement_versions ORDER BY version DESC LIMIT 1"
    ))
    .fetch_optional(db)
    .await?
    .ok_or_else(|| CompanyError::Corrupt("no agreement is published".to_owned()))?
    .try_into()
}

async fn announce_agreement(
    tx: &mut sqlx::PgConnection,
    agreement: &Agreement,
) -> Result<(), CompanyError> {
    hms_events::enqueue(
        tx,
        &events::AgreementPublished {
            version: agreement.version,
            occurred_at: Some(timestamp(agreement.published_at)),
        },
    )
    .await?;
    Ok(())
}
