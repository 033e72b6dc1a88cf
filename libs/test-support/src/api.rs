//! A client of the gateway's REST API for tests, whose calls say what they
//! expect: `api.post("/api/v1/companies").token(&kari).json(body)
//! .expect(StatusCode::CREATED).await` answers the JSON body, or fails the
//! test with the status and body it got instead.

use reqwest::header::{self, HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::TestEnv;

/// The gateway of one test environment.
#[derive(Clone)]
pub struct Api {
    base: String,
    http: reqwest::Client,
}

/// What the gateway answered.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    /// The JSON body; `Null` when there is none or it is not JSON.
    pub body: Value,
}

/// One call, being described.
pub struct Call {
    request: reqwest::RequestBuilder,
}

impl Api {
    pub fn new(env: &TestEnv) -> Self {
        Self::at(&env.gateway_url())
    }

    /// A client of the gateway at `base` (`http://127.0.0.1:…`). It sees
    /// every redirect instead of following it, and keeps no cookies: tests
    /// hand them on the way a browser would.
    pub fn at(base: &str) -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        Self {
            base: base.trim_end_matches('/').to_owned(),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("an HTTP client"),
        }
    }

    /// `token`'s person accepts the current data processing agreement for
    /// the company (as one who manages its access must before it orders);
    /// returns the version accepted.
    pub async fn accept_agreement(&self, token: &str, company_id: &str) -> u64 {
        let path = format!("/api/v1/companies/{company_id}/agreement");
        let agreement = self.get(&path).token(token).expect(StatusCode::OK).await;
        let version = agreement["current"]["version"].as_u64().expect("a version");
        self.post(&format!("{path}/acceptances"))
            .token(token)
            .json(json!({ "version": version }))
            .expect(StatusCode::CREATED)
            .await;
        version
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The client itself, for what the calls below do not cover.
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    pub fn get(&self, path: &str) -> Call {
        self.call(Method::GET, path)
    }

    pub fn post(&self, path: &str) -> Call {
        self.call(Method::POST, path)
    }

    pub fn put(&self, path: &str) -> Call {
        self.call(Method::PUT, path)
    }

    pub fn delete(&self, path: &str) -> Call {
        self.call(Method::DELETE, path)
    }

    pub fn call(&self, method: Method, path: &str) -> Call {
        Call {
            request: self.http.request(method, self.url(path)),
        }
    }

    /// An API client's BankID login: JSON in, JSON out, the browser's part
    /// at the simulator. The session: `access_token`, `refresh_token`, …
    pub async fn login(&self, national_id: &str) -> Value {
        let started = self.post("/api/v1/auth/login").expect(StatusCode::OK).await;
        let back = self
            .bankid(
                started["authorization_url"].as_str().expect("a URL"),
                national_id,
            )
            .await;
        let back = reqwest::Url::parse(&back).expect("a redirect URL");
        let query = |name: &str| {
            back.query_pairs()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.into_owned())
                .expect("a parameter")
        };
        assert_eq!(query("state"), started["state"]);
        self.post("/api/v1/auth/token")
            .json(json!({"state": query("state"), "code": query("code")}))
            .expect(StatusCode::OK)
            .await
    }

    /// [`login`](Self::login), for its access token.
    pub async fn token(&self, national_id: &str) -> String {
        self.login(national_id).await["access_token"]
            .as_str()
            .expect("an access token")
            .to_owned()
    }

    /// Lets the simulator log `national_id` in at `authorization_url`;
    /// where it sends the browser back.
    pub async fn bankid(&self, authorization_url: &str, national_id: &str) -> String {
        let mut url = reqwest::Url::parse(authorization_url).expect("an authorization URL");
        url.query_pairs_mut().append_pair("login_hint", national_id);
        let response = self
            .http
            .get(url)
            .send()
            .await
            .expect("the simulator answers");
        assert!(response.status().is_redirection(), "{}", response.status());
        location(response.headers())
    }
}

impl Call {
    /// As a person, with their access token.
    pub fn token(self, token: &str) -> Self {
        Self {
            request: self.request.bearer_auth(token),
        }
    }

    pub fn json(self, body: Value) -> Self {
        Self {
            request: self.request.json(&body),
        }
    }

    pub fn header(self, name: impl Into<HeaderName>, value: &str) -> Self {
        let value = HeaderValue::from_str(value).expect("a header value");
        Self {
            request: self.request.header(name.into(), value),
        }
    }

    /// Raw bytes, with their content type.
    pub fn body(self, content_type: &str, bytes: Vec<u8>) -> Self {
        Self {
            request: self
                .request
                .header(header::CONTENT_TYPE, content_type)
                .body(bytes),
        }
    }

    /// Whatever comes back.
    pub async fn send(self) -> Answer {
        Answer::of(self.request.send().await.expect("the gateway answers")).await
    }

    /// The body of an answer with `status`.
    pub async fn expect(self, status: StatusCode) -> Value {
        self.expect_answer(status).await.body
    }

    /// The whole answer, which must have `status`.
    pub async fn expect_answer(self, status: StatusCode) -> Answer {
        let answer = self.send().await;
        assert_eq!(answer.status, status, "{}", answer.body);
        answer
    }

    /// A problem+json refusal of the `kind` (`not-found`, …) with `status`;
    /// its details.
    pub async fn expect_problem(self, status: StatusCode, kind: &str) -> Answer {
        let answer = self.expect_answer(status).await;
        answer.assert_problem(kind);
        answer
    }
}

impl Answer {
    /// Reads a response, also one to a request sent through [`Api::http`].
    pub async fn of(response: reqwest::Response) -> Self {
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("a body");
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Self {
            status,
            headers,
            body,
        }
    }

    /// This is an RFC 9457 problem of `kind`, typed as one.
    pub fn assert_problem(&self, kind: &str) {
        assert_eq!(
            self.headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok()),
            Some("application/problem+json"),
            "{}",
            self.body
        );
        assert_eq!(
            self.body["type"],
            format!("/problems/{kind}"),
            "{}",
            self.body
        );
        assert_eq!(self.body["status"], self.status.as_u16(), "{}", self.body);
        assert!(
            self.body["title"].is_string() && self.body["detail"].is_string(),
            "{}",
            self.body
        );
    }

    /// A response header as text.
    pub fn header(&self, name: impl header::AsHeaderName) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }
}

/// Where a redirect points.
pub fn location(headers: &HeaderMap) -> String {
    headers
        .get(header::LOCATION)
        .and_then(|value| value.to_str().ok())
        .expect("a redirect")
        .to_owned()
}
