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
use crate::notices::{Contact, Learned, Notice, Recipients};
use crate::people::{Actor, People, Supplier};
use crate::storage::{KnownCompany, KnownGrant, NewDelivery, Store};
use crate::templates::{RenderedEmail, Templates};
use crate::wording::{local_time, scope, short, tidy, unknown_person, unnamed_person};

/// The longest name a text message carries.
const SMS_NAME_CHARS: usize = 40;

#[derive(Clone)]
pub struct Messages {
    templates: Arc<Templates>,
    people: People,
    /// Links in messages start here.
    public_url: String,
    /// Where the back office reads what it must follow up.
    back_office_email: Option<String>,
}

/// What a notice came from.
pub struct Source<'a> {
    /// The event's id, or what stands for one.
    pub event_id: &'a str,
    /// What is sent once: the same key again writes nothing.
    pub dedupe_key: &'a str,
    /// Whether a grant the notice names, not known here, may still be on
    /// its way (its own event handled by another consumer): then the
    /// notice waits for it. Otherwise it is written without the grant's
    /// holder, to the company alone.
    pub may_wait_for_grant: bool,
}

/// Who a grant is for, as a message names it.
struct GrantHolder {
    /// The supplier's name, or the person's.
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
    pub fn new(
        templates: Arc<Templates>,
        people: People,
        public_url: String,
        back_office_email: Option<String>,
    ) -> Self {
        Self {
            templates,
            people,
            public_url,
            back_office_email,
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
                    // Its registration was missed: learn the company first
                    // (as it is now, so a newer contact stays).
                    self.company(tx, company_id).await?;
                    Store::contact_changed(tx, company_id, &contact, version).await?;
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
        let company = self.company(tx, notice.company_id).await?;
        let holder = match notice.grant {
            Some(grant_id) => {
                self.grant_holder(tx, grant_id, source.may_wait_for_grant)
                    .await?
            }
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
                let context =
                    self.context(notice, &company, actor.as_ref(), holder.as_ref(), recipient);
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
                    company_id: recipient.company_id,
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

    /// The company as known here, or, if its registration was missed (it
    /// was registered before this service ran, or its event is gone), as
    /// companies has it now.
    async fn company(
        &self,
        tx: &mut PgConnection,
        company_id: Uuid,
    ) -> Result<KnownCompany, NotificationsError> {
        if let Some(company) = Store::company(tx, company_id).await? {
            return Ok(company);
        }
        let (company, version) = self
            .people
            .company(company_id)
            .await?
            .ok_or(NotificationsError::UnknownCompany)?;
        Store::company_known(tx, &company, version).await?;
        Ok(company)
    }

    /// Every address the notice goes to, each once per channel, with the
    /// company the message is kept under (the one it is sent to). Text
    /// messages go only where the kind has an SMS template.
    async fn recipients(
        &self,
        tx: &mut PgConnection,
        notice: &Notice,
        company: &KnownCompany,
        holder: Option<&GrantHolder>,
    ) -> Result<BTreeSet<Recipient>, NotificationsError> {
        let mut contacts: Vec<(&Contact, &KnownCompany)> = Vec::new();
        let supplier_company;
        match &notice.recipients {
            Recipients::Company | Recipients::CompanyAndBackOffice => {
                contacts.push((&company.contact, company));
            }
            Recipients::OldAndNew { old, new } => {
                contacts.push((old, company));
                contacts.push((new, company));
            }
            Recipients::CompanyAndGrantSupplier => {
                contacts.push((&company.contact, company));
                let supplier = holder.and_then(|holder| holder.supplier.as_ref());
                supplier_company = match supplier {
                    Some(supplier) => Store::company_by_org(tx, &supplier.org_number).await?,
                    None => None,
                };
                if let Some(supplier) = &supplier_company {
                    contacts.push((&supplier.contact, supplier));
                }
            }
        }
        let sms = self.templates.has_sms(notice.kind);
        let mut recipients = BTreeSet::new();
        if notice.recipients == Recipients::CompanyAndBackOffice
            && let Some(address) = &self.back_office_email
        {
            // Kept under the company the message is about, in bokmål.
            recipients.insert(Recipient {
                channel: Channel::Email,
                address: address.clone(),
                language: Language::Nb,
                company_id: company.company_id,
            });
        }
        for (contact, owner) in contacts {
            let email = contact.email.trim().to_lowercase();
            if !email.is_empty() {
                recipients.insert(Recipient {
                    channel: Channel::Email,
                    address: email,
                    language: owner.language,
                    company_id: owner.company_id,
                });
            }
            if sms && !contact.phone.is_empty() {
                recipients.insert(Recipient {
                    channel: Channel::Sms,
                    address: contact.phone.clone(),
                    language: owner.language,
                    company_id: owner.company_id,
                });
            }
        }
        // One message per address and channel, even when two companies
        // share an address.
        let mut seen = BTreeSet::new();
        recipients.retain(|recipient| seen.insert((recipient.channel, recipient.address.clone())));
        Ok(recipients)
    }

    /// What the templates may name: the company, who acted, the grant's
    /// holder, when, the link, and the notice's own facts. Names and reasons
    /// people typed are tidied; a text message carries short names.
    fn context(
        &self,
        notice: &Notice,
        company: &KnownCompany,
        actor: Option<&Actor>,
        holder: Option<&GrantHolder>,
        recipient: &Recipient,
    ) -> Value {
        let language = recipient.language;
        let name = |text: &str| match recipient.channel {
            Channel::Email => tidy(text),
            Channel::Sms => short(&tidy(text), SMS_NAME_CHARS),
        };
        let supplier = |supplier: &Supplier| json!({"name": name(&supplier.name), "org_number": supplier.org_number});
        let mut context = json!({
            "company": {"name": name(&company.name), "org_number": company.org_number},
            "actor": match actor {
                Some(actor) => json!({
                    "name": name(&actor.name),
                    "supplier": actor.supplier.as_ref().map(supplier),
                }),
                None => json!({"name": unknown_person(language), "supplier": null}),
            },
            "when": local_time(notice.when, language),
            "valid_until": notice.valid_until.map(|at| local_time(at, language)),
            "link": format!("{}{}", self.public_url, notice.link),
            // For the recipient that is not the company the message is
            // about: a supplier told of access to a customer.
            "to_supplier": recipient.company_id != company.company_id,
        });
        if let Some(holder) = holder {
            context["grantee"] = json!(
                holder
                    .label
                    .as_deref()
                    .map_or_else(|| unnamed_person(language).to_owned(), name)
            );
            context["supplier"] = holder.supplier.as_ref().map(supplier).into();
            context["passed_on"] = json!(holder.passed_on);
        }
        if let Value::Object(facts) = &notice.facts {
            for (key, value) in facts {
                let value = match (key.as_str(), value) {
                    ("reason", Value::String(reason)) => json!(tidy(reason)),
                    ("holder", Value::String(holder)) => json!(name(holder)),
                    ("unprinted", Value::Array(cards)) => json!(
                        cards
                            .iter()
                            .map(|card| {
                                let mut card = card.clone();
                                if let Some(holder) = card["holder"].as_str() {
                                    card["holder"] = json!(name(holder));
                                }
                                card
                            })
                            .collect::<Vec<_>>()
                    ),
                    ("scopes", Value::Array(scopes)) => json!(
                        scopes
                            .iter()
                            .filter_map(Value::as_str)
                            .map(|code| scope(code, language))
                            .collect::<Vec<_>>()
                    ),
                    _ => value.clone(),
                };
                context[key] = value;
            }
        }
        context
    }

    /// Who holds a grant: a supplier, or a person (perhaps through a
    /// supplier's grant passed on to them). `None` for a grant not known
    /// here that is not worth waiting for.
    async fn grant_holder(
        &self,
        tx: &mut PgConnection,
        grant_id: Uuid,
        may_wait: bool,
    ) -> Result<Option<GrantHolder>, NotificationsError> {
        let Some(grant) = Store::grant(tx, grant_id).await? else {
            return if may_wait {
                Err(NotificationsError::UnknownGrant)
            } else {
                Ok(None)
            };
        };
        if let Some(org_number) = grant.supplier_org.clone() {
            let name = supplier_name(&grant, &org_number);
            return Ok(Some(GrantHolder {
                label: Some(name.clone()),
                supplier: Some(Supplier { org_number, name }),
                passed_on: false,
            }));
        }
        // The name the giver chose, else the person's own, if they have
        // logged in here.
        let label = match (grant.grantee_label.trim(), grant.grantee_user_id) {
            ("", Some(user_id)) => self
                .people
                .describe(user_id, grant.company_id)
                .await?
                .map(|person| person.name),
            ("", None) => None,
            (label, _) => Some(label.to_owned()),
        };
        let parent = match grant.parent_grant_id {
            Some(parent_id) => Store::grant(tx, parent_id).await?,
            None => None,
        };
        Ok(Some(GrantHolder {
            label,
            supplier: parent.as_ref().and_then(|parent| {
                let org_number = parent.supplier_org.clone()?;
                Some(Supplier {
                    name: supplier_name(parent, &org_number),
                    org_number,
                })
            }),
            passed_on: grant.parent_grant_id.is_some(),
        }))
    }
}

fn supplier_name(grant: &KnownGrant, org_number: &str) -> String {
    grant
        .supplier_name
        .clone()
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| org_number.to_owned())
}
