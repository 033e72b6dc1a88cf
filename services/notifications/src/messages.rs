//! From a notice to messages: who exactly receives it, on which channels,
//! in which language, with which words. The messages are recorded in the
//! transaction that handles the event, and sent later by the worker.

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use hms_domain::Language;
use serde_json::{Value, json};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::{Channel, Recipient};
use crate::error::NotificationsError;
use crate::notices::{Contact, Learned, Notice, Recipients, shown};
use crate::people::{Actor, People, Supplier};
use crate::storage::{KnownCompany, KnownGrant, NewDelivery, Store};
use crate::templates::{RenderedEmail, Templates};

#[derive(Clone)]
pub struct Messages {
    templates: Arc<Templates>,
    people: People,
    /// Links in messages start here.
    public_url: String,
}

/// What a notice came from.
pub struct Source<'a> {
    /// The event's id, or what stands for one.
    pub event_id: &'a str,
    /// What is sent once: the same key again writes nothing.
    pub dedupe_key: &'a str,
}

/// Who a grant is for, as a message names it.
struct GrantHolder {
    /// The supplier's name, or the label the giver chose for a person.
    label: Option<String>,
    /// The supplier the grant goes to, or was passed on from.
    supplier: Option<Supplier>,
    passed_on: bool,
}

enum Rendered {
    Email(RenderedEmail),
    Sms(String),
}

impl Messages {
    pub fn new(templates: Arc<Templates>, people: People, public_url: String) -> Self {
        Self {
            templates,
            people,
            public_url,
        }
    }

    /// Keeps what an event teaches about companies and grants.
    pub async fn learn(
        &self,
        tx: &mut PgConnection,
        learned: Learned,
    ) -> Result<(), NotificationsError> {
        match learned {
            Learned::Contact {
                company_id,
                contact,
                version,
            } => {
                if !Store::contact_changed(tx, company_id, &contact, version).await? {
                    return Err(NotificationsError::UnknownCompany);
                }
            }
            Learned::Grant(grant) => Store::grant_given(tx, &grant).await?,
            Learned::Revoked { grant_id, at } => Store::grant_revoked(tx, grant_id, at).await?,
        }
        Ok(())
    }

    /// Records the messages a notice makes, once per recipient and channel;
    /// returns how many.
    pub async fn write(
        &self,
        tx: &mut PgConnection,
        source: &Source<'_>,
        notice: &Notice,
    ) -> Result<usize, NotificationsError> {
        let company = Store::company(tx, notice.company_id)
            .await?
            .ok_or(NotificationsError::UnknownCompany)?;
        let holder = match notice.grant {
            Some(grant_id) => Some(self.grant_holder(tx, grant_id).await?),
            None => None,
        };
        let actor = match notice.actor {
            Some(user_id) => self.people.describe(user_id, notice.company_id).await?,
            None => None,
        };
        let recipients = self
            .recipients(tx, notice, &company, holder.as_ref())
            .await?;

        let mut rendered: BTreeMap<(Language, Channel), Rendered> = BTreeMap::new();
        for recipient in &recipients {
            let key = (recipient.language, recipient.channel);
            if let Entry::Vacant(slot) = rendered.entry(key) {
                let context = self.context(
                    notice,
                    &company,
                    actor.as_ref(),
                    holder.as_ref(),
                    recipient.language,
                );
                let message = match recipient.channel {
                    Channel::Email => Rendered::Email(self.templates.email(
                        notice.kind,
                        recipient.language,
                        &context,
                    )?),
                    Channel::Sms => Rendered::Sms(self.templates.sms(
                        notice.kind,
                        recipient.language,
                        &context,
                    )?),
                };
                slot.insert(message);
            }
        }
        for recipient in &recipients {
            let (subject, text, html) = match &rendered[&(recipient.language, recipient.channel)] {
                Rendered::Email(email) => (
                    Some(email.subject.as_str()),
                    email.text.as_str(),
                    Some(email.html.as_str()),
                ),
                Rendered::Sms(text) => (None, text.as_str(), None),
            };
            Store::record(
                tx,
                NewDelivery {
                    event_id: source.event_id,
                    dedupe_key: source.dedupe_key,
                    company_id: notice.company_id,
                    channel: recipient.channel,
                    recipient: &recipient.address,
                    kind: notice.kind,
                    language: recipient.language,
                    subject,
                    body_text: text,
                    body_html: html,
                },
            )
            .await?;
        }
        Ok(recipients.len())
    }

