//! Notifications over a real SMTP server (aiosmtpd) and the SMS provider's
//! fake: who hears of what, once, whatever the providers do meanwhile.

use std::time::Duration;

use chrono::Datelike;
use hms_events::{Domain, Event};
use hms_proto::companies::v1 as companies;
use hms_proto::events::v1 as events;
use hms_proto::notifications::v1 as notifications;
use hms_proto::orders::v1 as orders;
use hms_test_support::fakes::{Sms, orgs, persons};
use hms_test_support::{Mail, ServiceName, TestEnv, eventually, fixtures};

use crate::common::*;

const OLD_EMAIL: &str = "post@nordmannbygg.no";
const OLD_PHONE: &str = "+4791234567";
const NEW_EMAIL: &str = "falsk@example.no";
const NEW_PHONE: &str = "+4799999999";

const SUPPLIER_EMAIL: &str = "post@leverandoren.no";
const SUPPLIER_PHONE: &str = "+4792222222";

/// Long enough for an event to travel, be written and be sent on a busy
/// machine.
const MAIL_WAIT: Duration = Duration::from_secs(30);

fn redirected() -> companies::ContactInfo {
    companies::ContactInfo {
        email: NEW_EMAIL.to_owned(),
        phone: NEW_PHONE.to_owned(),
    }
}

/// Changes NORDMANN BYGG's contact details as Kari, freshly logged in.
async fn change_contact(env: &TestEnv, company_id: &str, contact: companies::ContactInfo) {
    let kari = PersonClients::login(env, persons::KARI_NORDMANN).await;
    kari.companies
        .clone()
        .update_contact_info(companies::UpdateContactInfoRequest {
            company_id: company_id.to_owned(),
            contact: Some(contact),
        })
        .await
        .expect("the owner changes the contact details");
}

/// Waits for exactly `count` emails to `address` whose subject holds
/// `subject`, and a moment more to see that no further one comes.
async fn mails(env: &TestEnv, address: &str, subject: &str, count: usize) -> Vec<Mail> {
    let found = eventually(
        &format!("{count} email(s) \"{subject}\" to {address}"),
        MAIL_WAIT,
        || async {
            let found: Vec<Mail> = env
                .mail()
                .to(address)
                .into_iter()
                .filter(|mail| mail.subject.contains(subject))
                .collect();
            (found.len() >= count).then_some(found)
        },
    )
    .await;
    assert_eq!(found.len(), count, "{address}: {subject}");
    found
}

/// Waits for `count` text messages to `phone` that hold `text`.
async fn texts(env: &TestEnv, phone: &str, text: &str, count: usize) -> Vec<Sms> {
    let found = eventually(
        &format!("{count} SMS \"{text}\" to {phone}"),
        MAIL_WAIT,
        || async {
            let found: Vec<Sms> = env
                .sms()
                .await
                .into_iter()
                .filter(|sms| sms.destination == phone && sms.user_data.contains(text))
                .collect();
            (found.len() >= count).then_some(found)
        },
    )
    .await;
    assert_eq!(found.len(), count, "{phone}: {text}");
    found
}

/// Every delivery the company's people see, newest first.
async fn deliveries(
    client: &PersonClients,
    company_id: &str,
    status: notifications::DeliveryStatus,
) -> Vec<notifications::Delivery> {
    let mut all = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = client
            .notifications
            .clone()
            .list_deliveries(notifications::ListDeliveriesRequest {
                company_id: company_id.to_owned(),
                page_size: 7,
                page_token,
                status: status as i32,
            })
            .await
            .expect("list deliveries")
            .into_inner();
        all.extend(page.deliveries);
        if page.next_page_token.is_empty() {
            return all;
        }
        page_token = page.next_page_token;
    }
}

