//! Who is calling: a person's access token, from the `Authorization` header
//! (API clients) or the session cookie (browsers). The gateway checks it,
//! then forwards it: each service decides for the person itself.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use hms_auth::Caller;

use crate::problem::ApiError;
use crate::state::AppState;

/// The browser's access token.
pub const ACCESS_COOKIE: &str = "hms_access";
/// The browser's refresh token.
pub const REFRESH_COOKIE: &str = "hms_refresh";
/// Binds a login in progress to the browser that started it.
pub const LOGIN_COOKIE: &str = "hms_login";
/// Where the access and refresh cookies are sent: the whole site, so that
/// a web front end served beside the API (`hms-web`) can call the API
/// with the person's session and renew it. Path is no boundary within one
/// origin; `SameSite=Strict` and `HttpOnly` are what guard them.
pub const ACCESS_PATH: &str = "/";
/// Where the login cookie is sent: the session routes only.
pub const SESSION_PATH: &str = "/api/v1/auth";

/// A logged-in person: the checked token to forward on their behalf, as
/// the header it travels in. Deliberately not `Debug`: the token must not
/// reach a log.
#[derive(Clone)]
pub struct Person {
    authorization: tonic::metadata::AsciiMetadataValue,
}

impl Person {
    /// A request to a service on the person's behalf.
    pub fn request<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        request
            .metadata_mut()
            .insert("authorization", self.authorization.clone());
        request
    }
}

impl FromRequestParts<AppState> for Person {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let token = if parts.method.is_safe() {
            bearer(&parts.headers).or_else(|| cookie(&parts.headers, ACCESS_COOKIE))
        } else {
            session_token(&parts.headers, state).map_err(IntoResponse::into_response)?
        }
        .ok_or_else(|| ApiError::unauthenticated().into_response())?;
        match state.verifier.verify(&token).await {
            Ok(Caller::User(user)) => {
                // Pseudonymous: the user id, never the person's number.
                tracing::Span::current().record("user_id", tracing::field::display(user.user_id));
                state
                    .limits
                    .person(user.user_id)
                    .map_err(IntoResponse::into_response)?;
                // A token that verified is plain ASCII; anything else is
                // refused rather than sent on without it.
                let authorization = format!("Bearer {token}")
                    .parse()
                    .map_err(|_| ApiError::unauthenticated().into_response())?;
                Ok(Self { authorization })
            }
            // The keys to check it with are out of reach: "try again", not
            // "log in again".
            Err(hms_auth::AuthError::IdentityUnavailable) => Err(ApiError::new(
                crate::problem::ProblemKind::Unavailable,
                "try again shortly",
            )
            .into_response()),
            // A service token is not a person; services call services directly.
            Ok(_) | Err(_) => Err(ApiError::unauthenticated().into_response()),
        }
    }
}

/// The access token of a request that changes something: the bearer
/// token, or the session cookie if the request comes from our own pages.
pub fn session_token(headers: &HeaderMap, state: &AppState) -> Result<Option<String>, ApiError> {
    match bearer(headers) {
        Some(token) => Ok(Some(token)),
        None => cookie_for_change(headers, ACCESS_COOKIE, state),
    }
}

/// The cookie `name`, for a request that changes something: only from a
/// page of our own ([`refuse_cross_site`]).
pub fn cookie_for_change(
    headers: &HeaderMap,
    name: &str,
    state: &AppState,
) -> Result<Option<String>, ApiError> {
    match cookie(headers, name) {
        Some(value) => refuse_cross_site(headers, state).map(|()| Some(value)),
        None => Ok(None),
    }
}

/// A browser sends the session cookie with any request to us, even one a
/// page elsewhere made it send: a change made with the cookie must come
/// from our own pages (`Sec-Fetch-Site: same-origin`, which browsers set
/// and pages cannot) or from an allowed web origin.
pub fn refuse_cross_site(headers: &HeaderMap, state: &AppState) -> Result<(), ApiError> {
    let same_origin = headers
        .get("sec-fetch-site")
        .is_some_and(|site| site == "same-origin");
    let allowed_origin = headers
        .get(header::ORIGIN)
        .is_some_and(|origin| state.browser_origins.contains(origin));
    if same_origin || allowed_origin {
        Ok(())
    } else {
        Err(ApiError::new(
            crate::problem::ProblemKind::Forbidden,
            "a change with the session cookie must come from the web app itself",
        ))
    }
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty())
        .then(|| token.trim().to_owned())
}

/// A cookie's value from the request's `Cookie` headers.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, value)| *key == name && !value.is_empty())
        .map(|(_, value)| value.to_owned())
}

/// How the gateway sets its cookies: never readable by scripts, `Secure`
/// unless configured off for plain-HTTP development.
#[derive(Debug, Clone, Copy)]
pub struct CookieJar {
    pub secure: bool,
}

impl CookieJar {
    /// A session cookie: `SameSite=Strict`, so no other site can make the
    /// browser send it (no cross-site request forgery).
    pub fn session(&self, name: &str, value: &str, path: &str, max_age_secs: i64) -> HeaderValue {
        self.build(name, value, path, max_age_secs, "Strict")
    }

    /// The login cookie must come back with the identity provider's
    /// redirect, a top-level navigation from another site: `Lax`.
    pub fn login(&self, state: &str) -> HeaderValue {
        self.build(LOGIN_COOKIE, state, SESSION_PATH, 600, "Lax")
    }

    /// Removes a cookie set on `path`.
    pub fn clear(&self, name: &str, path: &str) -> HeaderValue {
        self.build(name, "", path, 0, "Strict")
    }

    fn build(
        &self,
        name: &str,
        value: &str,
        path: &str,
        max_age: i64,
        same_site: &str,
    ) -> HeaderValue {
        let secure = if self.secure { "; Secure" } else { "" };
        let cookie = format!(
            "{name}={value}; Path={path}; Max-Age={}; HttpOnly; SameSite={same_site}{secure}",
            max_age.max(0)
        );
        HeaderValue::from_str(&cookie).unwrap_or_else(|_| HeaderValue::from_static(""))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_come_from_the_header_or_the_cookie() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer abc"),
        );
        assert_eq!(bearer(&headers).as_deref(), Some("abc"));
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert_eq!(bearer(&headers), None);
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("theme=dark; hms_access=tok; hms_refresh=ref"),
        );
        assert_eq!(cookie(&headers, ACCESS_COOKIE).as_deref(), Some("tok"));
        assert_eq!(cookie(&headers, "hms"), None);
    }

    #[test]
    fn cookies_are_http_only_strict_and_secure() {
        let jar = CookieJar { secure: true };
        let value = jar.session(ACCESS_COOKIE, "tok", "/api", 300);
        let text = value.to_str().expect("ascii");
        for part in [
            "HttpOnly",
            "SameSite=Strict",
            "Secure",
            "Path=/api",
            "Max-Age=300",
        ] {
            assert!(text.contains(part), "{text}");
        }
        let insecure = CookieJar { secure: false }.login("state");
        assert!(!insecure.to_str().expect("ascii").contains("Secure"));
    }
}
