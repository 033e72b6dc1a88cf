//! Logging in with BankID through identity, for browsers (redirects and
//! cookies) and for API clients (JSON and bearer tokens), and the person's
//! own view of who they are and whom they may act for.

use super::Answered;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use hms_proto::identity::v1 as pb;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::time;
use crate::auth::{
    ACCESS_COOKIE, ACCESS_PATH, LOGIN_COOKIE, Person, REFRESH_COOKIE, SESSION_PATH, cookie,
    cookie_for_change, session_token,
};
use crate::extract::{JsonBody, QueryParams};
use crate::problem::{ApiError, Problem, ProblemKind};
use crate::state::AppState;

/// A login to complete at BankID.
// Not Debug: it holds a secret or a national id.
#[derive(Serialize, ToSchema)]
pub struct LoginStarted {
    /// Open this in a browser; BankID redirects back with `state` and `code`.
    pub authorization_url: String,
    pub state: String,
    pub expires_at: Option<DateTime<Utc>>,
}

/// What BankID's redirect carries back.
// Not Debug: it holds a secret or a national id.
#[derive(Deserialize, ToSchema)]
pub struct LoginResult {
    pub state: String,
    pub code: String,
}

/// The redirect back from BankID, including its error form.
// Not Debug: it holds a secret or a national id.
#[derive(Deserialize)]
pub struct Callback {
    pub state: Option<String>,
    pub code: Option<String>,
    /// Set instead of `code` when the login failed or was cancelled.
    pub error: Option<String>,
}

/// A refresh token, for API clients (browsers send the cookie instead).
// Not Debug: it holds a secret or a national id.
#[derive(Deserialize, ToSchema)]
pub struct RefreshRequest {
    pub refresh_token: Option<String>,
}

/// Tokens for an API client.
// Not Debug: it holds a secret or a national id.
#[derive(Serialize, ToSchema)]
pub struct Session {
    /// Send as `Authorization: Bearer …`; short-lived.
    pub access_token: String,
    pub access_token_expires_at: Option<DateTime<Utc>>,
    /// Exchange for new tokens at `/api/v1/auth/refresh`; single use.
    pub refresh_token: String,
    pub session_expires_at: Option<DateTime<Utc>>,
}

/// The person logged in.
#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    pub user_id: String,
    pub name: String,
    /// A case handler of the authority.
    pub back_office: bool,
    /// Companies the person may act for, and with which scopes.
    pub companies: Vec<CompanyAccess>,
}

/// How a person came to act for a company.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AccessSource {
    /// A role in the Central Coordinating Register (daglig leder, …).
    RegisterRole,
    /// A grant to the person.
    PersonGrant,
    /// A supplier's grant, passed on to the person.
    SupplierGrant,
}

hms_proto::proto_enum!(AccessSource => pb::AccessSource { RegisterRole, PersonGrant, SupplierGrant });

#[derive(Debug, Serialize, ToSchema)]
pub struct CompanyAccess {
    pub company_id: String,
    pub org_number: String,
    /// Some of `cards:order`, `workers:read`, `company:contact:write`,
    /// `access:manage`.
    pub scopes: Vec<String>,
    pub source: AccessSource,
}

