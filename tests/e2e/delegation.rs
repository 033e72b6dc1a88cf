//! Acting on a company's behalf: an owner from the register grants a
//! supplier, the supplier passes the grant on, its employee orders cards,
//! and the owner sees and ends all of it.

use std::time::{Duration, Instant};

use hms_proto::companies::v1 as companies;
use hms_proto::events::v1 as events;
use hms_proto::identity::v1 as identity;
use hms_proto::identity::v1::identity_service_client::IdentityServiceClient;
use hms_proto::orders::v1 as orders;
use hms_test_support::fakes::{orgs, persons};
use hms_test_support::{ExpectRefused, ServiceName, TestEnv, eventually, fixtures};
use tonic::Code;

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_suppliers_employee_orders_for_a_company_until_the_owner_revokes_the_grant() {
    let mut env = TestEnv::new();
    env.start_all().await;

    // Kari logs in with BankID; the register makes her owner of NORDMANN
    // BYGG AS, so she may register it. The back office approves it.
    let mut clients = Clients::connect(&env).await;
    let company_id = approved_company(&env, &mut clients).await;
    let mut kari = identity_as(&env, persons::KARI_NORDMANN).await;
    let kari_id = me(&mut kari).await.user.expect("user").user_id;

    // She grants the supplier HMS LEVERANDØREN AS `cards:order`, and
    // nothing more: contact details are not a supplier's to change.
    kari.grant_access(identity::GrantAccessRequest {
        company_id: company_id.clone(),
        grantee: Some(supplier(orgs::HMS_LEVERANDOREN)),
        scopes: vec!["cards:order".to_owned(), "company:contact:write".to_owned()],
        valid_from: None,
        valid_until: None,
        grantee_name: String::new(),
        processor_agreement: confirmed(),
    })
    .await
    .expect_refused(Code::InvalidArgument, "");
    // Nor anything before the company confirms a data processing agreement
    // with the supplier, which will process its workers' data.
    kari.grant_access(identity::GrantAccessRequest {
        company_id: company_id.clone(),
        grantee: Some(supplier(orgs::HMS_LEVERANDOREN)),
        scopes: vec!["cards:order".to_owned()],
        valid_from: None,
        valid_until: None,
        grantee_name: String::new(),
        processor_agreement: Some(identity::ProcessorAgreement {
            in_place: false,
            ..Default::default()
        }),
    })
    .await
    .expect_refused(Code::InvalidArgument, "processor_agreement");
    let supplier_grant = grant(
        &mut kari,
        &company_id,
        supplier(orgs::HMS_LEVERANDOREN),
        "cards:order",
        None,
    )
    .await;
    // The confirmation is kept with the grant, for everyone to see.
    let listed = kari
        .list_access(identity::ListAccessRequest {
            company_id: company_id.clone(),
        })
        .await
        .expect("the access list")
        .into_inner();
    let agreement = listed
        .grants
        .iter()
        .find(|grant| grant.grant_id == supplier_grant)
        .and_then(|grant| grant.processor_agreement.clone())
        .expect("the supplier's grant records the agreement");
    assert!(agreement.in_place && agreement.confirmed_at.is_some());
    assert_eq!(agreement.reference, "DBA-2026-017");

    // The supplier's daglig leder passes it on to his employee Per.
    let mut ola = identity_as(&env, persons::OLA_LEVERANDOR).await;
    // A grant is never widened on the way.
    ola.delegate_grant(identity::DelegateGrantRequest {
        grant_id: supplier_grant.clone(),
        national_id: persons::PER_ANSATT.to_owned(),
        scopes: vec!["cards:order".to_owned(), "workers:read".to_owned()],
        valid_until: None,
        grantee_name: String::new(),
    })
    .await
    .expect_refused(Code::InvalidArgument, "");
    delegate(
        &mut ola,
        &supplier_grant,
        persons::PER_ANSATT,
        "cards:order",
    )
    .await;

    // Per logs in, sees the company he may act for, and orders a card.
    let per_token = env.access_token(persons::PER_ANSATT).await;
    let mut per_identity = IdentityServiceClient::new(
        env.channel_with_token(ServiceName::Identity, &per_token)
            .await,
    );
    let per_me = me(&mut per_identity).await;
    let per_id = per_me.user.expect("user").user_id;
    let access = per_me
        .companies
        .iter()
        .find(|access| access.company_id == company_id)
        .expect("Per may act for the company");
    assert_eq!(access.scopes, vec!["cards:order".to_owned()]);
    assert_eq!(access.source, identity::AccessSource::SupplierGrant as i32);
    let mut per = Clients {
        owner: PersonClients::with_token(&env, &per_token).await,
        back_office: clients.back_office.clone(),
    };
    let order = create_order(&mut per, &company_id, &[fixtures::fodselsnummer()]).await;
    upload_all_documents(&mut per, &order).await;
    let submitted = per
        .owner
        .orders
        .submit_order(orders::SubmitOrderRequest {
            order_id: order.order_id.clone(),
        })
        .await
        .expect("Per submits the order")
        .into_inner()
        .order
        .expect("an order");
    assert_eq!(submitted.status, orders::OrderStatus::Submitted as i32);

    // The company's access log shows the grants given and their first use,
    // by whom: Per's passed-on grant allowed him to order.
    let per_actor = format!("user:{per_id}");
    let log = eventually("the grants in the access log", SOON, || {
        let mut audit = clients.owner.audit.clone();
        let company_id = company_id.clone();
        let per_actor = per_actor.clone();
        async move {
            let entries = audit
                .list_access_log(hms_proto::audit::v1::ListAccessLogRequest {
                    company_id,
                    page_size: 500,
                    ..Default::default()
                })
                .await
                .ok()?
                .into_inner()
                .entries;
            let first_use = entries.iter().any(|entry| {
                entry.action == hms_proto::audit::v1::AccessAction::GrantFirstUsed as i32
                    && entry.actor == per_actor
            });
            first_use.then_some(entries)
        }
    })
    .await;
    assert!(log.iter().any(|entry| {
        entry.action == hms_proto::audit::v1::AccessAction::GrantGiven as i32
            && entry.grant_id == supplier_grant
            && entry.actor == format!("user:{kari_id}")
    }));

    // He cannot redirect the authorities' letters.
    per.owner
        .companies
        .update_contact_info(companies::UpdateContactInfoRequest {
            company_id: company_id.clone(),
            contact: Some(companies::ContactInfo {
                email: "post@leverandoren.no".to_owned(),
                phone: "+4799999999".to_owned(),
            }),
        })
        .await
        .expect_refused(Code::PermissionDenied, "");
    let company = clients
        .owner
        .companies
        .get_company(companies::GetCompanyRequest {
            company_id: company_id.clone(),
        })
        .await
        .expect("get the company")
        .into_inner()
        .company
        .expect("a company");
    assert_eq!(
        company.contact.expect("contact").email,
        "post@nordmannbygg.no"
    );

    // Kari sees everyone with access: herself from the register, the
    // supplier's grant from her, Per's from Ola, and that Per used it.
    let listed = list_access(&mut kari, &company_id).await;
    assert!(
        listed
            .owners
            .iter()
            .any(|owner| owner.user_id == kari_id && owner.role == "daglig leder"),
        "{:?}",
        listed.owners
    );
    let supplier_row = find_grant(&listed, &supplier_grant);
    assert!(matches!(
        &supplier_row.grantee,
        Some(identity::grant::Grantee::Supplier(s)) if s.org_number == orgs::HMS_LEVERANDOREN
    ));
    assert_eq!(supplier_row.granted_by_user_id, kari_id);
    assert_eq!(supplier_row.granted_by_name, "Kari Nordmann");
    assert_eq!(supplier_row.state, identity::GrantState::Active as i32);
    let per_row = listed
        .grants
        .iter()
        .find(|grant| grant.parent_grant_id == supplier_grant)
        .expect("Per's grant, passed on from the supplier's");
    assert!(matches!(
        &per_row.grantee,
        Some(identity::grant::Grantee::Person(p)) if p.user_id == per_id
    ));
    assert_eq!(per_row.granted_by_name, "Ola Leverandør");
    assert_eq!(per_row.scopes, vec!["cards:order".to_owned()]);
    assert!(per_row.last_used_at.is_some(), "Per's use is visible");
    let per_grant = per_row.grant_id.clone();

    // Kari revokes the supplier's grant; Per's goes with it, everywhere,
    // within seconds.
    let revoked_at = Instant::now();
    kari.revoke_access(identity::RevokeAccessRequest {
        grant_id: supplier_grant.clone(),
    })
    .await
    .expect("revoke");
    // Services reuse a decision for `HMS_AUTHZ_CACHE_MS` (here 500 ms):
    // that bounds how long both reading and ordering keep working.
    let per_orders = per.owner.orders.clone();
    eventually("Per to lose access to the company", Duration::from_secs(5), || {
        let mut per_orders = per_orders.clone();
        let order_id = order.order_id.clone();
        let company_id = company_id.clone();
        async move {
            let read = per_orders
                .get_order(orders::GetOrderRequest { order_id })
                .await
                .map(drop);
            let create = per_orders
                .create_order(orders::CreateOrderRequest {
                    company_id,
                    idempotency_key: uuid::Uuid::new_v4().to_string(),
                    workers: vec![new_worker("Etter Tilbaketrekking", &fixtures::fodselsnummer())],
                })
                .await
                .map(drop);
            // Nothing of the company shows: not even that it exists.
            let hidden = |answer: &Result<(), tonic::Status>| {
                matches!(answer, Err(status) if status.code() == Code::NotFound)
            };
            (hidden(&read) && hidden(&create)).then_some(())
        }
    })
    .await;
    println!(
        "revocation reached every call after {} ms",
        revoked_at.elapsed().as_millis()
    );
    let per_now = me(&mut per_identity).await;
    assert!(per_now.companies.iter().all(|a| a.company_id != company_id));

    let listed = list_access(&mut kari, &company_id).await;
    for grant_id in [&supplier_grant, &per_grant] {
        let row = find_grant(&listed, grant_id);
        assert_eq!(row.state, identity::GrantState::Revoked as i32);
        assert_eq!(row.revoked_by_name, "Kari Nordmann");
    }

    // Each grant and each revocation went out as an event.
    outbox_drained(&env, ServiceName::Identity).await;
    let granted: Vec<events::AccessGranted> = published(&env).await;
    assert_eq!(granted.len(), 2, "{granted:?}");
    assert!(granted.iter().any(|event| event.grant_id == supplier_grant
        && event.supplier_org_number == orgs::HMS_LEVERANDOREN));
    // Per had not logged in yet when Ola passed the grant on, and Ola gave
    // no name: the event names him by nothing of his number (not even the
    // birth date).
    assert!(granted.iter().any(|event| event.grant_id == per_grant
        && event.parent_grant_id == supplier_grant
        && event.grantee_user_id.is_empty()
        && event.grantee_label.is_empty()));
    let revoked: Vec<events::AccessRevoked> = published(&env).await;
    assert_eq!(revoked.len(), 2, "{revoked:?}");
    assert!(
        revoked
            .iter()
            .all(|event| event.revoked_by_user_id == kari_id)
    );

    // No national identity number reached a log or an event.
    let logs = env.logs();
    for national_id in [
        persons::KARI_NORDMANN,
        persons::OLA_LEVERANDOR,
        persons::PER_ANSATT,
    ] {
        assert!(!logs.contains(national_id), "a national id was logged");
        assert!(
            granted
                .iter()
                .all(|event| !format!("{event:?}").contains(national_id)),
            "a national id in an event"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contact_details_change_with_a_recent_login_and_leave_a_history() {
    let mut env = TestEnv::new();
    // Long enough for a login and two changes on a busy machine.
    env.set("HMS_STEP_UP_SECS", "6");
    env.start_all().await;
    let mut clients = Clients::connect(&env).await;
    let company_id = approved_company(&env, &mut clients).await;
    // A fresh login: changing contact details needs one.
    let kari = PersonClients::login(&env, persons::KARI_NORDMANN).await;
    let kari_id = me(&mut kari.identity.clone())
        .await
        .user
        .expect("user")
        .user_id;

    let new_contact = companies::ContactInfo {
        email: "kontor@nordmannbygg.no".to_owned(),
        phone: "+4722334455".to_owned(),
    };
    let change = |contact: companies::ContactInfo| {
        let mut companies = kari.companies.clone();
        let company_id = company_id.clone();
        async move {
            companies
                .update_contact_info(companies::UpdateContactInfoRequest {
                    company_id,
                    contact: Some(contact),
                })
                .await
        }
    };
    change(companies::ContactInfo {
        email: "not an address".to_owned(),
        phone: "+4722334455".to_owned(),
    })
    .await
    .expect_refused(Code::InvalidArgument, "contact.email");

    let changed = change(new_contact.clone())
        .await
        .expect("the owner changes the contact details")
        .into_inner()
        .company
        .expect("a company");
    assert_eq!(changed.contact.as_ref(), Some(&new_contact));
    change(new_contact.clone()).await.expect("the same again");

    // One change in the history, and one event with the old contact, so the
    // old address hears of it too.
    let history = clients
        .owner
        .companies
        .list_contact_history(companies::ListContactHistoryRequest {
            company_id: company_id.clone(),
        })
        .await
        .expect("history")
        .into_inner()
        .changes;
    assert_eq!(history.len(), 1, "the repeat changed nothing");
    assert_eq!(history[0].changed_by_user_id, kari_id);
    assert_eq!(
        history[0].old_contact.as_ref().map(|c| c.email.as_str()),
        Some("post@nordmannbygg.no")
    );
    assert_eq!(history[0].new_contact.as_ref(), Some(&new_contact));
    assert_eq!(history[0].version, changed.version);
    // Everything companies had to say is out; only then count.
    outbox_drained(&env, ServiceName::Companies).await;
    let events: Vec<events::ContactInfoChanged> = published(&env).await;
    assert_eq!(events.len(), 1, "the repeat announced nothing");
    assert_eq!(events[0].company_id, company_id);
    assert_eq!(events[0].changed_by_user_id, kari_id);
    assert_eq!(
        events[0].old_contact.as_ref().map(|c| c.email.as_str()),
        Some("post@nordmannbygg.no")
    );

    // Once the login is older than the step-up window, the same owner must
    // log in again before changing them.
    tokio::time::sleep(Duration::from_millis(6_600)).await;
    change(companies::ContactInfo {
        email: "annen@nordmannbygg.no".to_owned(),
        phone: "+4722334455".to_owned(),
    })
    .await
    .expect_refused(Code::PermissionDenied, "log in again");
    let fresh = PersonClients::login(&env, persons::KARI_NORDMANN).await;
    fresh
        .companies
        .clone()
        .update_contact_info(companies::UpdateContactInfoRequest {
            company_id: company_id.clone(),
            contact: Some(companies::ContactInfo {
                email: "annen@nordmannbygg.no".to_owned(),
                phone: "+4722334455".to_owned(),
            }),
        })
        .await
        .expect("after a fresh login");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_access_manager_grants_only_within_their_own_grant_and_loses_what_they_gave_with_it() {
    let mut env = TestEnv::new();
    env.start_all().await;
    let mut clients = Clients::connect(&env).await;
    let company_id = approved_company(&env, &mut clients).await;
    let mut kari = identity_as(&env, persons::KARI_NORDMANN).await;

    // Kari makes Tore an access manager for a day, able to order cards.
    let tore_until = chrono::DateTime::from_timestamp(chrono::Utc::now().timestamp() + 86_400, 0)
        .expect("a time");
    let tore_grant = kari
        .grant_access(identity::GrantAccessRequest {
            company_id: company_id.clone(),
            grantee: Some(person(persons::TORE_TIDLIGERE)),
            scopes: vec!["access:manage".to_owned(), "cards:order".to_owned()],
            valid_from: None,
            valid_until: Some(hms_proto::time::timestamp(tore_until)),
            grantee_name: String::new(),
            processor_agreement: None,
        })
        .await
        .expect("the owner makes an access manager")
        .into_inner()
        .grant
        .expect("a grant")
        .grant_id;
    let mut tore = identity_as(&env, persons::TORE_TIDLIGERE).await;
    let give = |scopes: &[&str], valid_from, valid_until| identity::GrantAccessRequest {
        company_id: company_id.clone(),
        grantee: Some(person(persons::UNNI_UTLOPT)),
        scopes: scopes.iter().map(|scope| (*scope).to_owned()).collect(),
        valid_from,
        valid_until,
        grantee_name: String::new(),
        processor_agreement: None,
    };

    // He cannot give what he does not hold, nor for longer than he holds it.
    tore.grant_access(give(&["company:contact:write"], None, None))
        .await
        .expect_refused(Code::InvalidArgument, "scopes:");
    tore.grant_access(give(
        &["cards:order"],
        None,
        Some(hms_proto::time::timestamp(
            tore_until + chrono::Duration::hours(1),
        )),
    ))
    .await
    .expect_refused(Code::InvalidArgument, "valid_until:");

    // What he gives ends with his own grant, and hangs under it.
    let unni_grant = tore
        .grant_access(give(&["cards:order"], None, None))
        .await
        .expect("within Tore's grant")
        .into_inner()
        .grant
        .expect("a grant");
    assert_eq!(unni_grant.authority_grant_id, tore_grant);
    assert!(unni_grant.parent_grant_id.is_empty(), "not a supplier's");
    assert_eq!(
        unni_grant.valid_until,
        Some(hms_proto::time::timestamp(tore_until))
    );
    // A grant may start later: until then it is pending and shows nothing.
    let starts = chrono::Utc::now() + chrono::Duration::seconds(3);
    let per_grant = tore
        .grant_access(identity::GrantAccessRequest {
            grantee: Some(person(persons::PER_ANSATT)),
            ..give(
                &["cards:order"],
                Some(hms_proto::time::timestamp(starts)),
                None,
            )
        })
        .await
        .expect("a grant that starts later")
        .into_inner()
        .grant
        .expect("a grant");
    assert_eq!(per_grant.state, identity::GrantState::Pending as i32);
    let per = PersonClients::login(&env, persons::PER_ANSATT).await;
    let unni = PersonClients::login(&env, persons::UNNI_UTLOPT).await;
    assert_eq!(
        company_answer(&per.companies, &company_id).await,
        Err(Code::NotFound)
    );
    assert_eq!(company_answer(&unni.companies, &company_id).await, Ok(()));
    eventually("Per's grant to start", Duration::from_secs(15), || async {
        company_answer(&per.companies, &company_id).await.ok()
    })
    .await;
    // He may give a supplier what he holds, too, on the same terms.
    let supplier_grant = tore
        .grant_access(identity::GrantAccessRequest {
            grantee: Some(supplier(orgs::HMS_LEVERANDOREN)),
            processor_agreement: confirmed(),
            ..give(&["cards:order"], None, None)
        })
        .await
        .expect("Tore gives a supplier what he holds")
        .into_inner()
        .grant
        .expect("a grant");
    assert_eq!(supplier_grant.authority_grant_id, tore_grant);
    assert_eq!(
        supplier_grant.valid_until,
        Some(hms_proto::time::timestamp(tore_until))
    );

    // He may revoke what he gave, but not what the owner gave others.
    let owners_grant = grant(
        &mut kari,
        &company_id,
        person(&fixtures::fodselsnummer()),
        "workers:read",
        None,
    )
    .await;
    // The owner's grant is not Tore's to end.
    tore.revoke_access(identity::RevokeAccessRequest {
        grant_id: owners_grant.clone(),
    })
    .await
    .expect_refused(Code::PermissionDenied, "");

    // Kari ends Tore's grant, and with it everything he gave.
    kari.revoke_access(identity::RevokeAccessRequest {
        grant_id: tore_grant.clone(),
    })
    .await
    .expect("revoke");
    let listed = list_access(&mut kari, &company_id).await;
    assert_eq!(
        find_grant(&listed, &owners_grant).state,
        identity::GrantState::Active as i32,
        "what the owner gave stays"
    );
    for grant_id in [
        &tore_grant,
        &unni_grant.grant_id,
        &per_grant.grant_id,
        &supplier_grant.grant_id,
    ] {
        let row = find_grant(&listed, grant_id);
        assert_eq!(row.state, identity::GrantState::Revoked as i32, "{row:?}");
    }
    eventually(
        "Unni and Per to lose access",
        Duration::from_secs(5),
        || async {
            (company_answer(&per.companies, &company_id).await == Err(Code::NotFound)
                && company_answer(&unni.companies, &company_id).await == Err(Code::NotFound))
            .then_some(())
        },
    )
    .await;
    outbox_drained(&env, ServiceName::Identity).await;
    let revoked: Vec<events::AccessRevoked> = published(&env).await;
    assert_eq!(revoked.len(), 4, "{revoked:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_suppliers_manager_by_grant_passes_on_only_within_their_own_grant() {
    let mut env = TestEnv::new();
    env.start_all().await;
    let mut clients = Clients::connect(&env).await;
    let company_id = approved_company(&env, &mut clients).await;
    let mut kari = identity_as(&env, persons::KARI_NORDMANN).await;
    let customer_grant = grant(
        &mut kari,
        &company_id,
        supplier(orgs::HMS_LEVERANDOREN),
        "cards:order",
        None,
    )
    .await;

    // Ola registers his supplier company and makes Per its access manager
    // for an hour.
    let ola = PersonClients::login(&env, persons::OLA_LEVERANDOR).await;
    let supplier_company = ola
        .companies
        .clone()
        .register_company(companies::RegisterCompanyRequest {
            org_number: orgs::HMS_LEVERANDOREN.to_owned(),
            name: "HMS Leverandøren AS".to_owned(),
            contact: Some(companies::ContactInfo {
                email: "post@leverandoren.no".to_owned(),
                phone: "+4722110000".to_owned(),
            }),
            industry: companies::Industry::Construction as i32,
            language: companies::Language::Nb as i32,
        })
        .await
        .expect("register the supplier")
        .into_inner()
        .company
        .expect("a company")
        .company_id;
    let per_until = chrono::DateTime::from_timestamp(chrono::Utc::now().timestamp() + 3_600, 0)
        .expect("a time");
    let per_manages = ola
        .identity
        .clone()
        .grant_access(identity::GrantAccessRequest {
            company_id: supplier_company.clone(),
            grantee: Some(person(persons::PER_ANSATT)),
            scopes: vec!["access:manage".to_owned()],
            valid_from: None,
            valid_until: Some(hms_proto::time::timestamp(per_until)),
            grantee_name: String::new(),
            processor_agreement: None,
        })
        .await
        .expect("Ola makes Per an access manager of the supplier")
        .into_inner()
        .grant
        .expect("a grant")
        .grant_id;

    // Per passes the customer's open-ended grant on to himself: it ends
    // with his own grant, not after it.
    let mut per = identity_as(&env, persons::PER_ANSATT).await;
    let pass_on =
        |valid_until: Option<chrono::DateTime<chrono::Utc>>| identity::DelegateGrantRequest {
            grant_id: customer_grant.clone(),
            national_id: persons::PER_ANSATT.to_owned(),
            scopes: vec!["cards:order".to_owned()],
            valid_until: valid_until.map(hms_proto::time::timestamp),
            grantee_name: String::new(),
        };
    // Not past Per's own grant.
    per.delegate_grant(pass_on(Some(per_until + chrono::Duration::hours(1))))
        .await
        .expect_refused(Code::InvalidArgument, "");
    let passed = per
        .delegate_grant(pass_on(None))
        .await
        .expect("within Per's grant")
        .into_inner()
        .grant
        .expect("a grant");
    assert_eq!(passed.parent_grant_id, customer_grant);
    assert_eq!(passed.authority_grant_id, per_manages);
    assert_eq!(
        passed.valid_until,
        Some(hms_proto::time::timestamp(per_until))
    );
    let per_clients = PersonClients::login(&env, persons::PER_ANSATT).await;
    assert_eq!(
        company_answer(&per_clients.companies, &company_id).await,
        Ok(())
    );

    // Ola ends Per's role at the supplier: what Per passed on to the
    // customer's company goes with it.
    ola.identity
        .clone()
        .revoke_access(identity::RevokeAccessRequest {
            grant_id: per_manages,
        })
        .await
        .expect("Ola revokes");
    let listed = list_access(&mut kari, &company_id).await;
    assert_eq!(
        find_grant(&listed, &passed.grant_id).state,
        identity::GrantState::Revoked as i32
    );
    assert_eq!(
        find_grant(&listed, &customer_grant).state,
        identity::GrantState::Active as i32,
        "the supplier keeps the customer's grant"
    );
    eventually("Per to lose access", Duration::from_secs(5), || async {
        (company_answer(&per_clients.companies, &company_id).await == Err(Code::NotFound))
            .then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn granting_and_revoking_need_a_recent_login() {
    let mut env = TestEnv::new();
    env.set("HMS_STEP_UP_SECS", "5");
    env.start_all().await;
    let mut clients = Clients::connect(&env).await;
    let company_id = approved_company(&env, &mut clients).await;
    let give = |national_id: &str| identity::GrantAccessRequest {
        company_id: company_id.clone(),
        grantee: Some(person(national_id)),
        scopes: vec!["workers:read".to_owned()],
        valid_from: None,
        valid_until: None,
        grantee_name: String::new(),
        processor_agreement: None,
    };

    let mut kari = identity_as(&env, persons::KARI_NORDMANN).await;
    let granted = kari
        .grant_access(give(persons::PER_ANSATT))
        .await
        .expect("just logged in")
        .into_inner()
        .grant
        .expect("a grant")
        .grant_id;

    tokio::time::sleep(Duration::from_millis(5_500)).await;
    // The login is now too old to grant or revoke.
    kari.grant_access(give(persons::UNNI_UTLOPT))
        .await
        .expect_refused(Code::PermissionDenied, "log in again");
    kari.revoke_access(identity::RevokeAccessRequest {
        grant_id: granted.clone(),
    })
    .await
    .expect_refused(Code::PermissionDenied, "");
    // Reading who has access needs no fresh login.
    let listed = list_access(&mut kari, &company_id).await;
    assert_eq!(
        find_grant(&listed, &granted).state,
        identity::GrantState::Active as i32
    );

    let mut fresh = identity_as(&env, persons::KARI_NORDMANN).await;
    fresh
        .revoke_access(identity::RevokeAccessRequest { grant_id: granted })
        .await
        .expect("after a fresh login");
    fresh
        .grant_access(give(persons::UNNI_UTLOPT))
        .await
        .expect("after a fresh login");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_access_managers_see_every_grant_and_ended_grants_are_pruned() {
    let mut env = TestEnv::new();
    env.set("HMS_ENDED_GRANT_RETENTION_SECS", "5");
    env.set("HMS_HOUSEKEEPING_INTERVAL_SECS", "1");
    env.start_all().await;
    let mut clients = Clients::connect(&env).await;
    let company_id = approved_company(&env, &mut clients).await;
    let mut kari = identity_as(&env, persons::KARI_NORDMANN).await;

    // Kari makes Per an orderer (naming him, since he has not logged in
    // yet), Nils a reader, and gives a supplier a grant.
    let per_grant = kari
        .grant_access(identity::GrantAccessRequest {
            company_id: company_id.clone(),
            grantee: Some(person(persons::PER_ANSATT)),
            scopes: vec!["cards:order".to_owned()],
            valid_from: None,
            valid_until: None,
            grantee_name: "Per på lageret".to_owned(),
            processor_agreement: None,
        })
        .await
        .expect("a grant")
        .into_inner()
        .grant
        .expect("a grant");
    let Some(identity::grant::Grantee::Person(per)) = &per_grant.grantee else {
        panic!("a grant to a person");
    };
    assert_eq!(
        (per.user_id.as_str(), per.label.as_str()),
        ("", "Per på lageret")
    );
    let nils_grant = grant(
        &mut kari,
        &company_id,
        person(persons::NILS_ANNEN),
        "workers:read",
        None,
    )
    .await;
    let supplier_grant = grant(
        &mut kari,
        &company_id,
        supplier(orgs::HMS_LEVERANDOREN),
        "cards:order",
        None,
    )
    .await;

    // A number is no name, and neither is a birth date.
    kari.grant_access(identity::GrantAccessRequest {
        company_id: company_id.clone(),
        grantee: Some(person(persons::UNNI_UTLOPT)),
        scopes: vec!["cards:order".to_owned()],
        valid_from: None,
        valid_until: None,
        grantee_name: persons::UNNI_UTLOPT[..6].to_owned(),
        processor_agreement: None,
    })
    .await
    .expect_refused(Code::InvalidArgument, "grantee_name");

    // The owner sees every grant; Per, who may only order, sees his own.
    let all = list_access(&mut kari, &company_id).await;
    for grant_id in [&per_grant.grant_id, &nils_grant, &supplier_grant] {
        find_grant(&all, grant_id);
    }
    let mut per = identity_as(&env, persons::PER_ANSATT).await;
    let own = list_access(&mut per, &company_id).await;
    let listed: Vec<&str> = own.grants.iter().map(|g| g.grant_id.as_str()).collect();
    assert_eq!(listed, [per_grant.grant_id.as_str()]);
    assert!(!own.owners.is_empty(), "the register's owners are public");
    // Now that he has logged in, his own name shows.
    let Some(identity::grant::Grantee::Person(named)) = &own.grants[0].grantee else {
        panic!("a grant to a person");
    };
    assert_eq!(named.label, "Per Ansatt");
    // An access manager by grant and the back office see every grant.
    let tore_grant = grant(
        &mut kari,
        &company_id,
        person(persons::TORE_TIDLIGERE),
        "access:manage",
        None,
    )
    .await;
    let mut tore = identity_as(&env, persons::TORE_TIDLIGERE).await;
    assert_eq!(list_access(&mut tore, &company_id).await.grants.len(), 4);
    let mut siri = identity_as(&env, persons::SIRI_SAKSBEHANDLER).await;
    assert_eq!(list_access(&mut siri, &company_id).await.grants.len(), 4);

    // A revoked grant is listed for the retention, then deleted.
    kari.revoke_access(identity::RevokeAccessRequest {
        grant_id: nils_grant.clone(),
    })
    .await
    .expect("revoke");
    let listed = list_access(&mut kari, &company_id).await;
    assert_eq!(
        find_grant(&listed, &nils_grant).state,
        identity::GrantState::Revoked as i32
    );
    eventually(
        "the ended grant to be pruned",
        Duration::from_secs(15),
        || {
            let mut kari = kari.clone();
            let company_id = company_id.clone();
            let nils_grant = nils_grant.clone();
            async move {
                let listed = list_access(&mut kari, &company_id).await;
                (!listed.grants.iter().any(|g| g.grant_id == nils_grant)).then_some(listed)
            }
        },
    )
    .await;
    let listed = list_access(&mut kari, &company_id).await;
    for kept in [&per_grant.grant_id, &supplier_grant, &tore_grant] {
        find_grant(&listed, kept);
    }
}

/// The identity service as a person who has just logged in.
async fn identity_as(
    env: &TestEnv,
    national_id: &str,
) -> IdentityServiceClient<hms_test_support::Authed> {
    let token = env.access_token(national_id).await;
    IdentityServiceClient::new(env.channel_with_token(ServiceName::Identity, &token).await)
}

async fn me(
    identity: &mut IdentityServiceClient<hms_test_support::Authed>,
) -> identity::GetCurrentUserResponse {
    identity
        .get_current_user(identity::GetCurrentUserRequest {})
        .await
        .expect("who am I")
        .into_inner()
}

async fn list_access(
    identity: &mut IdentityServiceClient<hms_test_support::Authed>,
    company_id: &str,
) -> identity::ListAccessResponse {
    identity
        .list_access(identity::ListAccessRequest {
            company_id: company_id.to_owned(),
        })
        .await
        .expect("list access")
        .into_inner()
}

fn find_grant<'a>(listed: &'a identity::ListAccessResponse, grant_id: &str) -> &'a identity::Grant {
    listed
        .grants
        .iter()
        .find(|grant| grant.grant_id == grant_id)
        .unwrap_or_else(|| panic!("grant {grant_id} is listed"))
}
