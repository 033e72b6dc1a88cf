//! The REST gateway over HTTP only: BankID login for browsers (cookies) and
//! API clients (bearer tokens), companies, problem+json errors, security
//! headers and the OpenAPI document.

use hms_test_support::api::{Call, location};
use hms_test_support::fakes::{orgs, persons};
use hms_test_support::{Answer, Api, TestEnv, eventually, fixtures};
use reqwest::header::{self, HeaderMap, HeaderName};
use reqwest::{Method, StatusCode};
use serde_json::json;

/// Where a browser says a request comes from.
const SEC_FETCH_SITE: HeaderName = HeaderName::from_static("sec-fetch-site");
const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The `Set-Cookie` header for `name`, whole.
fn set_cookie(headers: &HeaderMap, name: &str) -> String {
    headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find(|value| value.starts_with(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} cookie in {headers:?}"))
        .to_owned()
}

/// `name=value` of a `Set-Cookie` header, for a `Cookie` header.
fn pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap_or_default().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_logs_in_with_bankid_and_registers_a_company_over_http() {
    let mut env = TestEnv::new();
    env.start_all().await;
    let api = Api::new(&env);

    // The browser starts at the gateway and is sent to BankID, carrying a
    // cookie that binds the login to it.
    let started = api
        .get("/api/v1/auth/login")
        .expect_answer(StatusCode::SEE_OTHER)
        .await;
    let login_cookie = set_cookie(&started.headers, "hms_login");
    for attribute in ["HttpOnly", "Secure", "SameSite=Lax"] {
        assert!(login_cookie.contains(attribute), "{login_cookie}");
    }
    let back = api
        .bankid(&location(&started.headers), persons::KARI_NORDMANN)
        .await;
    assert!(back.starts_with(&env.redirect_uri()), "{back}");
    let callback = back.strip_prefix(&api.url("")).expect("at the gateway");

    // Back at the gateway without the cookie (another browser): refused.
    api.get(callback)
        .expect_problem(StatusCode::BAD_REQUEST, "invalid-request")
        .await;

    // With it: logged in, session cookies set, on to the web app.
    let logged_in = api
        .get(callback)
        .header(header::COOKIE, &pair(&login_cookie))
        .expect_answer(StatusCode::SEE_OTHER)
        .await;
    let access = set_cookie(&logged_in.headers, "hms_access");
    let refresh = set_cookie(&logged_in.headers, "hms_refresh");
    for cookie in [&access, &refresh] {
        for attribute in ["HttpOnly", "Secure", "SameSite=Strict"] {
            assert!(cookie.contains(attribute), "{cookie}");
        }
    }
    // The whole site: the web front end beside the API renews sessions.
    for cookie in [&access, &refresh] {
        assert!(cookie.contains("Path=/;"), "{cookie}");
    }
    let session = pair(&access);
    // As the browser: with the session cookie, from the web app's own pages
    // (browsers say so in Sec-Fetch-Site).
    let browser = |call: Call| {
        call.header(header::COOKIE, &session)
            .header(SEC_FETCH_SITE, "same-origin")
    };

    let me = api
        .get("/api/v1/me")
        .header(header::COOKIE, &session)
        .expect_answer(StatusCode::OK)
        .await;
    assert_eq!(me.body["name"], "Kari Nordmann");
    assert_eq!(me.body["back_office"], false);
    // Every response carries the security headers and a request id.
    for (name, expected) in [
        (
            "strict-transport-security",
            "max-age=63072000; includeSubDomains",
        ),
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("cache-control", "no-store"),
    ] {
        assert_eq!(me.header(name), Some(expected), "{name}");
    }
    assert!(
        me.header("content-security-policy")
            .is_some_and(|csp| csp.contains("frame-ancestors 'none'"))
    );
    assert!(me.headers.contains_key("x-request-id"));

    // Kari is daglig leder of NORDMANN BYGG AS in the register: she may
    // register it.
    let new_company = fixtures::nordmann_bygg_json();
    // A change made with the cookie must come from the web app's own pages,
    // not from a page elsewhere.
    api.post("/api/v1/companies")
        .header(header::COOKIE, &session)
        .header(SEC_FETCH_SITE, "cross-site")
        .json(new_company.clone())
        .expect_problem(StatusCode::FORBIDDEN, "forbidden")
        .await;
    let company = browser(api.post("/api/v1/companies"))
        .json(new_company.clone())
        .expect(StatusCode::CREATED)
        .await;
    assert_eq!(company["status"], "pending");
    assert_eq!(company["contact"]["email"], "post@nordmannbygg.no");
    let company_id = company["company_id"].as_str().expect("an id").to_owned();
    browser(api.post("/api/v1/companies"))
        .json(new_company.clone())
        .expect_problem(StatusCode::CONFLICT, "conflict")
        .await;

    let fetched = api
        .get(&format!("/api/v1/companies/{company_id}"))
        .header(header::COOKIE, &session)
        .expect(StatusCode::OK)
        .await;
    assert_eq!(fetched["name"], "Nordmann Bygg AS");

    // Bad input is refused by field, as problem+json, quoting nothing.
    for (body, content_type, expected) in [
        (
            json!({"org_number": "123", "name": "X", "contact": {"email": "a@b.no", "phone": "+4791234567"}, "industry": "cleaning"}).to_string(),
            "application/json",
            "org_number",
        ),
        ("{not json".to_owned(), "application/json", "not valid JSON"),
        (
            json!({"org_number": "21869530376", "name": "X"}).to_string(),
            "application/json",
            "missing field",
        ),
        (
            json!({"org_number": orgs::NORDMANN_BYGG, "name": "X", "contact": {"email": "a@b.no", "phone": "+4791234567"}, "industry": "21869530376"}).to_string(),
            "application/json",
            "schema",
        ),
        (new_company.to_string(), "text/plain", "application/json"),
    ] {
        let problem = browser(api.post("/api/v1/companies"))
            .body(content_type, body.into_bytes())
            .expect_problem(StatusCode::BAD_REQUEST, "invalid-request")
            .await;
        let detail = problem.body["detail"].as_str().unwrap_or_default();
        assert!(detail.contains(expected), "{detail}");
        assert!(!detail.contains("21869530376"), "the input is not quoted");
    }

    // The browser refreshes with its cookie: 204 and new cookies, which
    // work; the old refresh cookie is used up.
    let refresh_with = |refresh: &str| {
        api.post("/api/v1/auth/refresh")
            .header(header::COOKIE, &pair(refresh))
            .header(SEC_FETCH_SITE, "same-origin")
    };
    let renewed = refresh_with(&refresh)
        .expect_answer(StatusCode::NO_CONTENT)
        .await;
    let old_refresh = refresh;
    let refresh = set_cookie(&renewed.headers, "hms_refresh");
    let session = pair(&set_cookie(&renewed.headers, "hms_access"));
    assert_ne!(pair(&refresh), pair(&old_refresh));
    api.get("/api/v1/me")
        .header(header::COOKIE, &session)
        .expect(StatusCode::OK)
        .await;
    refresh_with(&old_refresh)
        .expect(StatusCode::UNAUTHORIZED)
        .await;

    // Logging out ends the session everywhere.
    let out = api
        .post("/api/v1/auth/logout")
        .header(header::COOKIE, &format!("{session}; {}", pair(&refresh)))
        .header(SEC_FETCH_SITE, "same-origin")
        .expect_answer(StatusCode::NO_CONTENT)
        .await;
    assert!(set_cookie(&out.headers, "hms_access").contains("Max-Age=0"));
    refresh_with(&refresh)
        .expect_problem(StatusCode::UNAUTHORIZED, "unauthenticated")
        .await;
    api.get("/api/v1/me")
        .header(header::COOKIE, &session)
        .expect(StatusCode::UNAUTHORIZED)
        .await;

    // No token, code or number reached the gateway's log.
    let logs = env.logs();
    assert!(!logs.contains(persons::KARI_NORDMANN));
    let code = reqwest::Url::parse(&back)
        .expect("url")
        .query_pairs()
        .find(|(key, _)| key == "code")
        .map(|(_, value)| value.into_owned())
        .expect("a code");
    assert!(!logs.contains(&code), "the login code was logged");
    assert!(!logs.contains(session.trim_start_matches("hms_access=")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_client_logs_in_with_a_bearer_token_and_sees_nothing_of_other_companies() {
    let mut env = TestEnv::new();
    env.start_all().await;
    let api = Api::new(&env);

    // API clients: the same login, answered in JSON.
    let kari_token = api.token(persons::KARI_NORDMANN).await;
    let company = api
        .post("/api/v1/companies")
        .token(&kari_token)
        .json(fixtures::nordmann_bygg_json())
        .expect(StatusCode::CREATED)
        .await;
    let company_id = company["company_id"].as_str().expect("an id").to_owned();

    // Nils, of another company, cannot register Kari's, and gets the same
    // 404 for her company as for one that does not exist.
    let nils = api.login(persons::NILS_ANNEN).await;
    let nils_token = nils["access_token"].as_str().expect("a token");
    api.post("/api/v1/companies")
        .token(nils_token)
        .json(json!({
            "org_number": orgs::NORDMANN_BYGG,
            "name": "Nordmann Bygg AS",
            "contact": {"email": "nils@annen.no", "phone": "+4791234567"},
            "industry": "construction",
        }))
        .expect_problem(StatusCode::FORBIDDEN, "forbidden")
        .await;
    let mut answers = Vec::new();
    for id in [company_id.clone(), uuid::Uuid::now_v7().to_string()] {
        let problem = api
            .get(&format!("/api/v1/companies/{id}"))
            .token(nils_token)
            .expect_problem(StatusCode::NOT_FOUND, "not-found")
            .await;
        answers.push(problem.body);
    }
    assert_eq!(answers[0], answers[1], "no hint that the company exists");

    // A refresh token gives new tokens once.
    let nils_refresh = nils["refresh_token"].as_str().expect("a token");
    let refresh = || {
        api.post("/api/v1/auth/refresh")
            .json(json!({"refresh_token": nils_refresh}))
    };
    refresh().expect(StatusCode::OK).await;
    refresh().expect(StatusCode::UNAUTHORIZED).await;

    // Without a token, with a bad one, or on no route: problems too.
    for (call, status, kind) in [
        (
            api.get(&format!("/api/v1/companies/{company_id}")),
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
        ),
        (
            api.get("/api/v1/me").token("not-a-token"),
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
        ),
        (
            api.get("/api/v1/nothing-here"),
            StatusCode::NOT_FOUND,
            "not-found",
        ),
    ] {
        call.expect_problem(status, kind).await;
    }

    // A wrong method, a body over the JSON limit, and a request id that is
    // not one.
    api.call(Method::PATCH, "/api/v1/me")
        .token(&kari_token)
        .expect_problem(StatusCode::METHOD_NOT_ALLOWED, "method-not-allowed")
        .await;
    api.post("/api/v1/companies")
        .token(&kari_token)
        .json(json!({"name": "x".repeat(70_000)}))
        .expect_problem(StatusCode::PAYLOAD_TOO_LARGE, "payload-too-large")
        .await;
    let answer = api
        .get("/api/openapi.json")
        .header(X_REQUEST_ID, "<script>alert(1)</script>")
        .send()
        .await;
    let request_id = answer.header(X_REQUEST_ID).expect("a request id");
    assert!(uuid::Uuid::parse_str(request_id).is_ok(), "{request_id}");

    // The OpenAPI document and its page are served.
    let document = api.get("/api/openapi.json").expect(StatusCode::OK).await;
    assert!(
        document["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1"))
    );
    for path in [
        "/api/openapi.json",
        "/api/docs",
        "/api/v1/auth/login",
        "/api/v1/auth/callback",
        "/api/v1/auth/token",
        "/api/v1/me",
        "/api/v1/companies",
        "/api/v1/companies/{company_id}",
    ] {
        assert!(document["paths"][path].is_object(), "{path} is documented");
    }
    assert!(document["components"]["schemas"]["Problem"].is_object());
    // The page is HTML, not JSON.
    let page = api
        .http()
        .get(api.url("/api/docs"))
        .send()
        .await
        .expect("docs");
    assert_eq!(page.status(), StatusCode::OK);
    assert!(
        page.text()
            .await
            .expect("html")
            .contains("/api/v1/companies")
    );
}

/// Kari registers NORDMANN BYGG AS over HTTP and Siri of the back office
/// approves it; returns its id once orders and media know.
async fn approved_company_over_http(env: &TestEnv, api: &Api, kari: &str, siri: &str) -> String {
    let company = api
        .post("/api/v1/companies")
        .token(kari)
        .json(fixtures::nordmann_bygg_json())
        .expect(StatusCode::CREATED)
        .await;
    let company_id = company["company_id"].as_str().expect("an id").to_owned();
    api.post(&format!(
        "/api/v1/backoffice/companies/{company_id}/approve"
    ))
    .token(siri)
    .expect(StatusCode::OK)
    .await;
    env.wait_for_standing(&company_id, "approved").await;
    api.accept_agreement(kari, &company_id).await;
    env.wait_for_agreement(&company_id).await;
    company_id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_access_contact_and_the_back_office_over_http() {
    let mut env = TestEnv::new();
    env.start_all().await;
    let api = Api::new(&env);
    let kari = api.token(persons::KARI_NORDMANN).await;
    let siri = api.token(persons::SIRI_SAKSBEHANDLER).await;
    let nils = api.token(persons::NILS_ANNEN).await;

    let company = api
        .post("/api/v1/companies")
        .token(&kari)
        .json(fixtures::nordmann_bygg_json())
        .expect(StatusCode::CREATED)
        .await;
    let company_id = company["company_id"].as_str().expect("an id").to_owned();

    // The back office's queue holds it; only the back office sees the queue.
    let queue = api
        .get("/api/v1/backoffice/companies?status=pending")
        .token(&siri)
        .expect(StatusCode::OK)
        .await;
    assert!(
        queue["companies"]
            .as_array()
            .expect("a list")
            .iter()
            .any(|c| c["company_id"] == company_id.as_str())
    );
    api.get("/api/v1/backoffice/companies")
        .token(&kari)
        .expect_problem(StatusCode::FORBIDDEN, "forbidden")
        .await;
    api.get("/api/v1/backoffice/companies?status=nonsense")
        .token(&siri)
        .expect_problem(StatusCode::BAD_REQUEST, "invalid-request")
        .await;
    let approved = api
        .post(&format!(
            "/api/v1/backoffice/companies/{company_id}/approve"
        ))
        .token(&siri)
        .expect(StatusCode::OK)
        .await;
    assert_eq!(approved["status"], "approved");
    env.wait_for_standing(&company_id, "approved").await;

    // Approved, but no order before the data processing agreement is
    // accepted for the company.
    let one = json!({"workers": [
        {"name": "Ola Arbeider", "national_id": hms_test_support::fixtures::fodselsnummer(), "phone": "+4798765432", "card_type": "construction"},
    ]});
    let refused = api
        .post(&format!("/api/v1/companies/{company_id}/orders"))
        .token(&kari)
        .header(IDEMPOTENCY_KEY, "order-before-agreement")
        .json(one)
        .expect_problem(StatusCode::CONFLICT, "precondition-failed")
        .await;
    assert!(
        refused.body["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("data processing agreement"),
        "{}",
        refused.body
    );
    let agreement = api
        .get(&format!("/api/v1/companies/{company_id}/agreement"))
        .token(&kari)
        .expect(StatusCode::OK)
        .await;
    assert_eq!(agreement["current_accepted"], false);
    assert!(
        agreement["current"]["text"]
            .as_str()
            .unwrap_or_default()
            .starts_with("# Databehandleravtale")
    );
    api.get(&format!("/api/v1/companies/{company_id}/agreement"))
        .token(&nils)
        .expect_problem(StatusCode::NOT_FOUND, "not-found")
        .await;
    let version = api.accept_agreement(&kari, &company_id).await;
    let agreement = api
        .get(&format!("/api/v1/companies/{company_id}/agreement"))
        .token(&kari)
        .expect(StatusCode::OK)
        .await;
    assert_eq!(agreement["current_accepted"], true);
    assert_eq!(agreement["acceptances"][0]["version"], version);
    assert_eq!(
        agreement["acceptances"][0]["sha256"],
        agreement["current"]["sha256"]
    );
    env.wait_for_agreement(&company_id).await;

    // A construction company orders construction cards only.
    let mixed = json!({"workers": [
        {"name": "Kari Arbeider", "national_id": hms_test_support::fixtures::fodselsnummer(), "phone": "+4798765433", "card_type": "cleaning"},
    ]});
    let problem = api
        .post(&format!("/api/v1/companies/{company_id}/orders"))
        .token(&kari)
        .header(IDEMPOTENCY_KEY, "order-0")
        .json(mixed)
        .expect_problem(StatusCode::BAD_REQUEST, "invalid-request")
        .await;
    assert!(
        problem.body["detail"]
            .as_str()
            .unwrap_or_default()
            .starts_with("workers.card_type: a construction company orders construction cards")
    );

    // An order for two workers, created once however often it is sent.
    let workers = json!({"workers": [
        {"name": "Ola Arbeider", "national_id": hms_test_support::fixtures::fodselsnummer(), "phone": "+4798765432", "card_type": "construction"},
        {"name": "Kari Arbeider", "national_id": hms_test_support::fixtures::fodselsnummer(), "phone": "+4798765433", "card_type": "construction"},
    ]});
    let create = || {
        api.post(&format!("/api/v1/companies/{company_id}/orders"))
            .token(&kari)
            .json(workers.clone())
    };
    let problem = create()
        .expect_problem(StatusCode::BAD_REQUEST, "invalid-request")
        .await;
    assert!(
        problem.body["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("Idempotency-Key")
    );
    let order = create()
        .header(IDEMPOTENCY_KEY, "order-1")
        .expect(StatusCode::CREATED)
        .await;
    let again = create()
        .header(IDEMPOTENCY_KEY, "order-1")
        .expect(StatusCode::CREATED)
        .await;
    assert_eq!(again["order_id"], order["order_id"], "the same order");
    let order_id = order["order_id"].as_str().expect("an id").to_owned();
    assert_eq!(order["status"], "draft");
    assert_eq!(order["price"]["gross_ore"], 33225, "2 cards: 332.25 NOK");
    for worker in order["workers"].as_array().expect("workers") {
        assert!(
            worker["national_id_masked"]
                .as_str()
                .expect("masked")
                .ends_with("*****")
        );
    }
    let body = order.to_string();
    for worker in workers["workers"].as_array().expect("workers") {
        let number = worker["national_id"].as_str().expect("a number");
        assert!(!body.contains(number), "the number comes back masked only");
    }

    let added = api
        .post(&format!("/api/v1/orders/{order_id}/workers"))
        .token(&kari)
        .json(json!(
            {"name": "Per Arbeider", "national_id": hms_test_support::fixtures::fodselsnummer(), "phone": "+4798765434", "card_type": "construction"}
        ))
        .expect(StatusCode::CREATED)
        .await;
    assert_eq!(added["order"]["workers"].as_array().map(Vec::len), Some(3));
    api.post(&format!("/api/v1/orders/{order_id}/submit"))
        .token(&kari)
        .expect_problem(StatusCode::CONFLICT, "precondition-failed")
        .await;
    let listed = api
        .get(&format!(
            "/api/v1/companies/{company_id}/orders?status=draft"
        ))
        .token(&kari)
        .expect(StatusCode::OK)
        .await;
    assert_eq!(listed["orders"].as_array().map(Vec::len), Some(1));

    // Another company's person sees neither the order nor the company.
    for path in [
        format!("/api/v1/orders/{order_id}"),
        format!("/api/v1/companies/{company_id}/orders"),
        format!("/api/v1/companies/{company_id}/access"),
    ] {
        api.get(&path)
            .token(&nils)
            .expect_problem(StatusCode::NOT_FOUND, "not-found")
            .await;
    }

    // Contact details and their history; access granted and listed.
    api.put(&format!("/api/v1/companies/{company_id}/contact"))
        .token(&kari)
        .json(json!(
            {"email": "kontor@nordmannbygg.no", "phone": "+4722334455"}
        ))
        .expect(StatusCode::OK)
        .await;
    let history = api
        .get(&format!("/api/v1/companies/{company_id}/contact/history"))
        .token(&kari)
        .expect(StatusCode::OK)
        .await;
    assert_eq!(history[0]["new_contact"]["email"], "kontor@nordmannbygg.no");
    assert_eq!(history[0]["old_contact"]["email"], "post@nordmannbygg.no");
    // A supplier only once the company confirms the processing agreement.
    api.post(&format!("/api/v1/companies/{company_id}/access"))
        .token(&kari)
        .json(json!(
            {"grantee": {"type": "supplier", "org_number": orgs::HMS_LEVERANDOREN,
                         "processor_agreement": {"in_place": false}}, "scopes": ["cards:order"]}
        ))
        .expect_problem(StatusCode::BAD_REQUEST, "invalid-request")
        .await;
    let granted = api
        .post(&format!("/api/v1/companies/{company_id}/access"))
        .token(&kari)
        .json(json!(
            {"grantee": {"type": "supplier", "org_number": orgs::HMS_LEVERANDOREN,
                         "processor_agreement": {"in_place": true, "reference": "DBA-7"}},
             "scopes": ["cards:order"]}
        ))
        .expect(StatusCode::CREATED)
        .await;
    assert_eq!(granted["grantee"]["type"], "supplier");
    assert_eq!(granted["processor_agreement"]["reference"], "DBA-7");
    assert!(granted["processor_agreement"]["confirmed_at"].is_string());
    let access = api
        .get(&format!("/api/v1/companies/{company_id}/access"))
        .token(&kari)
        .expect(StatusCode::OK)
        .await;
    assert_eq!(access["grants"][0]["grant_id"], granted["grant_id"]);
    assert_eq!(access["grants"][0]["state"], "active");
    let grant_id = granted["grant_id"].as_str().expect("an id");
    let revoked = api
        .delete(&format!("/api/v1/grants/{grant_id}"))
        .token(&kari)
        .expect(StatusCode::OK)
        .await;
    assert_eq!(revoked["state"], "revoked");

    // The messages about all this, as the company and the back office see
    // them; another company's person sees none of them.
    let told = eventually(
        "the contact change to be told",
        std::time::Duration::from_secs(30),
        || async {
            let page = api
                .get(&format!(
                    "/api/v1/companies/{company_id}/notifications?status=sent"
                ))
                .token(&kari)
                .expect(StatusCode::OK)
                .await;
            let contact_changed = page["notifications"]
                .as_array()?
                .iter()
                .filter(|n| n["kind"] == "contact_changed")
                .count();
            (contact_changed == 4).then_some(page)
        },
    )
    .await;
    let email = told["notifications"]
        .as_array()
        .and_then(|all| {
            all.iter()
                .find(|n| n["kind"] == "contact_changed" && n["channel"] == "email")
        })
        .expect("an email");
    assert_eq!(email["status"], "sent");
    assert_eq!(email["language"], "nb");
    assert!(
        email["body"]
            .as_str()
            .is_some_and(|body| body.contains("Kari Nordmann"))
    );
    let failed = api
        .get("/api/v1/backoffice/notifications?status=failed")
        .token(&siri)
        .expect(StatusCode::OK)
        .await;
    assert_eq!(failed["notifications"].as_array().map(Vec::len), Some(0));
    api.get(&format!("/api/v1/companies/{company_id}/notifications"))
        .token(&nils)
        .expect_problem(StatusCode::NOT_FOUND, "not-found")
        .await;
    api.get("/api/v1/backoffice/notifications")
        .token(&kari)
        .expect_problem(StatusCode::FORBIDDEN, "forbidden")
        .await;

    // The document is complete for these routes.
    let document = api.get("/api/openapi.json").send().await.body;
    for path in [
        "/api/v1/companies/{company_id}/orders",
        "/api/v1/orders/{order_id}/workers",
        "/api/v1/orders/{order_id}/submit",
        "/api/v1/companies/{company_id}/access",
        "/api/v1/grants/{grant_id}",
        "/api/v1/backoffice/orders/{order_id}/approve",
        "/api/v1/backoffice/companies/{company_id}/reject",
        "/api/v1/companies/{company_id}/notifications",
        "/api/v1/backoffice/notifications",
    ] {
        assert!(document["paths"][path].is_object(), "{path} is documented");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_journey_over_http_ends_with_the_personal_data_deleted() {
    let mut env = TestEnv::new();
    env.start_all().await;
    let api = Api::new(&env);
    let kari = api.token(persons::KARI_NORDMANN).await;
    let siri = api.token(persons::SIRI_SAKSBEHANDLER).await;
    let nils = api.token(persons::NILS_ANNEN).await;

    // Kari registers her company; the back office approves it.
    let company_id = approved_company_over_http(&env, &api, &kari, &siri).await;

    // Two cards.
    let numbers = [fixtures::fodselsnummer(), fixtures::fodselsnummer()];
    let order = api
        .post(&format!("/api/v1/companies/{company_id}/orders"))
        .token(&kari)
        .header(IDEMPOTENCY_KEY, "journey-1")
        .json(json!({"workers": [
            {"name": "Ola Arbeider", "national_id": numbers[0], "phone": "+4798765432", "card_type": "construction"},
            {"name": "Kari Arbeider", "national_id": numbers[1], "phone": "+4798765433", "card_type": "construction"},
        ]}))
        .expect(StatusCode::CREATED)
        .await;
    let order_id = order["order_id"].as_str().expect("an id").to_owned();
    let workers: Vec<String> = order["workers"]
        .as_array()
        .expect("workers")
        .iter()
        .map(|worker| worker["worker_id"].as_str().expect("an id").to_owned())
        .collect();

    let upload = |token: &str, worker: &str, kind: &str, bytes: Vec<u8>| {
        api.put(&format!(
            "/api/v1/orders/{order_id}/workers/{worker}/documents/{kind}"
        ))
        .token(token)
        .body("application/octet-stream", bytes)
    };

    // Someone of another company cannot put documents on this order, and
    // learns nothing about it.
    upload(&nils, &workers[0], "signature", fixtures::png(200, 60))
        .expect_problem(StatusCode::NOT_FOUND, "not-found")
        .await;

    // A file declared above the limit is refused before any of it is
    // read: only the request's head is sent here, and the answer comes.
    // (A client sending the whole body may find the connection closed
    // under it instead of reading the answer.)
    let head = format!(
        "PUT /api/v1/orders/{order_id}/workers/{}/documents/passport_photo HTTP/1.1\r\n\
         Host: gateway\r\nAuthorization: Bearer {kari}\r\n\
         Content-Type: application/octet-stream\r\nContent-Length: {}\r\n\r\n",
        workers[0],
        11 * 1024 * 1024
    );
    let answer = raw_http(&env.gateway_url(), head.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("/problems/payload-too-large"), "{answer}");
    upload(&kari, &workers[0], "selfie", fixtures::png(10, 10))
        .expect_problem(StatusCode::BAD_REQUEST, "invalid-request")
        .await;

    // Three documents per worker.
    for worker in &workers {
        for (kind, bytes) in [
            (
                "passport_photo",
                fixtures::jpeg_with_exif(90, 120, b"GPS-SECRET-MARKER"),
            ),
            ("id_document", fixtures::png(160, 100)),
            ("signature", fixtures::png(200, 60)),
        ] {
            let document = upload(&kari, worker, kind, bytes)
                .expect(StatusCode::CREATED)
                .await;
            assert_eq!(document["kind"], kind);
        }
    }
    let documents = api
        .get(&format!("/api/v1/orders/{order_id}/documents"))
        .token(&kari)
        .expect(StatusCode::OK)
        .await;
    assert_eq!(documents.as_array().map(Vec::len), Some(6));

    // The back office reads a photo back: re-encoded, without its EXIF.
    let photo = documents
        .as_array()
        .expect("documents")
        .iter()
        .find(|d| d["kind"] == "passport_photo")
        .and_then(|d| d["document_id"].as_str())
        .expect("a photo")
        .to_owned();
    let download = format!("/api/v1/documents/{photo}");
    // The file itself, not JSON.
    let fetched = api
        .http()
        .get(api.url(&download))
        .bearer_auth(&siri)
        .send()
        .await
        .expect("download");
    if fetched.status() != StatusCode::OK {
        let refused = Answer::of(fetched).await;
        panic!("download refused: {} {}", refused.status, refused.body);
    }
    assert_eq!(
        fetched
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok()),
        Some("image/jpeg")
    );
    let bytes = fetched.bytes().await.expect("the file");
    assert!(bytes.starts_with(&[0xFF, 0xD8]), "a JPEG");
    assert!(!bytes.windows(17).any(|w| w == b"GPS-SECRET-MARKER"));
    // Only the back office reads documents back.
    api.get(&download)
        .token(&kari)
        .expect_problem(StatusCode::FORBIDDEN, "forbidden")
        .await;
    api.get(&download)
        .token(&nils)
        .expect(StatusCode::NOT_FOUND)
        .await;

    // Submitted; the back office approves.
    let submitted = api
        .post(&format!("/api/v1/orders/{order_id}/submit"))
        .token(&kari)
        .expect(StatusCode::OK)
        .await;
    assert_eq!(submitted["status"], "submitted");
    let queue = api
        .get("/api/v1/backoffice/orders?status=submitted")
        .token(&siri)
        .expect(StatusCode::OK)
        .await;
    assert!(
        queue["orders"]
            .as_array()
            .expect("orders")
            .iter()
            .any(|o| o["order_id"] == order_id.as_str())
    );
    let approved = api
        .post(&format!("/api/v1/backoffice/orders/{order_id}/approve"))
        .token(&siri)
        .expect(StatusCode::OK)
        .await;
    assert_eq!(approved["status"], "approved");

    // Then the order shows its personal data deleted: numbers masked, no
    // documents.
    let order_path = format!("/api/v1/orders/{order_id}");
    let deleted = hms_test_support::eventually(
        "the order's personal data to be deleted",
        crate::common::SOON,
        || async {
            let order = api.get(&order_path).token(&kari).send().await.body;
            order["national_ids_masked_at"].is_string().then_some(order)
        },
    )
    .await;
    for (worker, number) in deleted["workers"]
        .as_array()
        .expect("workers")
        .iter()
        .zip(&numbers)
    {
        assert_eq!(
            worker["national_id_masked"],
            format!("{}*****", &number[..6])
        );
    }
    // The documents follow once the card producer has the print material.
    eventually("no documents to remain", crate::common::SOON, || async {
        let documents = api
            .get(&format!("/api/v1/orders/{order_id}/documents"))
            .token(&kari)
            .expect(StatusCode::OK)
            .await;
        (documents == json!([])).then_some(())
    })
    .await;
    let logs = env.logs();
    for number in &numbers {
        assert!(!logs.contains(number.as_str()), "a national id was logged");
    }
}

/// A 429 says when to come back: a `Retry-After` in seconds, and a
/// sensible wait.
async fn assert_rate_limited(call: Call) {
    let problem = call
        .expect_problem(StatusCode::TOO_MANY_REQUESTS, "rate-limited")
        .await;
    let retry_after: u64 = problem
        .header(header::RETRY_AFTER)
        .and_then(|v| v.parse().ok())
        .expect("Retry-After in seconds");
    assert!((1..=60).contains(&retry_after), "{retry_after}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_gets_twenty_requests_and_logins_ten() {
    let mut env = TestEnv::new();
    // The gateway's own bursts (20 at once, 10 logins at once), refilled
    // only once a minute here, so that the burst alone decides.
    for setting in ["HMS_RATE_LIMIT_BURST", "HMS_RATE_LIMIT_LOGIN_BURST"] {
        env.unset(setting);
    }
    for setting in [
        "HMS_RATE_LIMIT_PER_CLIENT",
        "HMS_RATE_LIMIT_PER_USER",
        "HMS_RATE_LIMIT_LOGIN_PER_CLIENT",
    ] {
        env.set(setting, "1");
    }
    // Each phase below comes from an address of its own.
    env.set("HMS_CLIENT_IP_HEADER", "x-forwarded-for");
    env.start_all().await;
    let api = Api::new(&env);
    let kari = api.token(persons::KARI_NORDMANN).await;
    let nils = api.token(persons::NILS_ANNEN).await;

    // From one address: twenty at once pass, the 21st is refused and says
    // when to come back.
    let openapi = || {
        api.get("/api/openapi.json")
            .header(X_FORWARDED_FOR, "192.0.2.1")
    };
    for request in 1..=20 {
        let answer = openapi().send().await;
        assert_eq!(answer.status, StatusCode::OK, "request {request}");
    }
    assert_rate_limited(openapi()).await;

    // Starting a login writes a pending login: ten at once, then 429.
    let login = || {
        api.post("/api/v1/auth/login")
            .header(X_FORWARDED_FOR, "192.0.2.2")
    };
    for request in 1..=10 {
        let answer = login().send().await;
        assert_eq!(answer.status, StatusCode::OK, "login {request}");
    }
    assert_rate_limited(login()).await;

    // One person, wherever they call from: twenty at once, then 429;
    // someone else is not affected.
    let me = |token: &str, address: &str| {
        api.get("/api/v1/me")
            .token(token)
            .header(X_FORWARDED_FOR, address)
    };
    for request in 1..=20 {
        let answer = me(&kari, &format!("192.0.2.{}", 10 + request)).send().await;
        assert_eq!(answer.status, StatusCode::OK, "request {request}");
    }
    assert_rate_limited(me(&kari, "192.0.2.40")).await;
    me(&nils, "192.0.2.41").expect(StatusCode::OK).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logging_out_with_a_bearer_token_ends_the_session_and_refusals_are_logged() {
    let mut env = TestEnv::new();
    env.start_all().await;
    let api = Api::new(&env);
    let session = api.login(persons::KARI_NORDMANN).await;
    let access = session["access_token"].as_str().expect("a token");
    let refresh = session["refresh_token"].as_str().expect("a token");
    let me = || api.get("/api/v1/me").token(access);
    me().expect(StatusCode::OK).await;

    // A logout that names no session is refused, not reported as done.
    let logout = || api.post("/api/v1/auth/logout");
    logout()
        .expect_problem(StatusCode::UNAUTHORIZED, "unauthenticated")
        .await;
    logout()
        .json(json!({"refresh_token": "not-a-refresh-token"}))
        .expect(StatusCode::UNAUTHORIZED)
        .await;
    me().expect(StatusCode::OK).await;

    // The bearer token alone ends its session: the access token stops
    // working at once, and the refresh token keeps nothing alive.
    logout().token(access).expect(StatusCode::NO_CONTENT).await;
    me().expect_problem(StatusCode::UNAUTHORIZED, "unauthenticated")
        .await;
    api.post("/api/v1/auth/refresh")
        .json(json!({"refresh_token": refresh}))
        .expect(StatusCode::UNAUTHORIZED)
        .await;

    // Every refusal left a line in the gateway's log: method, route
    // pattern, status, request id; never the token.
    let refusals: Vec<String> = env
        .logs()
        .lines()
        .filter(|line| line.contains("request refused") && line.contains("status=401"))
        .map(str::to_owned)
        .collect();
    assert!(
        refusals
            .iter()
            .any(|line| line.contains("GET /api/v1/me") && line.contains("request_id")),
        "{refusals:#?}"
    );
    assert!(
        refusals
            .iter()
            .any(|line| line.contains("POST /api/v1/auth/logout")),
        "{refusals:#?}"
    );
    let logs = env.logs();
    assert!(!logs.contains(access), "an access token was logged");
    assert!(!logs.contains(refresh), "a refresh token was logged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_without_a_length_is_cut_at_the_limit_and_cors_allows_only_its_origins() {
    use hms_test_support::ServiceName;

    let mut env = TestEnv::new();
    env.set("HMS_CORS_ORIGINS", "https://bestill.hms-kort.no");
    env.set("HMS_MAX_UPLOAD_BYTES", "1048576");
    env.start_all().await;
    let api = Api::new(&env);

    // Browsers may call from the configured origin only.
    let preflight = |origin: &str| {
        api.call(Method::OPTIONS, "/api/v1/me")
            .header(header::ORIGIN, origin)
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, "GET")
            .header(header::ACCESS_CONTROL_REQUEST_HEADERS, "authorization")
            .send()
    };
    let allowed = preflight("https://bestill.hms-kort.no").await;
    assert_eq!(
        allowed.header(header::ACCESS_CONTROL_ALLOW_ORIGIN),
        Some("https://bestill.hms-kort.no")
    );
    assert_eq!(
        allowed.header(header::ACCESS_CONTROL_ALLOW_CREDENTIALS),
        Some("true")
    );
    let other = preflight("https://evil.example").await;
    assert!(
        !other
            .headers
            .contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN)
    );

    // A company with a draft order to upload to.
    let kari = api.token(persons::KARI_NORDMANN).await;
    let siri = api.token(persons::SIRI_SAKSBEHANDLER).await;
    let company_id = approved_company_over_http(&env, &api, &kari, &siri).await;
    let order = api
        .post(&format!("/api/v1/companies/{company_id}/orders"))
        .token(&kari)
        .header(IDEMPOTENCY_KEY, "cut")
        .json(json!({"workers": [{"name": "Ola Arbeider", "national_id": fixtures::fodselsnummer(), "phone": "+4798765432", "card_type": "construction"}]}))
        .send()
        .await
        .body;
    let order_id = order["order_id"].as_str().expect("an id").to_owned();
    let worker_id = order["workers"][0]["worker_id"]
        .as_str()
        .expect("a worker")
        .to_owned();

    // A valid photo followed by more than the limit, sent in pieces with no
    // length announced: the gateway counts, stops, and media keeps nothing.
    let photo_url = api.url(&format!(
        "/api/v1/orders/{order_id}/workers/{worker_id}/documents/passport_photo"
    ));
    let in_pieces = |bytes: &[u8], size: usize| {
        let pieces: Vec<Result<Vec<u8>, std::io::Error>> =
            bytes.chunks(size).map(|piece| Ok(piece.to_vec())).collect();
        reqwest::Body::wrap_stream(futures::stream::iter(pieces))
    };
    let mut bytes = fixtures::jpeg_with_exif(90, 120, b"marker");
    bytes.resize(3 * 1024 * 1024, 0);
    let cut = api
        .http()
        .put(&photo_url)
        .bearer_auth(&kari)
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .body(in_pieces(&bytes, 64 * 1024))
        .send()
        .await
        .expect("the gateway answers");
    let cut = Answer::of(cut).await;
    assert_eq!(cut.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", cut.body);
    cut.assert_problem("payload-too-large");
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let media = env.db(ServiceName::Media).await;
    let stored: i64 = sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM documents) + (SELECT count(*) FROM document_keys)",
    )
    .fetch_one(&media)
    .await
    .expect("count");
    assert_eq!(stored, 0, "nothing of the cut upload was kept");
    assert!(
        crate::common::files_below(&env.objects_dir()).is_empty(),
        "no object was written"
    );

    // Within the limit, the same way, it goes through.
    let photo = fixtures::jpeg_with_exif(90, 120, b"marker");
    let response = api
        .http()
        .put(&photo_url)
        .bearer_auth(&kari)
        .body(in_pieces(&photo, 1024))
        .send()
        .await
        .expect("upload");
    assert_eq!(response.status(), StatusCode::CREATED);
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM documents")
        .fetch_one(&media)
        .await
        .expect("count");
    assert_eq!(stored, 1, "only the upload that finished is kept");
}

/// Writes `request` to the gateway on a connection of its own and reads
/// what comes back until the server closes it or stops answering.
async fn raw_http(base: &str, request: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connect to the gateway");
    stream.write_all(request).await.expect("send the request");
    let mut answer = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match tokio::time::timeout(std::time::Duration::from_secs(5), stream.read(&mut chunk)).await
        {
            Ok(Ok(0)) | Err(_) | Ok(Err(_)) => break,
            Ok(Ok(read)) => {
                answer.extend_from_slice(&chunk[..read]);
                // The whole problem document is in: done.
                if answer.ends_with(b"}") {
                    break;
                }
            }
        }
    }
    String::from_utf8_lossy(&answer).into_owned()
}
