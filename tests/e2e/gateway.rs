//! The REST gateway over HTTP only: BankID login for browsers (cookies) and
//! API clients (bearer tokens), companies, problem+json errors, security
//! headers and the OpenAPI document.

use hms_test_support::TestEnv;
use hms_test_support::fakes::{orgs, persons};
use reqwest::StatusCode;
use reqwest::header::{self, HeaderMap};
use serde_json::{Value, json};

/// A client that sees every redirect instead of following it, and keeps no
/// cookies of its own: the test hands them on the way a browser would.
fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("an HTTP client")
}

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

fn location(headers: &HeaderMap) -> String {
    headers
        .get(header::LOCATION)
        .and_then(|value| value.to_str().ok())
        .expect("a redirect")
        .to_owned()
}

/// Lets the simulator log `national_id` in at `authorization_url`; returns
/// where it sends the browser back.
async fn bankid(http: &reqwest::Client, authorization_url: &str, national_id: &str) -> String {
    let mut url = reqwest::Url::parse(authorization_url).expect("an authorization URL");
    url.query_pairs_mut().append_pair("login_hint", national_id);
    let response = http.get(url).send().await.expect("the simulator answers");
    assert!(response.status().is_redirection(), "{}", response.status());
    location(response.headers())
}

/// Sends `request` and reads the answer as [`json_of`] does.
async fn send(request: reqwest::RequestBuilder) -> (StatusCode, HeaderMap, Value) {
    json_of(request.send().await.expect("a response")).await
}

async fn json_of(response: reqwest::Response) -> (StatusCode, HeaderMap, Value) {
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.expect("a body");
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, headers, body)
}

/// An API client's login, for its access token.
async fn api_token(http: &reqwest::Client, api: &str, national_id: &str) -> String {
    api_login(http, api, national_id).await["access_token"]
        .as_str()
        .expect("a token")
        .to_owned()
}

