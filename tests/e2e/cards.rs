//! Cards: issued one per worker when an order is approved, blocked when
//! lost, deactivated when the holder leaves, expired at their end, and
//! checked by anyone by their number.

use std::time::{Duration, Instant};

use chrono::Datelike;
use hms_card_credential::{KeySet, StatusListToken};
use hms_domain::CardNumber;
use hms_events::Domain;
use hms_proto::cards::v1 as cards;
use hms_proto::events::v1 as events;
use hms_proto::orders::v1 as orders;
use hms_test_support::fakes::persons;
use hms_test_support::{Api, ExpectRefused, ServiceName, TestEnv, eventually};
use reqwest::StatusCode;
use serde_json::json;

use crate::common::*;

const COMPANY_EMAIL: &str = "post@nordmannbygg.no";

/// An approved order of two workers, and their cards once issued.
async fn carded_company(env: &TestEnv, clients: &mut Clients) -> (orders::Order, Vec<cards::Card>) {
    let (order, _) = submitted_order(env, clients).await;
    approve(clients, &order.order_id).await;
    let issued = issued_cards(&clients.owner, &order.company_id, 2).await;
    (order, issued)
}

async fn mail_with(env: &TestEnv, subject: &str) -> hms_test_support::Mail {
    eventually(&format!("an email \"{subject}\""), SOON, || async {
        env.mail()
            .to(COMPANY_EMAIL)
            .into_iter()
            .find(|mail| mail.subject.contains(subject))
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approved_order_gets_one_card_per_worker_valid_two_years() {
    let mut env = TestEnv::new();
    env.start_all().await;
    let mut clients = Clients::connect(&env).await;
    let (order, issued) = carded_company(&env, &mut clients).await;

    let mut holders: Vec<&str> = issued.iter().map(|c| c.holder_name.as_str()).collect();
    holders.sort_unstable();
    assert_eq!(holders, ["Arbeider 0", "Arbeider 1"]);
    for card in &issued {
        let number = CardNumber::parse(&card.card_number).expect("a number with its check digit");
        assert!(!number.as_str().starts_with('0'));
        assert_eq!(card.order_id, order.order_id);
        assert_eq!(card.employer_name, "Nordmann Bygg AS");
        assert_eq!(card.employer_org_number, "310100005");
        assert_eq!(card.card_type, orders::CardType::Construction as i32);
        assert_eq!(card.status, cards::CardStatus::Active as i32);
        let issued_at = hms_proto::time::from_timestamp(card.issued_at.as_ref().expect("issued"))
            .expect("a time");
        let until = hms_proto::time::from_timestamp(card.valid_until.as_ref().expect("an end"))
            .expect("a time");
        assert_eq!(until.year(), issued_at.year() + 2);
        assert_eq!(
            (until.month(), until.day()),
            (issued_at.month(), issued_at.day())
        );
        assert_eq!(card.history.len(), 1);
        assert_eq!(card.history[0].status, cards::CardStatus::Active as i32);
    }
    assert_ne!(issued[0].card_number, issued[1].card_number);

    // The approval delivered again, under another id: nothing more issued.
    let ack = publish_again::<events::OrderApproved>(&env, true).await;
    wait_until_consumed(&env, Domain::Orders, "cards-order_approved", ack.sequence).await;
    assert_eq!(
        issued_cards(&clients.owner, &order.company_id, 2)
            .await
            .len(),
        2
    );
    outbox_drained(&env, ServiceName::Cards).await;
    let announced: Vec<events::CardIssued> = published(&env).await;
    assert_eq!(announced.len(), 2, "one card_issued per card");

    // Another company's person sees neither the cards nor a card.
    let nils = PersonClients::login(&env, persons::NILS_ANNEN).await;
    nils.cards
        .clone()
        .get_card(cards::GetCardRequest {
            card_number: issued[0].card_number.clone(),
        })
        .await
        .expect_refused(tonic::Code::NotFound, "card not found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approvals_that_arrive_together_issue_each_order_its_cards_once() {
    let mut env = TestEnv::new();
    env.start_all().await;
    let mut clients = Clients::connect(&env).await;
    let company_id = approved_company(&env, &mut clients).await;
    let mut order_ids = Vec::new();
    for _ in 0..4 {
        let (order, _) = submitted_order_of(&mut clients, &company_id).await;
        order_ids.push(order.order_id);
    }
    // Cards is down while they are approved: back, it takes the four
    // approvals together.
    env.stop(ServiceName::Cards).await;
    for order_id in &order_ids {
        approve(&mut clients, order_id).await;
    }
    env.start(ServiceName::Cards).await;

    let issued = issued_cards(&clients.owner, &company_id, 8).await;
    assert_eq!(issued.len(), 8);
    let mut numbers: Vec<&str> = issued
        .iter()
        .map(|card| card.card_number.as_str())
        .collect();
    numbers.sort_unstable();
    numbers.dedup();
    assert_eq!(numbers.len(), 8, "every card its own number");
    for order_id in &order_ids {
        let mut holders: Vec<&str> = issued
            .iter()
            .filter(|card| &card.order_id == order_id)
            .map(|card| card.holder_name.as_str())
            .collect();
        holders.sort_unstable();
        assert_eq!(holders, ["Arbeider 0", "Arbeider 1"], "order {order_id}");
    }
    for card in &issued {
        assert_eq!(card.history.len(), 1);
        assert_eq!(card.employer_org_number, "310100005");
    }

    // One print job an order, with its two cards; one card_issued a card.
    let jobs = eventually("four print jobs at the producer", SOON, || async {
        let jobs = env.print_jobs().await;
        (jobs.len() == 4).then_some(jobs)
    })
    .await;
    let mut printed: Vec<&str> = jobs.iter().map(|job| job.reference.as_str()).collect();
    printed.sort_unstable();
    let mut expected: Vec<&str> = order_ids.iter().map(String::as_str).collect();
    expected.sort_unstable();
    assert_eq!(printed, expected);
    assert!(jobs.iter().all(|job| job.cards.len() == 2));
    outbox_drained(&env, ServiceName::Cards).await;
    let announced: Vec<events::CardIssued> = published(&env).await;
    assert_eq!(announced.len(), 8, "one card_issued per card");
    let mut announced_numbers: Vec<&str> = announced
        .iter()
        .map(|event| event.card_number.as_str())
        .collect();
    announced_numbers.sort_unstable();
    assert_eq!(announced_numbers, numbers);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anyone_checks_a_card_and_learns_only_whose_it_is_and_until_when() {
    let mut env = TestEnv::new();
    env.start_all().await;
    let mut clients = Clients::connect(&env).await;
    let (_, issued) = carded_company(&env, &mut clients).await;
    let api = Api::new(&env);
    let number = CardNumber::parse(&issued[0].card_number).expect("a number");

    // No login; spaces as printed on the card are fine.
    let checked = api
        .get(&format!(
            "/api/v1/public/cards/{}",
            number.grouped().replace(' ', "%20")
        ))
        .expect(StatusCode::OK)
        .await;
    assert_eq!(checked["valid"], true);
    assert_eq!(checked["holder_name"], issued[0].holder_name.as_str());
    assert_eq!(checked["employer_name"], "Nordmann Bygg AS");
    let mut keys: Vec<&str> = checked
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        ["employer_name", "holder_name", "valid", "valid_until"]
    );

    // A number no card has: not valid, and nothing else.
    let unknown = loop {
        let candidate = CardNumber::from_body(rand::random_range(100_000_000..1_000_000_000));
        if issued
            .iter()
            .all(|card| card.card_number != candidate.as_str())
        {
            break candidate;
        }
    };
    let checked = api
        .get(&format!("/api/v1/public/cards/{unknown}"))
        .expect(StatusCode::OK)
        .await;
    assert_eq!(checked["valid"], false);
    assert!(checked["holder_name"].is_null() && checked["employer_name"].is_null());

    // A typo is caught by the check digit before any lookup.
    let mut typo: Vec<u8> = number.as_str().bytes().collect();
    typo[3] = if typo[3] == b'9' { b'0' } else { typo[3] + 1 };
    let typo = String::from_utf8(typo).expect("digits");
    api.get(&format!("/api/v1/public/cards/{typo}"))
        .expect_problem(StatusCode::BAD_REQUEST, "invalid-request")
        .await;

    // Found or not, no answer comes sooner than the service's floor, so
    // the timing tells nothing (its spread is the benchmark's to show).
    for path in [
        format!("/api/v1/public/cards/{number}"),
        format!("/api/v1/public/cards/{unknown}"),
    ] {
        let started = Instant::now();
        api.get(&path).expect(StatusCode::OK).await;
        assert!(started.elapsed() >= Duration::from_millis(25), "{path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_card_is_blocked_at_once_and_one_whose_holder_left_is_deactivated() {
    let mut env = TestEnv::new();
    env.start_all().await;
    let mut clients = Clients::connect(&env).await;
    let (_, issued) = carded_company(&env, &mut clients).await;
    let api = Api::new(&env);
    let kari = api.token(persons::KARI_NORDMANN).await;
    let kari_id = clients
        .owner
        .identity
        .clone()
        .get_current_user(hms_proto::identity::v1::GetCurrentUserRequest {})
        .await
        .expect("me")
        .into_inner()
        .user
        .expect("a user")
        .user_id;
    let (lost, left) = (&issued[0], &issued[1]);

    let blocked = api
        .post(&format!("/api/v1/cards/{}/block", lost.card_number))
        .token(&kari)
        .json(json!({"reason": "Mistet på byggeplassen"}))
        .expect(StatusCode::OK)
        .await;
    assert_eq!(blocked["status"], "blocked");
    let change = &blocked["history"][1];
    assert_eq!(change["status"], "blocked");
    assert_eq!(change["reason"], "Mistet på byggeplassen");
    assert_eq!(change["changed_by_user_id"], kari_id.as_str());
    // At once: the public check says so.
    let checked = api
        .get(&format!("/api/v1/public/cards/{}", lost.card_number))
        .expect(StatusCode::OK)
        .await;
    assert_eq!(checked["valid"], false);
    // Blocking again changes nothing; deactivating a blocked card cannot.
    api.post(&format!("/api/v1/cards/{}/block", lost.card_number))
        .token(&kari)
        .json(json!({"reason": "Mistet igjen"}))
        .expect(StatusCode::OK)
        .await;
    api.post(&format!("/api/v1/cards/{}/deactivate", lost.card_number))
        .token(&kari)
        .json(json!({"reason": "Sluttet"}))
        .expect_problem(StatusCode::CONFLICT, "precondition-failed")
        .await;
    // A reason is required.
    api.post(&format!("/api/v1/cards/{}/deactivate", left.card_number))
        .token(&kari)
        .json(json!({"reason": ""}))
        .expect_problem(StatusCode::BAD_REQUEST, "invalid-request")
        .await;

    // The back office deactivates the other.
    let siri = api.token(persons::SIRI_SAKSBEHANDLER).await;
    let deactivated = api
        .post(&format!("/api/v1/cards/{}/deactivate", left.card_number))
        .token(&siri)
        .json(json!({"reason": "Arbeidsforholdet er avsluttet"}))
        .expect(StatusCode::OK)
        .await;
    assert_eq!(deactivated["status"], "deactivated");

    // Each change was published once, and the company was told.
    outbox_drained(&env, ServiceName::Cards).await;
    assert_eq!(published::<events::CardBlocked>(&env).await.len(), 1);
    assert_eq!(published::<events::CardDeactivated>(&env).await.len(), 1);
    let told = mail_with(&env, "er sperret").await;
    assert!(told.text.contains("Kari Nordmann"), "{}", told.text);
    assert!(
        told.text.contains("Mistet på byggeplassen"),
        "{}",
        told.text
    );
    assert!(told.text.contains(&lost.holder_name), "{}", told.text);
    mail_with(&env, "er deaktivert").await;

    // The company's list shows both as they are now.
    let listed = api
        .get(&format!(
            "/api/v1/companies/{}/cards?status=blocked",
            lost.company_id
        ))
        .token(&kari)
        .expect(StatusCode::OK)
        .await;
    assert_eq!(listed["cards"].as_array().map(Vec::len), Some(1));
    assert_eq!(listed["cards"][0]["card_number"], lost.card_number.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_card_expires_at_its_end_and_its_company_hears_of_it_ahead() {
    let mut env = TestEnv::new();
    env.set("HMS_CARD_CHECK_INTERVAL_SECS", "1");
    // A month: within the 60-day notice from the day of issue.
    env.set("HMS_CARD_VALIDITY_MONTHS", "1");
    env.start_all().await;
    let mut clients = Clients::connect(&env).await;
    let (_, issued) = carded_company(&env, &mut clients).await;

    // Told ahead once per card, however many checks run.
    let expiring = eventually("both cards told of ahead", SOON, || async {
        let told: Vec<events::CardExpiring> = published(&env).await;
        (told.len() >= 2).then_some(told)
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        published::<events::CardExpiring>(&env).await.len(),
        2,
        "{expiring:?}"
    );
    assert!(
        expiring
            .iter()
            .all(|e| e.days_ahead == 30 || e.days_ahead == 60)
    );
    mail_with(&env, "utløper om").await;

    // Its end comes (the database's clock is moved for this card).
    let cards_db = env.db(ServiceName::Cards).await;
    sqlx::query(
        "UPDATE cards SET valid_until = now() - interval '1 second' WHERE card_number = $1",
    )
    .bind(&issued[0].card_number)
    .execute(&cards_db)
    .await
    .expect("move the card's end");
    let expired = eventually("the card to expire", SOON, || async {
        let expired: Vec<events::CardExpired> = published(&env).await;
        (!expired.is_empty()).then_some(expired)
    })
    .await;
    assert_eq!(expired.len(), 1);
    assert_eq!(expired[0].card_number, issued[0].card_number);
    let card = clients
        .owner
        .cards
        .clone()
        .get_card(cards::GetCardRequest {
            card_number: issued[0].card_number.clone(),
        })
        .await
        .expect("the card")
        .into_inner()
        .card
        .expect("a card");
    assert_eq!(card.status, cards::CardStatus::Expired as i32);
    mail_with(&env, "har utløpt").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_company_orders_only_the_cards_of_its_trade() {
    let mut env = TestEnv::new();
    env.start(ServiceName::Companies).await;
    env.start(ServiceName::Orders).await;
    env.start(ServiceName::Media).await;
    let mut clients = Clients::connect(&env).await;
    // NORDMANN BYGG AS is registered as a construction company.
    let company_id = approved_company(&env, &mut clients).await;
    let orders_db = env.db(ServiceName::Orders).await;
    eventually("orders to know the company's trade", SOON, || async {
        let industry: Option<String> = sqlx::query_scalar(
            "SELECT industry FROM hms_company_status WHERE company_id = $1::uuid",
        )
        .bind(&company_id)
        .fetch_one(&orders_db)
        .await
        .ok()?;
        industry.filter(|industry| industry == "construction")
    })
    .await;

    let cleaner = orders::NewWorker {
        card_type: orders::CardType::Cleaning as i32,
        ..new_worker("Vaskeren", &hms_test_support::fixtures::fodselsnummer())
    };
    let refusal = "workers.card_type: a construction company orders construction cards, \
                   not cleaning cards";
    clients
        .owner
        .orders
        .create_order(orders::CreateOrderRequest {
            company_id: company_id.clone(),
            idempotency_key: uuid::Uuid::new_v4().to_string(),
            workers: vec![
                new_worker("Snekkeren", &hms_test_support::fixtures::fodselsnummer()),
                cleaner.clone(),
            ],
        })
        .await
        .expect_refused(tonic::Code::InvalidArgument, refusal);
    assert_eq!(
        count(
            &orders_db,
            "SELECT count(*) FROM orders WHERE company_id = $1::uuid",
            &company_id
        )
        .await,
        0,
        "nothing stored"
    );

    // Nor can one be added to an order of the right trade.
    let order = create_order(
        &mut clients,
        &company_id,
        &[hms_test_support::fixtures::fodselsnummer()],
    )
    .await;
    clients
        .owner
        .orders
        .add_worker(orders::AddWorkerRequest {
            order_id: order.order_id.clone(),
            worker: Some(cleaner),
        })
        .await
        .expect_refused(tonic::Code::InvalidArgument, refusal);
    assert_eq!(
        count(
            &orders_db,
            "SELECT count(*) FROM workers WHERE order_id = $1::uuid",
            &order.order_id
        )
        .await,
        1
    );
}

/// What the gateway answers with, as bytes.
async fn fetched(
    api: &Api,
    path: &str,
    token: Option<&str>,
) -> (reqwest::header::HeaderMap, Vec<u8>) {
    let mut request = api.http().get(api.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("the gateway answers");
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    let headers = response.headers().clone();
    (headers, response.bytes().await.expect("a body").to_vec())
}

/// The keys and the status list as a verifier saves them.
async fn verifier_cache(api: &Api) -> (KeySet, StatusListToken, Duration) {
    let (headers, keys) = fetched(api, "/api/v1/public/card-credentials/keys", None).await;
    assert_eq!(headers[reqwest::header::CONTENT_TYPE], "application/json");
    let keys = KeySet::from_json(&keys).expect("a key set");
    let (headers, list) = fetched(api, "/api/v1/public/card-credentials/status-list", None).await;
    assert_eq!(
        headers[reqwest::header::CONTENT_TYPE],
        "application/statuslist+cwt"
    );
    let list = StatusListToken::verify(&list, &keys).expect("a list the published keys signed");
    (keys, list, Duration::from_secs(2))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_card_shown_as_a_qr_code_verifies_offline_until_it_is_blocked() {
    let mut env = TestEnv::new();
    env.start_all().await;
    let mut clients = Clients::connect(&env).await;
    let (_, issued) = carded_company(&env, &mut clients).await;
    let api = Api::new(&env);
    let kari = api.token(persons::KARI_NORDMANN).await;
    let card = &issued[0];

    let credential = api
        .get(&format!("/api/v1/cards/{}/credential", card.card_number))
        .token(&kari)
        .expect(StatusCode::OK)
        .await;
    let payload = credential["payload"]
        .as_str()
        .expect("a payload")
        .to_owned();
    assert!(
        payload.starts_with(hms_card_credential::PREFIX),
        "{payload}"
    );

    // The PNG holds exactly the payload, as a phone camera reads it.
    let (headers, png) = fetched(
        &api,
        &format!("/api/v1/cards/{}/qr.png", card.card_number),
        Some(&kari),
    )
    .await;
    assert_eq!(headers[reqwest::header::CONTENT_TYPE], "image/png");
    assert_eq!(headers[reqwest::header::CACHE_CONTROL], "private, no-store");
    let image = image::load_from_memory(&png).expect("a PNG").to_luma8();
    let mut prepared = rqrr::PreparedImage::prepare_from_greyscale(
        image.width() as usize,
        image.height() as usize,
        |x, y| image.get_pixel(x as u32, y as u32).0[0],
    );
    let grids = prepared.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code");
    let (_, scanned) = grids[0].decode().expect("a readable QR code");
    assert!(
        scanned.starts_with(hms_card_credential::PREFIX),
        "{scanned}"
    );
    let (headers, svg) = fetched(
        &api,
        &format!("/api/v1/cards/{}/qr.svg", card.card_number),
        Some(&kari),
    )
    .await;
    assert_eq!(headers[reqwest::header::CONTENT_TYPE], "image/svg+xml");
    assert!(String::from_utf8(svg).expect("text").contains("<svg"));

    // Offline from here: the payload, the saved keys and the saved list.
    let (keys, list, ttl) = verifier_cache(&api).await;
    // Each credential is signed when it is asked for, so the code's bytes
    // differ from a second earlier; what it says does not.
    let shown = |payload: &str| {
        let mut credential = hms_card_credential::verify(payload, &keys, &list, chrono::Utc::now())
            .expect("verified offline")
            .credential;
        credential.issued_at = chrono::DateTime::UNIX_EPOCH;
        credential
    };
    assert_eq!(shown(&scanned), shown(&payload));
    let verified = hms_card_credential::verify(&payload, &keys, &list, chrono::Utc::now())
        .expect("verified offline");
    assert_eq!(verified.standing, hms_card_credential::Standing::Valid);
    assert_eq!(verified.credential.card_number, card.card_number);
    assert_eq!(verified.credential.holder_name, card.holder_name);
    assert_eq!(verified.credential.employer_name, "Nordmann Bygg AS");
    assert_eq!(
        verified.credential.employer_org_number,
        card.employer_org_number
    );
    assert_eq!(
        Some(verified.credential.valid_until.timestamp()),
        card.valid_until.as_ref().map(|at| at.seconds)
    );
    assert_eq!(verified.credential.issuer, "https://bestill.hms-kort.test");

    // Someone else's company sees no credential of it.
    let stranger = api.token(persons::NILS_ANNEN).await;
    api.get(&format!("/api/v1/cards/{}/qr.png", card.card_number))
        .token(&stranger)
        .expect_problem(StatusCode::NOT_FOUND, "not-found")
        .await;

    // Blocked: the list the verifier saved still says valid (that is what
    // offline means); the next list, fetched within its time to live,
    // says blocked.
    api.post(&format!("/api/v1/cards/{}/block", card.card_number))
        .token(&kari)
        .json(json!({"reason": "Stjålet"}))
        .expect(StatusCode::OK)
        .await;
    assert_eq!(
        hms_card_credential::verify(&payload, &keys, &list, chrono::Utc::now())
            .expect("verified offline")
            .standing,
        hms_card_credential::Standing::Valid
    );
    let next = eventually("the next status list says blocked", ttl * 3, || async {
        let (keys, list, _) = verifier_cache(&api).await;
        let verified = hms_card_credential::verify(&payload, &keys, &list, chrono::Utc::now())
            .expect("verified offline");
        (verified.standing == hms_card_credential::Standing::Blocked).then_some(verified)
    })
    .await;
    assert_eq!(next.credential.card_number, card.card_number);
    // The other card of the order still counts on the same list.
    let other = api
        .get(&format!(
            "/api/v1/cards/{}/credential",
            issued[1].card_number
        ))
        .token(&kari)
        .expect(StatusCode::OK)
        .await;
    let (keys, list, _) = verifier_cache(&api).await;
    assert_eq!(
        hms_card_credential::verify(
            other["payload"].as_str().expect("a payload"),
            &keys,
            &list,
            chrono::Utc::now()
        )
        .expect("verified offline")
        .standing,
        hms_card_credential::Standing::Valid
    );
    // And a blocked card gets no new credential.
    api.get(&format!("/api/v1/cards/{}/credential", card.card_number))
        .token(&kari)
        .expect_problem(StatusCode::CONFLICT, "precondition-failed")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_card_lasts_no_longer_than_the_employment_and_is_renewed_from_six_months_before() {
    let mut env = TestEnv::new();
    env.start_all().await;
    let mut clients = Clients::connect(&env).await;
    let company_id = approved_company(&env, &mut clients).await;
    let api = Api::new(&env);
    let kari = api.token(persons::KARI_NORDMANN).await;
    let oslo_today = chrono::Utc::now()
        .with_timezone(&chrono_tz::Europe::Oslo)
        .date_naive();
    let last_day = oslo_today + chrono::Days::new(100);

    // A day already past is refused, naming the field.
    let yesterday = oslo_today - chrono::Days::new(1);
    let problem = api
        .post(&format!("/api/v1/companies/{company_id}/orders"))
        .token(&kari)
        .header(
            reqwest::header::HeaderName::from_static("idempotency-key"),
            "past",
        )
        .json(json!({"workers": [{
            "name": "Vikar Vikarsen",
            "national_id": hms_test_support::fixtures::fodselsnummer(),
            "phone": "+4798765432",
            "card_type": "construction",
            "employment_ends_on": yesterday.to_string(),
        }]}))
        .expect_problem(StatusCode::BAD_REQUEST, "invalid-request")
        .await;
    assert_eq!(
        problem.body["detail"],
        "workers[0].employment_ends_on: is in the past"
    );

    // A temporary worker and a permanent one.
    let order = api
        .post(&format!("/api/v1/companies/{company_id}/orders"))
        .token(&kari)
        .header(
            reqwest::header::HeaderName::from_static("idempotency-key"),
            "temporary",
        )
        .json(json!({"workers": [
            {
                "name": "Vikar Vikarsen",
                "national_id": hms_test_support::fixtures::fodselsnummer(),
                "phone": "+4798765432",
                "card_type": "construction",
                "employment_ends_on": last_day.to_string(),
            },
            {
                "name": "Fast Ansatt",
                "national_id": hms_test_support::fixtures::fodselsnummer(),
                "phone": "+4798765433",
                "card_type": "construction",
            },
        ]}))
        .expect(StatusCode::CREATED)
        .await;
    assert_eq!(
        order["workers"][0]["employment_ends_on"],
        last_day.to_string()
    );
    assert!(order["workers"][1]["employment_ends_on"].is_null());
    let order_id = order["order_id"].as_str().expect("an id").to_owned();
    let stored = clients
        .owner
        .orders
        .get_order(orders::GetOrderRequest {
            order_id: order_id.clone(),
        })
        .await
        .expect("the order")
        .into_inner()
        .order
        .expect("an order");
    upload_all_documents(&mut clients, &stored).await;
    clients
        .owner
        .orders
        .submit_order(orders::SubmitOrderRequest {
            order_id: order_id.clone(),
        })
        .await
        .expect("submitted");
    approve(&mut clients, &order_id).await;
    let issued = issued_cards(&clients.owner, &company_id, 2).await;
    let until = |name: &str| {
        let card = issued
            .iter()
            .find(|card| card.holder_name == name)
            .expect("a card of each worker");
        hms_proto::time::from_timestamp(card.valid_until.as_ref().expect("an end")).expect("a time")
    };
    // Through the last day of the employment, on the Norwegian clock.
    let end = until("Vikar Vikarsen").with_timezone(&chrono_tz::Europe::Oslo);
    assert_eq!(end.date_naive(), last_day + chrono::Days::new(1), "{end}");
    assert_eq!(end.time(), chrono::NaiveTime::MIN, "{end}");
    // Without a stated end: two years.
    let permanent = until("Fast Ansatt");
    assert_eq!(
        permanent.date_naive(),
        chrono::Utc::now()
            .date_naive()
            .checked_add_months(chrono::Months::new(24))
            .expect("a date")
    );

    // The temporary card ends within six months: a renewal may start now,
    // pre-filled from the card.
    let number = |name: &str| {
        issued
            .iter()
            .find(|card| card.holder_name == name)
            .expect("a card")
            .card_number
            .clone()
    };
    let renewal = api
        .get(&format!(
            "/api/v1/cards/{}/renewal",
            number("Vikar Vikarsen")
        ))
        .token(&kari)
        .expect(StatusCode::OK)
        .await;
    assert_eq!(renewal["kind"], "renewal");
    assert_eq!(renewal["company_id"], company_id.as_str());
    assert_eq!(renewal["renews_card_number"], number("Vikar Vikarsen"));
    assert_eq!(
        renewal["worker"],
        json!({"name": "Vikar Vikarsen", "card_type": "construction"})
    );
    // What the card does not keep, the company adds; the order is new.
    let mut worker = renewal["worker"].clone();
    worker["national_id"] = json!(hms_test_support::fixtures::fodselsnummer());
    worker["phone"] = json!("+4798765432");
    worker["employment_ends_on"] = json!((last_day + chrono::Days::new(200)).to_string());
    let renewed = api
        .post(&format!(
            "/api/v1/companies/{}/orders",
            renewal["company_id"].as_str().expect("a company")
        ))
        .token(&kari)
        .header(
            reqwest::header::HeaderName::from_static("idempotency-key"),
            "renewal",
        )
        .json(json!({"workers": [worker]}))
        .expect(StatusCode::CREATED)
        .await;
    assert_eq!(renewed["status"], "draft");
    assert_eq!(renewed["workers"][0]["name"], "Vikar Vikarsen");

    // The permanent card is two years off: too early, and the answer says
    // from when.
    let from = (permanent - chrono::Months::new(6))
        .with_timezone(&chrono_tz::Europe::Oslo)
        .date_naive();
    let early = api
        .get(&format!("/api/v1/cards/{}/renewal", number("Fast Ansatt")))
        .token(&kari)
        .expect_problem(StatusCode::CONFLICT, "precondition-failed")
        .await;
    assert_eq!(
        early.body["detail"],
        format!("a card is renewed from six months before its end, from {from}")
    );
    // Lost: a replacement may start at once.
    api.post(&format!("/api/v1/cards/{}/block", number("Fast Ansatt")))
        .token(&kari)
        .json(json!({"reason": "Mistet"}))
        .expect(StatusCode::OK)
        .await;
    let replacement = api
        .get(&format!("/api/v1/cards/{}/renewal", number("Fast Ansatt")))
        .token(&kari)
        .expect(StatusCode::OK)
        .await;
    assert_eq!(replacement["kind"], "replacement");
    // Someone without access to the company learns nothing.
    let stranger = api.token(persons::NILS_ANNEN).await;
    api.get(&format!("/api/v1/cards/{}/renewal", number("Fast Ansatt")))
        .token(&stranger)
        .expect_problem(StatusCode::NOT_FOUND, "not-found")
        .await;
}
