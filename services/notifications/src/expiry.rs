//! Grants that end soon: no event says so, so a check looks for grants
//! ending within a week and tells their companies, once per grant. The
//! same round deletes messages past their retention: they hold names and
//! contact details, and are kept only as long as someone may ask what was
//! sent.

use std::collections::HashSet;
use std::time::Duration;

use chrono::Utc;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::error::NotificationsError;
use crate::messages::{Messages, Source};
use crate::notices::access_expiring;
use crate::storage::Store;

/// How long before its end a grant's company is told.
pub const NOTICE_AHEAD: chrono::Duration = chrono::Duration::days(7);

/// Tells of grants ending soon, and deletes messages older than
/// `retention`, every `interval`.
pub async fn check_forever(
    store: Store,
    messages: Messages,
    interval: Duration,
    retention: Duration,
    shutdown: CancellationToken,
) {
    loop {
        match check(&store, &messages).await {
            Ok(0) => {}
            Ok(told) => tracing::info!(told, "companies told of grants ending soon"),
            Err(error) => tracing::warn!(%error, "cannot look for grants ending soon"),
        }
        let cutoff = chrono::Duration::from_std(retention)
            .ok()
            .and_then(|retention| Utc::now().checked_sub_signed(retention));
        if let Some(cutoff) = cutoff {
            match store.prune(cutoff).await {
                Ok(0) => {}
                Ok(deleted) => tracing::info!(deleted, "old messages deleted"),
                Err(error) => tracing::warn!(%error, "cannot delete old messages"),
            }
        }
        tokio::select! {
            () = shutdown.cancelled() => break,
            () = tokio::time::sleep(interval) => {}
        }
    }
}

/// Tells the company of every grant ending within a week, each in its own
/// transaction with its messages. A grant that cannot be told of now (its
/// company not known yet) is left for the next check.
pub async fn check(store: &Store, messages: &Messages) -> Result<usize, NotificationsError> {
    let mut told = 0;
    let mut left: HashSet<Uuid> = HashSet::new();
    loop {
        let mut tx = store.pool.begin().await?;
        let skip: Vec<Uuid> = left.iter().copied().collect();
        let Some(grant) = Store::grant_ending(&mut tx, Utc::now() + NOTICE_AHEAD, &skip).await?
        else {
            return Ok(told);
        };
        let Some(valid_until) = grant.valid_until else {
            return Err(NotificationsError::Corrupt(
                "an ending grant without an end".to_owned(),
            ));
        };
        let notice = access_expiring(grant.company_id, grant.grant_id, valid_until);
        let key = format!("grant-expiring:{}", grant.grant_id);
        let source = Source {
            event_id: &key,
            dedupe_key: &key,
            may_wait_for_grant: false,
        };
        match messages.write(&mut tx, &source, &notice).await {
            Ok(_) => {
                Store::expiry_noticed(&mut tx, grant.grant_id).await?;
                tx.commit().await?;
                told += 1;
            }
            Err(error) if error.is_unavailable() => return Err(error),
            Err(error) => {
                tracing::warn!(grant_id = %grant.grant_id, %error, "cannot tell of a grant ending");
                left.insert(grant.grant_id);
            }
        }
    }
}