/// An API client's login: JSON in, JSON out, the browser part at the
/// simulator; returns the session (tokens).
async fn api_login(http: &reqwest::Client, api: &str, national_id: &str) -> Value {
    let (status, _, started) = send(http.post(format!("{api}/api/v1/auth/login"))).await;
    assert_eq!(status, StatusCode::OK, "{started}");
    let back = bankid(
        http,
        started["authorization_url"].as_str().expect("a URL"),
        national_id,
    )
    .await;
    let back = reqwest::Url::parse(&back).expect("url");
    let query = |name: &str| {
        back.query_pairs()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.into_owned())
            .expect("a parameter")
    };
    assert_eq!(query("state"), started["state"]);
    let (status, _, tokens) = send(
        http.post(format!("{api}/api/v1/auth/token"))
            .json(&json!({"state": query("state"), "code": query("code")})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    tokens
}

fn assert_problem(headers: &HeaderMap, body: &Value, status: StatusCode, kind: &str) {
    assert_eq!(
        headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok()),
        Some("application/problem+json"),
        "{body}"
    );
    assert_eq!(body["type"], format!("/problems/{kind}"), "{body}");
    assert_eq!(body["status"], status.as_u16(), "{body}");
    assert!(
        body["title"].is_string() && body["detail"].is_string(),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_logs_in_with_bankid_and_registers_a_company_over_http() {
    let mut env = TestEnv::new();
    env.start_all().await;
    let http = http();
    let api = env.gateway_url();

    // The browser starts at the gateway and is sent to BankID, carrying a
    // cookie that binds the login to it.
    let started = http
        .get(format!("{api}/api/v1/auth/login"))
        .send()
        .await
        .expect("login");
    assert_eq!(started.status(), StatusCode::SEE_OTHER);
    let login_cookie = set_cookie(started.headers(), "hms_login");
    for attribute in ["HttpOnly", "Secure", "SameSite=Lax"] {
        assert!(login_cookie.contains(attribute), "{login_cookie}");
    }
    let back = bankid(&http, &location(started.headers()), persons::KARI_NORDMANN).await;
    assert!(back.starts_with(&env.redirect_uri()), "{back}");

    // Back at the gateway without the cookie (another browser): refused.
    let stolen = http.get(&back).send().await.expect("callback");
    let (status, headers, body) = json_of(stolen).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_problem(&headers, &body, status, "invalid-request");

    // With it: logged in, session cookies set, on to the web app.
    let logged_in = http
        .get(&back)
        .header(header::COOKIE, pair(&login_cookie))
        .send()
        .await
        .expect("callback");
    assert_eq!(logged_in.status(), StatusCode::SEE_OTHER);
    let access = set_cookie(logged_in.headers(), "hms_access");
    let refresh = set_cookie(logged_in.headers(), "hms_refresh");
    for cookie in [&access, &refresh] {
        for attribute in ["HttpOnly", "Secure", "SameSite=Strict"] {
            assert!(cookie.contains(attribute), "{cookie}");
        }
    }
    assert!(refresh.contains("Path=/api/v1/auth"), "{refresh}");
    let session = pair(&access);

    let (status, headers, me) = send(
        http.get(format!("{api}/api/v1/me"))
            .header(header::COOKIE, &session),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["name"], "Kari Nordmann");
    assert_eq!(me["back_office"], false);
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
        assert_eq!(
            headers.get(name).and_then(|v| v.to_str().ok()),
            Some(expected),
            "{name}"
        );
    }
    assert!(
        headers
            .get("content-security-policy")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|csp| csp.contains("frame-ancestors 'none'"))
    );
    assert!(headers.contains_key("x-request-id"));

    // Kari is daglig leder of NORDMANN BYGG AS in the register: she may
    // register it.
    let new_company = json!({
        "org_number": orgs::NORDMANN_BYGG,
        "name": "Nordmann Bygg AS",
        "contact": {"email": "post@nordmannbygg.no", "phone": "+4791234567"},
        "industry": "construction",
    });
    // A change made with the cookie must come from the web app's own pages
    // (browsers say so in Sec-Fetch-Site), not from a page elsewhere.
    let (status, headers, problem) = send(
        http.post(format!("{api}/api/v1/companies"))
            .header(header::COOKIE, &session)
            .header("sec-fetch-site", "cross-site")
            .json(&new_company),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{problem}");
    assert_problem(&headers, &problem, status, "forbidden");
    let (status, _, company) = send(
        http.post(format!("{api}/api/v1/companies"))
            .header(header::COOKIE, &session)
            .header("sec-fetch-site", "same-origin")
            .json(&new_company),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{company}");
    assert_eq!(company["status"], "pending");
    assert_eq!(company["contact"]["email"], "post@nordmannbygg.no");
    let company_id = company["company_id"].as_str().expect("an id").to_owned();
    let (status, headers, again) = send(
        http.post(format!("{api}/api/v1/companies"))
            .header(header::COOKIE, &session)
            .header("sec-fetch-site", "same-origin")
            .json(&new_company),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_problem(&headers, &again, status, "conflict");

    let (status, _, fetched) = send(
        http.get(format!("{api}/api/v1/companies/{company_id}"))
            .header(header::COOKIE, &session),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
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
        let (status, headers, problem) = send(http.post(format!("{api}/api/v1/companies"))
                .header(header::COOKIE, &session)
                .header("sec-fetch-site", "same-origin")
                .header(header::CONTENT_TYPE, content_type)
                .body(body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
        assert_problem(&headers, &problem, status, "invalid-request");
        let detail = problem["detail"].as_str().unwrap_or_default();
        assert!(detail.contains(expected), "{detail}");
        assert!(!detail.contains("21869530376"), "the input is not quoted");
    }

    // The browser refreshes with its cookie: 204 and new cookies, which
    // work; the old refresh cookie is used up.
    let renewed = http
        .post(format!("{api}/api/v1/auth/refresh"))
        .header(header::COOKIE, pair(&refresh))
        .header("sec-fetch-site", "same-origin")
        .send()
        .await
        .expect("refresh");
    assert_eq!(renewed.status(), StatusCode::NO_CONTENT);
    let old_refresh = refresh;
    let refresh = set_cookie(renewed.headers(), "hms_refresh");
    let session = pair(&set_cookie(renewed.headers(), "hms_access"));
    assert_ne!(pair(&refresh), pair(&old_refresh));
    let (status, _, me) = send(
        http.get(format!("{api}/api/v1/me"))
            .header(header::COOKIE, &session),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{me}");
    let reused = http
        .post(format!("{api}/api/v1/auth/refresh"))
        .header(header::COOKIE, pair(&old_refresh))
        .header("sec-fetch-site", "same-origin")
        .send()
        .await
        .expect("refresh");
    assert_eq!(reused.status(), StatusCode::UNAUTHORIZED);

    // Logging out ends the session everywhere.
    let out = http
        .post(format!("{api}/api/v1/auth/logout"))
        .header(header::COOKIE, format!("{session}; {}", pair(&refresh)))
        .header("sec-fetch-site", "same-origin")
        .send()
        .await
        .expect("logout");
    assert_eq!(out.status(), StatusCode::NO_CONTENT);
    assert!(set_cookie(out.headers(), "hms_access").contains("Max-Age=0"));
    let (status, headers, body) = send(
        http.post(format!("{api}/api/v1/auth/refresh"))
            .header(header::COOKIE, pair(&refresh))
            .header("sec-fetch-site", "same-origin"),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_problem(&headers, &body, status, "unauthenticated");
    let (status, _, _) = send(
        http.get(format!("{api}/api/v1/me"))
            .header(header::COOKIE, &session),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

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
    let http = http();
    let api = env.gateway_url();

    // API clients: the same login, answered in JSON.
    let kari_token = api_token(&http, &api, persons::KARI_NORDMANN).await;
    let (status, _, company) = send(
        http.post(format!("{api}/api/v1/companies"))
            .bearer_auth(&kari_token)
            .json(&json!({
                "org_number": orgs::NORDMANN_BYGG,
                "name": "Nordmann Bygg AS",
                "contact": {"email": "post@nordmannbygg.no", "phone": "+4791234567"},
                "industry": "construction",
            })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{company}");
    let company_id = company["company_id"].as_str().expect("an id").to_owned();

    // Nils, of another company, cannot register Kari's, and gets the same
    // 404 for her company as for one that does not exist.
    let nils = api_login(&http, &api, persons::NILS_ANNEN).await;
    let nils_token = nils["access_token"].as_str().expect("a token").to_owned();
    let (status, headers, problem) = send(
        http.post(format!("{api}/api/v1/companies"))
            .bearer_auth(&nils_token)
            .json(&json!({
                "org_number": orgs::NORDMANN_BYGG,
                "name": "Nordmann Bygg AS",
                "contact": {"email": "nils@annen.no", "phone": "+4791234567"},
                "industry": "construction",
            })),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_problem(&headers, &problem, status, "forbidden");
    let mut answers = Vec::new();
    for id in [company_id.clone(), uuid::Uuid::now_v7().to_string()] {
        let (status, headers, problem) = send(
            http.get(format!("{api}/api/v1/companies/{id}"))
                .bearer_auth(&nils_token),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_problem(&headers, &problem, status, "not-found");
        answers.push(problem);
    }
    assert_eq!(answers[0], answers[1], "no hint that the company exists");

    // A refresh token gives new tokens once.
    let refresh = |token: String| {
        let http = http.clone();
        let api = api.clone();
        async move {
            http.post(format!("{api}/api/v1/auth/refresh"))
                .json(&json!({"refresh_token": token}))
                .send()
                .await
                .expect("refresh")
                .status()
        }
    };
    let nils_refresh = nils["refresh_token"].as_str().expect("a token").to_owned();
    assert_eq!(refresh(nils_refresh.clone()).await, StatusCode::OK);
    assert_eq!(refresh(nils_refresh).await, StatusCode::UNAUTHORIZED);

    // Without a token, with a bad one, or on no route: problems too.
    for (request, status, kind) in [
        (
            http.get(format!("{api}/api/v1/companies/{company_id}")),
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
        ),
        (
            http.get(format!("{api}/api/v1/me"))
                .bearer_auth("not-a-token"),
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
        ),
        (
            http.get(format!("{api}/api/v1/nothing-here")),
            StatusCode::NOT_FOUND,
            "not-found",
        ),
    ] {
        let (got, headers, body) = send(request).await;
        assert_eq!(got, status, "{body}");
        assert_problem(&headers, &body, status, kind);
    }

    // A wrong method, a body over the JSON limit, and a request id that is
    // not one.
    let (status, headers, problem) = send(
        http.patch(format!("{api}/api/v1/me"))
            .bearer_auth(&kari_token),
    )
    .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_problem(&headers, &problem, status, "method-not-allowed");
    let (status, headers, problem) = send(
        http.post(format!("{api}/api/v1/companies"))
            .bearer_auth(&kari_token)
            .json(&json!({"name": "x".repeat(70_000)})),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{problem}");
    assert_problem(&headers, &problem, status, "payload-too-large");
    let response = http
        .get(format!("{api}/api/openapi.json"))
        .header("x-request-id", "<script>alert(1)</script>")
        .send()
        .await
        .expect("openapi");
    let request_id = response
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .expect("a request id");
    assert!(uuid::Uuid::parse_str(request_id).is_ok(), "{request_id}");

    // The OpenAPI document and its page are served.
    let (status, _, document) = send(http.get(format!("{api}/api/openapi.json"))).await;
    assert_eq!(status, StatusCode::OK);
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
    let page = http
        .get(format!("{api}/api/docs"))
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
async fn approved_company_over_http(
    env: &TestEnv,
    http: &reqwest::Client,
    kari: &str,
    siri: &str,
) -> String {
    let api = env.gateway_url();
    let (status, _, company) = call(
        http,
        reqwest::Method::POST,
        format!("{api}/api/v1/companies"),
        kari,
        Some(json!({
            "org_number": orgs::NORDMANN_BYGG,
            "name": "Nordmann Bygg AS",
            "contact": {"email": "post@nordmannbygg.no", "phone": "+4791234567"},
            "industry": "construction",
        })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{company}");
    let company_id = company["company_id"].as_str().expect("an id").to_owned();
    let (status, _, approved) = call(
        http,
        reqwest::Method::POST,
        format!("{api}/api/v1/backoffice/companies/{company_id}/approve"),
        siri,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{approved}");
    env.wait_for_standing(&company_id, "approved").await;
    company_id
}

/// A JSON call with a bearer token.
async fn call(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    token: &str,
    body: Option<Value>,
) -> (StatusCode, HeaderMap, Value) {
    let mut request = http.request(method, url).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    send(request).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_access_contact_and_the_back_office_over_http() {
    let mut env = TestEnv::new();
    env.start_all().await;
    let http = http();
    let api = env.gateway_url();
    let kari = api_token(&http, &api, persons::KARI_NORDMANN).await;
    let siri = api_token(&http, &api, persons::SIRI_SAKSBEHANDLER).await;
    let nils = api_token(&http, &api, persons::NILS_ANNEN).await;
    use reqwest::Method;

    let (status, _, company) = call(
        &http,
        Method::POST,
        format!("{api}/api/v1/companies"),
        &kari,
        Some(json!({
            "org_number": orgs::NORDMANN_BYGG,
            "name": "Nordmann Bygg AS",
            "contact": {"email": "post@nordmannbygg.no", "phone": "+4791234567"},
            "industry": "construction",
        })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{company}");
    let company_id = company["company_id"].as_str().expect("an id").to_owned();

    // The back office's queue holds it; only the back office sees the queue.
    let (status, _, queue) = call(
        &http,
        Method::GET,
        format!("{api}/api/v1/backoffice/companies?status=pending"),
        &siri,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{queue}");
    assert!(
        queue["companies"]
            .as_array()
            .expect("a list")
            .iter()
            .any(|c| c["company_id"] == company_id.as_str())
    );
    let (status, headers, problem) = call(
        &http,
        Method::GET,
        format!("{api}/api/v1/backoffice/companies"),
        &kari,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_problem(&headers, &problem, status, "forbidden");
    let (status, headers, problem) = call(
        &http,
        Method::GET,
        format!("{api}/api/v1/backoffice/companies?status=nonsense"),
        &siri,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_problem(&headers, &problem, status, "invalid-request");
    let (status, _, approved) = call(
        &http,
        Method::POST,
        format!("{api}/api/v1/backoffice/companies/{company_id}/approve"),
        &siri,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{approved}");
    assert_eq!(approved["status"], "approved");
    env.wait_for_standing(&company_id, "approved").await;

    // An order for two workers, created once however often it is sent.
    let workers = json!({"workers": [
        {"name": "Ola Arbeider", "national_id": hms_test_support::fixtures::fodselsnummer(), "phone": "+4798765432", "card_type": "construction"},
        {"name": "Kari Arbeider", "national_id": hms_test_support::fixtures::fodselsnummer(), "phone": "+4798765433", "card_type": "cleaning"},
    ]});
    let create = |key: Option<&'static str>| {
        let mut request = http
            .post(format!("{api}/api/v1/companies/{company_id}/orders"))
            .bearer_auth(&kari)
            .json(&workers);
        if let Some(key) = key {
            request = request.header("idempotency-key", key);
        }
        async move { send(request).await }
    };
    let (status, headers, problem) = create(None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_problem(&headers, &problem, status, "invalid-request");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("Idempotency-Key")
    );
    let (status, _, order) = create(Some("order-1")).await;
    assert_eq!(status, StatusCode::CREATED, "{order}");
    let (status, _, again) = create(Some("order-1")).await;
    assert_eq!(status, StatusCode::CREATED, "{again}");
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

    let (status, _, added) = call(&http, Method::POST, format!("{api}/api/v1/orders/{order_id}/workers"), &kari, Some(json!(
        {"name": "Per Arbeider", "national_id": hms_test_support::fixtures::fodselsnummer(), "phone": "+4798765434", "card_type": "construction"}
    ))).await;
    assert_eq!(status, StatusCode::CREATED, "{added}");
    assert_eq!(added["order"]["workers"].as_array().map(Vec::len), Some(3));
    let (status, headers, problem) = call(
        &http,
        Method::POST,
        format!("{api}/api/v1/orders/{order_id}/submit"),
        &kari,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert_problem(&headers, &problem, status, "precondition-failed");
    let (status, _, listed) = call(
        &http,
        Method::GET,
        format!("{api}/api/v1/companies/{company_id}/orders?status=draft"),
        &kari,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed["orders"].as_array().map(Vec::len), Some(1));

    // Another company's person sees neither the order nor the company.
    for url in [
        format!("{api}/api/v1/orders/{order_id}"),
        format!("{api}/api/v1/companies/{company_id}/orders"),
        format!("{api}/api/v1/companies/{company_id}/access"),
    ] {
        let (status, headers, problem) = call(&http, Method::GET, url, &nils, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{problem}");
        assert_problem(&headers, &problem, status, "not-found");
    }

    // Contact details and their history; access granted and listed.
    let (status, _, changed) = call(
        &http,
        Method::PUT,
        format!("{api}/api/v1/companies/{company_id}/contact"),
        &kari,
        Some(json!(
            {"email": "kontor@nordmannbygg.no", "phone": "+4722334455"}
        )),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    let (status, _, history) = call(
        &http,
        Method::GET,
        format!("{api}/api/v1/companies/{company_id}/contact/history"),
        &kari,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(history[0]["new_contact"]["email"], "kontor@nordmannbygg.no");
    assert_eq!(history[0]["old_contact"]["email"], "post@nordmannbygg.no");
    let (status, _, granted) = call(&http, Method::POST, format!("{api}/api/v1/companies/{company_id}/access"), &kari, Some(json!(
        {"grantee": {"type": "supplier", "org_number": orgs::HMS_LEVERANDOREN}, "scopes": ["cards:order"]}
    ))).await;
    assert_eq!(status, StatusCode::CREATED, "{granted}");
    assert_eq!(granted["grantee"]["type"], "supplier");
    let (status, _, access) = call(
        &http,
        Method::GET,
        format!("{api}/api/v1/companies/{company_id}/access"),
        &kari,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(access["grants"][0]["grant_id"], granted["grant_id"]);
    assert_eq!(access["grants"][0]["state"], "active");
    let grant_id = granted["grant_id"].as_str().expect("an id");
    let (status, _, revoked) = call(
        &http,
        Method::DELETE,
        format!("{api}/api/v1/grants/{grant_id}"),
        &kari,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{revoked}");
    assert_eq!(revoked["state"], "revoked");

    // The document is complete for these routes.
    let (_, _, document) = send(http.get(format!("{api}/api/openapi.json"))).await;
    for path in [
        "/api/v1/companies/{company_id}/orders",
        "/api/v1/orders/{order_id}/workers",
        "/api/v1/orders/{order_id}/submit",
        "/api/v1/companies/{company_id}/access",
        "/api/v1/grants/{grant_id}",
        "/api/v1/backoffice/orders/{order_id}/approve",
        "/api/v1/backoffice/companies/{company_id}/reject",
    ] {
        assert!(document["paths"][path].is_object(), "{path} is documented");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_journey_over_http_ends_with_the_personal_data_deleted() {
    use hms_test_support::fixtures;
    use reqwest::Method;

    let mut env = TestEnv::new();
    env.start_all().await;
    let http = http();
    let api = env.gateway_url();
    let kari = api_token(&http, &api, persons::KARI_NORDMANN).await;
    let siri = api_token(&http, &api, persons::SIRI_SAKSBEHANDLER).await;
    let nils = api_token(&http, &api, persons::NILS_ANNEN).await;

    // Kari registers her company; the back office approves it.
    let company_id = approved_company_over_http(&env, &http, &kari, &siri).await;

    // Two cards.
    let numbers = [fixtures::fodselsnummer(), fixtures::fodselsnummer()];
    let (status, _, order) = send(http.post(format!("{api}/api/v1/companies/{company_id}/orders"))
            .bearer_auth(&kari)
            .header("idempotency-key", "journey-1")
            .json(&json!({"workers": [
                {"name": "Ola Arbeider", "national_id": numbers[0], "phone": "+4798765432", "card_type": "construction"},
                {"name": "Kari Arbeider", "national_id": numbers[1], "phone": "+4798765433", "card_type": "construction"},
            ]}))).await;
    assert_eq!(status, StatusCode::CREATED, "{order}");
    let order_id = order["order_id"].as_str().expect("an id").to_owned();
    let workers: Vec<String> = order["workers"]
        .as_array()
        .expect("workers")
        .iter()
        .map(|worker| worker["worker_id"].as_str().expect("an id").to_owned())
        .collect();

    let upload = |token: &str, worker: &str, kind: &str, bytes: Vec<u8>| {
        http.put(format!(
            "{api}/api/v1/orders/{order_id}/workers/{worker}/documents/{kind}"
        ))
        .bearer_auth(token)
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .body(bytes)
        .send()
    };

    // Someone of another company cannot put documents on this order, and
    // learns nothing about it.
    let (status, headers, problem) = json_of(
        upload(&nils, &workers[0], "signature", fixtures::png(200, 60))
            .await
            .expect("upload"),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{problem}");
    assert_problem(&headers, &problem, status, "not-found");

    // A file above the limit is refused while it streams; nothing is kept.
    let (status, headers, problem) = json_of(
        upload(
            &kari,
            &workers[0],
            "passport_photo",
            vec![0xFF; 11 * 1024 * 1024],
        )
        .await
        .expect("upload"),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{problem}");
    assert_problem(&headers, &problem, status, "payload-too-large");
    let (status, headers, problem) = json_of(
        upload(&kari, &workers[0], "selfie", fixtures::png(10, 10))
            .await
            .expect("upload"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
    assert_problem(&headers, &problem, status, "invalid-request");

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
            let (status, _, document) =
                json_of(upload(&kari, worker, kind, bytes).await.expect("upload")).await;
            assert_eq!(status, StatusCode::CREATED, "{document}");
            assert_eq!(document["kind"], kind);
        }
    }
    let (status, _, documents) = call(
        &http,
        Method::GET,
        format!("{api}/api/v1/orders/{order_id}/documents"),
        &kari,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
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
    let download = |token: &str| {
        http.get(format!("{api}/api/v1/documents/{photo}"))
            .bearer_auth(token)
            .send()
    };
    let fetched = download(&siri).await.expect("download");
    if fetched.status() != StatusCode::OK {
        let (status, _, body) = json_of(fetched).await;
        panic!("download refused: {status} {body}");
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
    let (status, headers, problem) = json_of(download(&kari).await.expect("download")).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "only the back office reads documents back"
    );
    assert_problem(&headers, &problem, status, "forbidden");
    let (status, _, _) = json_of(download(&nils).await.expect("download")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Submitted; the back office approves.
    let (status, _, submitted) = call(
        &http,
        Method::POST,
        format!("{api}/api/v1/orders/{order_id}/submit"),
        &kari,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{submitted}");
    assert_eq!(submitted["status"], "submitted");
    let (status, _, queue) = call(
        &http,
        Method::GET,
        format!("{api}/api/v1/backoffice/orders?status=submitted"),
        &siri,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        queue["orders"]
            .as_array()
            .expect("orders")
            .iter()
            .any(|o| o["order_id"] == order_id.as_str())
    );
    let (status, _, approved) = call(
        &http,
        Method::POST,
        format!("{api}/api/v1/backoffice/orders/{order_id}/approve"),
        &siri,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{approved}");
    assert_eq!(approved["status"], "approved");

    // Then the order shows its personal data deleted: numbers masked, no
    // documents.
    let deleted = hms_test_support::eventually(
        "the order's personal data to be deleted",
        crate::common::SOON,
        || {
            let http = http.clone();
            let url = format!("{api}/api/v1/orders/{order_id}");
            let kari = kari.clone();
            async move {
                let (_, _, order) = call(&http, Method::GET, url, &kari, None).await;
                order["national_ids_masked_at"].is_string().then_some(order)
            }
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
    let (status, _, documents) = call(
        &http,
        Method::GET,
        format!("{api}/api/v1/orders/{order_id}/documents"),
        &kari,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(documents, json!([]), "no documents remain");
    let logs = env.logs();
    for number in &numbers {
        assert!(!logs.contains(number.as_str()), "a national id was logged");
    }
}

/// The `Retry-After` of a 429, in seconds, checked to be a sensible wait.
fn assert_rate_limited(status: StatusCode, headers: &HeaderMap, problem: &Value) {
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{problem}");
    assert_problem(headers, problem, status, "rate-limited");
    let retry_after: u64 = headers
        .get(header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
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
    let http = http();
    let api = env.gateway_url();
    let kari = api_token(&http, &api, persons::KARI_NORDMANN).await;
    let nils = api_token(&http, &api, persons::NILS_ANNEN).await;
    let from = |address: &str, request: reqwest::RequestBuilder| {
        request.header("x-forwarded-for", address.to_owned()).send()
    };

    // From one address: twenty at once pass, the 21st is refused and says
    // when to come back.
    let openapi = || http.get(format!("{api}/api/openapi.json"));
    for request in 1..=20 {
        let response = from("192.0.2.1", openapi()).await.expect("openapi");
        assert_eq!(response.status(), StatusCode::OK, "request {request}");
    }
    let (status, headers, problem) =
        json_of(from("192.0.2.1", openapi()).await.expect("openapi")).await;
    assert_rate_limited(status, &headers, &problem);

    // Starting a login writes a pending login: ten at once, then 429.
    let login = || http.post(format!("{api}/api/v1/auth/login"));
    for request in 1..=10 {
        let response = from("192.0.2.2", login()).await.expect("login");
        assert_eq!(response.status(), StatusCode::OK, "login {request}");
    }
    let (status, headers, problem) =
        json_of(from("192.0.2.2", login()).await.expect("login")).await;
    assert_rate_limited(status, &headers, &problem);

    // One person, wherever they call from: twenty at once, then 429;
    // someone else is not affected.
    let me = |token: &str| http.get(format!("{api}/api/v1/me")).bearer_auth(token);
    for request in 1..=20 {
        let address = format!("192.0.2.{}", 10 + request);
        let response = from(&address, me(&kari)).await.expect("me");
        assert_eq!(response.status(), StatusCode::OK, "request {request}");
    }
    let (status, headers, problem) =
        json_of(from("192.0.2.40", me(&kari)).await.expect("me")).await;
    assert_rate_limited(status, &headers, &problem);
    let other = from("192.0.2.41", me(&nils)).await.expect("me");
    assert_eq!(other.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logging_out_with_a_bearer_token_ends_the_session_and_refusals_are_logged() {
    let mut env = TestEnv::new();
    env.start_all().await;
    let http = http();
    let api = env.gateway_url();
    let session = api_login(&http, &api, persons::KARI_NORDMANN).await;
    let access = session["access_token"]
        .as_str()
        .expect("a token")
        .to_owned();
    let refresh = session["refresh_token"]
        .as_str()
        .expect("a token")
        .to_owned();
    let me = || http.get(format!("{api}/api/v1/me")).bearer_auth(&access);
    assert_eq!(me().send().await.expect("me").status(), StatusCode::OK);

    // A logout that names no session is refused, not reported as done.
    let logout = || http.post(format!("{api}/api/v1/auth/logout"));
    let (status, headers, problem) = send(logout()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{problem}");
    assert_problem(&headers, &problem, status, "unauthenticated");
    let (status, _, problem) =
        send(logout().json(&json!({"refresh_token": "not-a-refresh-token"}))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{problem}");
    assert_eq!(me().send().await.expect("me").status(), StatusCode::OK);

    // The bearer token alone ends its session: the access token stops
    // working at once, and the refresh token keeps nothing alive.
    let (status, _, body) = send(logout().bearer_auth(&access)).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, headers, problem) = send(me()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{problem}");
    assert_problem(&headers, &problem, status, "unauthenticated");
    let (status, _, problem) = send(
        http.post(format!("{api}/api/v1/auth/refresh"))
            .json(&json!({"refresh_token": refresh})),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{problem}");

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
    assert!(!logs.contains(&access), "an access token was logged");
    assert!(!logs.contains(&refresh), "a refresh token was logged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_without_a_length_is_cut_at_the_limit_and_cors_allows_only_its_origins() {
    use hms_test_support::{ServiceName, fixtures};
    use reqwest::Method;

    let mut env = TestEnv::new();
    env.set("HMS_CORS_ORIGINS", "https://bestill.hms-kort.no");
    env.set("HMS_MAX_UPLOAD_BYTES", "1048576");
    env.start_all().await;
    let http = http();
    let api = env.gateway_url();

    // Browsers may call from the configured origin only.
    let preflight = |origin: &'static str| {
        http.request(Method::OPTIONS, format!("{api}/api/v1/me"))
            .header(header::ORIGIN, origin)
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, "GET")
            .header(header::ACCESS_CONTROL_REQUEST_HEADERS, "authorization")
            .send()
    };
    let allowed = preflight("https://bestill.hms-kort.no")
        .await
        .expect("preflight");
    assert_eq!(
        allowed
            .headers()
            .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
            .and_then(|v| v.to_str().ok()),
        Some("https://bestill.hms-kort.no")
    );
    assert_eq!(
        allowed
            .headers()
            .get(header::ACCESS_CONTROL_ALLOW_CREDENTIALS)
            .and_then(|v| v.to_str().ok()),
        Some("true")
    );
    let other = preflight("https://evil.example").await.expect("preflight");
    assert!(
        !other
            .headers()
            .contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN)
    );

    // A company with a draft order to upload to.
    let kari = api_token(&http, &api, persons::KARI_NORDMANN).await;
    let siri = api_token(&http, &api, persons::SIRI_SAKSBEHANDLER).await;
    let company_id = approved_company_over_http(&env, &http, &kari, &siri).await;
    let (_, _, order) = send(http.post(format!("{api}/api/v1/companies/{company_id}/orders"))
            .bearer_auth(&kari)
            .header("idempotency-key", "cut")
            .json(&json!({"workers": [{"name": "Ola Arbeider", "national_id": fixtures::fodselsnummer(), "phone": "+4798765432", "card_type": "construction"}]}))).await;
    let order_id = order["order_id"].as_str().expect("an id").to_owned();
    let worker_id = order["workers"][0]["worker_id"]
        .as_str()
        .expect("a worker")
        .to_owned();

    // A valid photo followed by more than the limit, sent in pieces with no
    // length announced: the gateway counts, stops, and media keeps nothing.
    let mut bytes = fixtures::jpeg_with_exif(90, 120, b"marker");
    bytes.resize(3 * 1024 * 1024, 0);
    let pieces: Vec<Result<Vec<u8>, std::io::Error>> = bytes
        .chunks(64 * 1024)
        .map(|piece| Ok(piece.to_vec()))
        .collect();
    let (status, headers, problem) = send(
        http.put(format!(
            "{api}/api/v1/orders/{order_id}/workers/{worker_id}/documents/passport_photo"
        ))
        .bearer_auth(&kari)
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .body(reqwest::Body::wrap_stream(futures::stream::iter(pieces))),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{problem}");
    assert_problem(&headers, &problem, status, "payload-too-large");
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
    let pieces: Vec<Result<Vec<u8>, std::io::Error>> =
        photo.chunks(1024).map(|piece| Ok(piece.to_vec())).collect();
    let response = http
        .put(format!(
            "{api}/api/v1/orders/{order_id}/workers/{worker_id}/documents/passport_photo"
        ))
        .bearer_auth(&kari)
        .body(reqwest::Body::wrap_stream(futures::stream::iter(pieces)))
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
