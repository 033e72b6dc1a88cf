//! The access log's tables: appending to a company's chain under its head's
//! lock, reading it back, and the checkpoints.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};
use hms_domain::CompanyId;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::domain::{Action, Entry, GENESIS, Purpose, Record};
use crate::error::AuditError;

#[derive(Clone)]
pub struct Store {
    pool: PgPool,
}

const COLUMNS: &str = "company_id, seq, event_id, action, purpose, actor, order_id, worker_ids, \
                       document_id, grant_id, occurred_at, recorded_at, previous_hash, hash";

#[derive(sqlx::FromRow)]
struct EntryRow {
    company_id: Uuid,
    seq: i64,
    event_id: Uuid,
    action: String,
    purpose: String,
    actor: String,
    order_id: Option<Uuid>,
    worker_ids: Vec<Uuid>,
    document_id: Option<Uuid>,
    grant_id: Option<Uuid>,
    occurred_at: DateTime<Utc>,
    recorded_at: DateTime<Utc>,
    previous_hash: Vec<u8>,
    hash: Vec<u8>,
}

impl TryFrom<EntryRow> for Entry {
    type Error = AuditError;

    fn try_from(row: EntryRow) -> Result<Self, Self::Error> {
        let corrupt = |what: &str| {
            AuditError::Corrupt(format!(
                "{what} of entry {} of company {}",
                row.seq, row.company_id
            ))
        };
        Ok(Entry {
            seq: u64::try_from(row.seq).map_err(|_| corrupt("the number"))?,
            record: Record {
                event_id: row.event_id,
                company_id: CompanyId::from_uuid(row.company_id),
                action: Action::parse(&row.action).ok_or_else(|| corrupt("the action"))?,
                purpose: Purpose::parse(&row.purpose).ok_or_else(|| corrupt("the purpose"))?,
                actor: row.actor,
                order_id: row.order_id,
                worker_ids: row.worker_ids,
                document_id: row.document_id,
                grant_id: row.grant_id,
                occurred_at: row.occurred_at,
            },
            recorded_at: row.recorded_at,
            previous_hash: row.previous_hash,
            hash: row.hash,
        })
    }
}

/// A signed head of a company's chain.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StoredCheckpoint {
    pub company_id: Uuid,
    pub seq: i64,
    pub head_hash: Vec<u8>,
    pub signed_at: DateTime<Utc>,
    pub signed: String,
}

/// What a page of the log is limited to.
#[derive(Debug, Clone, Copy, Default)]
pub struct Filter {
    pub worker_id: Option<Uuid>,
    pub from: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    /// Entries after this number.
    pub after_seq: u64,
}

