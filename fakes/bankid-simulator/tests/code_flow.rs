//! The authorization code flow with PKCE against the real router, driven
//! over HTTP with reqwest the way a relying party would.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bankid_simulator::persons::ids;
use bankid_simulator::settings::{ACR_HIGH, ACR_SUBSTANTIAL};
use bankid_simulator::{NationalIdClaim, Provider, Settings, SigningKey};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, LOCATION, WWW_AUTHENTICATE};
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use url::Url;

const REDIRECT_URI: &str = "http://127.0.0.1:9999/api/v1/auth/callback";
const CLIENT_ID: &str = "hms-identity";
const CLIENT_SECRET: &str = "dev-secret-change-me";
const STATE: &str = "state-123";
const NONCE: &str = "nonce-456";
/// 43 unreserved characters, the shortest verifier RFC 7636 allows.
const VERIFIER: &str = "a-verifier-of-exactly-forty-three-chars-xyz";

/// One RSA key for all tests: generating one per test is slow.
fn key() -> SigningKey {
    static KEY: OnceLock<SigningKey> = OnceLock::new();
    KEY.get_or_init(|| SigningKey::generate().expect("key generation"))
        .clone()
}

struct Sim {
    /// The issuer, without trailing slash.
    issuer: String,
    http: reqwest::Client,
}

/// Starts a provider on a free port with the test defaults, adjusted by
/// `adjust`.
async fn start(adjust: impl FnOnce(&mut Settings)) -> Sim {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let mut settings = Settings::with_issuer(format!("http://{addr}"));
    settings.redirect_uris = vec![REDIRECT_URI.to_owned()];
    adjust(&mut settings);
    let provider = Arc::new(Provider::new(settings, key()).expect("valid settings"));
    let issuer = provider.settings().issuer.clone();
    tokio::spawn(bankid_simulator::serve(
        listener,
        provider,
        std::future::pending(),
    ));
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    Sim { issuer, http }
}

fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

fn form(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// The standard authorization request parameters.
fn authorize_params(login_hint: Option<&str>) -> Vec<(&'static str, String)> {
    let mut params = vec![
        ("response_type", "code".to_owned()),
        ("client_id", CLIENT_ID.to_owned()),
        ("redirect_uri", REDIRECT_URI.to_owned()),
        ("scope", "openid profile".to_owned()),
        ("state", STATE.to_owned()),
        ("nonce", NONCE.to_owned()),
        ("code_challenge", challenge(VERIFIER)),
        ("code_challenge_method", "S256".to_owned()),
    ];
    if let Some(hint) = login_hint {
        params.push(("login_hint", hint.to_owned()));
    }
    params
}

impl Sim {
    async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.issuer))
            .send()
            .await
            .expect("request")
    }

    async fn authorize(&self, params: &[(&str, String)]) -> reqwest::Response {
        let pairs: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
        self.get(&format!("/authorize?{}", form(&pairs))).await
    }

    /// Logs `national_id` in through `login_hint` and returns the code.
    async fn login(&self, national_id: &str) -> String {
        let response = self.authorize(&authorize_params(Some(national_id))).await;
        assert_eq!(response.status(), StatusCode::FOUND);
        let query = redirect_query(&response);
        assert_eq!(query.get("state").map(String::as_str), Some(STATE));
        assert!(!query.contains_key("error"), "{query:?}");
        query.get("code").cloned().expect("code in the redirect")
    }

    /// POSTs a token request authenticated with `client_secret_basic`.
    async fn token_basic(&self, secret: &str, pairs: &[(&str, &str)]) -> (StatusCode, Value) {
        let credentials = STANDARD.encode(format!("{CLIENT_ID}:{secret}"));
        let response = self
            .http
            .post(format!("{}/token", self.issuer))
            .header(AUTHORIZATION, format!("Basic {credentials}"))
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(form(pairs))
            .send()
            .await
            .expect("token request");
        json_of(response).await
    }

    async fn token_post(&self, pairs: &[(&str, &str)]) -> (StatusCode, Value) {
        let response = self
            .http
            .post(format!("{}/token", self.issuer))
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(form(pairs))
            .send()
            .await
            .expect("token request");
        json_of(response).await
    }

    async fn userinfo(&self, access_token: &str) -> reqwest::Response {
        self.http
            .get(format!("{}/userinfo", self.issuer))
            .bearer_auth(access_token)
            .send()
            .await
            .expect("userinfo request")
    }
}