fn of_kind<'a>(
    deliveries: &'a [notifications::Delivery],
    kind: &str,
) -> Vec<&'a notifications::Delivery> {
    deliveries
        .iter()
        .filter(|delivery| delivery.template == kind)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_contact_change_reaches_the_old_and_the_new_contact_and_names_who_made_it() {
    let mut env = TestEnv::new();
    env.start_all().await;
    let mut clients = Clients::connect(&env).await;
    let company_id = approved_company(&env, &mut clients).await;
    mails(&env, OLD_EMAIL, "er godkjent", 1).await;

    change_contact(&env, &company_id, redirected()).await;

    // Both addresses and both phones: a redirection behind the company's
    // back is heard at the old contact, where it can be undone.
    for address in [OLD_EMAIL, NEW_EMAIL] {
        let mail = mails(&env, address, "Kontaktopplysningene", 1)
            .await
            .remove(0);
        assert_eq!(
            mail.subject,
            "Kontaktopplysningene til Nordmann Bygg AS er endret"
        );
        assert!(mail.text.contains("Kari Nordmann"), "{}", mail.text);
        assert!(mail.text.contains(OLD_EMAIL) && mail.text.contains(NEW_EMAIL));
        assert!(
            mail.text.contains(&format!(
                "https://bestill.hms-kort.test/companies/{company_id}/contact"
            )),
            "{}",
            mail.text
        );
        assert!(mail.html.contains("Kari Nordmann"), "{}", mail.html);
        assert!(mail.from.contains("varsel@hms-kort.no"), "{}", mail.from);
    }
    for phone in [OLD_PHONE, NEW_PHONE] {
        let sms = texts(&env, phone, "Kari Nordmann", 1).await.remove(0);
        assert!(sms.user_data.starts_with("HMS-kort"), "{}", sms.user_data);
        assert_eq!(sms.source, "HMS-kort");
    }

    // The company sees what was sent, and how it went.
    let sent = deliveries(
        &clients.owner,
        &company_id,
        notifications::DeliveryStatus::Sent,
    )
    .await;
    let told = of_kind(&sent, "contact_changed");
    let mut recipients: Vec<&str> = told.iter().map(|d| d.recipient.as_str()).collect();
    recipients.sort_unstable();
    assert_eq!(recipients, [OLD_PHONE, NEW_PHONE, NEW_EMAIL, OLD_EMAIL]);
    assert!(told.iter().all(|d| d.attempts == 1 && d.sent_at.is_some()));
    // The provider got the delivery as its reference.
    let sms_ids: Vec<String> = env.sms().await.into_iter().map(|sms| sms.ref_id).collect();
    for delivery in told
        .iter()
        .filter(|d| d.channel == notifications::Channel::Sms as i32)
    {
        assert!(sms_ids.contains(&delivery.delivery_id));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_suppliers_order_tells_the_company_who_ordered_it_and_at_what_price() {
    let mut env = TestEnv::new();
    env.set("HMS_EXPIRY_CHECK_INTERVAL_SECS", "1");
    env.start_all().await;
    let mut clients = Clients::connect(&env).await;
    let company_id = approved_company(&env, &mut clients).await;

    // The supplier is registered here too, and reads English.
    let ola = PersonClients::login(&env, persons::OLA_LEVERANDOR).await;
    let supplier_company = ola
        .companies
        .clone()
        .register_company(companies::RegisterCompanyRequest {
            org_number: orgs::HMS_LEVERANDOREN.to_owned(),
            name: "HMS Leverandøren AS".to_owned(),
            contact: Some(companies::ContactInfo {
                email: SUPPLIER_EMAIL.to_owned(),
                phone: SUPPLIER_PHONE.to_owned(),
            }),
            industry: companies::Industry::Construction as i32,
            language: companies::Language::En as i32,
        })
        .await
        .expect("the supplier registers")
        .into_inner()
        .company
        .expect("a company")
        .company_id;

    // Kari lets the supplier order for three days; its manager passes
    // that on to Per.
    let until = chrono::Utc::now() + chrono::Duration::days(3);
    let supplier_grant = grant(
        &mut clients.owner.identity,
        &company_id,
        supplier(orgs::HMS_LEVERANDOREN),
        "cards:order",
        Some(until),
    )
    .await;
    let granted = mails(&env, OLD_EMAIL, "har fått tilgang", 1)
        .await
        .remove(0);
    assert!(
        granted.text.contains("Kari Nordmann ga"),
        "{}",
        granted.text
    );
    assert!(granted.text.contains("HMS LEVERANDØREN AS"));
    let granted = mails(&env, SUPPLIER_EMAIL, "has been given access", 1)
        .await
        .remove(0);
    assert!(
        granted.text.contains("Nordmann Bygg AS"),
        "{}",
        granted.text
    );
    ola.identity
        .clone()
        .delegate_grant(hms_proto::identity::v1::DelegateGrantRequest {
            grant_id: supplier_grant.clone(),
            national_id: persons::PER_ANSATT.to_owned(),
            scopes: vec!["cards:order".to_owned()],
            valid_until: None,
            grantee_name: "Per Ansatt".to_owned(),
        })
        .await
        .expect("the supplier's manager passes the grant on");
    // Passed on: both hear that the supplier's grant now reaches Per.
    mails(&env, OLD_EMAIL, "Per Ansatt har fått tilgang", 1).await;
    let passed_on = mails(&env, SUPPLIER_EMAIL, "has been given access", 2).await;
    assert!(
        passed_on.iter().any(|mail| mail
            .text
            .contains("passed on from the supplier HMS LEVERANDØREN AS")),
        "{passed_on:?}"
    );

    // Both grants end within a week: the company hears so once each.
    let expiring = mails(&env, OLD_EMAIL, "utløper snart", 2).await;
    // On the Norwegian clock, in Norwegian.
    let local = until.with_timezone(&chrono_tz::Europe::Oslo);
    let month = [
        "januar",
        "februar",
        "mars",
        "april",
        "mai",
        "juni",
        "juli",
        "august",
        "september",
        "oktober",
        "november",
        "desember",
    ][local.month0() as usize];
    let date = format!("{}. {month} {}", local.day(), local.year());
    assert!(expiring[0].text.contains(&date), "{}", expiring[0].text);
    mails(&env, SUPPLIER_EMAIL, "ends soon", 2).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    mails(&env, OLD_EMAIL, "utløper snart", 2).await;

    // Per orders one card in the company's name.
    let per_token = env.access_token(persons::PER_ANSATT).await;
    let mut per = Clients {
        owner: PersonClients::with_token(&env, &per_token).await,
        back_office: clients.back_office.clone(),
    };
    let worker_id = fixtures::fodselsnummer();
    let order = create_order(&mut per, &company_id, std::slice::from_ref(&worker_id)).await;
    upload_all_documents(&mut per, &order).await;
    let submitted = per
        .owner
        .orders
        .submit_order(orders::SubmitOrderRequest {
            order_id: order.order_id.clone(),
        })
        .await
        .expect("Per submits")
        .into_inner()
        .order
        .expect("an order");
    let price = submitted.price.expect("a price");

    let told = mails(&env, OLD_EMAIL, "Ny bestilling", 1).await.remove(0);
    assert!(told.text.contains("Per Ansatt"), "{}", told.text);
    assert!(
        told.text
            .contains("leverandøren HMS LEVERANDØREN AS (org.nr. 310200018)"),
        "{}",
        told.text
    );
    assert!(told.text.contains("1 HMS-kort"), "{}", told.text);
    let kroner = |ore: i64| format!("{},{:02} kr", ore / 100, ore % 100);
    assert!(told.text.contains(&kroner(price.net_ore)), "{}", told.text);
    assert!(told.text.contains(&kroner(price.vat_ore)), "{}", told.text);
    assert!(
        told.text.contains(&kroner(price.gross_ore)),
        "{}",
        told.text
    );
    assert!(told.text.contains(&order.order_id), "{}", told.text);
    texts(&env, OLD_PHONE, "Per Ansatt (HMS LEVERANDØREN AS)", 1).await;

    // Who sees which: Per, who may order, sees the order's message but not
    // those about access; Kari sees them all; the supplier finds its own
    // copies under its own company.
    let per_sees = deliveries(
        &per.owner,
        &company_id,
        notifications::DeliveryStatus::Unspecified,
    )
    .await;
    assert!(!of_kind(&per_sees, "order_submitted").is_empty());
    assert!(per_sees.iter().all(|d| !d.template.starts_with("access_")));
    let kari_sees = deliveries(
        &clients.owner,
        &company_id,
        notifications::DeliveryStatus::Unspecified,
    )
    .await;
    assert_eq!(of_kind(&kari_sees, "access_granted").len(), 2);
    assert!(kari_sees.iter().all(|d| d.recipient != SUPPLIER_EMAIL));
    let supplier_sees = deliveries(
        &ola,
        &supplier_company,
        notifications::DeliveryStatus::Unspecified,
    )
    .await;
    let supplier_copies = of_kind(&supplier_sees, "access_granted");
    assert_eq!(supplier_copies.len(), 2, "{supplier_sees:?}");
    assert!(
        supplier_copies
            .iter()
            .all(|d| d.recipient == SUPPLIER_EMAIL && d.language == "en")
    );

    // Kari ends the supplier's access: the grant and the one passed on.
    clients
        .owner
        .identity
        .revoke_access(hms_proto::identity::v1::RevokeAccessRequest {
            grant_id: supplier_grant.clone(),
        })
        .await
        .expect("revoke");
    mails(&env, OLD_EMAIL, "er trukket tilbake", 2).await;
    mails(&env, SUPPLIER_EMAIL, "has been revoked", 2).await;

    // No message, sent or kept, holds a national identity number.
    let numbers = [
        worker_id.as_str(),
        persons::KARI_NORDMANN,
        persons::PER_ANSATT,
        persons::OLA_LEVERANDOR,
    ];
    let everything_sent: String = env
        .mail()
        .messages()
        .iter()
        .map(|mail| mail.raw.clone() + &mail.text + &mail.html)
        .chain(env.sms().await.into_iter().map(|sms| sms.user_data))
        .collect();
    let kept = everything_in(&env.db(ServiceName::Notifications).await).await;
    for number in numbers {
        assert!(
            !everything_sent.contains(number),
            "a message holds a number"
        );
        assert!(!kept.contains(number), "notifications keeps a number");
    }
    let logs = env.logs();
    for number in numbers {
        assert!(!logs.contains(number), "a log holds a number");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_delivered_twice_sends_one_message() {
    let mut env = TestEnv::new();
    env.start_all().await;
    let mut clients = Clients::connect(&env).await;
    let company_id = approved_company(&env, &mut clients).await;
    change_contact(&env, &company_id, redirected()).await;
    mails(&env, NEW_EMAIL, "Kontaktopplysningene", 1).await;

    // The very event again under another id, as a publisher retrying after
    // the bus's duplicate window would send it: handled, and sent nothing.
    let ack = publish_again::<events::ContactInfoChanged>(&env, true).await;
    assert!(!ack.duplicate);
    wait_until_consumed(
        &env,
        Domain::Companies,
        "notifications-contact_info_changed",
        ack.sequence,
    )
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;

    for address in [OLD_EMAIL, NEW_EMAIL] {
        mails(&env, address, "Kontaktopplysningene", 1).await;
    }
    for phone in [OLD_PHONE, NEW_PHONE] {
        texts(&env, phone, "Kari Nordmann", 1).await;
    }
    let all = deliveries(
        &clients.owner,
        &company_id,
        notifications::DeliveryStatus::Unspecified,
    )
    .await;
    assert_eq!(of_kind(&all, "contact_changed").len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_sent_while_the_mail_server_is_down_arrives_once_when_it_is_back() {
    let mut env = TestEnv::new();
    env.start_all().await;
    let mut clients = Clients::connect(&env).await;
    let company_id = approved_company(&env, &mut clients).await;
    mails(&env, OLD_EMAIL, "er godkjent", 1).await;

    env.mail_mut().stop().await;
    let down = std::time::Instant::now();
    let addresses = [
        "a@nordmannbygg.no",
        "b@nordmannbygg.no",
        "c@nordmannbygg.no",
    ];
    for address in addresses {
        change_contact(
            &env,
            &company_id,
            companies::ContactInfo {
                email: address.to_owned(),
                phone: OLD_PHONE.to_owned(),
            },
        )
        .await;
    }
    // Tried, and waiting: nothing given up.
    let waiting = eventually("sends to fail for now", MAIL_WAIT, || async {
        let pending = deliveries(
            &clients.owner,
            &company_id,
            notifications::DeliveryStatus::Pending,
        )
        .await;
        (pending.len() == 6 && pending.iter().all(|d| d.attempts >= 1)).then_some(pending)
    })
    .await;
    assert!(
        waiting
            .iter()
            .all(|d| d.last_error == "SMTP server unreachable"),
        "{waiting:?}"
    );
    if let Some(rest) = Duration::from_secs(30).checked_sub(down.elapsed()) {
        tokio::time::sleep(rest).await;
    }

    env.mail_mut().resume().await;
    // Each change went to the contact before and after it: the first from
    // the old address to a@, then a@ to b@, then b@ to c@.
    mails(&env, OLD_EMAIL, "Kontaktopplysningene", 1).await;
    mails(&env, addresses[0], "Kontaktopplysningene", 2).await;
    mails(&env, addresses[1], "Kontaktopplysningene", 2).await;
    mails(&env, addresses[2], "Kontaktopplysningene", 1).await;
    let pending = deliveries(
        &clients.owner,
        &company_id,
        notifications::DeliveryStatus::Pending,
    )
    .await;
    assert!(pending.is_empty(), "{pending:?}");
    let mut ids: Vec<String> = env
        .mail()
        .messages()
        .into_iter()
        .map(|mail| mail.message_id)
        .collect();
    let received = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), received, "a message arrived twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_sms_provider_is_tried_again_and_a_refusal_fails_at_once() {
    let mut env = TestEnv::new();
    env.start_all().await;
    let mut clients = Clients::connect(&env).await;
    let company_id = approved_company(&env, &mut clients).await;

    // Two 500s, then success: each phone gets its message once.
    env.sms_fail(500, 2).await;
    change_contact(&env, &company_id, redirected()).await;
    for phone in [OLD_PHONE, NEW_PHONE] {
        texts(&env, phone, "Kari Nordmann", 1).await;
    }
    let sent = deliveries(
        &clients.owner,
        &company_id,
        notifications::DeliveryStatus::Sent,
    )
    .await;
    let texted: Vec<_> = of_kind(&sent, "contact_changed")
        .into_iter()
        .filter(|d| d.channel == notifications::Channel::Sms as i32)
        .collect();
    assert_eq!(texted.len(), 2);
    assert_eq!(
        texted.iter().map(|d| d.attempts).sum::<u32>(),
        4,
        "two failed attempts and two that worked: {texted:?}"
    );

    // A refusal (4xx) is not tried again.
    env.sms_fail(400, 1).await;
    change_contact(
        &env,
        &company_id,
        companies::ContactInfo {
            email: NEW_EMAIL.to_owned(),
            phone: "+4793333333".to_owned(),
        },
    )
    .await;
    let failed = eventually("the refused message to fail", MAIL_WAIT, || async {
        let failed = deliveries(
            &clients.owner,
            &company_id,
            notifications::DeliveryStatus::Failed,
        )
        .await;
        (!failed.is_empty()).then_some(failed)
    })
    .await;
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0].attempts, 1);
    assert_eq!(failed[0].last_error, "HTTP 400 resultCode 1000");
    assert!(!failed[0].last_error.contains(&failed[0].recipient));
    // The other phone still got it: the new one its first message, the
    // one before it its second.
    let (other, count) = if failed[0].recipient == NEW_PHONE {
        ("+4793333333", 1)
    } else {
        (NEW_PHONE, 2)
    };
    texts(&env, other, "Kari Nordmann", count).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_company_whose_registration_was_missed_is_learned_from_companies() {
    let mut env = TestEnv::new();
    for service in ServiceName::ALL
        .into_iter()
        .filter(|service| *service != ServiceName::Notifications)
    {
        env.start(service).await;
    }
    let mut clients = Clients::connect(&env).await;
    let company_id = approved_company(&env, &mut clients).await;
    // The registration is gone from the stream (aged out, say) before
    // notifications ever runs; the approval is still there.
    outbox_drained(&env, ServiceName::Companies).await;
    let purged = env
        .jetstream()
        .await
        .get_stream(env.stream_name(Domain::Companies))
        .await
        .expect("the companies stream")
        .purge()
        .filter(env.subject(events::CompanyRegistered::TYPE))
        .await
        .expect("purge the registration");
    assert_eq!(purged.purged, 1);

    env.start(ServiceName::Notifications).await;
    let approved = mails(&env, OLD_EMAIL, "er godkjent", 1).await.remove(0);
    assert!(approved.text.contains("310100005"), "{}", approved.text);
    // And what it learned stays current: a change reaches the new contact.
    change_contact(&env, &company_id, redirected()).await;
    mails(&env, NEW_EMAIL, "Kontaktopplysningene", 1).await;
}
