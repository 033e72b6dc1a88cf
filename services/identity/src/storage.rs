//! The identity database.

use std::time::Duration;

use chrono::{DateTime, Utc};
use hms_access_log::{Access as Recorded, Action as AccessAction, Purpose};
use hms_authz::Action;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::error::IdentityError;

#[derive(Clone)]
pub struct Store {
    pub pool: PgPool,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserRow {
    pub user_id: Uuid,
    pub person_key: Vec<u8>,
    pub register_key: Vec<u8>,
    pub name: String,
}

/// A person with a live session, and when that session's BankID login
/// happened: the time step-up is judged by, from identity's own record
/// rather than from whoever asks.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LiveUser {
    #[sqlx(flatten)]
    pub user: UserRow,
    pub auth_time: DateTime<Utc>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionRow {
    pub session_id: Uuid,
    pub user_id: Uuid,
    pub auth_time: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// A grant as stored, with the names people know it by.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct GrantRow {
    pub grant_id: Uuid,
    pub company_id: Uuid,
    pub grantee_user_id: Option<Uuid>,
    pub grantee_name: Option<String>,
    pub grantee_label: Option<String>,
    pub supplier_org: Option<String>,
    pub supplier_name: Option<String>,
    pub parent_grant_id: Option<Uuid>,
    pub authority_grant_id: Option<Uuid>,
    pub scopes: Vec<String>,
    pub valid_from: DateTime<Utc>,
    pub valid_until: Option<DateTime<Utc>>,
    pub granted_by: Uuid,
    pub granted_by_name: String,
    pub granted_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub revoked_by_name: Option<String>,
    pub last_used_at: Option<DateTime<Utc>>,
    /// For a supplier: when the company confirmed the data processing
    /// agreement with it, and its reference.
    pub processor_agreement_at: Option<DateTime<Utc>>,
    pub processor_agreement_reference: Option<String>,
}

const GRANT_COLUMNS: &str = "
    g.grant_id, g.company_id, gu.user_id AS grantee_user_id, gu.name AS grantee_name,
    g.grantee_label, g.supplier_org, g.supplier_name, g.parent_grant_id, g.authority_grant_id,
    g.scopes,
    g.valid_from, g.valid_until, g.granted_by, gb.name AS granted_by_name, g.granted_at,
    g.revoked_at, rb.name AS revoked_by_name, g.last_used_at,
    g.processor_agreement_at, g.processor_agreement_reference
    FROM grants g
    LEFT JOIN users gu ON gu.person_key = g.grantee_person_key
    JOIN users gb ON gb.user_id = g.granted_by
    LEFT JOIN users rb ON rb.user_id = g.revoked_by";

/// A grant that reached a supplier, with the company it is on.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SupplierGrantRow {
    #[sqlx(flatten)]
    pub grant: GrantRow,
    pub company_org: String,
    pub company_name: String,
}

/// An owner of a company in the register, and their user once they have
/// logged in.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RegisterOwnerRow {
    pub user_id: Option<Uuid>,
    pub name: String,
    /// The register's role code (`DAGL`, `LEDE`, …).
    pub role: String,
}

/// A person as told to others: their name, and the supplier they act for.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DescribedRow {
    pub name: String,
    pub supplier_org: Option<String>,
    pub supplier_name: Option<String>,
}

/// A new grant, as written.
pub struct NewGrant {
    pub grant_id: Uuid,
    pub company_id: Uuid,
    pub grantee_person_key: Option<Vec<u8>>,
    pub grantee_label: Option<String>,
    pub supplier_org: Option<String>,
    pub supplier_name: Option<String>,
    /// The supplier's grant this one passes on.
    pub parent_grant_id: Option<Uuid>,
    /// The granter's own grant that let them grant (when not an owner).
    pub authority_grant_id: Option<Uuid>,
    pub scopes: Vec<String>,
    pub valid_from: DateTime<Utc>,
    pub valid_until: Option<DateTime<Utc>>,
    pub granted_by: Uuid,
    /// For a supplier: the company confirmed a data processing agreement
    /// with it, under this reference (empty: none given).
    pub processor_agreement: Option<String>,
}