    /// Every address the notice goes to, each once per channel. Text
    /// messages go only where the kind has an SMS template.
    async fn recipients(
        &self,
        tx: &mut PgConnection,
        notice: &Notice,
        company: &KnownCompany,
        holder: Option<&GrantHolder>,
    ) -> Result<BTreeSet<Recipient>, NotificationsError> {
        let mut contacts: Vec<(&Contact, Language)> = Vec::new();
        let supplier_company;
        match &notice.recipients {
            Recipients::Company => contacts.push((&company.contact, company.language)),
            Recipients::OldAndNew { old, new } => {
                contacts.push((old, company.language));
                contacts.push((new, company.language));
            }
            Recipients::CompanyAndGrantSupplier => {
                contacts.push((&company.contact, company.language));
                let supplier = holder.and_then(|holder| holder.supplier.as_ref());
                supplier_company = match supplier {
                    Some(supplier) => Store::company_by_org(tx, &supplier.org_number).await?,
                    None => None,
                };
                if let Some(supplier) = &supplier_company {
                    contacts.push((&supplier.contact, supplier.language));
                }
            }
        }
        let sms = self.templates.has_sms(notice.kind);
        let mut recipients = BTreeSet::new();
        for (contact, language) in contacts {
            if !contact.email.is_empty() {
                recipients.insert(Recipient {
                    channel: Channel::Email,
                    address: contact.email.clone(),
                    language,
                });
            }
            if sms && !contact.phone.is_empty() {
                recipients.insert(Recipient {
                    channel: Channel::Sms,
                    address: contact.phone.clone(),
                    language,
                });
            }
        }
        Ok(recipients)
    }

    /// What the templates may name: the company, who acted, the grant's
    /// holder, when, the link, and the notice's own facts.
    fn context(
        &self,
        notice: &Notice,
        company: &KnownCompany,
        actor: Option<&Actor>,
        holder: Option<&GrantHolder>,
        language: Language,
    ) -> Value {
        let supplier =
            |supplier: &Supplier| json!({"name": supplier.name, "org_number": supplier.org_number});
        let mut context = json!({
            "company": {"name": company.name, "org_number": company.org_number},
            "actor": match actor {
                Some(actor) => json!({
                    "name": actor.name,
                    "supplier": actor.supplier.as_ref().map(supplier),
                }),
                None => json!({"name": unknown_person(language), "supplier": null}),
            },
            "when": shown(notice.when),
            "link": format!("{}{}", self.public_url, notice.link),
        });
        if let Some(holder) = holder {
            context["grantee"] = json!(
                holder
                    .label
                    .clone()
                    .unwrap_or_else(|| unnamed_person(language).to_owned())
            );
            context["supplier"] = holder.supplier.as_ref().map(supplier).into();
            context["passed_on"] = json!(holder.passed_on);
        }
        if let (Value::Object(context), Value::Object(facts)) = (&mut context, &notice.facts) {
            for (key, value) in facts {
                context.insert(key.clone(), value.clone());
            }
        }
        context
    }

    /// Who holds a grant: a supplier, or a person (perhaps through a
    /// supplier's grant passed on to them).
    async fn grant_holder(
        &self,
        tx: &mut PgConnection,
        grant_id: Uuid,
    ) -> Result<GrantHolder, NotificationsError> {
        let grant = known_grant(tx, grant_id).await?;
        if let Some(org_number) = grant.supplier_org.clone() {
            let name = grant
                .supplier_name
                .clone()
                .unwrap_or_else(|| org_number.clone());
            return Ok(GrantHolder {
                label: Some(name.clone()),
                supplier: Some(Supplier { org_number, name }),
                passed_on: false,
            });
        }
        // The name the giver chose, else the person's own, if they have
        // logged in here.
        let label = match (grant.grantee_label.as_str(), grant.grantee_user_id) {
            ("", Some(user_id)) => self
                .people
                .describe(user_id, grant.company_id)
                .await?
                .map(|person| person.name),
            ("", None) => None,
            (label, _) => Some(label.to_owned()),
        };
        let Some(parent_id) = grant.parent_grant_id else {
            return Ok(GrantHolder {
                label,
                supplier: None,
                passed_on: false,
            });
        };
        let parent = known_grant(tx, parent_id).await?;
        Ok(GrantHolder {
            label,
            supplier: parent.supplier_org.map(|org_number| Supplier {
                name: parent.supplier_name.unwrap_or_else(|| org_number.clone()),
                org_number,
            }),
            passed_on: true,
        })
    }
}

async fn known_grant(
    tx: &mut PgConnection,
    grant_id: Uuid,
) -> Result<KnownGrant, NotificationsError> {
    Store::grant(tx, grant_id)
        .await?
        .ok_or(NotificationsError::UnknownGrant)
}

/// Someone identity does not know (any more).
fn unknown_person(language: Language) -> &'static str {
    match language {
        Language::Nb => "en ukjent bruker",
        Language::En => "an unknown user",
    }
}

/// A person granted access without a name given.
fn unnamed_person(language: Language) -> &'static str {
    match language {
        Language::Nb => "en person",
        Language::En => "a person",
    }
}
