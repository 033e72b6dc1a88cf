//! The token endpoint (RFC 6749 §4.1.3 and §5, OIDC Core §3.1.3, PKCE
//! verification per RFC 7636 §4.6) and the userinfo endpoint (OIDC Core
//! §5.3, bearer tokens per RFC 6750).

use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use sha2::{Digest, Sha256};

use crate::params::Params;
use crate::provider::{AccessGrant, PendingCode, Provider, random_token};
use crate::settings::AMR;

/// The realm named in `WWW-Authenticate` challenges.
const REALM: &str = "bankid-simulator";

/// An error response of RFC 6749 §5.2 (or, for userinfo, RFC 6750 §3).
/// Descriptions are fixed texts: they never contain a code, token or
/// national id.
#[derive(Debug)]
pub(crate) struct OAuthError {
    status: StatusCode,
    error: &'static str,
    description: &'static str,
    challenge: Option<&'static str>,
}

impl OAuthError {
    fn invalid_request(description: &'static str) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            error: "invalid_request",
            description,
            challenge: None,
        }
    }

    fn invalid_grant(description: &'static str) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            error: "invalid_grant",
            description,
            challenge: None,
        }
    }

    /// 401 with a `Basic` challenge: RFC 6749 §5.2 requires one when the
    /// client tried the Authorization header, and it does no harm otherwise.
    fn invalid_client(description: &'static str) -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            error: "invalid_client",
            description,
            challenge: Some("Basic"),
        }
    }

    fn invalid_token(description: &'static str) -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            error: "invalid_token",
            description,
            challenge: Some("Bearer"),
        }
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        tracing::info!(
            error = self.error,
            reason = self.description,
            "token or userinfo request refused"
        );
        let body = serde_json::json!({
            "error": self.error,
            "error_description": self.description,
        });
        let mut response = (self.status, Json(body)).into_response();
        let headers = response.headers_mut();
        no_store(headers);
        if let Some(scheme) = self.challenge {
            let challenge = if scheme == "Bearer" {
                format!(
                    r#"Bearer realm="{REALM}", error="{}", error_description="{}""#,
                    self.error, self.description
                )
            } else {
                format!(r#"{scheme} realm="{REALM}""#)
            };
            if let Ok(value) = HeaderValue::from_str(&challenge) {
                headers.insert(header::WWW_AUTHENTICATE, value);
            }
        }
        response
    }
}

