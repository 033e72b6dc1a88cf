//! The access log's entries, and the hash chain that binds each company's
//! entries in their order: each entry's hash covers the hash before it, so
//! changing, removing or reordering one breaks every hash after it.

use chrono::{DateTime, Utc};
use hms_domain::CompanyId;
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// What was done with personal data, or with access to a company.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    WorkerDataCreated,
    WorkerDataRead,
    DocumentUploaded,
    DocumentDownloaded,
    RegisterChecked,
    PrintMaterialSent,
    NationalIdMasked,
    DocumentsDestroyed,
    GrantGiven,
    GrantRevoked,
    GrantFirstUsed,
}

impl Action {
    pub const ALL: [Self; 11] = [
        Self::WorkerDataCreated,
        Self::WorkerDataRead,
        Self::DocumentUploaded,
        Self::DocumentDownloaded,
        Self::RegisterChecked,
        Self::PrintMaterialSent,
        Self::NationalIdMasked,
        Self::DocumentsDestroyed,
        Self::GrantGiven,
        Self::GrantRevoked,
        Self::GrantFirstUsed,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::WorkerDataCreated => "worker_data_created",
            Self::WorkerDataRead => "worker_data_read",
            Self::DocumentUploaded => "document_uploaded",
            Self::DocumentDownloaded => "document_downloaded",
            Self::RegisterChecked => "register_checked",
            Self::PrintMaterialSent => "print_material_sent",
            Self::NationalIdMasked => "national_id_masked",
            Self::DocumentsDestroyed => "documents_destroyed",
            Self::GrantGiven => "grant_given",
            Self::GrantRevoked => "grant_revoked",
            Self::GrantFirstUsed => "grant_first_used",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|action| action.as_str() == value)
    }
}

/// Why it was done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Ordering,
    CaseReview,
    RegisterCheck,
    CardPrinting,
    DataDeletion,
    AccessManagement,
}

impl Purpose {
    pub const ALL: [Self; 6] = [
        Self::Ordering,
        Self::CaseReview,
        Self::RegisterCheck,
        Self::CardPrinting,
        Self::DataDeletion,
        Self::AccessManagement,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Ordering => "ordering",
            Self::CaseReview => "case_review",
            Self::RegisterCheck => "register_check",
            Self::CardPrinting => "card_printing",
            Self::DataDeletion => "data_deletion",
            Self::AccessManagement => "access_management",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|purpose| purpose.as_str() == value)
    }
}

/// What a service recorded, as it arrives. Times are kept to the
/// microsecond, as PostgreSQL keeps them, so a hash computed now matches
/// one computed from the stored row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The event that carried it: an entry per event, once.
    pub event_id: Uuid,
    pub company_id: CompanyId,
    pub action: Action,
    pub purpose: Purpose,
    /// `user:<id>` or `service:<name>`.
    pub actor: String,
    pub order_id: Option<Uuid>,
    pub worker_ids: Vec<Uuid>,
    pub document_id: Option<Uuid>,
    pub grant_id: Option<Uuid>,
    pub occurred_at: DateTime<Utc>,
}

/// A time as the log keeps it: to the microsecond.
pub fn to_micros(at: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(at.timestamp_micros()).unwrap_or(at)
}

/// An entry in its place in the company's chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub seq: u64,
    pub record: Record,
    pub recorded_at: DateTime<Utc>,
    pub previous_hash: Vec<u8>,
    pub hash: Vec<u8>,
}

/// The hash the first entry of a chain links to.
pub const GENESIS: [u8; 32] = [0; 32];

/// SHA-256 over a fixed tag, the previous hash and every field of the
/// entry, each field with its length before it, so no two different
/// entries encode alike.
pub fn entry_hash(
    previous: &[u8],
    seq: u64,
    record: &Record,
    recorded_at: DateTime<Utc>,
) -> Vec<u8> {
    fn field(hash: &mut Sha256, bytes: &[u8]) {
        hash.update((bytes.len() as u64).to_be_bytes());
        hash.update(bytes);
    }
    let id = |id: Option<Uuid>| id.map(|id| id.as_bytes().to_vec()).unwrap_or_default();
    let mut hash = Sha256::new();
    field(&mut hash, b"hms-access-log/v1");
    field(&mut hash, previous);
    field(&mut hash, &seq.to_be_bytes());
    field(&mut hash, record.event_id.as_bytes());
    field(&mut hash, record.company_id.as_uuid().as_bytes());
    field(&mut hash, record.action.as_str().as_bytes());
    field(&mut hash, record.purpose.as_str().as_bytes());
    field(&mut hash, record.actor.as_bytes());
    field(&mut hash, &id(record.order_id));
    let workers: Vec<u8> = record
        .worker_ids
        .iter()
        .flat_map(|worker| *worker.as_bytes())
        .collect();
    field(&mut hash, &workers);
    field(&mut hash, &id(record.document_id));
    field(&mut hash, &id(record.grant_id));
    field(
        &mut hash,
        &record.occurred_at.timestamp_micros().to_be_bytes(),
    );
    field(&mut hash, &recorded_at.timestamp_micros().to_be_bytes());
    hash.finalize().to_vec()
}

