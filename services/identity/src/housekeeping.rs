//! What identity keeps only for a while: ended grants (listed for
//! `HMS_ENDED_GRANT_RETENTION_SECS` after their end, so a company sees who
//! had access lately) and ended sessions (kept a day, with their spent
//! refresh tokens).

use std::time::Duration;

use chrono::Utc;
use tokio_util::sync::CancellationToken;

use crate::storage::Store;

/// Ended sessions are kept this long, so a support question about a
/// logout or a stolen refresh token can still be answered.
const ENDED_SESSION_RETENTION: chrono::Duration = chrono::Duration::days(1);

/// Prunes every `interval` until `shutdown`.
pub async fn run(
    store: Store,
    grant_retention: Duration,
    interval: Duration,
    shutdown: CancellationToken,
) {
    let grant_retention =
        chrono::Duration::from_std(grant_retention).unwrap_or(chrono::Duration::MAX);
    let mut every = tokio::time::interval(interval);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = every.tick() => {}
            () = shutdown.cancelled() => return,
        }
        let now = Utc::now();
        let pruned = async {
            // Settings keep the retention within any date: no cutoff, no
            // pruning, never "everything".
            let grants = match now.checked_sub_signed(grant_retention) {
                Some(cutoff) => store.prune_grants(cutoff).await?,
                None => 0,
            };
            let sessions = store.prune_sessions(now - ENDED_SESSION_RETENTION).await?;
            Ok::<_, crate::error::IdentityError>((grants, sessions))
        }
        .await;
        match pruned {
            Ok((0, 0)) => {}
            Ok((grants, sessions)) => {
                tracing::info!(grants, sessions, "pruned ended grants and sessions")
            }
            // The database is down; next round.
            Err(error) => tracing::warn!(%error, "pruning failed"),
        }
    }
}
