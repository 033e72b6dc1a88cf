//! The authorization endpoint (OIDC Core §3.1.2, RFC 6749 §4.1.1, PKCE per
//! RFC 7636).
//!
//! `GET /authorize` checks the request, then either logs the `login_hint`
//! person in at once (how automated tests log in without a browser) or shows
//! the person chooser, whose buttons `POST /authorize` the same parameters
//! plus the chosen `person`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use url::Url;

use crate::pages;
use crate::params::Params;
use crate::provider::Provider;
use crate::settings::SUPPORTED_ACR_VALUES;

/// A checked authorization request.
#[derive(Debug, Clone)]
pub(crate) struct AuthorizationRequest {
    pub client_id: String,
    pub redirect_uri: String,
    pub scope: String,
    pub state: String,
    pub nonce: String,
    pub code_challenge: String,
    pub acr_values: Option<String>,
    /// Only read on `GET`: the chooser page does not carry it on.
    pub login_hint: Option<String>,
    pub prompt: Option<String>,
}

impl AuthorizationRequest {
    /// The parameters the chooser page posts back.
    pub(crate) fn form_fields(&self) -> Vec<(&str, &str)> {
        let mut fields = vec![
            ("response_type", "code"),
            ("client_id", self.client_id.as_str()),
            ("redirect_uri", self.redirect_uri.as_str()),
            ("scope", self.scope.as_str()),
            ("state", self.state.as_str()),
            ("nonce", self.nonce.as_str()),
            ("code_challenge", self.code_challenge.as_str()),
            ("code_challenge_method", "S256"),
        ];
        if let Some(acr_values) = &self.acr_values {
            fields.push(("acr_values", acr_values.as_str()));
        }
        fields
    }
}

/// Why a request was refused, and how the user learns of it.
#[derive(Debug)]
pub(crate) enum Refusal {
    /// The client or redirect URI is unknown: a redirect could deliver the
    /// user to an attacker, so the error is shown here (RFC 6749 §4.1.2.1).
    Page(&'static str),
    /// Everything else goes back to the client's redirect URI.
    Redirect(ErrorRedirect),
}

#[derive(Debug)]
pub(crate) struct ErrorRedirect {
    redirect_uri: String,
    state: Option<String>,
    error: &'static str,
    description: &'static str,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Self::Page(message) => {
                tracing::info!(
                    reason = message,
                    "authorization request refused on the page"
                );
                pages::refused(message)
            }
            Self::Redirect(redirect) => {
                tracing::info!(
                    error = redirect.error,
                    reason = redirect.description,
                    "authorization request refused"
                );
                let mut pairs = vec![
                    ("error", redirect.error),
                    ("error_description", redirect.description),
                ];
                if let Some(state) = &redirect.state {
                    pairs.push(("state", state));
                }
                found(&redirect.redirect_uri, &pairs)
            }
        }
    }
}

/// Checks the parameters in the order RFC 6749 requires: first whether the
/// client and redirect URI can be trusted with a redirect at all.
pub(crate) fn validate(
    provider: &Provider,
    params: &Params,
) -> Result<AuthorizationRequest, Refusal> {
    let settings = provider.settings();
    if params.is_repeated("client_id") || params.is_repeated("redirect_uri") {
        return Err(Refusal::Page(
            "client_id or redirect_uri was sent more than once.",
        ));
    }
    let client_id = params
        .get("client_id")
        .ok_or(Refusal::Page("The request has no client_id."))?;
    if client_id != settings.client_id {
        return Err(Refusal::Page("The client_id is not registered here."));
    }
    let redirect_uri = params
        .get("redirect_uri")
        .ok_or(Refusal::Page("The request has no redirect_uri."))?;
    if !settings
        .redirect_uris
        .iter()
        .any(|allowed| allowed == redirect_uri)
    {
        return Err(Refusal::Page(
            "The redirect_uri is not registered for this client.",
        ));
    }

    // From here on errors are redirected to the (trusted) redirect URI.
    let state = params
        .get("state")
        .filter(|_| !params.is_repeated("state"))
        .map(str::to_owned);
    let refuse = |error: &'static str, description: &'static str| {
        Refusal::Redirect(ErrorRedirect {
            redirect_uri: redirect_uri.to_owned(),
            state: state.clone(),
            error,
            description,
        })
    };

    if params.has_repeats() {
        return Err(refuse(
            "invalid_request",
            "a parameter was sent more than once",
        ));
    }
    match params.get("response_type") {
        None => return Err(refuse("invalid_request", "response_type is required")),
        Some("code") => {}
        Some(_) => {
            return Err(refuse(
                "unsupported_response_type",
                "only the authorization code flow (response_type=code) is supported",
            ));
        }
    }
    let scope = params
        .get("scope")
        .ok_or_else(|| refuse("invalid_request", "scope is required"))?;
    if !scope.split(' ').any(|value| value == "openid") {
        return Err(refuse("invalid_scope", "scope must include openid"));
    }
    let state = state
        .clone()
        .ok_or_else(|| refuse("invalid_request", "state is required"))?;
    // ID-porten requires a nonce too: it is what ties the id_token to the
    // browser session that asked for it.
    let nonce = params
        .get("nonce")
        .ok_or_else(|| refuse("invalid_request", "nonce is required"))?;
    let code_challenge = params.get("code_challenge").ok_or_else(|| {
        refuse(
            "invalid_request",
            "code_challenge is required: this provider requires PKCE",
        )
    })?;
    // RFC 7636 §4.3: a missing method means `plain`, which is not offered.
    if params.get("code_challenge_method") != Some("S256") {
        return Err(refuse(
            "invalid_request",
            "code_challenge_method must be S256",
        ));
    }
    if !is_s256_challenge(code_challenge) {
        return Err(refuse(
            "invalid_request",
            "code_challenge must be the base64url SHA-256 of the code_verifier (43 characters)",
        ));
    }
    let acr_values = params.get("acr_values");
    if let Some(values) = acr_values
        && !values
            .split(' ')
            .filter(|value| !value.is_empty())
            .all(|value| SUPPORTED_ACR_VALUES.contains(&value))
    {
        return Err(refuse("invalid_request", "unsupported acr_values"));
    }

    Ok(AuthorizationRequest {
        client_id: client_id.to_owned(),
        redirect_uri: redirect_uri.to_owned(),
        scope: scope.to_owned(),
        state,
        nonce: nonce.to_owned(),
        code_challenge: code_challenge.to_owned(),
        acr_values: acr_values.map(str::to_owned),
        login_hint: params.get("login_hint").map(str::to_owned),
        prompt: params.get("prompt").map(str::to_owned),
    })
}

