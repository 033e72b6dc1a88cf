//! The web front end (`hms-web`) in a real browser: pages rendered from the
//! gateway's public API only, clicked through as a person would. Each
//! step's screenshot is kept under `target/screenshots/`.

use hms_test_support::api::Api;
use hms_test_support::fakes::{orgs, persons};
use hms_test_support::{TestEnv, eventually, fixtures};
use reqwest::StatusCode;

use crate::browser::Browser;
use crate::common::*;

/// Per's card number, once the card is issued.
async fn card_number(api: &Api, token: &str) -> String {
    eventually("Per's card", SOON, || async move {
        let held = api
            .get("/api/v1/me/records")
            .token(token)
            .expect(StatusCode::OK)
            .await;
        held["cards"][0]["card_number"].as_str().map(str::to_owned)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_sees_their_data_and_anyone_checks_their_card_in_a_browser() {
    let mut env = TestEnv::new();
    env.start_all_with_web().await;
    let web = env.web_url();
    let api = Api::new(&env);

    // Per Ansatt's employer orders him a card; it is approved, issued and
    // the documents destroyed.
    let mut clients = Clients::connect(&env).await;
    let company_id = approved_company(&env, &mut clients).await;
    let order = create_order(&mut clients, &company_id, &[persons::PER_ANSATT.to_owned()]).await;
    upload_all_documents(&mut clients, &order).await;
    submit(&mut clients, &order.order_id).await.expect("submit");
    approve(&mut clients, &order.order_id).await;
    receipt(&mut clients, &order.order_id, SOON).await;
    let per_token = api.token(persons::PER_ANSATT).await;
    let card = card_number(&api, &per_token).await;

    let mut browser = Browser::start("web-worker-and-card-check", 1280, 900).await;
    browser.goto(&web).await;
    assert_eq!(browser.text("h1").await, "HMS-kort for bygg og renhold");
    browser.screenshot("front-page").await;

    // BankID (the simulator), as Per; back on the front page, logged in.
    browser.login_as(persons::PER_ANSATT).await;
    assert_eq!(browser.text("#person").await, "Per Ansatt");
    assert_eq!(browser.path().await, "/");
    browser.screenshot("logged-in").await;

    // His page: the order, what is held (the number masked, the name and
    // documents gone), the card, the receipt, who processed his data.
    browser.click("a[href='/me']").await;
    assert_eq!(browser.text("h1").await, "Mine opplysninger");
    let record = format!("#record-{} ", order.order_id);
    assert_eq!(browser.text(&format!("{record}.status")).await, "Godkjent");
    let masked = format!("{}*****", &persons::PER_ANSATT[..6]);
    assert!(
        browser
            .text(&format!("{record}.national-id"))
            .await
            .starts_with(&masked)
    );
    assert_eq!(browser.text(".receipt .documents-deleted").await, "3");
    assert!(browser.text("tr.card").await.contains(&card));
    let log = browser.text("#access-log").await;
    assert!(log.contains("Fødselsnummer maskert"), "{log}");
    assert!(log.contains("Tjenesten cards"), "{log}");
    let page = browser.source().await;
    assert!(!page.contains(persons::PER_ANSATT), "never the full number");
    browser.screenshot("my-data").await;

    // In English.
    browser.click("a[hreflang='en']").await;
    assert_eq!(browser.text("h1").await, "My data");
    assert_eq!(browser.text(&format!("{record}.status")).await, "Approved");
    browser.screenshot("my-data-in-english").await;

    // The public check, from his card's link and by typing the number.
    browser.click("tr.card a").await;
    assert_eq!(browser.text("#verdict").await, "Valid");
    assert_eq!(browser.text("#holder").await, "Arbeider 0");
    browser.goto(&format!("{web}/check")).await;
    let spaced = format!("{} {} {}", &card[..4], &card[4..8], &card[8..]);
    browser
        .find("#number")
        .await
        .send_keys(&spaced)
        .await
        .expect("typing");
    browser.click("form.check button").await;
    assert_eq!(browser.text("#verdict").await, "Valid");
    browser.screenshot("card-check").await;

    // A number that cannot be one: said so at the field.
    browser.fill("#number", "12345").await;
    browser.click("form.check button").await;
    assert!(browser.text("#number-error").await.contains("ten digits"));
    let field = browser.find("#number").await;
    assert_eq!(
        field
            .attr("aria-invalid")
            .await
            .expect("attribute")
            .as_deref(),
        Some("true")
    );
    browser
        .client
        .set_window_size(390, 844)
        .await
        .expect("a phone's size");
    browser.screenshot("card-check-on-a-phone").await;

    // Logging out ends the session at the platform too.
    browser.click("form[action='/logout'] button").await;
    browser.find("#login").await;
    browser.goto(&format!("{web}/me")).await;
    browser.find("#login-needed").await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_front_end_keeps_the_gateways_rules_for_browsers() {
    // None of this reaches the platform: the front end alone answers.
    let mut env = TestEnv::new();
    env.start_web().await;
    let web = env.web_url();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a client");

    // No scripts, nothing from elsewhere, not framed, not cached.
    let page = http.get(&web).send().await.expect("the front page");
    assert_eq!(page.status(), StatusCode::OK);
    let header = |name: &str| {
        page.headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let policy = header("content-security-policy");
    assert!(policy.contains("default-src 'none'"), "{policy}");
    assert!(!policy.contains("script-src"), "{policy}");
    assert_eq!(header("x-frame-options"), "DENY");
    assert_eq!(header("cache-control"), "no-store");

    // A form posted from another site is refused, and changes nothing.
    let forged = http
        .post(format!("{web}/logout"))
        .header("origin", "https://evil.example")
        .header("sec-fetch-site", "cross-site")
        .header("cookie", "hms_access=a-token")
        .send()
        .await
        .expect("an answer");
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert!(forged.headers().get("set-cookie").is_none());

    // A number typed wrong is the person's mistake (400), not the
    // server's; a page that does not exist is a 404 page.
    let typed = http
        .get(format!("{web}/check?number=12%2F45"))
        .send()
        .await
        .expect("an answer");
    assert_eq!(typed.status(), StatusCode::BAD_REQUEST);
    let missing = http
        .get(format!("{web}/nowhere"))
        .send()
        .await
        .expect("an answer");
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert!(
        missing
            .text()
            .await
            .expect("a page")
            .contains("Siden finnes ikke")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_those_who_may_change_contact_details_see_the_form_and_only_after_a_fresh_login() {
    let mut env = TestEnv::new();
    // A login counts as recent for 6 s here.
    env.set("HMS_STEP_UP_SECS", "6");
    env.start_all_with_web().await;
    let web = env.web_url();
    let api = Api::new(&env);
    let mut clients = Clients::connect(&env).await;
    let company_id = approved_company(&env, &mut clients).await;
    // Kari lets the supplier order cards.
    let supplier_grant = grant(
        &mut clients.owner.identity,
        &company_id,
        supplier(orgs::HMS_LEVERANDOREN),
        "cards:order",
        None,
    )
    .await;
    let company_page = format!("{web}/companies/{company_id}");
    let contact = || {
        let api = api.clone();
        let company_id = company_id.clone();
        async move {
            let kari = api.token(persons::KARI_NORDMANN).await;
            api.get(&format!("/api/v1/companies/{company_id}"))
                .token(&kari)
                .expect(StatusCode::OK)
                .await["contact"]["email"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        }
    };
    let before = contact().await;

    // Ola, the supplier's daglig leder, finds the grant under his company
    // and passes it on to his employee Per, never with more than it gives.
    let mut browser = Browser::start("web-company-contact", 1280, 900).await;
    browser.goto(&web).await;
    browser.login_as(persons::OLA_LEVERANDOR).await;
    browser.fill("#supplier_org", orgs::HMS_LEVERANDOREN).await;
    browser.click("#find-supplier button").await;
    let pass_on = format!("#pass-on-id-{supplier_grant}");
    browser.fill(&pass_on, persons::PER_ANSATT).await;
    browser
        .tick(&format!("#pass-on-{supplier_grant}-cards-order"))
        .await;
    browser.screenshot("the-supplier-passes-the-grant-on").await;
    browser.click("form.pass-on button").await;
    assert_eq!(browser.find_all("tr.grant.passed-on.active").await, 1);
    assert!(
        !browser.source().await.contains(persons::PER_ANSATT),
        "the number is never shown"
    );
    // Someone else's supplier: nothing there for him.
    browser
        .goto(&format!("{web}/suppliers/{}", orgs::ANNEN_RENHOLD))
        .await;
    assert_eq!(browser.text("#problem").await, "Siden finnes ikke.");

    // Per, the supplier's employee, finds the company but no form.
    browser.goto(&web).await;
    browser.click("form[action='/logout'] button").await;
    browser.login_as(persons::PER_ANSATT).await;
    browser.click("a.company").await;
    assert_eq!(browser.text("#company-name").await, "Nordmann Bygg AS");
    assert!(
        !browser.source().await.contains("contact-form"),
        "no form for a supplier's employee"
    );
    browser.screenshot("supplier-employee-sees-no-form").await;
    // Posting it anyway, as from the page itself with his session: refused,
    // and nothing changes.
    let per_session = browser.cookie("hms_access").await;
    let posted = reqwest::Client::new()
        .post(format!("{company_page}/contact"))
        .header("cookie", format!("hms_access={per_session}"))
        .header("sec-fetch-site", "same-origin")
        .header("content-type", "application/x-www-form-urlencoded")
        .body("email=kapret%40example.com&phone=%2B4799999999")
        .send()
        .await
        .expect("an answer");
    assert_eq!(posted.status(), StatusCode::FORBIDDEN);
    assert_eq!(contact().await, before);

    // Kari, daglig leder, just logged in: the form, and the change.
    browser.click("form[action='/logout'] button").await;
    browser.login_as(persons::KARI_NORDMANN).await;
    browser.goto(&company_page).await;
    browser.fill("#email", "kontor@nordmannbygg.no").await;
    browser.click("#contact-form button").await;
    browser.find("#changed").await;
    assert_eq!(
        browser.text("#contact-email").await,
        "kontor@nordmannbygg.no"
    );
    assert!(
        browser
            .text("#contact-history")
            .await
            .contains("kontor@nordmannbygg.no")
    );
    browser
        .screenshot("owner-changed-the-contact-details")
        .await;
    assert_eq!(contact().await, "kontor@nordmannbygg.no");

    // A mistyped address: the API's reason, at the form, what was typed kept.
    browser.fill("#email", "not an address").await;
    browser.click("#contact-form button").await;
    browser.find("#contact-refused").await;
    assert_eq!(
        browser
            .find("#email")
            .await
            .prop("value")
            .await
            .expect("the field's value")
            .as_deref(),
        Some("not an address")
    );

    // Once the login is no longer recent: asked to log in again.
    tokio::time::sleep(std::time::Duration::from_millis(6_500)).await;
    browser.fill("#email", "annen@nordmannbygg.no").await;
    browser.click("#contact-form button").await;
    browser.find("#login-again").await;
    browser.screenshot("asked-to-log-in-again").await;
    assert_eq!(contact().await, "kontor@nordmannbygg.no");
    browser.close().await;
}

/// Uploads `file` as the document `kind` of the order's only worker.
async fn upload_in_browser(browser: &Browser, kind: &str, file: &std::path::Path) {
    let form = format!("form.upload[action$='/documents/{kind}']");
    browser
        .find(&format!("{form} input[type='file']"))
        .await
        .send_keys(&file.display().to_string())
        .await
        .expect("choosing the file");
    browser.click(&format!("{form} button")).await;
    let state = browser.text(&format!("tr.{kind} .state")).await;
    assert!(state.starts_with("Lastet opp"), "{kind}: {state}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_journey_is_clicked_through_from_bankid_to_a_redacted_order_and_a_card() {
    let mut env = TestEnv::new();
    env.start_all_with_web().await;
    let web = env.web_url();
    let api = Api::new(&env);
    let mut clients = Clients::connect(&env).await;
    // The files on the person's phone.
    let photo = env.dir().join("photo.jpg");
    let id_copy = env.dir().join("id.png");
    let signature = env.dir().join("signature.png");
    std::fs::write(&photo, fixtures::jpeg_with_exif(90, 120, b"GPS-SECRET")).expect("a photo");
    std::fs::write(&id_copy, fixtures::png(120, 80)).expect("an ID copy");
    std::fs::write(&signature, fixtures::png(200, 60)).expect("a signature");

    // Kari, daglig leder, registers Nordmann Bygg; a company she holds no
    // role in is refused.
    let mut browser = Browser::start("web-whole-journey", 1280, 900).await;
    browser.goto(&web).await;
    browser.login_as(persons::KARI_NORDMANN).await;
    browser.fill("#org_number", orgs::ANNEN_RENHOLD).await;
    browser.fill("#company_name", "Annen Renhold AS").await;
    browser.fill("#email", "post@annen.no").await;
    browser.fill("#phone", "+4791234567").await;
    browser.click("#register button").await;
    browser.find("#register-refused").await;
    browser.fill("#org_number", orgs::NORDMANN_BYGG).await;
    browser.fill("#company_name", "Nordmann Bygg AS").await;
    browser.fill("#email", "post@nordmannbygg.no").await;
    browser.screenshot("register").await;
    browser.click("#register button").await;
    let company_id = browser
        .path()
        .await
        .strip_prefix("/companies/")
        .expect("on the company's page")
        .to_owned();
    assert_eq!(
        browser.text("#company-status").await,
        "Venter på godkjenning"
    );

    // Siri approves it at the desk.
    browser.click("form[action='/logout'] button").await;
    browser.login_as(persons::SIRI_SAKSBEHANDLER).await;
    browser.click("#nav-desk").await;
    browser
        .click(&format!(
            "#company-{} form.approve-company button",
            orgs::NORDMANN_BYGG
        ))
        .await;
    browser.find("#companies-empty").await;
    env.wait_for_standing(&company_id, "approved").await;

    // Kari accepts the data processing agreement and orders a card for
    // Per, with the three documents, and sends it.
    browser.click("form[action='/logout'] button").await;
    browser.login_as(persons::KARI_NORDMANN).await;
    browser.click("a.company").await;
    assert_eq!(browser.text("#company-status").await, "Godkjent");
    browser.click("#accept-agreement button").await;
    env.wait_for_agreement(&company_id).await;
    browser.click("#company-orders").await;
    assert_eq!(
        browser.path().await,
        format!("/companies/{company_id}/orders")
    );
    browser.fill("#name", "Per Ansatt").await;
    browser.fill("#national_id", persons::PER_ANSATT).await;
    browser.fill("#phone", "+4791234567").await;
    browser.screenshot("new-order").await;
    browser.click("#new-order button").await;
    assert_eq!(browser.text("#order-status").await, "Utkast");
    let order_path = browser.path().await;
    let order_id = order_path
        .strip_prefix("/orders/")
        .expect("on the order's page")
        .to_owned();
    assert!(
        !browser.source().await.contains(persons::PER_ANSATT),
        "the number is never shown in full"
    );
    // A colleague added by mistake, and removed again.
    browser.fill("#add-worker #name", "Feil Person").await;
    browser
        .fill("#add-worker #national_id", &fixtures::fodselsnummer())
        .await;
    browser.fill("#add-worker #phone", "+4791234568").await;
    browser.click("#add-worker button").await;
    assert_eq!(browser.find_all("section.record").await, 2);
    browser
        .click("section.record:nth-of-type(2) form.remove-worker button")
        .await;
    assert_eq!(browser.find_all("section.record").await, 1);
    assert!(
        browser
            .text("section.record h2")
            .await
            .starts_with("Per Ansatt")
    );
    upload_in_browser(&browser, "passport_photo", &photo).await;
    upload_in_browser(&browser, "id_document", &id_copy).await;
    upload_in_browser(&browser, "signature", &signature).await;
    browser.click("#submit-order button").await;
    browser.find("#submitted").await;
    assert_eq!(browser.text("#order-status").await, "Til behandling");
    browser.screenshot("order-submitted").await;

    // Siri, the case handler, sends the photo back.
    browser.click("form[action='/logout'] button").await;
    browser.login_as(persons::SIRI_SAKSBEHANDLER).await;
    browser.click("#nav-desk").await;
    browser.click("a.review").await;
    browser.find("figure.passport_photo img").await;
    browser
        .find("figure.passport_photo select")
        .await
        .select_by_value("photo_unclear")
        .await
        .expect("choosing a reason");
    browser
        .fill("figure.passport_photo input[type='text']", "For mørkt")
        .await;
    browser.screenshot("review-sends-the-photo-back").await;
    browser.click("#send-back-button").await;
    browser.find("#queue-empty").await;

    // Kari sees why, uploads a new photo and sends it again.
    browser.click("form[action='/logout'] button").await;
    browser.login_as(persons::KARI_NORDMANN).await;
    browser.goto(&format!("{web}{order_path}")).await;
    assert_eq!(browser.text("#order-status").await, "Må rettes");
    let sent_back = browser.text("tr.passport_photo .state").await;
    assert!(
        sent_back.contains("bildet er uklart") && sent_back.contains("For mørkt"),
        "{sent_back}"
    );
    browser.screenshot("the-company-sees-why").await;
    upload_in_browser(&browser, "passport_photo", &photo).await;
    browser.click("#submit-order button").await;
    browser.find("#submitted").await;

    // Siri approves.
    browser.click("form[action='/logout'] button").await;
    browser.login_as(persons::SIRI_SAKSBEHANDLER).await;
    browser.click("#nav-desk").await;
    browser.click("a.review").await;
    browser.click("#approve button").await;
    browser.find("#queue-empty").await;

    // Approved, printed, forgotten: the receipt, and the card checks out.
    receipt(&mut clients, &order_id, SOON).await;
    browser.click("form[action='/logout'] button").await;
    browser.login_as(persons::KARI_NORDMANN).await;
    browser.goto(&format!("{web}{order_path}")).await;
    assert_eq!(browser.text("#order-status").await, "Godkjent");
    // The signed receipt: the three documents at approval destroyed.
    assert_eq!(browser.text("#receipt .documents-deleted").await, "3");
    browser.screenshot("approved").await;
    let per = api.token(persons::PER_ANSATT).await;
    let card = card_number(&api, &per).await;
    browser.goto(&format!("{web}/check/{card}")).await;
    assert_eq!(browser.text("#verdict").await, "Gyldig");
    assert_eq!(browser.text("#holder").await, "Per Ansatt");
    browser.screenshot("the-card-checks-out").await;

    // The company's view of what happened: the messages it was sent, who
    // processed its workers' data, and the card, which it blocks.
    browser
        .goto(&format!("{web}/companies/{company_id}/notifications"))
        .await;
    browser.find("#notifications").await;
    browser
        .goto(&format!("{web}/companies/{company_id}/access-log"))
        .await;
    let log = browser.text("#access-log").await;
    assert!(log.contains("Dokument lastet opp"), "{log}");
    assert!(log.contains("Fødselsnummer maskert"), "{log}");
    browser.screenshot("the-access-log").await;
    browser
        .goto(&format!("{web}/companies/{company_id}/cards"))
        .await;
    let row = format!("#card-{card}");
    assert_eq!(browser.text(&format!("{row} .status")).await, "Aktivt");
    browser
        .fill(&format!("#reason-{card}"), "Kortet er mistet")
        .await;
    browser.click(&format!("{row} form button")).await;
    assert_eq!(browser.text(&format!("{row} .status")).await, "Sperret");
    browser.screenshot("the-card-blocked").await;
    browser.goto(&format!("{web}/check/{card}")).await;
    assert_eq!(browser.text("#verdict").await, "Ikke gyldig");
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_company_accepts_the_agreement_and_manages_who_has_access_in_a_browser() {
    let mut env = TestEnv::new();
    env.start_all_with_web().await;
    let web = env.web_url();
    let mut clients = Clients::connect(&env).await;
    // Registered and approved; the data processing agreement not accepted.
    let company_id = registered_and_approved_company(&env, &mut clients).await;

    let mut browser = Browser::start("web-agreement-and-access", 1280, 900).await;
    browser.goto(&web).await;
    browser.login_as(persons::KARI_NORDMANN).await;
    browser.click("a.company").await;
    assert!(
        browser
            .text("#agreement-state")
            .await
            .starts_with("Ikke akseptert")
    );
    browser.click("#accept-agreement button").await;
    assert_eq!(browser.text("#agreement-state").await, "Akseptert");
    assert!(!browser.source().await.contains("accept-agreement"));

    // A supplier without a confirmed data processing agreement: refused,
    // and said so at the form.
    browser.click("#company-access").await;
    assert_eq!(
        browser.path().await,
        format!("/companies/{company_id}/access")
    );
    browser
        .tick("input[name='grantee'][value='supplier']")
        .await;
    browser.fill("#org_number", orgs::HMS_LEVERANDOREN).await;
    browser.tick("#scope-cards-order").await;
    browser.click("#grant-form button").await;
    assert!(
        browser
            .text("#access-refused")
            .await
            .contains("processor_agreement")
    );
    assert!(!browser.source().await.contains("class=\"grant "));

    // With it: the grant, with the agreement's reference.
    browser
        .tick("input[name='grantee'][value='supplier']")
        .await;
    browser.fill("#org_number", orgs::HMS_LEVERANDOREN).await;
    browser.tick("#agreement").await;
    browser.fill("#agreement_reference", "DBA-2026-017").await;
    browser.tick("#scope-cards-order").await;
    browser.click("#grant-form button").await;
    let grants = browser.text("#grants").await;
    assert!(
        grants.contains("310200018") && grants.contains("DBA-2026-017"),
        "{grants}"
    );
    assert_eq!(browser.text("tr.grant .state").await, "aktiv");
    browser.screenshot("a-supplier-granted").await;

    // And revoked.
    browser.click("tr.grant.active button.revoke").await;
    assert_eq!(browser.text("tr.grant .state").await, "trukket tilbake");
    browser.screenshot("revoked").await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_accessibility_check_finds_a_page_that_breaks_wcag() {
    // The check the other tests rely on, against a page made to fail it:
    // no language, an image without a text, a field without a label, grey
    // on grey.
    let browser = Browser::start("web-accessibility-check", 800, 600).await;
    browser
        .goto(
            "data:text/html,<title>x</title><img src='x.png'><input type='text'>\
             <p style='color:%23bbb;background:%23ccc'>faint</p>",
        )
        .await;
    let findings = browser.accessibility().await;
    let found = findings.violations.join("\n");
    for rule in ["html-has-lang", "image-alt", "label", "color-contrast"] {
        assert!(found.contains(rule), "{rule} missing from:\n{found}");
    }
    browser.close().await;
}
