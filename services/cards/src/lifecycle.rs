//! What happens to a card after its issue: people block or deactivate it,
//! and the platform expires it at its end and tells the company ahead of
//! it. Every change is kept with who and why, and published.

use std::time::Duration;

use chrono::Utc;
use hms_domain::CardNumber;
use hms_proto::events::v1 as events;
use hms_proto::time::timestamp;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::domain::{Card, Change, Outcome};
use crate::error::CardsError;
use crate::storage::Store;

/// Cards handled per transaction by the checks.
const BATCH: i64 = 200;

#[derive(Clone)]
pub struct Lifecycle {
    store: Store,
}

impl Lifecycle {
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    /// A card by its number.
    pub async fn card(&self, number: &CardNumber) -> Result<Card, CardsError> {
        self.store
            .by_number(number)
            .await?
            .ok_or(CardsError::NotFound)
    }

    /// Blocks or deactivates a card (already done: nothing changes), and
    /// publishes the change.
    pub async fn change(
        &self,
        card: &Card,
        change: Change,
        reason: &str,
        by: Uuid,
    ) -> Result<Card, CardsError> {
        match change.applied_to(card.status) {
            Outcome::AlreadyDone => return Ok(card.clone()),
            Outcome::AlreadyEnded => {
                return Err(CardsError::Transition("the card no longer counts already"));
            }
            Outcome::Changes => {}
        }
        let mut tx = self.store.pool.begin().await?;
        if !Store::end(&mut tx, card.card_id, change.target(), reason, Some(by)).await? {
            // It changed meanwhile; what it is now is the answer.
            return self.card(&card.card_number).await;
        }
        let common = (
            card.card_id.to_string(),
            card.card_number.to_string(),
            card.company_id.to_string(),
        );
        let now = Some(timestamp(Utc::now()));
        match change {
            Change::Block => {
                hms_events::enqueue(
                    &mut tx,
                    &events::CardBlocked {
                        card_id: common.0,
                        card_number: common.1,
                        company_id: common.2,
                        reason: reason.to_owned(),
                        blocked_by_user_id: by.to_string(),
                        occurred_at: now,
                        holder_name: card.holder_name.clone(),
                    },
                )
                .await?;
            }
            Change::Deactivate => {
                hms_events::enqueue(
                    &mut tx,
                    &events::CardDeactivated {
                        card_id: common.0,
                        card_number: common.1,
                        company_id: common.2,
                        reason: reason.to_owned(),
                        deactivated_by_user_id: by.to_string(),
                        occurred_at: now,
                        holder_name: card.holder_name.clone(),
                    },
                )
                .await?;
            }
        }
        tx.commit().await?;
        tracing::info!(card_id = %card.card_id, change = ?change, "card changed");
        self.card(&card.card_number).await
    }

    /// Expires cards at their end and tells of those ending in 60 and 30
    /// days, every `interval`.
    pub async fn check_forever(self, interval: Duration, shutdown: CancellationToken) {
        loop {
            match self.check().await {
                Ok((0, 0)) => {}
                Ok((expired, told)) => tracing::info!(expired, told, "cards checked"),
                Err(error) => tracing::warn!(%error, "cannot check cards"),
            }
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = tokio::time::sleep(interval) => {}
            }
        }
    }

    /// One round: how many cards expired, and how many endings were told.
    pub async fn check(&self) -> Result<(usize, usize), CardsError> {
        let mut expired = 0;
        loop {
            let mut tx = self.store.pool.begin().await?;
            let cards = Store::expire_due(&mut tx, BATCH).await?;
            for card in &cards {
                hms_events::enqueue(
                    &mut tx,
                    &events::CardExpired {
                        card_id: card.card_id.to_string(),
                        card_number: card.card_number.to_string(),
                        company_id: card.company_id.to_string(),
                        occurred_at: Some(timestamp(card.valid_until)),
                        holder_name: card.holder_name.clone(),
                    },
                )
                .await?;
            }
            tx.commit().await?;
            expired += cards.len();
            if cards.len() < BATCH as usize {
                break;
            }
        }
        let mut told = 0;
        // 30 first: a card found only now, 20 days before its end, is told
        // once, not twice.
        for days in [30, 60] {
            loop {
                let mut tx = self.store.pool.begin().await?;
                let cards = Store::ending_within(&mut tx, days, BATCH).await?;
                for card in &cards {
                    hms_events::enqueue(
                        &mut tx,
                        &events::CardExpiring {
                            card_id: card.card_id.to_string(),
                            card_number: card.card_number.to_string(),
                            company_id: card.company_id.to_string(),
                            valid_until: Some(timestamp(card.valid_until)),
                            days_ahead: days,
                            occurred_at: Some(timestamp(Utc::now())),
                            holder_name: card.holder_name.clone(),
                        },
                    )
                    .await?;
                }
                tx.commit().await?;
                told += cards.len();
                if cards.len() < BATCH as usize {
                    break;
                }
            }
        }
        Ok((expired, told))
    }
}