/// 43 base64url characters: the encoding of a 32-byte SHA-256 digest.
fn is_s256_challenge(challenge: &str) -> bool {
    challenge.len() == 43
        && challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// `GET /authorize`.
pub(crate) async fn authorize_get(
    State(provider): State<Arc<Provider>>,
    RawQuery(query): RawQuery,
) -> Response {
    let params = Params::parse(query.unwrap_or_default().as_bytes());
    let request = match validate(&provider, &params) {
        Ok(request) => request,
        Err(refusal) => return refusal.into_response(),
    };

    let mut notice = None;
    if let Some(hint) = &request.login_hint {
        // The hint is a national id: compared, never logged or echoed.
        match provider
            .settings()
            .persons
            .iter()
            .position(|person| person.national_id == hint.trim())
        {
            Some(person) => return logged_in(&provider, &request, person),
            None => notice = Some("No test person has the national id in login_hint."),
        }
    }
    // OIDC Core §3.1.2.1: with prompt=none the provider must not show a
    // page, and there is no session to reuse here.
    let prompt_none = request
        .prompt
        .as_deref()
        .is_some_and(|prompt| prompt.split(' ').any(|value| value == "none"));
    if prompt_none {
        return Refusal::Redirect(ErrorRedirect {
            redirect_uri: request.redirect_uri.clone(),
            state: Some(request.state.clone()),
            error: "login_required",
            description: "prompt=none, and the user must choose a test person",
        })
        .into_response();
    }
    pages::chooser(
        &provider.endpoint("/authorize"),
        &request,
        &provider.settings().persons,
        notice,
    )
}

/// `POST /authorize`: the chooser page's answer. Everything is checked again,
/// since the form came back through the browser.
pub(crate) async fn authorize_post(State(provider): State<Arc<Provider>>, body: Bytes) -> Response {
    let params = Params::parse(&body);
    let request = match validate(&provider, &params) {
        Ok(request) => request,
        Err(refusal) => return refusal.into_response(),
    };
    if params.get("cancel").is_some() {
        return Refusal::Redirect(ErrorRedirect {
            redirect_uri: request.redirect_uri.clone(),
            state: Some(request.state.clone()),
            error: "access_denied",
            description: "the user cancelled the login",
        })
        .into_response();
    }
    let chosen = params.get("person").and_then(|subject| {
        provider
            .settings()
            .persons
            .iter()
            .position(|person| person.subject() == subject)
    });
    match chosen {
        Some(person) => logged_in(&provider, &request, person),
        None => pages::chooser(
            &provider.endpoint("/authorize"),
            &request,
            &provider.settings().persons,
            Some("Choose one of the test persons."),
        ),
    }
}

/// Issues a code for `person` and sends the browser back to the client.
fn logged_in(provider: &Provider, request: &AuthorizationRequest, person: usize) -> Response {
    let code = provider.issue_code(request, person);
    tracing::info!(client_id = %request.client_id, "authorization code issued");
    found(
        &request.redirect_uri,
        &[("code", code.as_str()), ("state", request.state.as_str())],
    )
}

/// A 302 to `redirect_uri` with `pairs` added to its query (keeping any
/// query it already has, RFC 6749 §3.1.2).
fn found(redirect_uri: &str, pairs: &[(&str, &str)]) -> Response {
    let Ok(mut url) = Url::parse(redirect_uri) else {
        // Settings validation parses every redirect URI at start-up.
        return pages::refused("The redirect_uri cannot be parsed.");
    };
    url.query_pairs_mut().extend_pairs(pairs);
    let Ok(location) = HeaderValue::from_str(url.as_str()) else {
        return pages::refused("The redirect_uri cannot be used in a header.");
    };
    (
        StatusCode::FOUND,
        [
            (header::LOCATION, location),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
    )
        .into_response()
}