/// The SQL condition for a grant (table alias `alias`) being in force now.
fn active(alias: &str) -> String {
    format!(
        "{alias}.revoked_at IS NULL AND {alias}.valid_from <= now()
         AND ({alias}.valid_until IS NULL OR {alias}.valid_until > now())"
    )
}

#[derive(sqlx::FromRow)]
struct GrantScopesRow {
    company_id: Uuid,
    grant_id: Uuid,
    scopes: Vec<String>,
    valid_until: Option<DateTime<Utc>>,
    parent_scopes: Option<Vec<String>>,
    via_supplier: bool,
}

/// A grant in force for a person, and what it gives them.
#[derive(Debug, Clone)]
pub struct ActiveGrant {
    pub company_id: Uuid,
    pub grant_id: Uuid,
    pub scopes: Vec<Action>,
    pub valid_until: Option<DateTime<Utc>>,
    /// Passed on by a supplier its company granted.
    pub via_supplier: bool,
}

impl Store {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    // People and sessions.

    /// The user with this person key, created on first login.
    pub async fn upsert_user(
        &self,
        person_key: &[u8],
        register_key: &[u8],
        name: &str,
    ) -> Result<Uuid, IdentityError> {
        let user_id: Uuid = sqlx::query_scalar(
            "INSERT INTO users (user_id, person_key, register_key, name)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (person_key) DO UPDATE
                SET register_key = EXCLUDED.register_key, name = EXCLUDED.name,
                    last_login_at = now()
             RETURNING user_id",
        )
        .bind(Uuid::now_v7())
        .bind(person_key)
        .bind(register_key)
        .bind(name)
        .fetch_one(&self.pool)
        .await?;
        Ok(user_id)
    }