impl Entry {
    /// The next entry after `previous` (the chain's head, or nothing for
    /// the first).
    pub fn after(
        previous: Option<(u64, &[u8])>,
        record: Record,
        recorded_at: DateTime<Utc>,
    ) -> Self {
        let (seq, previous_hash) = match previous {
            Some((seq, hash)) => (seq + 1, hash.to_vec()),
            None => (1, GENESIS.to_vec()),
        };
        let recorded_at = to_micros(recorded_at);
        let hash = entry_hash(&previous_hash, seq, &record, recorded_at);
        Self {
            seq,
            record,
            recorded_at,
            previous_hash,
            hash,
        }
    }
}

/// Where a chain stops holding together.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainBreak {
    #[error("entry {expected} is missing (the next one found is {found})")]
    Missing { expected: u64, found: u64 },
    #[error("entry {0} does not link to the entry before it")]
    Unlinked(u64),
    #[error("entry {0} was changed after it was written: its hash does not match")]
    Changed(u64),
}

/// Follows a company's entries in their order, checking each link and
/// hash; the head (sequence number and hash) where they all hold.
pub struct ChainCheck {
    seq: u64,
    head: Vec<u8>,
}

impl Default for ChainCheck {
    fn default() -> Self {
        Self {
            seq: 0,
            head: GENESIS.to_vec(),
        }
    }
}

impl ChainCheck {
    pub fn next(&mut self, entry: &Entry) -> Result<(), ChainBreak> {
        if entry.seq != self.seq + 1 {
            return Err(ChainBreak::Missing {
                expected: self.seq + 1,
                found: entry.seq,
            });
        }
        if entry.previous_hash != self.head {
            return Err(ChainBreak::Unlinked(entry.seq));
        }
        let hash = entry_hash(
            &entry.previous_hash,
            entry.seq,
            &entry.record,
            entry.recorded_at,
        );
        if hash != entry.hash {
            return Err(ChainBreak::Changed(entry.seq));
        }
        self.seq = entry.seq;
        self.head = hash;
        Ok(())
    }

    /// The last entry checked, and its hash.
    pub fn head(&self) -> (u64, &[u8]) {
        (self.seq, &self.head)
    }
}

/// Lowercase hex, as hashes are shown.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(action: Action) -> Record {
        Record {
            event_id: Uuid::now_v7(),
            company_id: CompanyId::from_uuid(Uuid::now_v7()),
            action,
            purpose: Purpose::Ordering,
            actor: "user:0193a3c0-0000-7000-8000-000000000001".to_owned(),
            order_id: Some(Uuid::now_v7()),
            worker_ids: vec![Uuid::now_v7(), Uuid::now_v7()],
            document_id: None,
            grant_id: None,
            occurred_at: to_micros(Utc::now()),
        }
    }

    fn chain(length: usize) -> Vec<Entry> {
        let mut entries: Vec<Entry> = Vec::new();
        for _ in 0..length {
            let previous = entries.last().map(|e| (e.seq, e.hash.as_slice()));
            let entry = Entry::after(previous, record(Action::WorkerDataRead), Utc::now());
            entries.push(entry);
        }
        entries
    }

    fn check(entries: &[Entry]) -> Result<u64, ChainBreak> {
        let mut check = ChainCheck::default();
        for entry in entries {
            check.next(entry)?;
        }
        Ok(check.head().0)
    }

    #[test]
    fn an_untouched_chain_holds() {
        assert_eq!(check(&chain(5)), Ok(5));
        assert_eq!(check(&[]), Ok(0));
    }

    #[test]
    fn a_changed_field_breaks_the_chain_at_that_entry() {
        let mut entries = chain(5);
        entries[2].record.action = Action::DocumentDownloaded;
        assert_eq!(check(&entries), Err(ChainBreak::Changed(3)));
        let mut entries = chain(5);
        entries[3].record.worker_ids.pop();
        assert_eq!(check(&entries), Err(ChainBreak::Changed(4)));
    }

    #[test]
    fn a_removed_or_reordered_entry_breaks_the_chain() {
        let mut entries = chain(5);
        entries.remove(1);
        assert_eq!(
            check(&entries),
            Err(ChainBreak::Missing {
                expected: 2,
                found: 3
            })
        );
        let mut entries = chain(5);
        entries.swap(1, 2);
        let (a, b) = (entries[1].seq, entries[2].seq);
        entries[1].seq = b;
        entries[2].seq = a;
        assert_eq!(check(&entries), Err(ChainBreak::Unlinked(2)));
    }

    #[test]
    fn a_rewritten_tail_with_fresh_hashes_still_fails_at_the_next_link() {
        // Someone rewrites entry 3 and recomputes its hash: entry 4 still
        // links to the old hash.
        let mut entries = chain(5);
        entries[2].record.purpose = Purpose::CaseReview;
        entries[2].hash = entry_hash(
            &entries[2].previous_hash,
            3,
            &entries[2].record,
            entries[2].recorded_at,
        );
        assert_eq!(check(&entries), Err(ChainBreak::Unlinked(4)));
    }

    #[test]
    fn actions_and_purposes_round_trip() {
        for action in Action::ALL {
            assert_eq!(Action::parse(action.as_str()), Some(action));
        }
        for purpose in Purpose::ALL {
            assert_eq!(Purpose::parse(purpose.as_str()), Some(purpose));
        }
        assert_eq!(hex(&[0, 15, 255]), "000fff");
    }
}
