//! `hms-audit verify`: walks every company's chain (or one's) in the
//! database, recomputing each hash and link, and checks every checkpoint's
//! signature and that it names a head the chain still has. Prints a line
//! per company; fails when anything does not hold.

use std::collections::BTreeMap;

use hms_attestation::{AccessLogCheckpoint, KeySet};
use uuid::Uuid;

use crate::domain::{ChainBreak, ChainCheck, hex};
use crate::error::AuditError;
use crate::storage::Store;

/// Entries read at a time.
const PAGE: u32 = 5000;

/// What was found for one company.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub company_id: Uuid,
    pub entries: u64,
    pub checkpoints: usize,
    /// Why the company's log does not hold; `None` when it does.
    pub problem: Option<String>,
}

/// Checks the chains of `companies` (every company when empty) against
/// `keys`.
pub async fn verify(
    store: &Store,
    keys: &KeySet,
    companies: &[Uuid],
) -> Result<Vec<Finding>, AuditError> {
    let companies = if companies.is_empty() {
        store.companies().await?
    } else {
        companies.to_vec()
    };
    let mut findings = Vec::with_capacity(companies.len());
    for company in companies {
        findings.push(verify_one(store, keys, company).await?);
    }
    Ok(findings)
}

async fn verify_one(store: &Store, keys: &KeySet, company: Uuid) -> Result<Finding, AuditError> {
    let checkpoints = store.checkpoints(company).await?;
    let mut finding = Finding {
        company_id: company,
        entries: 0,
        checkpoints: checkpoints.len(),
        problem: None,
    };
    // The hash each checkpointed entry must have.
    let mut expected: BTreeMap<u64, Vec<u8>> = BTreeMap::new();
    for checkpoint in &checkpoints {
        let claimed = match keys.verify::<AccessLogCheckpoint>(&checkpoint.signed) {
            Ok(claimed) => claimed,
            Err(error) => {
                finding.problem = Some(format!("checkpoint at entry {}: {error}", checkpoint.seq));
                return Ok(finding);
            }
        };
        let matches_row = claimed.company_id == company.to_string()
            && i64::try_from(claimed.seq).ok() == Some(checkpoint.seq)
            && claimed.head_hash == hex(&checkpoint.head_hash);
        if !matches_row {
            finding.problem = Some(format!(
                "checkpoint at entry {} says otherwise than its signature",
                checkpoint.seq
            ));
            return Ok(finding);
        }
        expected.insert(claimed.seq, checkpoint.head_hash.clone());
    }
    let mut chain = ChainCheck::default();
    loop {
        let page = store.chain(company, chain.head().0, PAGE).await?;
        if page.is_empty() {
            break;
        }
        for entry in page {
            let entry = match entry {
                Ok(entry) => entry,
                Err(error) => {
                    finding.problem = Some(error.to_string());
                    return Ok(finding);
                }
            };
            if let Err(broken) = chain.next(&entry) {
                finding.problem = Some(broken.to_string());
                return Ok(finding);
            }
            if let Some(hash) = expected.get(&entry.seq)
                && *hash != entry.hash
            {
                finding.problem = Some(format!(
                    "entry {} is not the one checkpointed: {}",
                    entry.seq,
                    ChainBreak::Changed(entry.seq)
                ));
                return Ok(finding);
            }
            finding.entries = entry.seq;
        }
    }
    let (seq, head) = chain.head();
    if let Some((&last, _)) = expected.last_key_value()
        && last > seq
    {
        finding.problem = Some(format!(
            "the chain ends at entry {seq}, but a checkpoint vouches for {last}: entries were removed"
        ));
        return Ok(finding);
    }
    match store.head(company).await? {
        Some((head_seq, head_hash))
            if i64::try_from(seq).ok() == Some(head_seq) && head_hash == head => {}
        Some((head_seq, _)) => {
            finding.problem = Some(format!(
                "the chain ends at entry {seq}, but its head says {head_seq}"
            ));
        }
        None => finding.problem = Some("the chain has no head".to_owned()),
    }
    Ok(finding)
}

/// The findings as the command prints them.
pub fn report(findings: &[Finding]) -> String {
    let mut out =
        String::from("company                               entries  checkpoints  result\n");
    for finding in findings {
        out.push_str(&format!(
            "{}  {:>7}  {:>11}  {}\n",
            finding.company_id,
            finding.entries,
            finding.checkpoints,
            finding.problem.as_deref().unwrap_or("ok"),
        ));
    }
    out
}
