//! What every answer carries (the gateway's security headers, and a
//! content policy that allows this site's own style sheet and nothing
//! else: no scripts, no third parties), and the rule for changes: a form
//! posted here must come from a page of this site.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use minijinja::context;

use crate::i18n::Lang;
use crate::pages::AppState;
use crate::render::Frame;
use tower_http::set_header::SetResponseHeaderLayer;

/// The router with the headers every answer carries.
pub fn with_headers(router: axum::Router) -> axum::Router {
    router
        .layer(SetResponseHeaderLayer::overriding(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=63072000; includeSubDomains"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'none'; style-src 'self'; img-src 'self' data:; \
                 form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
            ),
        ))
        // Pages show personal data: no cache keeps them. The style sheet
        // sets its own.
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
}

/// Every change (any method but GET and HEAD) must come from a page of
/// this site; anything else gets the error page and reaches no handler.
pub async fn only_from_this_site(
    State(app): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    if request.method().is_safe() || from_this_site(request.headers()) {
        return next.run(request).await;
    }
    let (lang, _) = Lang::of(request.headers(), None);
    app.pages.answer(
        StatusCode::FORBIDDEN,
        "error.html",
        Frame::plain(lang, "/"),
        context! { problem => "cross_site" },
    )
}

/// Whether a form post comes from a page of this site: browsers say so in
/// `Sec-Fetch-Site`, which pages cannot set, or else in `Origin`, which
/// must then name this host. The session cookies are `SameSite=Strict`
/// as well; this holds for browsers that ignore that.
pub fn from_this_site(headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        return site == "same-origin";
    }
    let host = headers
        .get(header::HOST)
        .and_then(|host| host.to_str().ok());
    let origin = headers
        .get(header::ORIGIN)
        .and_then(|origin| origin.to_str().ok());
    match (origin, host) {
        (Some(origin), Some(host)) => {
            origin
                .strip_prefix("https://")
                .or_else(|| origin.strip_prefix("http://"))
                == Some(host)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.insert(*name, HeaderValue::from_static(value));
        }
        headers
    }

    #[test]
    fn only_this_sites_pages_may_post() {
        assert!(from_this_site(&headers(&[(
            "sec-fetch-site",
            "same-origin"
        )])));
        assert!(!from_this_site(&headers(&[(
            "sec-fetch-site",
            "cross-site"
        )])));
        assert!(!from_this_site(&headers(&[(
            "sec-fetch-site",
            "same-site"
        )])));
        assert!(from_this_site(&headers(&[
            ("origin", "https://hms.example"),
            ("host", "hms.example"),
        ])));
        assert!(!from_this_site(&headers(&[
            ("origin", "https://evil.example"),
            ("host", "hms.example"),
        ])));
        assert!(!from_this_site(&headers(&[("host", "hms.example")])));
    }
}