/// Appends records to their companies' chains, in the caller's
/// transaction, in the order given within each company: the heads are
/// locked (in one order of companies, so two appends never wait for each
/// other in a circle) until it commits, so entries are numbered one after
/// another. A record appended before (the same event) is not appended
/// again. A handful of statements however many records there are.
pub async fn append_all(
    tx: &mut PgConnection,
    records: Vec<Record>,
) -> Result<Vec<Entry>, AuditError> {
    let event_ids: Vec<Uuid> = records.iter().map(|record| record.event_id).collect();
    // Planned afresh each time: the log only grows, and a plan cached by a
    // connection while it was small (a sequential scan) would stay with
    // that connection, so every append would read the whole log.
    let known: HashSet<Uuid> =
        sqlx::query_scalar("SELECT event_id FROM access_log WHERE event_id = ANY($1)")
            .bind(&event_ids)
            .persistent(false)
            .fetch_all(&mut *tx)
            .await?
            .into_iter()
            .collect();
    let mut seen = HashSet::new();
    let mut by_company: BTreeMap<Uuid, Vec<Record>> = BTreeMap::new();
    for record in records {
        if !known.contains(&record.event_id) && seen.insert(record.event_id) {
            by_company
                .entry(record.company_id.as_uuid())
                .or_default()
                .push(record);
        }
    }
    if by_company.is_empty() {
        return Ok(Vec::new());
    }
    let companies: Vec<Uuid> = by_company.keys().copied().collect();
    sqlx::query(
        "INSERT INTO chain_heads (company_id, seq, hash) SELECT company, 0, $2 FROM unnest($1::uuid[]) AS company \
         ORDER BY company ON CONFLICT (company_id) DO NOTHING",
    )
    .bind(&companies)
    .bind(GENESIS.as_slice())
    .execute(&mut *tx)
    .await?;
    let heads: HashMap<Uuid, (i64, Vec<u8>)> = sqlx::query_as::<_, (Uuid, i64, Vec<u8>)>(
        "SELECT company_id, seq, hash FROM chain_heads WHERE company_id = ANY($1) \
         ORDER BY company_id FOR UPDATE",
    )
    .bind(&companies)
    .fetch_all(&mut *tx)
    .await?
    .into_iter()
    .map(|(company, seq, hash)| (company, (seq, hash)))
    .collect();
    let recorded_at = Utc::now();
    let out_of_range = |seq: u64| AuditError::Corrupt(format!("entry {seq} is out of range"));
    // Each entry with its number as stored, and each company's new head.
    let mut entries: Vec<(Entry, i64)> = Vec::new();
    let (mut head_companies, mut head_seqs, mut head_hashes) = (Vec::new(), Vec::new(), Vec::new());
    for (company, records) in by_company {
        let corrupt = || AuditError::Corrupt(format!("the chain head of company {company}"));
        let (seq, hash) = heads.get(&company).ok_or_else(corrupt)?;
        let mut previous: Option<(u64, Vec<u8>)> = match u64::try_from(*seq) {
            Ok(0) => None,
            Ok(seq) => Some((seq, hash.clone())),
            Err(_) => return Err(corrupt()),
        };
        for record in records {
            let entry = Entry::after(
                previous.as_ref().map(|(seq, hash)| (*seq, hash.as_slice())),
                record,
                recorded_at,
            );
            let stored_seq = i64::try_from(entry.seq).map_err(|_| out_of_range(entry.seq))?;
            previous = Some((entry.seq, entry.hash.clone()));
            entries.push((entry, stored_seq));
        }
        if let Some((seq, hash)) = previous {
            head_companies.push(company);
            head_seqs.push(i64::try_from(seq).map_err(|_| out_of_range(seq))?);
            head_hashes.push(hash);
        }
    }
    let mut insert = sqlx::QueryBuilder::new(format!("INSERT INTO access_log ({COLUMNS}) "));
    insert.push_values(&entries, |mut row, (entry, seq)| {
        let record = &entry.record;
        row.push_bind(record.company_id.as_uuid())
            .push_bind(*seq)
            .push_bind(record.event_id)
            .push_bind(record.action.as_str())
            .push_bind(record.purpose.as_str())
            .push_bind(&record.actor)
            .push_bind(record.order_id)
            .push_bind(&record.worker_ids)
            .push_bind(record.document_id)
            .push_bind(record.grant_id)
            .push_bind(record.occurred_at)
            .push_bind(entry.recorded_at)
            .push_bind(&entry.previous_hash)
            .push_bind(&entry.hash);
    });
    insert.build().execute(&mut *tx).await?;
    sqlx::query(
        "UPDATE chain_heads h SET seq = head.seq, hash = head.hash \
         FROM unnest($1::uuid[], $2::bigint[], $3::bytea[]) AS head (company_id, seq, hash) \
         WHERE h.company_id = head.company_id",
    )
    .bind(&head_companies)
    .bind(&head_seqs)
    .bind(&head_hashes)
    .execute(&mut *tx)
    .await?;
    Ok(entries.into_iter().map(|(entry, _)| entry).collect())
}

