//! The two HTML pages a browser may see: the test-person chooser, and the
//! error page for requests that must not be redirected.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use crate::authorize::AuthorizationRequest;
use crate::persons::TestPerson;

/// Inline styles only, no scripts, and no framing (clickjacking on a login
/// page, even a fake one, is a bad habit to test against).
const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'";

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:44rem;margin:2rem auto;padding:0 1rem}\
button{display:block;width:100%;text-align:left;margin:.5rem 0;padding:.75rem;font-size:1rem;cursor:pointer}\
small{color:#555}.notice{background:#fff3cd;padding:.75rem}";

/// Lists the test persons; each button posts the original request back with
/// `person` set to that person's `sub`.
pub(crate) fn chooser(
    action: &str,
    request: &AuthorizationRequest,
    persons: &[TestPerson],
    notice: Option<&str>,
) -> Response {
    let mut hidden = String::new();
    for (name, value) in request.form_fields() {
        hidden.push_str(&format!(
            r#"<input type="hidden" name="{}" value="{}">"#,
            escape(name),
            escape(value)
        ));
    }
    let mut buttons = String::new();
    for person in persons {
        buttons.push_str(&format!(
            r#"<button type="submit" name="person" value="{sub}"><strong>{name}</strong> <small>born {born}, {acr}, national id {id}</small><br><small>{description}</small></button>"#,
            sub = escape(&person.subject()),
            name = escape(&person.name()),
            born = person.birthdate,
            acr = escape(&person.acr),
            id = escape(&person.national_id),
            description = escape(&person.description),
        ));
    }
    let notice = notice
        .map(|text| format!(r#"<p class="notice">{}</p>"#, escape(text)))
        .unwrap_or_default();
    let body = format!(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><title>BankID simulator</title><style>{STYLE}</style></head>
<body><h1>BankID simulator</h1>{notice}
<p>Log in to <strong>{client}</strong> as one of these synthetic test persons.</p>
<form method="post" action="{action}">{hidden}{buttons}
<button type="submit" name="cancel" value="1">Cancel the login</button></form></body></html>"#,
        client = escape(&request.client_id),
        action = escape(action),
    );
    page(StatusCode::OK, body)
}

/// RFC 6749 §4.1.2.1: when the client or its redirect URI cannot be trusted,
/// tell the user and do not redirect.
pub(crate) fn refused(message: &str) -> Response {
    let body = format!(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Login refused</title><style>{STYLE}</style></head>
<body><h1>Login refused</h1><p>{}</p><p>The application that sent you here is not set up correctly.</p></body></html>"#,
        escape(message)
    );
    page(StatusCode::BAD_REQUEST, body)
}

fn page(status: StatusCode, body: String) -> Response {
    let mut response = (status, Html(body)).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

/// Escapes text for HTML content and double-quoted attributes.
fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            other => escaped.push(other),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn markup_is_escaped() {
        assert_eq!(
            escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }
}
