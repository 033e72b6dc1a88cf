//! The pages: the front page, the public card check, and the worker's own
//! page (what is held about them, who processed it, the deletion
//! receipts). Each asks the gateway's public API and nothing else.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::value::Serde;
use minijinja::{Value, context};
use serde::Deserialize;

use crate::api::{Api, ApiError, Me};
use crate::i18n::Lang;
use crate::render::{Frame, Pages};
use crate::session::{self, Session};

pub struct App {
    pub api: Api,
    pub pages: Pages,
    pub cookie_secure: bool,
}

pub type AppState = Arc<App>;

#[derive(Debug, Deserialize)]
pub struct LangQuery {
    lang: Option<String>,
}

/// A list's page: where it starts (the API's page token), and the language.
#[derive(Debug, Deserialize)]
pub struct PageQuery {
    lang: Option<String>,
    page: Option<String>,
}

impl PageQuery {
    pub fn lang(&self) -> Option<&str> {
        self.lang.as_deref()
    }

    pub fn page(&self) -> Option<&str> {
        self.page.as_deref()
    }
}

impl LangQuery {
    pub fn lang(&self) -> Option<&str> {
        self.lang.as_deref()
    }
}

#[derive(Debug, Deserialize)]
pub struct CheckQuery {
    lang: Option<String>,
    number: Option<String>,
}

/// Who is asking, in which language: what every page starts from.
pub(crate) struct Visit {
    pub(crate) lang: Lang,
    pub(crate) session: Session,
    set_cookies: Vec<axum::http::HeaderValue>,
}

impl Visit {
    pub(crate) async fn of(
        app: &App,
        headers: &HeaderMap,
        chosen: Option<&str>,
    ) -> Result<Self, ApiError> {
        let (lang, lang_cookie) = Lang::of(headers, chosen);
        let mut session = Session::of(headers);
        if session.access_token.is_none() {
            session.renew(&app.api, app.cookie_secure).await?;
        }
        Ok(Self {
            lang,
            session,
            set_cookies: lang_cookie.into_iter().collect(),
        })
    }

    /// The person logged in, if any. An access token that has run out is
    /// renewed once; a session that has ended is forgotten.
    pub(crate) async fn person(&mut self, app: &App) -> Result<Option<Me>, ApiError> {
        let Some(token) = self.session.access_token.clone() else {
            return Ok(None);
        };
        match app.api.me(&token).await {
            Ok(me) => return Ok(Some(me)),
            Err(ApiError::Unauthenticated) if self.session.is_renewable() => {}
            Err(ApiError::Unauthenticated) => {
                self.session.end(app.cookie_secure);
                return Ok(None);
            }
            Err(other) => return Err(other),
        }
        if !self.session.renew(&app.api, app.cookie_secure).await? {
            return Ok(None);
        }
        let token = self.session.access_token.clone().unwrap_or_default();
        match app.api.me(&token).await {
            Ok(me) => Ok(Some(me)),
            Err(ApiError::Unauthenticated) => {
                self.session.end(app.cookie_secure);
                Ok(None)
            }
            Err(other) => Err(other),
        }
    }

    pub(crate) fn frame<'a>(mut self, path: &'a str, person: Option<&'a Me>) -> Frame<'a> {
        self.set_cookies.append(&mut self.session.set_cookies);
        Frame {
            lang: self.lang,
            path,
            person: person.map(|me| me.name.as_str()),
            back_office: person.is_some_and(|me| me.back_office),
            set_cookies: self.set_cookies,
        }
    }
}

/// The person's access token, or unauthenticated.
pub(crate) async fn session_token(app: &App, headers: &HeaderMap) -> Result<String, ApiError> {
    let mut visit = Visit::of(app, headers, None).await?;
    if visit.person(app).await?.is_none() {
        return Err(ApiError::Unauthenticated);
    }
    Ok(visit.session.access_token.clone().unwrap_or_default())
}

/// Does `act` for the logged-in person: their access token, or
/// unauthenticated.
pub(crate) async fn as_person<T>(
    app: &App,
    headers: &HeaderMap,
    act: impl AsyncFnOnce(&str) -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    let token = session_token(app, headers).await?;
    act(&token).await
}

