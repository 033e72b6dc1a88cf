//! Events in: each is turned into messages, recorded in the transaction
//! that marks the event handled, so a redelivered event writes nothing
//! twice and sending never holds up consuming.

use hms_domain::Language;
use hms_events::{EventHandler, EventMeta, HandlerError};
use hms_proto::ProtoEnum;
use hms_proto::events::v1 as pb;
use sha2::{Digest, Sha256};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::messages::{Messages, Source};
use crate::notices::{Contact, Notify};
use crate::storage::{KnownCompany, Store};

/// Learns of a company: where to write to it, and in which language.
pub struct OnCompanyRegistered;

impl EventHandler<pb::CompanyRegistered> for OnCompanyRegistered {
    async fn handle(
        &self,
        event: pb::CompanyRegistered,
        _meta: &EventMeta,
        tx: &mut PgConnection,
    ) -> Result<(), HandlerError> {
        let company_id = Uuid::parse_str(&event.company_id)
            .map_err(|_| HandlerError::Reject("company_id is not a UUID".to_owned()))?;
        let contact = event.contact.unwrap_or_default();
        let company = KnownCompany {
            company_id,
            org_number: event.org_number,
            name: event.name,
            contact: Contact {
                email: contact.email,
                phone: contact.phone,
            },
            // Events from before companies chose a language: bokmål.
            language: Language::from_i32(event.language).unwrap_or(Language::Nb),
        };
        Store::company_known(tx, &company, event.version)
            .await
            .map_err(HandlerError::from)
    }
}

/// Writes the messages an event makes, after keeping what it teaches.
#[derive(Clone)]
pub struct OnNotice(pub Messages);

impl<E: Notify> EventHandler<E> for OnNotice {
    async fn handle(
        &self,
        event: E,
        meta: &EventMeta,
        tx: &mut PgConnection,
    ) -> Result<(), HandlerError> {
        let notice = event.notice()?;
        if let Some(learned) = event.learned()? {
            self.0.learn(tx, learned).await?;
        }
        let dedupe_key = dedupe_key(&event);
        let source = Source {
            event_id: &meta.event_id,
            dedupe_key: &dedupe_key,
            // A grant's own event is handled by another consumer; by the
            // second delivery it has had its chance.
            may_wait_for_grant: meta.delivered <= 1,
        };
        let written = self.0.write(tx, &source, &notice).await?;
        tracing::debug!(kind = notice.kind, written, "messages recorded");
        Ok(())
    }

    /// Events that arrived together are written in one transaction, one
    /// after another: a commit per batch. One that cannot be written now
    /// (a grant not yet known, say) sends the batch back to be handled
    /// event by event.
    fn batch_size(&self) -> usize {
        BATCH
    }
}

/// Events written in one transaction at most.
const BATCH: usize = 100;

/// An event known by what it says: its type and a hash of its encoding.
/// Events carry their ids and the time they happened, so two events never
/// share a key, and one published twice under two ids keeps its own.
fn dedupe_key<E: Notify>(event: &E) -> String {
    let digest = Sha256::digest(event.encode_to_vec());
    let hex: String = digest.iter().map(|byte| format!("{byte:02x}")).collect();
    format!("{}:{hex}", E::TYPE.name)
}
