//! Who hears what: for each event, the kind of message (its templates are
//! `templates/<language>/<kind>.*`), who receives it, whom it names as
//! having acted, and the facts it tells. Adding a kind of message is a
//! template and one `impl Notify` here.

use chrono::{DateTime, Utc};
use hms_events::{Event, HandlerError};
use hms_proto::events::v1 as pb;
use hms_proto::time::{Timestamp, from_timestamp};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::storage::KnownGrant;

/// Every kind of message, for the test that renders each in every
/// language.
pub const KINDS: &[&str] = &[
    "contact_changed",
    "order_submitted",
    "access_granted",
    "access_revoked",
    "access_expiring",
    "company_approved",
    "company_rejected",
    "company_suspended",
    "order_approved",
    "order_rejected",
    "order_needs_correction",
    "order_closed",
    "data_deleted",
    "card_blocked",
    "card_deactivated",
    "card_expired",
    "card_expiring",
    "print_abandoned",
];

/// How a company is reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    pub email: String,
    pub phone: String,
}

/// Who a message goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recipients {
    /// The company's contact.
    Company,
    /// The contact before and after a change, both: a contact redirected
    /// behind the company's back must not go unnoticed.
    OldAndNew { old: Contact, new: Contact },
    /// The company's contact, and the contact of the supplier a grant goes
    /// to or was passed on from, if that supplier is registered here.
    CompanyAndGrantSupplier,
    /// The company's contact and the back office, by email: something
    /// went wrong that the back office must follow up.
    CompanyAndBackOffice,
}

/// A message to send because of an event.
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    pub company_id: Uuid,
    pub kind: &'static str,
    pub recipients: Recipients,
    /// The person the message names as having acted.
    pub actor: Option<Uuid>,
    /// The grant the message is about, to name its holder.
    pub grant: Option<Uuid>,
    /// What the kind's templates need beyond the company, the actor, the
    /// time and the link.
    pub facts: Value,
    pub when: DateTime<Utc>,
    /// When the grant the message is about ends, if it does.
    pub valid_until: Option<DateTime<Utc>>,
    /// Where the message links to, below the platform's public address.
    pub link: String,
}

/// What an event teaches notifications about companies and grants, to be
/// kept before its message is written (the message may need it).
#[derive(Debug, Clone, PartialEq)]
pub enum Learned {
    /// A company's new contact, as of the company's `version`.
    Contact {
        company_id: Uuid,
        contact: Contact,
        version: i64,
    },
    Grant(KnownGrant),
    Revoked {
        grant_id: Uuid,
        at: DateTime<Utc>,
    },
}

/// An event that tells a company something.
pub trait Notify: Event {
    fn notice(&self) -> Result<Notice, HandlerError>;

    fn learned(&self) -> Result<Option<Learned>, HandlerError> {
        Ok(None)
    }
}

fn id(field: &str, value: &str) -> Result<Uuid, HandlerError> {
    Uuid::parse_str(value).map_err(|_| HandlerError::Reject(format!("{field} is not a UUID")))
}

fn person(value: &str) -> Option<Uuid> {
    Uuid::parse_str(value).ok()
}

fn when(at: Option<&Timestamp>) -> DateTime<Utc> {
    at.and_then(from_timestamp).unwrap_or_else(Utc::now)
}

/// Kroner with a decimal comma, as Norwegians write prices: `332,25`.
pub fn kroner(ore: i64) -> String {
    format!("{},{:02}", ore / 100, (ore % 100).abs())
}

/// A message to the company alone, with a reason or without.
fn to_company(
    company_id: &str,
    kind: &'static str,
    facts: Value,
    at: Option<&Timestamp>,
    link: String,
) -> Result<Notice, HandlerError> {
    Ok(Notice {
        company_id: id("company_id", company_id)?,
        kind,
        recipients: Recipients::Company,
        actor: None,
        grant: None,
        facts,
        when: when(at),
        valid_until: None,
        link,
    })
}

