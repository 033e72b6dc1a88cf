//! The person's session: the access and refresh tokens the gateway set as
//! cookies when they logged in with BankID. The pages send the access
//! token on as a bearer token and, once it has run out, renew both with
//! the refresh token, as any other client of the API would.

use axum::http::{HeaderMap, HeaderValue, header};
use chrono::Utc;

use crate::api::{Api, ApiError, Tokens};

/// The gateway's cookie names; the gateway sets them for the whole site.
pub const ACCESS_COOKIE: &str = "hms_access";
const REFRESH_COOKIE: &str = "hms_refresh";

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

/// The person's tokens, if they are logged in.
// Not Debug: it holds tokens.
pub struct Session {
    pub access_token: Option<String>,
    refresh_token: Option<String>,
    /// Cookies to set on the answer: renewed tokens, or cleared ones.
    pub set_cookies: Vec<HeaderValue>,
}

impl Session {
    pub fn of(headers: &HeaderMap) -> Self {
        Self {
            access_token: cookie(headers, ACCESS_COOKIE),
            refresh_token: cookie(headers, REFRESH_COOKIE),
            set_cookies: Vec::new(),
        }
    }

    pub fn is_renewable(&self) -> bool {
        self.refresh_token.is_some()
    }

    /// New tokens for the refresh token, which is used up by this; when it
    /// no longer works the session is over and its cookies are cleared.
    /// Whether the session goes on.
    pub async fn renew(&mut self, api: &Api, secure: bool) -> Result<bool, ApiError> {
        let Some(refresh_token) = self.refresh_token.take() else {
            return Ok(false);
        };
        match api.refresh(&refresh_token).await {
            Ok(tokens) => {
                self.set_cookies = renewed(&tokens, secure);
                self.access_token = Some(tokens.access_token);
                Ok(true)
            }
            Err(ApiError::Unauthenticated | ApiError::Refused(_)) => {
                self.end(secure);
                Ok(false)
            }
            Err(other) => Err(other),
        }
    }

    /// Forgets the session here and in the browser.
    pub fn end(&mut self, secure: bool) {
        self.access_token = None;
        self.refresh_token = None;
        self.set_cookies = cleared(secure);
    }
}

/// The cookies of a renewed session, as the gateway sets them.
fn renewed(tokens: &Tokens, secure: bool) -> Vec<HeaderValue> {
    // Both live as long as the session, as the gateway sets them.
    let lifetime = tokens
        .session_expires_at
        .map_or(0, |until| (until - Utc::now()).num_seconds().max(0));
    vec![
        build(ACCESS_COOKIE, &tokens.access_token, lifetime, secure),
        build(REFRESH_COOKIE, &tokens.refresh_token, lifetime, secure),
    ]
}

/// Cookies that end the session in the browser.
pub fn cleared(secure: bool) -> Vec<HeaderValue> {
    vec![
        build(ACCESS_COOKIE, "", 0, secure),
        build(REFRESH_COOKIE, "", 0, secure),
    ]
}

fn build(name: &str, value: &str, max_age: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static(""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_read_by_exact_name() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("hms_access_x=1; hms_access=tok; hms_lang=en"),
        );
        assert_eq!(cookie(&headers, ACCESS_COOKIE).as_deref(), Some("tok"));
        assert_eq!(cookie(&headers, REFRESH_COOKIE), None);
    }

    #[test]
    fn cleared_cookies_expire_at_once_and_stay_out_of_scripts() {
        for value in cleared(true) {
            let value = value.to_str().expect("ascii");
            assert!(value.contains("Max-Age=0"), "{value}");
            assert!(
                value.contains("HttpOnly; SameSite=Strict; Secure"),
                "{value}"
            );
        }
    }
}