impl Store {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    /// A page of a company's log, oldest first.
    pub async fn list(
        &self,
        company: CompanyId,
        filter: Filter,
        limit: u32,
    ) -> Result<Vec<Entry>, AuditError> {
        let after = i64::try_from(filter.after_seq).unwrap_or(i64::MAX);
        let rows: Vec<EntryRow> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM access_log WHERE company_id = $1 AND seq > $2 \
             AND ($3::uuid IS NULL OR worker_ids @> ARRAY[$3::uuid]) \
             AND ($4::timestamptz IS NULL OR occurred_at >= $4) \
             AND ($5::timestamptz IS NULL OR occurred_at < $5) \
             ORDER BY seq LIMIT $6"
        ))
        .bind(company.as_uuid())
        .bind(after)
        .bind(filter.worker_id)
        .bind(filter.from)
        .bind(filter.until)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(Entry::try_from).collect()
    }

    /// The newest entries about any of these workers, across companies.
    pub async fn about_workers(
        &self,
        workers: &[Uuid],
        limit: u32,
    ) -> Result<Vec<Entry>, AuditError> {
        if workers.is_empty() {
            return Ok(Vec::new());
        }
        let rows: Vec<EntryRow> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM access_log WHERE worker_ids && $1 \
             ORDER BY occurred_at DESC, company_id, seq DESC LIMIT $2"
        ))
        .bind(workers)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(Entry::try_from).collect()
    }

    /// Every entry of a company's chain from `after_seq` on, `limit` at a
    /// time, in order: what the verifier walks.
    pub async fn chain(
        &self,
        company: Uuid,
        after_seq: u64,
        limit: u32,
    ) -> Result<Vec<Result<Entry, AuditError>>, AuditError> {
        let rows: Vec<EntryRow> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM access_log WHERE company_id = $1 AND seq > $2 ORDER BY seq LIMIT $3"
        ))
        .bind(company)
        .bind(i64::try_from(after_seq).unwrap_or(i64::MAX))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(Entry::try_from).collect())
    }

    /// Every company with a log, whether or not its head row survived.
    pub async fn companies(&self) -> Result<Vec<Uuid>, AuditError> {
        Ok(sqlx::query_scalar(
            "SELECT company_id FROM chain_heads UNION SELECT DISTINCT company_id FROM access_log \
             ORDER BY 1",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// The head the service holds for a company.
    pub async fn head(&self, company: Uuid) -> Result<Option<(i64, Vec<u8>)>, AuditError> {
        Ok(
            sqlx::query_as("SELECT seq, hash FROM chain_heads WHERE company_id = $1")
                .bind(company)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// A company's checkpoints, oldest first.
    pub async fn checkpoints(&self, company: Uuid) -> Result<Vec<StoredCheckpoint>, AuditError> {
        Ok(sqlx::query_as(
            "SELECT company_id, seq, head_hash, signed_at, signed FROM checkpoints \
             WHERE company_id = $1 ORDER BY seq",
        )
        .bind(company)
        .fetch_all(&self.pool)
        .await?)
    }

    /// A company's newest checkpoint.
    pub async fn latest_checkpoint(
        &self,
        company: CompanyId,
    ) -> Result<Option<StoredCheckpoint>, AuditError> {
        Ok(sqlx::query_as(
            "SELECT company_id, seq, head_hash, signed_at, signed FROM checkpoints \
             WHERE company_id = $1 ORDER BY seq DESC LIMIT 1",
        )
        .bind(company.as_uuid())
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Heads that moved since their last checkpoint, at most `limit`.
    pub async fn heads_to_sign(&self, limit: i64) -> Result<Vec<(Uuid, i64, Vec<u8>)>, AuditError> {
        Ok(sqlx::query_as(
            "SELECT h.company_id, h.seq, h.hash FROM chain_heads h \
             WHERE h.seq > COALESCE((SELECT max(c.seq) FROM checkpoints c \
                                     WHERE c.company_id = h.company_id), 0) \
             ORDER BY h.company_id LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn save_checkpoint(&self, checkpoint: &StoredCheckpoint) -> Result<(), AuditError> {
        sqlx::query(
            "INSERT INTO checkpoints (company_id, seq, head_hash, signed_at, signed) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (company_id, seq) DO NOTHING",
        )
        .bind(checkpoint.company_id)
        .bind(checkpoint.seq)
        .bind(&checkpoint.head_hash)
        .bind(checkpoint.signed_at)
        .bind(&checkpoint.signed)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

impl Store {
    /// Every checkpoint key's id and public half, as the database holds
    /// them: what `verify` checks against unless given the published set.
    pub async fn public_keys(&self) -> Result<Vec<(String, Vec<u8>)>, AuditError> {
        Ok(
            sqlx::query_as("SELECT kid, public_key FROM checkpoint_keys ORDER BY signs_from")
                .fetch_all(&self.pool)
                .await?,
        )
    }
}