impl Notify for pb::ContactInfoChanged {
    fn notice(&self) -> Result<Notice, HandlerError> {
        let contact = |contact: &Option<hms_proto::companies::v1::ContactInfo>| {
            contact
                .as_ref()
                .map(|c| Contact {
                    email: c.email.clone(),
                    phone: c.phone.clone(),
                })
                .ok_or_else(|| HandlerError::Reject("a contact is missing".to_owned()))
        };
        let (old, new) = (contact(&self.old_contact)?, contact(&self.new_contact)?);
        Ok(Notice {
            company_id: id("company_id", &self.company_id)?,
            kind: "contact_changed",
            facts: json!({
                "old": {"email": old.email, "phone": old.phone},
                "new": {"email": new.email, "phone": new.phone},
            }),
            recipients: Recipients::OldAndNew { old, new },
            actor: person(&self.changed_by_user_id),
            grant: None,
            when: when(self.occurred_at.as_ref()),
            valid_until: None,
            link: format!("/companies/{}/contact", self.company_id),
        })
    }

    fn learned(&self) -> Result<Option<Learned>, HandlerError> {
        let Some(contact) = &self.new_contact else {
            return Ok(None);
        };
        Ok(Some(Learned::Contact {
            company_id: id("company_id", &self.company_id)?,
            contact: Contact {
                email: contact.email.clone(),
                phone: contact.phone.clone(),
            },
            version: self.version,
        }))
    }
}

impl Notify for pb::OrderSubmitted {
    fn notice(&self) -> Result<Notice, HandlerError> {
        Ok(Notice {
            company_id: id("company_id", &self.company_id)?,
            kind: "order_submitted",
            recipients: Recipients::Company,
            actor: person(&self.submitted_by_user_id),
            grant: None,
            facts: json!({
                "cards": self.worker_count,
                "price": {
                    "net": kroner(self.net_ore),
                    "vat": kroner(self.vat_ore),
                    "gross": kroner(self.gross_ore),
                },
            }),
            when: when(self.occurred_at.as_ref()),
            valid_until: None,
            link: format!("/orders/{}", self.order_id),
        })
    }
}

impl Notify for pb::AccessGranted {
    fn notice(&self) -> Result<Notice, HandlerError> {
        Ok(Notice {
            company_id: id("company_id", &self.company_id)?,
            kind: "access_granted",
            recipients: Recipients::CompanyAndGrantSupplier,
            actor: person(&self.granted_by_user_id),
            grant: Some(id("grant_id", &self.grant_id)?),
            facts: json!({"scopes": self.scopes}),
            when: when(self.occurred_at.as_ref()),
            valid_until: self.valid_until.as_ref().and_then(from_timestamp),
            link: format!("/companies/{}/access", self.company_id),
        })
    }

    fn learned(&self) -> Result<Option<Learned>, HandlerError> {
        let optional =
            |field: &str, value: &str| (!value.is_empty()).then(|| id(field, value)).transpose();
        let text = |value: &str| (!value.is_empty()).then(|| value.to_owned());
        Ok(Some(Learned::Grant(KnownGrant {
            grant_id: id("grant_id", &self.grant_id)?,
            company_id: id("company_id", &self.company_id)?,
            grantee_user_id: optional("grantee_user_id", &self.grantee_user_id)?,
            grantee_label: self.grantee_label.clone(),
            supplier_org: text(&self.supplier_org_number),
            supplier_name: text(&self.supplier_name),
            parent_grant_id: optional("parent_grant_id", &self.parent_grant_id)?,
            valid_until: self.valid_until.as_ref().and_then(from_timestamp),
        })))
    }
}

impl Notify for pb::AccessRevoked {
    fn notice(&self) -> Result<Notice, HandlerError> {
        Ok(Notice {
            company_id: id("company_id", &self.company_id)?,
            kind: "access_revoked",
            recipients: Recipients::CompanyAndGrantSupplier,
            actor: person(&self.revoked_by_user_id),
            grant: Some(id("grant_id", &self.grant_id)?),
            facts: json!({}),
            when: when(self.occurred_at.as_ref()),
            valid_until: None,
            link: format!("/companies/{}/access", self.company_id),
        })
    }

