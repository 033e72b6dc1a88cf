//! What happened around a company: its cards and their lifecycle (block,
//! deactivate), the messages the platform sent it, and the access log of
//! its workers' data with the newest signed checkpoint.

use std::collections::BTreeMap;

use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::context;
use minijinja::value::Serde;

use crate::api::ApiError;
use crate::i18n::Lang;
use crate::pages::{App, AppState, LangQuery, PageQuery, Shown, as_person, failed, signed_in};

pub async fn cards(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(company_id): Path<String>,
    Query(query): Query<PageQuery>,
) -> Response {
    cards_page(
        &app,
        &headers,
        query.lang(),
        query.page(),
        &company_id,
        None,
    )
    .await
}

async fn cards_page(
    app: &App,
    headers: &HeaderMap,
    chosen: Option<&str>,
    page: Option<&str>,
    company_id: &str,
    refused: Option<String>,
) -> Response {
    let path = format!("/companies/{company_id}/cards");
    signed_in(app, headers, chosen, &path, async |token, _| {
        let (company, cards) = tokio::try_join!(
            app.api.company(token, company_id),
            app.api.company_cards(token, company_id, page),
        )?;
        Ok(Shown::after(
            "cards.html",
            refused.is_some(),
            context! {
                company => Serde(&company),
                cards => Serde(&cards.cards),
                next_page => cards.next_page_token,
                paged => page.is_some(),
                refused,
            },
        ))
    })
    .await
}

/// Blocks or deactivates a card (`action`), with the form's `reason`.
pub async fn change_card(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path((company_id, card_number, action)): Path<(String, String, String)>,
    form: Result<Form<BTreeMap<String, String>>, FormRejection>,
) -> Response {
    let lang = Lang::of(&headers, None).0;
    let path = format!("/companies/{company_id}/cards");
    if !matches!(action.as_str(), "block" | "deactivate") {
        return failed(&app, lang, &path, &ApiError::NotFound);
    }
    let reason = form
        .ok()
        .and_then(|Form(fields)| fields.get("reason").map(|reason| reason.trim().to_owned()))
        .unwrap_or_default();
    let changed = as_person(&app, &headers, async |token| {
        app.api
            .change_card(token, &card_number, &action, &reason)
            .await
    })
    .await;
    match changed {
        Ok(()) => Redirect::to(&path).into_response(),
        Err(ApiError::Refused(reason)) => {
            cards_page(&app, &headers, None, None, &company_id, Some(reason)).await
        }
        Err(other) => failed(&app, lang, &path, &other),
    }
}

pub async fn notifications(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(company_id): Path<String>,
    Query(query): Query<LangQuery>,
) -> Response {
    let path = format!("/companies/{company_id}/notifications");
    signed_in(&app, &headers, query.lang(), &path, async |token, _| {
        let (company, sent) = tokio::try_join!(
            app.api.company(token, &company_id),
            app.api.notifications(token, &company_id),
        )?;
        Ok(Shown::page(
            "notifications.html",
            context! { company => Serde(&company), notifications => Serde(&sent.notifications) },
        ))
    })
    .await
}

pub async fn access_log(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(company_id): Path<String>,
    Query(query): Query<PageQuery>,
) -> Response {
    let path = format!("/companies/{company_id}/access-log");
    signed_in(&app, &headers, query.lang(), &path, async |token, _| {
        let (company, log) = tokio::try_join!(
            app.api.company(token, &company_id),
            app.api.company_access_log(token, &company_id, query.page()),
        )?;
        Ok(Shown::page(
            "access_log.html",
            context! {
                company => Serde(&company),
                next_page => log.next_page_token.clone(),
                paged => query.page().is_some(),
                log => Serde(&log),
            },
        ))
    })
    .await
}