    /// The user of a session that has neither ended nor expired.
    pub async fn live_user(
        &self,
        session_id: Uuid,
        user_id: Uuid,
    ) -> Result<Option<LiveUser>, IdentityError> {
        Ok(sqlx::query_as(
            "SELECT u.user_id, u.person_key, u.register_key, u.name, s.auth_time
             FROM sessions s JOIN users u ON u.user_id = s.user_id
             WHERE s.session_id = $1 AND s.user_id = $2
               AND s.revoked_at IS NULL AND s.expires_at > now()",
        )
        .bind(session_id)
        .bind(user_id)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// A user's fingerprint.
    pub async fn person_key(&self, user_id: Uuid) -> Result<Option<Vec<u8>>, IdentityError> {
        Ok(
            sqlx::query_scalar("SELECT person_key FROM users WHERE user_id = $1")
                .bind(user_id)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    pub async fn user_by_person_key(
        &self,
        person_key: &[u8],
    ) -> Result<Option<Uuid>, IdentityError> {
        Ok(
            sqlx::query_scalar("SELECT user_id FROM users WHERE person_key = $1")
                .bind(person_key)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    pub async fn add_pending_login(
        &self,
        state: &str,
        nonce: &str,
        sealed_verifier: &[u8],
        expires_at: DateTime<Utc>,
    ) -> Result<(), IdentityError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM pending_logins WHERE expires_at < now()")
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO pending_logins (state, nonce, pkce_verifier, expires_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(state)
        .bind(nonce)
        .bind(sealed_verifier)
        .bind(expires_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The pending login for `state`, removed: a state is good once.
    pub async fn take_pending_login(
        &self,
        state: &str,
    ) -> Result<Option<(String, Vec<u8>)>, IdentityError> {
        Ok(sqlx::query_as(
            "DELETE FROM pending_logins WHERE state = $1 AND expires_at > now()
             RETURNING nonce, pkce_verifier",
        )
        .bind(state)
        .fetch_optional(&self.pool)
        .await?)
    }

    pub async fn create_session(
        &self,
        user_id: Uuid,
        refresh_hash: &[u8],
        auth_time: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<Uuid, IdentityError> {
        let session_id = Uuid::new_v4();
        sqlx::query(
            "INSERT INTO sessions (session_id, user_id, refresh_token_hash, auth_time, expires_at)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(session_id)
        .bind(user_id)
        .bind(refresh_hash)
        .bind(auth_time)
        .bind(expires_at)
        .execute(&self.pool)
        .await?;
        Ok(session_id)
    }

    /// The live session whose current refresh token this is.
    pub async fn session_by_refresh_token(
        &self,
        refresh_hash: &[u8],
    ) -> Result<Option<SessionRow>, IdentityError> {
        Ok(sqlx::query_as(
            "SELECT session_id, user_id, auth_time, expires_at FROM sessions
             WHERE refresh_token_hash = $1 AND revoked_at IS NULL AND expires_at > now()",
        )
        .bind(refresh_hash)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Swaps a live session's refresh token for a new one, keeping the old
    /// one's hash as spent; false if it is no longer the current one (a
    /// concurrent refresh won).
    pub async fn rotate_refresh_token(
        &self,
        old_hash: &[u8],
        new_hash: &[u8],
    ) -> Result<bool, IdentityError> {
        let mut tx = self.pool.begin().await?;
        let rotated: Option<Uuid> = sqlx::query_scalar(
            "UPDATE sessions SET refresh_token_hash = $2
             WHERE refresh_token_hash = $1 AND revoked_at IS NULL AND expires_at > now()
             RETURNING session_id",
        )
        .bind(old_hash)
        .bind(new_hash)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(session_id) = rotated else {
            return Ok(false);
        };
        sqlx::query("INSERT INTO spent_refresh_tokens (token_hash, session_id) VALUES ($1, $2)")
            .bind(old_hash)
            .bind(session_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// A refresh token that is no longer any session's current one: if it
    /// was spent longer than `grace` ago, its session is ended and its id
    /// returned. Within the grace it is only refused, so that two tabs
    /// refreshing at once, or a retry after a lost answer, do not end it.
    pub async fn end_session_of_spent(
        &self,
        spent_hash: &[u8],
        grace: Duration,
    ) -> Result<Option<Uuid>, IdentityError> {
        Ok(sqlx::query_scalar(
            "UPDATE sessions s SET revoked_at = now()
             FROM spent_refresh_tokens t
             WHERE t.token_hash = $1 AND s.session_id = t.session_id AND s.revoked_at IS NULL
               AND t.spent_at < now() - make_interval(secs => $2)
             RETURNING s.session_id",
        )
        .bind(spent_hash)
        .bind(grace.as_secs_f64())
        .fetch_optional(&self.pool)
        .await?)
    }

    /// The session (and its user) a refresh token belongs to, current or
    /// spent, ended or not.
    pub async fn session_of_refresh_token(
        &self,
        refresh_hash: &[u8],
    ) -> Result<Option<(Uuid, Uuid)>, IdentityError> {
        Ok(sqlx::query_as(
            "SELECT s.session_id, s.user_id FROM sessions s
             WHERE s.refresh_token_hash = $1
                OR s.session_id = (SELECT session_id FROM spent_refresh_tokens WHERE token_hash = $1)",
        )
        .bind(refresh_hash)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Ends a session of `user_id`; whether it was live until now.
    pub async fn end_session(
        &self,
        session_id: Uuid,
        user_id: Uuid,
    ) -> Result<bool, IdentityError> {
        let ended = sqlx::query(
            "UPDATE sessions SET revoked_at = now()
             WHERE session_id = $1 AND user_id = $2 AND revoked_at IS NULL",
        )
        .bind(session_id)
        .bind(user_id)
        .execute(&self.pool)
        .await?;
        Ok(ended.rows_affected() > 0)
    }

    /// Removes sessions that ended (logged out or expired) before `before`,
    /// with their spent refresh tokens.
    pub async fn prune_sessions(&self, before: DateTime<Utc>) -> Result<u64, IdentityError> {
        Ok(
            sqlx::query("DELETE FROM sessions WHERE expires_at < $1 OR revoked_at < $1")
                .bind(before)
                .execute(&self.pool)
                .await?
                .rows_affected(),
        )
    }

    /// Removes grants that ended (revoked or expired) before `before`. A
    /// grant given under another never outlasts it, so what hangs from a
    /// pruned grant has ended too and goes with it; a grant something still
    /// in force hangs from is kept all the same.
    pub async fn prune_grants(&self, before: DateTime<Utc>) -> Result<u64, IdentityError> {
        Ok(sqlx::query(
            "WITH RECURSIVE kept AS (
                 SELECT grant_id, parent_grant_id, authority_grant_id FROM grants
                 WHERE COALESCE(LEAST(revoked_at, valid_until) >= $1, true)
                 UNION
                 SELECT g.grant_id, g.parent_grant_id, g.authority_grant_id
                 FROM grants g JOIN kept k
                   ON g.grant_id = k.parent_grant_id OR g.grant_id = k.authority_grant_id
             )
             DELETE FROM grants WHERE grant_id NOT IN (SELECT grant_id FROM kept)",
        )
        .bind(before)
        .execute(&self.pool)
        .await?
        .rows_affected())
    }

    // Companies and the register.

    pub async fn company(
        &self,
        company_id: Uuid,
    ) -> Result<Option<(String, String)>, IdentityError> {
        Ok(
            sqlx::query_as("SELECT org_number, name FROM companies WHERE company_id = $1")
                .bind(company_id)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    pub async fn company_by_org(&self, org: &str) -> Result<Option<Uuid>, IdentityError> {
        Ok(
            sqlx::query_scalar("SELECT company_id FROM companies WHERE org_number = $1")
                .bind(org)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    pub async fn remember_company(
        &self,
        company_id: Uuid,
        org: &str,
        name: &str,
    ) -> Result<(), IdentityError> {
        sqlx::query(
            "INSERT INTO companies (company_id, org_number, name) VALUES ($1, $2, $3)
             ON CONFLICT DO NOTHING",
        )
        .bind(company_id)
        .bind(org)
        .bind(name)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn register_fetched_at(
        &self,
        org: &str,
    ) -> Result<Option<DateTime<Utc>>, IdentityError> {
        Ok(
            sqlx::query_scalar("SELECT fetched_at FROM register_fetches WHERE org_number = $1")
                .bind(org)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// Replaces what we know of a company's role holders.
    pub async fn replace_register_roles(
        &self,
        org: &str,
        holders: &[(Vec<u8>, String, String)],
    ) -> Result<(), IdentityError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM register_roles WHERE org_number = $1")
            .bind(org)
            .execute(&mut *tx)
            .await?;
        for (key, name, role) in holders {
            sqlx::query(
                "INSERT INTO register_roles (org_number, holder_key, holder_name, role)
                 VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            )
            .bind(org)
            .bind(key)
            .bind(name)
            .bind(role)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query(
            "INSERT INTO register_fetches (org_number, fetched_at) VALUES ($1, now())
             ON CONFLICT (org_number) DO UPDATE SET fetched_at = now()",
        )
        .bind(org)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn is_register_owner(
        &self,
        org: &str,
        register_key: &[u8],
    ) -> Result<bool, IdentityError> {
        Ok(sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM register_roles WHERE org_number = $1 AND holder_key = $2)",
        )
        .bind(org)
        .bind(register_key)
        .fetch_one(&self.pool)
        .await?)
    }

    /// The owners of a company: name, role, and user id once they logged in.
    pub async fn register_owners(&self, org: &str) -> Result<Vec<RegisterOwnerRow>, IdentityError> {
        Ok(sqlx::query_as(
            "SELECT u.user_id, r.holder_name AS name, r.role FROM register_roles r
             LEFT JOIN users u ON u.register_key = r.holder_key
             WHERE r.org_number = $1 ORDER BY r.role, r.holder_name",
        )
        .bind(org)
        .fetch_all(&self.pool)
        .await?)
    }

    /// A user's name, and the supplier whose grant they hold on the company
    /// (the one in force, else the latest), if they act under one.
    pub async fn describe(
        &self,
        user_id: Uuid,
        company_id: Uuid,
    ) -> Result<Option<DescribedRow>, IdentityError> {
        Ok(sqlx::query_as(
            "SELECT u.name, s.supplier_org, s.supplier_name
             FROM users u
             LEFT JOIN LATERAL (
                 SELECT p.supplier_org, p.supplier_name
                 FROM grants g JOIN grants p ON p.grant_id = g.parent_grant_id
                 WHERE g.grantee_person_key = u.person_key AND g.company_id = $2
                   AND p.supplier_org IS NOT NULL
                 ORDER BY (g.revoked_at IS NULL) DESC, g.granted_at DESC
                 LIMIT 1
             ) s ON true
             WHERE u.user_id = $1",
        )
        .bind(user_id)
        .bind(company_id)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Companies (known here) whose register lists this person as an owner.
    pub async fn companies_owned(
        &self,
        register_key: &[u8],
    ) -> Result<Vec<(Uuid, String)>, IdentityError> {
        Ok(sqlx::query_as(
            "SELECT DISTINCT c.company_id, c.org_number FROM register_roles r
             JOIN companies c ON c.org_number = r.org_number
             WHERE r.holder_key = $1",
        )
        .bind(register_key)
        .fetch_all(&self.pool)
        .await?)
    }

    // Grants.

    /// The person's active grants, on one company or all, each with the
    /// scopes it gives: a grant passed on from a supplier's gives only what
    /// both hold, and only while both are active; a grant given under the
    /// granter's own grant only while that one is. Deeper links need no
    /// check here: a grant never outlasts the ones it was made under, and
    /// revoking one revokes everything made under it.
    pub async fn active_grants(
        &self,
        person_key: &[u8],
        company_id: Option<Uuid>,
    ) -> Result<Vec<ActiveGrant>, IdentityError> {
        let rows: Vec<GrantScopesRow> = sqlx::query_as(&format!(
            "SELECT g.company_id, g.grant_id, g.scopes, g.valid_until, p.scopes AS parent_scopes,
                    (p.supplier_org IS NOT NULL) AS via_supplier
             FROM grants g
             LEFT JOIN grants p ON p.grant_id = g.parent_grant_id
             LEFT JOIN grants a ON a.grant_id = g.authority_grant_id
             WHERE g.grantee_person_key = $1 AND ($2::uuid IS NULL OR g.company_id = $2)
               AND {} AND (g.parent_grant_id IS NULL OR ({}))
               AND (g.authority_grant_id IS NULL OR ({}))",
            active("g"),
            active("p"),
            active("a"),
        ))
        .bind(person_key)
        .bind(company_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|row| ActiveGrant {
                company_id: row.company_id,
                grant_id: row.grant_id,
                valid_until: row.valid_until,
                via_supplier: row.via_supplier,
                scopes: row
                    .scopes
                    .iter()
                    .filter(|scope| {
                        row.parent_scopes
                            .as_ref()
                            .is_none_or(|parent| parent.contains(scope))
                    })
                    .filter_map(|scope| Action::parse(scope))
                    .collect(),
            })
            .collect())
    }

    /// Records use, at most once a minute per grant.
    /// Records that grants allowed `user` something now (at most once a
    /// minute each); a grant's first use goes to the access log.
    pub async fn touch_grants(&self, grant_ids: &[Uuid], user: Uuid) -> Result<(), IdentityError> {
        if grant_ids.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool.begin().await?;
        let first_used: Vec<(Uuid, Uuid)> = sqlx::query_as(
            "UPDATE grants SET last_used_at = now() WHERE grant_id = ANY($1) AND last_used_at IS NULL
             RETURNING grant_id, company_id",
        )
        .bind(grant_ids)
        .fetch_all(&mut *tx)
        .await?;
        for (grant_id, company_id) in first_used {
            Recorded::new(
                company_id,
                AccessAction::GrantFirstUsed,
                Purpose::AccessManagement,
                format!("user:{user}"),
            )
            .grant(grant_id)
            .record(&mut tx)
            .await?;
        }
        sqlx::query(
            "UPDATE grants SET last_used_at = now() WHERE grant_id = ANY($1)
             AND last_used_at < now() - interval '1 minute'",
        )
        .bind(grant_ids)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn insert_grant(
        tx: &mut PgConnection,
        grant: &NewGrant,
    ) -> Result<(), IdentityError> {
        sqlx::query(
            "INSERT INTO grants (grant_id, company_id, grantee_person_key, grantee_label,
                supplier_org, supplier_name, parent_grant_id, authority_grant_id, scopes,
                valid_from, valid_until, granted_by, processor_agreement_at,
                processor_agreement_reference)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12,
                CASE WHEN $13 THEN now() END, NULLIF($14, ''))",
        )
        .bind(grant.grant_id)
        .bind(grant.company_id)
        .bind(&grant.grantee_person_key)
        .bind(&grant.grantee_label)
        .bind(&grant.supplier_org)
        .bind(&grant.supplier_name)
        .bind(grant.parent_grant_id)
        .bind(grant.authority_grant_id)
        .bind(&grant.scopes)
        .bind(grant.valid_from)
        .bind(grant.valid_until)
        .bind(grant.granted_by)
        .bind(grant.processor_agreement.is_some())
        .bind(grant.processor_agreement.as_deref().unwrap_or_default())
        .execute(tx)
        .await?;
        Ok(())
    }

    pub async fn grant(&self, grant_id: Uuid) -> Result<Option<GrantRow>, IdentityError> {
        Ok(
            sqlx::query_as(&format!("SELECT {GRANT_COLUMNS} WHERE g.grant_id = $1"))
                .bind(grant_id)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    pub async fn grants_of_company(
        &self,
        company_id: Uuid,
    ) -> Result<Vec<GrantRow>, IdentityError> {
        Ok(sqlx::query_as(&format!(
            "SELECT {GRANT_COLUMNS} WHERE g.company_id = $1 ORDER BY g.granted_at DESC"
        ))
        .bind(company_id)
        .fetch_all(&self.pool)
        .await?)
    }

    /// The grants to the supplier `org`, on any company, and those passed
    /// on from them; newest first.
    pub async fn grants_of_supplier(
        &self,
        org: &str,
    ) -> Result<Vec<SupplierGrantRow>, IdentityError> {
        Ok(sqlx::query_as(&format!(
            "SELECT c.org_number AS company_org, c.name AS company_name, {GRANT_COLUMNS}
             JOIN companies c ON c.company_id = g.company_id
             WHERE g.supplier_org = $1
                OR g.parent_grant_id IN (SELECT grant_id FROM grants WHERE supplier_org = $1)
             ORDER BY g.granted_at DESC"
        ))
        .bind(org)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Whether `grant_id` was made under one of `ancestors`, directly or
    /// through other grants.
    pub async fn is_under(
        &self,
        grant_id: Uuid,
        ancestors: &[Uuid],
    ) -> Result<bool, IdentityError> {
        let (under,): (bool,) = sqlx::query_as(
            "WITH RECURSIVE above(grant_id) AS (
                 SELECT up FROM grants g
                 CROSS JOIN LATERAL (VALUES (g.parent_grant_id), (g.authority_grant_id)) v(up)
                 WHERE g.grant_id = $1 AND up IS NOT NULL
                 UNION
                 SELECT up FROM grants g JOIN above a ON g.grant_id = a.grant_id
                 CROSS JOIN LATERAL (VALUES (g.parent_grant_id), (g.authority_grant_id)) v(up)
                 WHERE up IS NOT NULL
             )
             SELECT EXISTS (SELECT 1 FROM above WHERE grant_id = ANY($2))",
        )
        .bind(grant_id)
        .bind(ancestors)
        .fetch_one(&self.pool)
        .await?;
        Ok(under)
    }

    /// Revokes a grant and every grant made under it, however deep; returns
    /// those revoked now (none if it already was).
    pub async fn revoke_cascade(
        tx: &mut PgConnection,
        grant_id: Uuid,
        by: Uuid,
    ) -> Result<Vec<(Uuid, Uuid)>, IdentityError> {
        Ok(sqlx::query_as(
            "WITH RECURSIVE under(grant_id) AS (
                 SELECT $1::uuid
                 UNION
                 SELECT g.grant_id FROM grants g
                 JOIN under u ON u.grant_id IN (g.parent_grant_id, g.authority_grant_id)
             )
             UPDATE grants SET revoked_at = now(), revoked_by = $2
             WHERE grant_id IN (SELECT grant_id FROM under) AND revoked_at IS NULL
             RETURNING grant_id, company_id",
        )
        .bind(grant_id)
        .bind(by)
        .fetch_all(tx)
        .await?)
    }
}