    fn learned(&self) -> Result<Option<Learned>, HandlerError> {
        Ok(Some(Learned::Revoked {
            grant_id: id("grant_id", &self.grant_id)?,
            at: when(self.occurred_at.as_ref()),
        }))
    }
}

impl Notify for pb::CompanyApproved {
    fn notice(&self) -> Result<Notice, HandlerError> {
        let link = format!("/companies/{}", self.company_id);
        to_company(
            &self.company_id,
            "company_approved",
            json!({}),
            self.occurred_at.as_ref(),
            link,
        )
    }
}

impl Notify for pb::CompanyRejected {
    fn notice(&self) -> Result<Notice, HandlerError> {
        let link = format!("/companies/{}", self.company_id);
        let facts = json!({"reason": self.reason});
        to_company(
            &self.company_id,
            "company_rejected",
            facts,
            self.occurred_at.as_ref(),
            link,
        )
    }
}

impl Notify for pb::CompanySuspended {
    fn notice(&self) -> Result<Notice, HandlerError> {
        let link = format!("/companies/{}", self.company_id);
        let facts = json!({"reason": self.reason});
        to_company(
            &self.company_id,
            "company_suspended",
            facts,
            self.occurred_at.as_ref(),
            link,
        )
    }
}

impl Notify for pb::OrderApproved {
    fn notice(&self) -> Result<Notice, HandlerError> {
        let link = format!("/orders/{}", self.order_id);
        let facts = json!({"cards": self.worker_count});
        to_company(
            &self.company_id,
            "order_approved",
            facts,
            self.occurred_at.as_ref(),
            link,
        )
    }
}

impl Notify for pb::OrderRejected {
    fn notice(&self) -> Result<Notice, HandlerError> {
        let link = format!("/orders/{}", self.order_id);
        let facts = json!({"reason": self.reason});
        to_company(
            &self.company_id,
            "order_rejected",
            facts,
            self.occurred_at.as_ref(),
            link,
        )
    }
}

impl Notify for pb::OrderReturnedForCorrection {
    fn notice(&self) -> Result<Notice, HandlerError> {
        let link = format!("/orders/{}", self.order_id);
        // The count only: the back office's notes may name the person.
        let facts = json!({"documents": self.rejected.len()});
        to_company(
            &self.company_id,
            "order_needs_correction",
            facts,
            self.occurred_at.as_ref(),
            link,
        )
    }
}

impl Notify for pb::OrderClosed {
    fn notice(&self) -> Result<Notice, HandlerError> {
        let link = format!("/orders/{}", self.order_id);
        let facts = json!({"closed_because": self.reason});
        to_company(
            &self.company_id,
            "order_closed",
            facts,
            self.occurred_at.as_ref(),
            link,
        )
    }
}

impl Notify for pb::OrderRedacted {
    fn notice(&self) -> Result<Notice, HandlerError> {
        let link = format!("/orders/{}/receipt", self.order_id);
        let facts = json!({
            "order_id": self.order_id,
            "workers": self.workers_masked,
            "documents": self.objects_deleted,
        });
        to_company(
            &self.company_id,
            "data_deleted",
            facts,
            self.occurred_at.as_ref(),
            link,
        )
    }
}

/// A card's change, told to its company.
fn card_notice(
    company_id: &str,
    kind: &'static str,
    actor: Option<Uuid>,
    facts: Value,
    at: Option<&Timestamp>,
    valid_until: Option<DateTime<Utc>>,
) -> Result<Notice, HandlerError> {
    let company = id("company_id", company_id)?;
    Ok(Notice {
        company_id: company,
        kind,
        recipients: Recipients::Company,
        actor,
        grant: None,
        facts,
        when: when(at),
        valid_until,
        link: format!("/companies/{company}/cards"),
    })
}