async fn json_of(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    assert_eq!(
        response
            .headers()
            .get(CACHE_CONTROL)
            .and_then(|v| v.to_str().ok()),
        Some("no-store"),
        "token responses must not be cached"
    );
    let text = response.text().await.expect("body");
    (status, serde_json::from_str(&text).expect("JSON body"))
}

fn redirect_query(response: &reqwest::Response) -> std::collections::HashMap<String, String> {
    let location = response
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .expect("a Location header");
    let url = Url::parse(location).expect("absolute Location");
    assert!(
        location.starts_with(REDIRECT_URI),
        "redirected to {location}"
    );
    url.query_pairs().into_owned().collect()
}

fn redeem<'a>(code: &'a str, verifier: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT_URI),
        ("code_verifier", verifier),
    ]
}

/// Verifies the id_token the way a relying party must (OIDC Core §3.1.3.7):
/// signature with the key from the JWKS named by `kid`, issuer, audience,
/// expiry, nonce.
async fn verified_claims(sim: &Sim, id_token: &str) -> Value {
    let discovery: Value = sim
        .get("/.well-known/openid-configuration")
        .await
        .json_text()
        .await;
    let jwks_uri = discovery["jwks_uri"].as_str().expect("jwks_uri");
    let jwks: JwkSet = serde_json::from_str(
        &sim.http
            .get(jwks_uri)
            .send()
            .await
            .expect("jwks")
            .text()
            .await
            .expect("jwks body"),
    )
    .expect("a JWK set");
    let header = jsonwebtoken::decode_header(id_token).expect("JWS header");
    assert_eq!(header.alg, Algorithm::RS256);
    let kid = header.kid.expect("kid header");
    let jwk = jwks.find(&kid).expect("the kid is in the JWKS");
    let key = DecodingKey::from_jwk(jwk).expect("RSA JWK");
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&[CLIENT_ID]);
    validation.set_issuer(&[sim.issuer.as_str()]);
    validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
    let data = jsonwebtoken::decode::<Value>(id_token, &key, &validation).expect("valid id_token");
    assert_eq!(data.claims["nonce"], NONCE);
    data.claims
}

trait JsonText {
    async fn json_text(self) -> Value;
}

impl JsonText for reqwest::Response {
    async fn json_text(self) -> Value {
        serde_json::from_str(&self.text().await.expect("body")).expect("JSON")
    }
}