/// After a change from one of this site's forms: the page at `path` when it
/// went through, the page again (`again`) with the API's reason when it was
/// refused, else the error page.
pub(crate) async fn after_change(
    app: &App,
    headers: &HeaderMap,
    path: &str,
    done: Result<(), ApiError>,
    again: impl AsyncFnOnce(String) -> Response,
) -> Response {
    match done {
        Ok(()) => Redirect::to(path).into_response(),
        Err(ApiError::Refused(reason)) => again(reason).await,
        Err(other) => failed(app, Lang::of(headers, None).0, path, &other),
    }
}

/// What a page for a logged-in person shows: its template and values, and
/// a status other than 200 when it shows a refusal.
pub(crate) struct Shown {
    pub template: &'static str,
    pub status: StatusCode,
    pub values: Value,
}

impl Shown {
    pub fn page(template: &'static str, values: Value) -> Self {
        Self {
            template,
            status: StatusCode::OK,
            values,
        }
    }

    /// The page again after a change the API refused (`400`), or as asked.
    pub fn after(template: &'static str, refused: bool, values: Value) -> Self {
        Self {
            template,
            status: if refused {
                StatusCode::BAD_REQUEST
            } else {
                StatusCode::OK
            },
            values,
        }
    }
}

/// A page for a logged-in person: `show` gets their access token and who
/// they are, and says what to show. The language, the session's renewal
/// and the error page are the same for every such page.
pub(crate) async fn signed_in(
    app: &App,
    headers: &HeaderMap,
    chosen: Option<&str>,
    path: &str,
    show: impl AsyncFnOnce(&str, &Me) -> Result<Shown, ApiError>,
) -> Response {
    let lang = Lang::of(headers, chosen).0;
    let result = async {
        let mut visit = Visit::of(app, headers, chosen).await?;
        let Some(me) = visit.person(app).await? else {
            return Err(ApiError::Unauthenticated);
        };
        let token = visit.session.access_token.clone().unwrap_or_default();
        let shown = show(&token, &me).await?;
        Ok(app.pages.answer(
            shown.status,
            shown.template,
            visit.frame(path, Some(&me)),
            shown.values,
        ))
    }
    .await;
    result.unwrap_or_else(|error| failed(app, lang, path, &error))
}

/// The error page for what the API said, in the person's language.
pub(crate) fn failed(app: &App, lang: Lang, path: &str, error: &ApiError) -> Response {
    let (status, problem) = match error {
        ApiError::Unauthenticated => (StatusCode::UNAUTHORIZED, "unauthenticated"),
        ApiError::NotFound => (StatusCode::NOT_FOUND, "not_found"),
        ApiError::Forbidden => (StatusCode::FORBIDDEN, "forbidden"),
        ApiError::LoginRequired => (StatusCode::FORBIDDEN, "login_required"),
        ApiError::Refused(_) => (StatusCode::BAD_REQUEST, "refused"),
        ApiError::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
    };
    app.pages.answer(
        status,
        "error.html",
        Frame::plain(lang, path),
        context! { problem },
    )
}

pub async fn home(
    State(app): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<LangQuery>,
) -> Response {
    home_page(&app, &headers, query.lang(), None).await
}

/// The front page; after a refused registration, with what was typed and
/// why (an empty reason: the person holds no role in that company).
pub(crate) async fn home_page(
    app: &App,
    headers: &HeaderMap,
    chosen: Option<&str>,
    registration: Option<(&crate::company::RegistrationForm, String)>,
) -> Response {
    let lang = Lang::of(headers, chosen).0;
    let result = async {
        let mut visit = Visit::of(app, headers, chosen).await?;
        let me = visit.person(app).await?;
        let (typed, refused) = match registration {
            Some((form, reason)) => (Some(form.shown()), Some(reason)),
            None => (None, None),
        };
        let status = if refused.is_some() {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::OK
        };
        Ok::<_, ApiError>(app.pages.answer(
            status,
            "home.html",
            visit.frame("/", me.as_ref()),
            context! {
                companies => Serde(me.as_ref().map(|me| me.companies.clone()).unwrap_or_default()),
                typed,
                refused,
            },
        ))
    }
    .await;
    result.unwrap_or_else(|error| failed(app, lang, "/", &error))
}

/// What a person may type as a card number: ten digits, spaces allowed.
fn card_number(typed: &str) -> Option<String> {
    let digits: String = typed.chars().filter(|c| !c.is_whitespace()).collect();
    (digits.len() == 10 && digits.chars().all(|c| c.is_ascii_digit())).then_some(digits)
}

pub async fn check(
    State(app): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<CheckQuery>,
) -> Response {
    check_number(&app, &headers, query.lang.as_deref(), query.number).await
}