/// Browsers: starts a BankID login and redirects there.
#[utoipa::path(
    get,
    path = "/api/v1/auth/login",
    tag = "session",
    responses(
        (status = 303, description = "To BankID"),
        (status = 503, description = "Identity is unavailable", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn login_redirect(State(state): State<AppState>) -> Result<Response, ApiError> {
    let started = begin(&state).await?;
    let mut response = Redirect::to(&started.authorization_url).into_response();
    response
        .headers_mut()
        .append(header::SET_COOKIE, state.cookies.login(&started.state));
    Ok(response)
}

/// Browsers: where BankID sends the person back. Sets the session cookies
/// and redirects to the web app.
#[utoipa::path(
    get,
    path = "/api/v1/auth/callback",
    tag = "session",
    params(
        ("state" = String, Query, description = "As BankID sends it back"),
        ("code" = String, Query, description = "As BankID sends it back"),
        ("error" = Option<String>, Query, description = "Instead of `code` when the login failed or was cancelled"),
    ),
    responses(
        (status = 303, description = "Logged in; to the web app"),
        (status = 400, description = "Not the login this browser started", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "The login failed or was cancelled", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn callback(
    State(state): State<AppState>,
    headers: HeaderMap,
    QueryParams(callback): QueryParams<Callback>,
) -> Result<Response, ApiError> {
    if callback.error.is_some() {
        return Err(ApiError::new(
            ProblemKind::Unauthenticated,
            "the login was cancelled or failed",
        ));
    }
    let (Some(login_state), Some(code)) = (callback.state, callback.code) else {
        return Err(ApiError::invalid("state and code are required"));
    };
    // Only the browser that started this login may finish it.
    if cookie(&headers, LOGIN_COOKIE).as_deref() != Some(login_state.as_str()) {
        return Err(ApiError::invalid(
            "this login was not started in this browser",
        ));
    }
    let tokens = complete(&state, login_state, code).await?;
    let mut response = Redirect::to(&state.after_login_url).into_response();
    set_session_cookies(&state, &tokens, response.headers_mut());
    response.headers_mut().append(
        header::SET_COOKIE,
        state.cookies.clear(LOGIN_COOKIE, SESSION_PATH),
    );
    Ok(response)
}

/// API clients: starts a BankID login; open `authorization_url` in a
/// browser, then post what the redirect carries to `/api/v1/auth/token`.
#[utoipa::path(
    post,
    path = "/api/v1/auth/login",
    tag = "session",
    responses(
        (status = 200, body = LoginStarted),
        (status = 503, description = "Identity is unavailable", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn login_json(State(state): State<AppState>) -> Result<Json<LoginStarted>, ApiError> {
    begin(&state).await.map(Json)
}

/// API clients: completes a login with the redirect's `state` and `code`.
#[utoipa::path(
    post,
    path = "/api/v1/auth/token",
    tag = "session",
    request_body = LoginResult,
    responses(
        (status = 200, body = Session),
        (status = 401, description = "The login did not check out; start again", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn token(
    State(state): State<AppState>,
    JsonBody(result): JsonBody<LoginResult>,
) -> Result<Json<Session>, ApiError> {
    complete(&state, result.state, result.code)
        .await
        .map(|tokens| Json(session(tokens)))
}

/// New tokens for a refresh token, which is used up. Browsers get new
/// cookies (`204`); API clients post their refresh token and get JSON.
#[utoipa::path(
    post,
    path = "/api/v1/auth/refresh",
    tag = "session",
    request_body(content = Option<RefreshRequest>, description = "API clients only; browsers send the cookie"),
    responses(
        (status = 200, description = "API clients", body = Session),
        (status = 204, description = "Browsers: new cookies"),
        (status = 401, description = "No refresh token, or one used up or ended", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "A browser's refresh from a page elsewhere", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn refresh(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Option<JsonBody<RefreshRequest>>,
) -> Result<Response, ApiError> {
    // API clients post their refresh token; browsers cannot read theirs
    // (HttpOnly) and send the cookie instead.
    let from_body = body.and_then(|JsonBody(body)| body.refresh_token);
    let browser = from_body.is_none();
    let refresh_token = match from_body {
        Some(token) => token,
        None => cookie_for_change(&headers, REFRESH_COOKIE, &state)?
            .ok_or_else(ApiError::unauthenticated)?,
    };
    let tokens = state
        .identity
        .clone()
        .refresh_session(pb::RefreshSessionRequest { refresh_token })
        .await?
        .into_inner()
        .tokens
        .ok_or_else(|| ApiError::bad_answer("no tokens"))?;
    if browser {
        let mut response = StatusCode::NO_CONTENT.into_response();
        set_session_cookies(&state, &tokens, response.headers_mut());
        Ok(response)
    } else {
        Ok(Json(session(tokens)).into_response())
    }
}

/// Ends the session: its refresh token stops working at once, and so, in
/// every service, does its access token. The session is the one the access
/// token (bearer or cookie) belongs to, or the refresh token's (body or
/// cookie). A logout that ended nothing is never reported as done.
#[utoipa::path(
    post,
    path = "/api/v1/auth/logout",
    tag = "session",
    request_body(content = Option<RefreshRequest>, description = "Optional for API clients that send their access token; browsers send the cookies"),
    responses(
        (status = 204, description = "Logged out; cookies cleared"),
        (status = 401, description = "No valid access or refresh token named a session; cookies cleared all the same", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "A browser's logout from a page elsewhere", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Option<JsonBody<RefreshRequest>>,
) -> Result<Response, ApiError> {
    let from_body = body.and_then(|JsonBody(body)| body.refresh_token);
    let refresh_token = match from_body {
        Some(token) => Some(token),
        None => cookie_for_change(&headers, REFRESH_COOKIE, &state)?,
    };
    // The access token names its session; one that no longer verifies
    // (expired) names nothing, and the refresh token must do.
    let current = match session_token(&headers, &state)? {
        Some(token) => matches!(
            state.verifier.verify(&token).await,
            Ok(hms_auth::Caller::User(_))
        )
        .then_some(token),
        None => None,
    };
    // The access token's session is the one to end; a refresh token
    // (cookie or body) names it only when no live access token does.
    let mut request = tonic::Request::new(pb::LogoutRequest::default());
    let ended = match (current, refresh_token) {
        (Some(token), _) => match format!("Bearer {token}").parse() {
            Ok(authorization) => {
                request
                    .metadata_mut()
                    .insert("authorization", authorization);
                Ok(request)
            }
            Err(_) => Err(ApiError::unauthenticated()),
        },
        (None, Some(refresh_token)) => {
            request.get_mut().refresh_token = refresh_token;
            Ok(request)
        }
        (None, None) => Err(ApiError::unauthenticated()),
    };
    let ended = match ended {
        Ok(request) => state
            .identity
            .clone()
            .logout(request)
            .await
            .map(drop)
            .map_err(ApiError::from),
        Err(refused) => Err(refused),
    };
    // The browser forgets the session even when identity could not be
    // told; the answer says whether it was.
    let mut response = match ended {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(error) => error.into_response(),
    };
    let cookies = response.headers_mut();
    cookies.append(
        header::SET_COOKIE,
        state.cookies.clear(ACCESS_COOKIE, ACCESS_PATH),
    );
    cookies.append(
        header::SET_COOKIE,
        state.cookies.clear(REFRESH_COOKIE, ACCESS_PATH),
    );
    Ok(response)
}

/// The person logged in, and the companies they may act for.
#[utoipa::path(
    get,
    path = "/api/v1/me",
    tag = "session",
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, body = Me),
    )
)]
pub async fn me(State(state): State<AppState>, person: Person) -> Result<Json<Me>, ApiError> {
    let answer = state
        .identity
        .clone()
        .get_current_user(person.request(pb::GetCurrentUserRequest {}))
        .await?
        .into_inner();
    let user = answer.user.ok_or_else(|| ApiError::bad_answer("no user"))?;
    Ok(Json(Me {
        user_id: user.user_id,
        name: user.name,
        back_office: user.back_office,
        companies: answer
            .companies
            .into_iter()
            .map(|access| {
                Ok(CompanyAccess {
                    source: AccessSource::answered(access.source)?,
                    company_id: access.company_id,
                    org_number: access.org_number,
                    scopes: access.scopes,
                })
            })
            .collect::<Result<_, ApiError>>()?,
    }))
}

async fn begin(state: &AppState) -> Result<LoginStarted, ApiError> {
    let started = state
        .identity
        .clone()
        .begin_login(pb::BeginLoginRequest {})
        .await?
        .into_inner();
    Ok(LoginStarted {
        expires_at: time(started.expires_at.as_ref()),
        authorization_url: started.authorization_url,
        state: started.state,
    })
}

async fn complete(
    state: &AppState,
    login_state: String,
    code: String,
) -> Result<pb::Tokens, ApiError> {
    state
        .identity
        .clone()
        .complete_login(pb::CompleteLoginRequest {
            state: login_state,
            code,
        })
        .await
        .map_err(|status| {
            // A login that does not check out (unknown state, bad code, too
            // low a level) is a failed authentication here, in identity's
            // deliberately vague words.
            if status.code() == tonic::Code::FailedPrecondition {
                ApiError::new(ProblemKind::Unauthenticated, status.message())
            } else {
                status.into()
            }
        })?
        .into_inner()
        .tokens
        .ok_or_else(|| ApiError::bad_answer("no tokens"))
}

fn session(tokens: pb::Tokens) -> Session {
    Session {
        access_token_expires_at: time(tokens.access_token_expires_at.as_ref()),
        session_expires_at: time(tokens.session_expires_at.as_ref()),
        access_token: tokens.access_token,
        refresh_token: tokens.refresh_token,
    }
}

/// Both tokens go to the whole site (see [`ACCESS_PATH`]) and live as long
/// as the session.
fn set_session_cookies(state: &AppState, tokens: &pb::Tokens, headers: &mut HeaderMap) {
    let lifetime = time(tokens.session_expires_at.as_ref())
        .map(|end| (end - Utc::now()).num_seconds())
        .unwrap_or(0);
    let cookies: [HeaderValue; 2] = [
        state
            .cookies
            .session(ACCESS_COOKIE, &tokens.access_token, ACCESS_PATH, lifetime),
        state
            .cookies
            .session(REFRESH_COOKIE, &tokens.refresh_token, ACCESS_PATH, lifetime),
    ];
    for value in cookies {
        headers.append(header::SET_COOKIE, value);
    }
}