impl Notify for pb::PrintAbandoned {
    fn notice(&self) -> Result<Notice, HandlerError> {
        let unprinted: Vec<Value> = self
            .cards
            .iter()
            .map(|card| json!({"card_number": card.card_number, "holder": card.holder_name}))
            .collect();
        let facts = json!({"order_id": self.order_id, "unprinted": unprinted});
        let notice = card_notice(
            &self.company_id,
            "print_abandoned",
            None,
            facts,
            self.occurred_at.as_ref(),
            None,
        )?;
        Ok(Notice {
            recipients: Recipients::CompanyAndBackOffice,
            ..notice
        })
    }
}

impl Notify for pb::CardBlocked {
    fn notice(&self) -> Result<Notice, HandlerError> {
        let facts = json!({
            "card_number": self.card_number,
            "holder": self.holder_name,
            "reason": self.reason,
        });
        card_notice(
            &self.company_id,
            "card_blocked",
            person(&self.blocked_by_user_id),
            facts,
            self.occurred_at.as_ref(),
            None,
        )
    }
}

impl Notify for pb::CardDeactivated {
    fn notice(&self) -> Result<Notice, HandlerError> {
        let facts = json!({
            "card_number": self.card_number,
            "holder": self.holder_name,
            "reason": self.reason,
        });
        card_notice(
            &self.company_id,
            "card_deactivated",
            person(&self.deactivated_by_user_id),
            facts,
            self.occurred_at.as_ref(),
            None,
        )
    }
}

impl Notify for pb::CardExpired {
    fn notice(&self) -> Result<Notice, HandlerError> {
        let facts = json!({"card_number": self.card_number, "holder": self.holder_name});
        card_notice(
            &self.company_id,
            "card_expired",
            None,
            facts,
            self.occurred_at.as_ref(),
            None,
        )
    }
}

impl Notify for pb::CardExpiring {
    fn notice(&self) -> Result<Notice, HandlerError> {
        let facts = json!({
            "card_number": self.card_number,
            "holder": self.holder_name,
            "days": self.days_ahead,
        });
        card_notice(
            &self.company_id,
            "card_expiring",
            None,
            facts,
            self.occurred_at.as_ref(),
            self.valid_until.as_ref().and_then(from_timestamp),
        )
    }
}

/// A grant ending within a week, found by the expiry check (no event says
/// so): its notice, keyed by the grant so it is sent once.
pub fn access_expiring(company_id: Uuid, grant_id: Uuid, valid_until: DateTime<Utc>) -> Notice {
    Notice {
        company_id,
        kind: "access_expiring",
        recipients: Recipients::CompanyAndGrantSupplier,
        actor: None,
        grant: Some(grant_id),
        facts: json!({}),
        when: Utc::now(),
        valid_until: Some(valid_until),
        link: format!("/companies/{company_id}/access"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_are_written_with_a_decimal_comma() {
        assert_eq!(kroner(33_225), "332,25");
        assert_eq!(kroner(16_613), "166,13");
        assert_eq!(kroner(5), "0,05");
    }

    #[test]
    fn a_contact_change_goes_to_both_contacts_and_names_who_did_it() {
        let user = Uuid::now_v7();
        let event = pb::ContactInfoChanged {
            company_id: Uuid::now_v7().to_string(),
            old_contact: Some(hms_proto::companies::v1::ContactInfo {
                email: "post@nordmannbygg.no".to_owned(),
                phone: "+4791234567".to_owned(),
            }),
            new_contact: Some(hms_proto::companies::v1::ContactInfo {
                email: "falsk@example.no".to_owned(),
                phone: "+4799999999".to_owned(),
            }),
            changed_by_user_id: user.to_string(),
            version: 2,
            occurred_at: None,
        };
        let notice = event.notice().expect("a notice");
        assert_eq!(notice.actor, Some(user));
        let Recipients::OldAndNew { old, new } = notice.recipients else {
            panic!("both contacts");
        };
        assert_eq!(old.email, "post@nordmannbygg.no");
        assert_eq!(new.phone, "+4799999999");
    }
}