#[tokio::test]
async fn the_full_code_flow_with_pkce_yields_a_verifiable_id_token() {
    let sim = start(|_| {}).await;

    let discovery = sim
        .get("/.well-known/openid-configuration")
        .await
        .json_text()
        .await;
    assert_eq!(discovery["issuer"], sim.issuer.as_str());
    assert_eq!(
        discovery["authorization_endpoint"],
        format!("{}/authorize", sim.issuer)
    );
    assert_eq!(discovery["token_endpoint"], format!("{}/token", sim.issuer));
    assert_eq!(
        discovery["userinfo_endpoint"],
        format!("{}/userinfo", sim.issuer)
    );
    assert_eq!(
        discovery["response_types_supported"],
        serde_json::json!(["code"])
    );
    assert_eq!(
        discovery["subject_types_supported"],
        serde_json::json!(["public"])
    );
    assert_eq!(
        discovery["id_token_signing_alg_values_supported"],
        serde_json::json!(["RS256"])
    );
    assert_eq!(
        discovery["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    assert_eq!(
        discovery["token_endpoint_auth_methods_supported"],
        serde_json::json!(["client_secret_basic", "client_secret_post"])
    );
    assert_eq!(
        discovery["acr_values_supported"],
        serde_json::json!([ACR_SUBSTANTIAL, ACR_HIGH])
    );
    assert!(
        discovery["claims_supported"]
            .as_array()
            .expect("claims")
            .contains(&Value::from("pid"))
    );

    let jwks = sim.get("/jwks").await.json_text().await;
    assert_eq!(jwks["keys"][0]["kty"], "RSA");
    assert_eq!(jwks["keys"][0]["use"], "sig");
    assert_eq!(jwks["keys"][0]["alg"], "RS256");

    let code = sim.login(ids::KARI_NORDMANN).await;
    let (status, body) = sim
        .token_basic(CLIENT_SECRET, &redeem(&code, VERIFIER))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 300);
    assert_eq!(body["scope"], "openid profile");
    let access_token = body["access_token"].as_str().expect("access_token");

    let claims = verified_claims(&sim, body["id_token"].as_str().expect("id_token")).await;
    assert_eq!(claims["pid"], ids::KARI_NORDMANN);
    let sub = claims["sub"].as_str().expect("sub");
    assert!(
        !sub.contains(ids::KARI_NORDMANN),
        "sub must not be the national id"
    );
    assert_eq!(claims["given_name"], "Kari");
    assert_eq!(claims["family_name"], "Nordmann");
    assert_eq!(claims["name"], "Kari Nordmann");
    assert_eq!(claims["birthdate"], "1985-03-14");
    assert_eq!(claims["acr"], ACR_HIGH);
    assert_eq!(claims["amr"], serde_json::json!(["BankID"]));
    let iat = claims["iat"].as_i64().expect("iat");
    assert_eq!(claims["exp"].as_i64().expect("exp") - iat, 300);
    assert!(claims["auth_time"].as_i64().expect("auth_time") <= iat);
    let digest = Sha256::digest(access_token.as_bytes());
    assert_eq!(claims["at_hash"], URL_SAFE_NO_PAD.encode(&digest[..16]));

    // The same person logs in again: same subject.
    let again = sim.login(ids::KARI_NORDMANN).await;
    let (_, body) = sim
        .token_basic(CLIENT_SECRET, &redeem(&again, VERIFIER))
        .await;
    let claims_again = verified_claims(&sim, body["id_token"].as_str().expect("id_token")).await;
    assert_eq!(claims_again["sub"], sub);

    let response = sim.userinfo(access_token).await;
    assert_eq!(response.status(), StatusCode::OK);
    let userinfo = response.json_text().await;
    assert_eq!(userinfo["sub"], sub);
    assert_eq!(userinfo["pid"], ids::KARI_NORDMANN);
    assert_eq!(userinfo["birthdate"], "1985-03-14");
}