/// The link form, `/check/1234567897`, for a number from a card or a QR.
pub async fn check_link(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(number): Path<String>,
    Query(query): Query<LangQuery>,
) -> Response {
    check_number(&app, &headers, query.lang.as_deref(), Some(number)).await
}

async fn check_number(
    app: &App,
    headers: &HeaderMap,
    chosen: Option<&str>,
    typed: Option<String>,
) -> Response {
    let lang = Lang::of(headers, chosen).0;
    let result = async {
        let mut visit = Visit::of(app, headers, chosen).await?;
        let me = visit.person(app).await?;
        let typed = typed
            .map(|typed| typed.trim().to_owned())
            .filter(|t| !t.is_empty());
        let (status, values) = match typed.as_deref().map(|typed| (typed, card_number(typed))) {
            None => (
                StatusCode::OK,
                context! { number => "", checked => false, malformed => false, card => () },
            ),
            Some((typed, None)) => (
                StatusCode::BAD_REQUEST,
                context! { number => typed, checked => false, malformed => true, card => () },
            ),
            Some((_, Some(number))) => {
                let card = app.api.check_card(&number).await?;
                (
                    StatusCode::OK,
                    context! { number, checked => true, malformed => false, card => Serde(card) },
                )
            }
        };
        Ok::<_, ApiError>(app.pages.answer(
            status,
            "check.html",
            visit.frame("/check", me.as_ref()),
            values,
        ))
    }
    .await;
    result.unwrap_or_else(|error| failed(app, lang, "/check", &error))
}

/// The worker's own page: everything held about them as a worker, their
/// cards, the deletion receipts and every access to their data.
pub async fn me(
    State(app): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<LangQuery>,
) -> Response {
    let lang = Lang::of(&headers, query.lang.as_deref()).0;
    let result = async {
        let mut visit = Visit::of(&app, &headers, query.lang.as_deref()).await?;
        let Some(me) = visit.person(&app).await? else {
            return Ok(app.pages.answer(
                StatusCode::UNAUTHORIZED,
                "me.html",
                visit.frame("/me", None),
                context! { records => Value::from(()), access => Value::from(()) },
            ));
        };
        let token = visit.session.access_token.clone().unwrap_or_default();
        let (records, access) =
            tokio::try_join!(app.api.my_records(&token), app.api.my_access_log(&token))?;
        Ok::<_, ApiError>(app.pages.page(
            "me.html",
            visit.frame("/me", Some(&me)),
            context! { records => Serde(records), access => Serde(access.entries) },
        ))
    }
    .await;
    result.unwrap_or_else(|error| failed(&app, lang, "/me", &error))
}

/// Where the gateway sends the browser after BankID. The session cookies
/// are `SameSite=Strict`, and a browser does not send them on a
/// navigation that began on BankID's site; this page moves on to the
/// front page from here, where they are sent.
pub async fn logged_in(headers: HeaderMap, State(app): State<AppState>) -> Response {
    let (lang, _) = Lang::of(&headers, None);
    app.pages
        .page("logged_in.html", Frame::plain(lang, "/"), context! {})
}

/// Ends the session at the platform and in the browser.
pub async fn logout(State(app): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(token) = session::cookie(&headers, session::ACCESS_COOKIE)
        && let Err(error) = app.api.logout(&token).await
    {
        // The browser forgets the session all the same.
        tracing::info!(error = %error, "the platform was not told of a logout");
    }
    let mut response = Redirect::to("/").into_response();
    for cookie in session::cleared(app.cookie_secure) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

pub async fn not_found(State(app): State<AppState>, headers: HeaderMap) -> Response {
    let (lang, _) = Lang::of(&headers, None);
    failed(&app, lang, "/", &ApiError::NotFound)
}

/// Up: for Kubernetes' probes. The pages need the gateway, whose own
/// probes say whether it is.
pub async fn healthz() -> StatusCode {
    StatusCode::NO_CONTENT
}

const STYLE: &str = include_str!("../static/style.css");

pub async fn style() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        STYLE,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn card_numbers_are_ten_digits_spaces_allowed() {
        assert_eq!(card_number("1234 5678 97").as_deref(), Some("1234567897"));
        assert_eq!(card_number("123456789"), None);
        assert_eq!(card_number("12345678/7"), None);
        assert_eq!(card_number("../../me12"), None);
    }
}
