//! Removing objects whose keys are destroyed from the store. Purges do it
//! at once; a background sweep retries what the store refused.

use std::time::Duration;

use hms_domain::OrderId;
use tokio_util::sync::CancellationToken;

use crate::storage::Store;
use crate::vault::Vault;

/// What one round of deletions achieved.
#[derive(Debug, Clone, Copy, Default)]
pub struct Deleted {
    pub deleted: u32,
    pub failed: u32,
}

/// Deletes the queued objects of one order (or of all orders).
pub async fn delete_pending(
    store: &Store,
    vault: &Vault,
    order_id: Option<OrderId>,
) -> Result<Deleted, crate::error::MediaError> {
    let mut outcome = Deleted::default();
    for pending in store.pending_deletions(order_id).await? {
        match vault.delete(&pending.object_path).await {
            Ok(()) => {
                store.deletion_done(&pending).await?;
                outcome.deleted += 1;
            }
            Err(error) => {
                tracing::warn!(%error, "object store refused a deletion; it is retried");
                store.deletion_failed(&pending, &error.to_string()).await?;
                outcome.failed += 1;
            }
        }
    }
    Ok(outcome)
}

/// Retries queued deletions every `interval` until shutdown.
pub async fn sweep(store: Store, vault: Vault, interval: Duration, shutdown: CancellationToken) {
    loop {
        match delete_pending(&store, &vault, None).await {
            Ok(Deleted { deleted, failed }) if deleted + failed > 0 => {
                tracing::info!(deleted, failed, "swept queued object deletions");
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "could not sweep object deletions"),
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(interval) => {}
        }
    }
}