#[tokio::test]
async fn a_wrong_code_verifier_is_refused_and_burns_the_code() {
    let sim = start(|_| {}).await;
    let code = sim.login(ids::OLA_LEVERANDOR).await;
    let wrong = "another-verifier-that-is-long-enough-000000";
    let (status, body) = sim.token_basic(CLIENT_SECRET, &redeem(&code, wrong)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_grant");

    // A stolen code cannot be tried against one verifier after another.
    let (status, body) = sim
        .token_basic(CLIENT_SECRET, &redeem(&code, VERIFIER))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_grant");
}

#[tokio::test]
async fn a_reused_code_is_refused_and_revokes_the_first_token() {
    let sim = start(|_| {}).await;
    let code = sim.login(ids::PER_ANSATT).await;
    let (status, first) = sim
        .token_basic(CLIENT_SECRET, &redeem(&code, VERIFIER))
        .await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let access_token = first["access_token"].as_str().expect("access_token");
    assert_eq!(sim.userinfo(access_token).await.status(), StatusCode::OK);

    let (status, body) = sim
        .token_basic(CLIENT_SECRET, &redeem(&code, VERIFIER))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_grant");

    let response = sim.userinfo(access_token).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let challenge = response
        .headers()
        .get(WWW_AUTHENTICATE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        challenge.contains(r#"error="invalid_token""#),
        "{challenge}"
    );
}

#[tokio::test]
async fn a_different_redirect_uri_at_the_token_endpoint_is_refused() {
    let sim = start(|settings| {
        settings
            .redirect_uris
            .push("http://127.0.0.1:9999/other".to_owned());
    })
    .await;
    let code = sim.login(ids::SIRI_SAKSBEHANDLER).await;
    let (status, body) = sim
        .token_basic(
            CLIENT_SECRET,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", "http://127.0.0.1:9999/other"),
                ("code_verifier", VERIFIER),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_grant");
}

#[tokio::test]
async fn a_wrong_client_secret_is_refused_with_invalid_client() {
    let sim = start(|_| {}).await;
    let code = sim.login(ids::NILS_ANNEN).await;

    // client_secret_basic: 401 with a Basic challenge (RFC 6749 §5.2).
    let credentials = STANDARD.encode(format!("{CLIENT_ID}:wrong-secret"));
    let response = sim
        .http
        .post(format!("{}/token", sim.issuer))
        .header(AUTHORIZATION, format!("Basic {credentials}"))
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(form(&redeem(&code, VERIFIER)))
        .send()
        .await
        .expect("token request");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let challenge = response
        .headers()
        .get(WWW_AUTHENTICATE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(challenge.starts_with("Basic"), "{challenge}");
    let (_, body) = json_of(response).await;
    assert_eq!(body["error"], "invalid_client");

    // client_secret_post.
    let mut pairs = redeem(&code, VERIFIER);
    pairs.extend([("client_id", CLIENT_ID), ("client_secret", "wrong-secret")]);
    let (status, body) = sim.token_post(&pairs).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "invalid_client");

    // No authentication at all.
    let (status, body) = sim.token_post(&redeem(&code, VERIFIER)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "invalid_client");

    // A failed client authentication does not burn the code: the real
    // client can still redeem it, with client_secret_post this time.
    let mut pairs = redeem(&code, VERIFIER);
    pairs.extend([("client_id", CLIENT_ID), ("client_secret", CLIENT_SECRET)]);
    let (status, body) = sim.token_post(&pairs).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Two authentication methods at once are refused.
    let code = sim.login(ids::NILS_ANNEN).await;
    let mut pairs = redeem(&code, VERIFIER);
    pairs.push(("client_secret", CLIENT_SECRET));
    let (status, body) = sim.token_basic(CLIENT_SECRET, &pairs).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_request");
}

#[tokio::test]
async fn an_expired_code_is_refused() {
    let sim = start(|settings| settings.code_lifetime = Duration::from_millis(50)).await;
    let code = sim.login(ids::EVA_EIER).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (status, body) = sim
        .token_basic(CLIENT_SECRET, &redeem(&code, VERIFIER))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_grant");
}

#[tokio::test]
async fn an_untrusted_client_or_redirect_uri_gets_a_page_not_a_redirect() {
    let sim = start(|_| {}).await;
    for (name, value) in [
        ("client_id", "someone-else"),
        ("redirect_uri", "http://attacker.example/callback"),
        (
            "redirect_uri",
            "http://127.0.0.1:9999/api/v1/auth/callback/extra",
        ),
    ] {
        let mut params = authorize_params(Some(ids::KARI_NORDMANN));
        for param in &mut params {
            if param.0 == name {
                param.1 = value.to_owned();
            }
        }
        let response = sim.authorize(&params).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{name}={value}");
        assert!(response.headers().get(LOCATION).is_none(), "{name}={value}");
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        assert!(content_type.starts_with("text/html"), "{content_type}");
    }
}

#[tokio::test]
async fn other_authorization_errors_are_redirected_with_state() {
    let sim = start(|_| {}).await;
    let cases: [(&str, Option<&str>, &str); 6] = [
        ("code_challenge", None, "invalid_request"),
        ("code_challenge_method", Some("plain"), "invalid_request"),
        ("code_challenge_method", None, "invalid_request"),
        ("scope", Some("profile"), "invalid_scope"),
        ("response_type", Some("token"), "unsupported_response_type"),
        ("nonce", None, "invalid_request"),
    ];
    for (name, value, expected) in cases {
        let mut params = authorize_params(Some(ids::KARI_NORDMANN));
        params.retain(|param| param.0 != name);
        if let Some(value) = value {
            params.push((name, value.to_owned()));
        }
        let response = sim.authorize(&params).await;
        assert_eq!(response.status(), StatusCode::FOUND, "{name}");
        let query = redirect_query(&response);
        assert_eq!(
            query.get("error").map(String::as_str),
            Some(expected),
            "{name}"
        );
        assert_eq!(
            query.get("state").map(String::as_str),
            Some(STATE),
            "{name}"
        );
        assert!(!query.contains_key("code"), "{name}");
    }
}

#[tokio::test]
async fn a_browser_chooses_a_person_on_the_page() {
    let sim = start(|_| {}).await;
    let response = sim.authorize(&authorize_params(None)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers().get("content-security-policy").is_some());
    let page = response.text().await.expect("page");
    for name in [
        "Kari Nordmann",
        "Ola Leverandør",
        "Lise Lavnivå",
        "Eva Eier",
    ] {
        assert!(page.contains(name), "{name} is listed");
    }

    // The buttons post the request back with the chosen person's subject.
    let lise = bankid_simulator::persons::builtin()
        .into_iter()
        .find(|person| person.national_id == ids::LISE_LAVNIVA)
        .expect("Lise");
    assert!(page.contains(&lise.subject()));
    let mut fields: Vec<(&str, String)> = authorize_params(None);
    fields.push(("person", lise.subject()));
    let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let response = sim
        .http
        .post(format!("{}/authorize", sim.issuer))
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(form(&pairs))
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), StatusCode::FOUND);
    let code = redirect_query(&response)
        .get("code")
        .cloned()
        .expect("code");

    let (status, body) = sim
        .token_basic(CLIENT_SECRET, &redeem(&code, VERIFIER))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let claims = verified_claims(&sim, body["id_token"].as_str().expect("id_token")).await;
    assert_eq!(
        claims["acr"], ACR_SUBSTANTIAL,
        "Lise logs in at the lower level"
    );
    assert_eq!(claims["family_name"], "Lavnivå");

    // Cancelling reports access_denied to the client.
    let mut fields: Vec<(&str, String)> = authorize_params(None);
    fields.push(("cancel", "1".to_owned()));
    let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let response = sim
        .http
        .post(format!("{}/authorize", sim.issuer))
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(form(&pairs))
        .send()
        .await
        .expect("post");
    let query = redirect_query(&response);
    assert_eq!(
        query.get("error").map(String::as_str),
        Some("access_denied")
    );
}

#[tokio::test]
async fn the_national_id_claim_name_and_issuer_path_are_configurable() {
    let sim = start(|settings| {
        settings.national_id_claim = NationalIdClaim::NninAltsub;
        settings.issuer = format!("{}/idporten/", settings.issuer);
    })
    .await;
    assert!(sim.issuer.ends_with("/idporten"), "{}", sim.issuer);
    let discovery = sim
        .get("/.well-known/openid-configuration")
        .await
        .json_text()
        .await;
    assert_eq!(discovery["issuer"], sim.issuer.as_str());
    assert_eq!(discovery["jwks_uri"], format!("{}/jwks", sim.issuer));

    let code = sim.login(ids::EVA_EIER).await;
    let (status, body) = sim
        .token_basic(CLIENT_SECRET, &redeem(&code, VERIFIER))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let claims = verified_claims(&sim, body["id_token"].as_str().expect("id_token")).await;
    assert_eq!(claims["nnin_altsub"], ids::EVA_EIER);
    assert!(claims.get("pid").is_none());
}
