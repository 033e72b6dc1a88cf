//! Removing objects whose keys are destroyed from the store. Purges do it
//! at once; a background sweep retries what the store refused.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use futures::StreamExt;
use hms_domain::OrderId;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::storage::{PendingDeletion, Store};
use crate::vault::Vault;

/// What deleting an order's queued objects achieved.
#[derive(Debug, Clone, Copy, Default)]
pub struct Deleted {
    pub deleted: u32,
    pub failed: u32,
}

/// Queued objects fetched, and deleted from the store at once.
const ROUND: i64 = 1_000;
const AT_ONCE: usize = 16;

/// Deletes the queued objects of `orders` (or of all orders); what became
/// of them, per order.
pub async fn delete_pending(
    store: &Store,
    vault: &Vault,
    orders: Option<&[OrderId]>,
) -> Result<HashMap<Uuid, Deleted>, crate::error::MediaError> {
    let mut outcome: HashMap<Uuid, Deleted> = HashMap::new();
    let mut refused: HashSet<String> = HashSet::new();
    loop {
        let limit = ROUND + refused.len() as i64;
        let queued = store.pending_deletions(orders, limit).await?;
        // Fewer than asked for: this round sees every queued object.
        let last_round = (queued.len() as i64) < limit;
        let pending: Vec<PendingDeletion> = queued
            .into_iter()
            .filter(|pending| !refused.contains(&pending.object_path))
            .collect();
        if pending.is_empty() {
            return Ok(outcome);
        }
        let attempts: Vec<(PendingDeletion, Result<(), crate::error::MediaError>)> =
            futures::stream::iter(pending)
                .map(|pending| {
                    let vault = vault.clone();
                    async move {
                        let result = vault.delete(&pending.object_path).await;
                        (pending, result)
                    }
                })
                .buffer_unordered(AT_ONCE)
                .collect()
                .await;
        let mut done = Vec::with_capacity(attempts.len());
        for (pending, result) in attempts {
            let counts = outcome.entry(pending.order_id).or_default();
            match result {
                Ok(()) => {
                    counts.deleted += 1;
                    done.push(pending);
                }
                Err(error) => {
                    tracing::warn!(%error, "object store refused a deletion; it is retried");
                    store.deletion_failed(&pending, &error.to_string()).await?;
                    counts.failed += 1;
                    refused.insert(pending.object_path);
                }
            }
        }
        if done.is_empty() {
            return Ok(outcome);
        }
        store.deletions_done(&done).await?;
        if last_round {
            return Ok(outcome);
        }
    }
}

/// Deletes queued objects when woken (documents destroyed before their
/// order's decision queue theirs and say so on
/// [`DELETIONS`](crate::storage::DELETIONS)), and retries what the store
/// refused every `interval`, until shutdown.
pub async fn sweep(store: Store, vault: Vault, interval: Duration, shutdown: CancellationToken) {
    loop {
        crate::storage::DELETIONS.looking();
        match delete_pending(&store, &vault, None).await {
            Ok(outcome) if !outcome.is_empty() => {
                let deleted: u32 = outcome.values().map(|counts| counts.deleted).sum();
                let failed: u32 = outcome.values().map(|counts| counts.failed).sum();
                tracing::info!(deleted, failed, "swept queued object deletions");
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "could not sweep object deletions"),
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(interval) => {}
            () = crate::storage::DELETIONS.woken() => {}
        }
    }
}