/// RFC 6749 §5.1: token responses must not be cached.
fn no_store(headers: &mut HeaderMap) {
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

/// `POST /token`.
pub(crate) async fn token(
    State(provider): State<Arc<Provider>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match exchange(&provider, &headers, &body) {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

fn exchange(provider: &Provider, headers: &HeaderMap, body: &[u8]) -> Result<Response, OAuthError> {
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| {
            value.split(';').next().is_some_and(|media| {
                media
                    .trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            })
        });
    if !is_form {
        return Err(OAuthError::invalid_request(
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    let params = Params::parse(body);
    if params.has_repeats() {
        return Err(OAuthError::invalid_request(
            "a parameter was sent more than once",
        ));
    }
    authenticate_client(provider, headers, &params)?;

    match params.get("grant_type") {
        Some("authorization_code") => {}
        None => return Err(OAuthError::invalid_request("grant_type is required")),
        Some(_) => {
            return Err(OAuthError {
                status: StatusCode::BAD_REQUEST,
                error: "unsupported_grant_type",
                description: "only authorization_code is supported",
                challenge: None,
            });
        }
    }
    let code = params
        .get("code")
        .ok_or(OAuthError::invalid_request("code is required"))?;
    let redirect_uri = params
        .get("redirect_uri")
        .ok_or(OAuthError::invalid_request("redirect_uri is required"))?;
    let verifier = params
        .get("code_verifier")
        .ok_or(OAuthError::invalid_request("code_verifier is required"))?;

    let settings = provider.settings();
    let now = Instant::now();
    let mut grants = provider.grants();
    let pending = grants
        .take_code(code, now, settings.token_lifetime)
        .map_err(OAuthError::invalid_grant)?;
    check_redemption(provider, &pending, redirect_uri, verifier)?;

    let person = provider
        .person(pending.person)
        .ok_or(OAuthError::invalid_grant("the person no longer exists"))?;
    let access_token = random_token();
    let issued_at = chrono::Utc::now().timestamp();
    let lifetime = settings.token_lifetime.as_secs();
    let expires_at = issued_at.saturating_add(i64::try_from(lifetime).unwrap_or(i64::MAX));

    let mut claims = provider.person_claims(person);
    claims.insert("iss".into(), settings.issuer.clone().into());
    claims.insert("aud".into(), settings.client_id.clone().into());
    claims.insert("iat".into(), issued_at.into());
    claims.insert("exp".into(), expires_at.into());
    claims.insert("auth_time".into(), pending.auth_time.into());
    claims.insert("nonce".into(), pending.nonce.clone().into());
    claims.insert("acr".into(), person.acr.clone().into());
    claims.insert("amr".into(), serde_json::json!([AMR]));
    claims.insert("at_hash".into(), at_hash(&access_token).into());
    let id_token = provider.key().sign(&claims).map_err(|error| {
        tracing::error!(%error, "signing the id_token failed");
        OAuthError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            error: "server_error",
            description: "the id_token could not be signed",
            challenge: None,
        }
    })?;

    grants.store_token(
        code,
        access_token.clone(),
        AccessGrant {
            person: pending.person,
            expires: now + settings.token_lifetime,
        },
    );
    drop(grants);
    tracing::info!(client_id = %settings.client_id, acr = %person.acr, "tokens issued");

    let body = serde_json::json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": lifetime,
        "id_token": id_token,
        "scope": granted_scope(&pending.scope),
    });
    let mut response = Json(body).into_response();
    no_store(response.headers_mut());
    Ok(response)
}

/// The code must come back to the client it was issued to, with the same
/// redirect URI (RFC 6749 §4.1.3) and the verifier behind its challenge
/// (RFC 7636 §4.6).
fn check_redemption(
    provider: &Provider,
    pending: &PendingCode,
    redirect_uri: &str,
    verifier: &str,
) -> Result<(), OAuthError> {
    if pending.client_id != provider.settings().client_id {
        return Err(OAuthError::invalid_grant(
            "the authorization code was issued to another client",
        ));
    }
    if pending.redirect_uri != redirect_uri {
        return Err(OAuthError::invalid_grant(
            "redirect_uri differs from the one in the authorization request",
        ));
    }
    if !is_valid_verifier(verifier) {
        return Err(OAuthError::invalid_grant(
            "code_verifier must be 43 to 128 unreserved characters",
        ));
    }
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    if !constant_time_eq(challenge.as_bytes(), pending.code_challenge.as_bytes()) {
        return Err(OAuthError::invalid_grant(
            "code_verifier does not match the code_challenge",
        ));
    }
    Ok(())
}

/// RFC 7636 §4.1: `[A-Za-z0-9-._~]{43,128}`.
fn is_valid_verifier(verifier: &str) -> bool {
    (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// Client authentication by `client_secret_basic` or `client_secret_post`,
/// never both at once (RFC 6749 §2.3).
fn authenticate_client(
    provider: &Provider,
    headers: &HeaderMap,
    params: &Params,
) -> Result<(), OAuthError> {
    let basic = basic_credentials(headers)?;
    let posted_secret = params.get("client_secret");
    let (client_id, secret) = match (basic, posted_secret) {
        (Some(_), Some(_)) => {
            return Err(OAuthError::invalid_request(
                "use one client authentication method, not two",
            ));
        }
        (Some((id, secret)), None) => {
            // A client_id in the body as well must name the same client.
            if params.get("client_id").is_some_and(|body_id| body_id != id) {
                return Err(OAuthError::invalid_client(
                    "client_id differs from the authenticated client",
                ));
            }
            (id, secret)
        }
        (None, Some(secret)) => {
            let id = params.get("client_id").ok_or(OAuthError::invalid_client(
                "client_id is required with client_secret_post",
            ))?;
            (id.to_owned(), secret.to_owned())
        }
        (None, None) => {
            return Err(OAuthError::invalid_client(
                "client authentication is required",
            ));
        }
    };
    let settings = provider.settings();
    let known = client_id == settings.client_id
        && constant_time_eq(secret.as_bytes(), settings.client_secret.as_bytes());
    if known {
        Ok(())
    } else {
        Err(OAuthError::invalid_client("client authentication failed"))
    }
}

/// `Authorization: Basic base64(urlencode(id) ":" urlencode(secret))`, the
/// form-encoding being RFC 6749 §2.3.1's addition to plain Basic.
fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, String)>, OAuthError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let malformed = || OAuthError::invalid_client("malformed Basic credentials");
    let value = value.to_str().map_err(|_| malformed())?;
    let Some((scheme, encoded)) = value.split_once(' ') else {
        return Err(malformed());
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(OAuthError::invalid_client(
            "the token endpoint accepts Basic client authentication only",
        ));
    }
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| malformed())?;
    let decoded = String::from_utf8(decoded).map_err(|_| malformed())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(malformed)?;
    Ok(Some((form_decode(id), form_decode(secret))))
}

fn form_decode(text: &str) -> String {
    url::form_urlencoded::parse(format!("x={text}").as_bytes())
        .next()
        .map(|(_, value)| value.into_owned())
        .unwrap_or_default()
}

/// Compares digests, so that the time taken says nothing about how much of
/// a secret matched, nor about its length.
fn constant_time_eq(left: &[u8], right: &[u8]) -> bool {
    let left = Sha256::digest(left);
    let right = Sha256::digest(right);
    left.iter()
        .zip(right.iter())
        .fold(0u8, |acc, (a, b)| acc | (a ^ b))
        == 0
}

/// OIDC Core §3.1.3.6: base64url of the left half of SHA-256(access_token).
fn at_hash(access_token: &str) -> String {
    let digest = Sha256::digest(access_token.as_bytes());
    URL_SAFE_NO_PAD.encode(&digest[..digest.len() / 2])
}

/// The requested scope values the provider knows, `openid` first.
fn granted_scope(requested: &str) -> String {
    let mut granted = vec!["openid"];
    for value in requested.split(' ') {
        if matches!(value, "profile" | "pid" | "nin" | "nnin_altsub") && !granted.contains(&value) {
            granted.push(value);
        }
    }
    granted.join(" ")
}

/// `GET` or `POST /userinfo` with `Authorization: Bearer <access token>`.
pub(crate) async fn userinfo(
    State(provider): State<Arc<Provider>>,
    headers: HeaderMap,
) -> Response {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    let Some(token) = token else {
        return OAuthError {
            status: StatusCode::UNAUTHORIZED,
            error: "invalid_request",
            description: "a bearer access token is required",
            challenge: Some("Bearer"),
        }
        .into_response();
    };
    let person = provider
        .grants()
        .access(token, Instant::now())
        .map(|grant| grant.person);
    match person.and_then(|index| provider.person(index)) {
        Some(person) => {
            let mut response = Json(provider.person_claims(person)).into_response();
            no_store(response.headers_mut());
            response
        }
        None => OAuthError::invalid_token("the access token is unknown, expired or revoked")
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rfc_7636_example_verifier_matches_its_challenge() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert!(is_valid_verifier(verifier));
        assert_eq!(
            URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        assert!(!is_valid_verifier("too-short"));
        assert!(!is_valid_verifier(&"a".repeat(129)));
        assert!(!is_valid_verifier(&format!("{}+", "a".repeat(43))));
    }

    #[test]
    fn basic_credentials_are_form_decoded() {
        let mut headers = HeaderMap::new();
        let encoded = STANDARD.encode("my%20client:p%40ss+word");
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Basic {encoded}")).expect("header"),
        );
        let (id, secret) = basic_credentials(&headers)
            .expect("well formed")
            .expect("present");
        assert_eq!(id, "my client");
        assert_eq!(secret, "p@ss word");
    }

    #[test]
    fn secrets_are_compared_whole() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secret2"));
        assert!(!constant_time_eq(b"", b"x"));
    }

    #[test]
    fn unknown_scopes_are_left_out_of_the_grant() {
        assert_eq!(granted_scope("profile openid email"), "openid profile");
        assert_eq!(granted_scope("openid"), "openid");
    }
}
