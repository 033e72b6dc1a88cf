//! The back-office desk: the queue of orders waiting for a decision, and
//! an order's review with the registers' answers and the documents side by
//! side, a decision on each document (with a reason when it is sent back),
//! and approval.

use std::collections::BTreeMap;

use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::context;
use minijinja::value::Serde;

use crate::api::{ApiError, DocumentRejection};
use crate::i18n::Lang;
use crate::orders::DOCUMENT_KINDS;
use crate::pages::{App, AppState, LangQuery, Shown, as_person, failed, signed_in};

/// Why a document may be sent back, as the API names them.
pub const REJECTION_REASONS: [&str; 7] = [
    "photo_unclear",
    "not_a_passport_photo",
    "id_document_unreadable",
    "id_document_expired",
    "signature_missing",
    "name_mismatch",
    "other",
];

pub async fn queue(
    State(app): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<LangQuery>,
) -> Response {
    signed_in(&app, &headers, query.lang(), "/backoffice", async |token, _| {
        let (companies, orders) = tokio::try_join!(
            app.api.pending_companies(token),
            app.api.review_queue(token),
        )?;
        Ok(Shown::page(
            "backoffice.html",
            context! { companies => Serde(&companies.companies), orders => Serde(&orders.orders) },
        ))
    })
    .await
}

/// Approves or rejects (`decision`) a registered company, with the form's
/// `reason` for a rejection.
pub async fn decide_company(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path((company_id, decision)): Path<(String, String)>,
    form: Result<Form<BTreeMap<String, String>>, FormRejection>,
) -> Response {
    let lang = Lang::of(&headers, None).0;
    if !matches!(decision.as_str(), "approve" | "reject") {
        return failed(&app, lang, "/backoffice", &ApiError::NotFound);
    }
    let reason = form
        .ok()
        .and_then(|Form(fields)| fields.get("reason").map(|reason| reason.trim().to_owned()))
        .unwrap_or_default();
    let decided = as_person(&app, &headers, async |token| {
        app.api
            .decide_company(token, &company_id, &decision, &reason)
            .await
    })
    .await;
    match decided {
        Ok(_) => Redirect::to("/backoffice").into_response(),
        Err(other) => failed(&app, lang, "/backoffice", &other),
    }
}

pub async fn review(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(order_id): Path<String>,
    Query(query): Query<LangQuery>,
) -> Response {
    review_page(&app, &headers, query.lang(), &order_id, None).await
}

async fn review_page(
    app: &App,
    headers: &HeaderMap,
    chosen: Option<&str>,
    order_id: &str,
    refused: Option<String>,
) -> Response {
    let path = format!("/backoffice/orders/{order_id}");
    signed_in(app, headers, chosen, &path, async |token, _| {
        let (order, documents) = tokio::try_join!(
            app.api.order(token, order_id),
            app.api.documents(token, order_id),
        )?;
        Ok(Shown::after(
            "review.html",
            refused.is_some(),
            context! {
                order => Serde(&order),
                documents => Serde(&documents),
                kinds => DOCUMENT_KINDS,
                reasons => REJECTION_REASONS,
                refused,
            },
        ))
    })
    .await
}

pub async fn approve(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(order_id): Path<String>,
) -> Response {
    decide(&app, &headers, &order_id, None).await
}

/// Sends the order back with the documents given a reason
/// (`reason_<document id>`, and `note_<document id>` to say more).
pub async fn send_back(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(order_id): Path<String>,
    form: Result<Form<BTreeMap<String, String>>, FormRejection>,
) -> Response {
    let fields = form.map(|Form(fields)| fields).unwrap_or_default();
    let rejections: Vec<DocumentRejection> = fields
        .iter()
        .filter_map(|(name, reason)| {
            let document_id = name.strip_prefix("reason_")?;
            (!reason.is_empty()).then(|| DocumentRejection {
                document_id: document_id.to_owned(),
                reason: reason.clone(),
                note: fields
                    .get(&format!("note_{document_id}"))
                    .map(|note| note.trim().to_owned())
                    .filter(|note| !note.is_empty()),
            })
        })
        .collect();
    decide(&app, &headers, &order_id, Some(rejections)).await
}

/// Approves the order, or sends it back with `rejections`; then the queue.
async fn decide(
    app: &App,
    headers: &HeaderMap,
    order_id: &str,
    rejections: Option<Vec<DocumentRejection>>,
) -> Response {
    let lang = Lang::of(headers, None).0;
    let path = format!("/backoffice/orders/{order_id}");
    let decided = as_person(app, headers, async |token| match &rejections {
        None => app.api.approve(token, order_id).await,
        Some(rejections) => {
            app.api
                .return_for_correction(token, order_id, rejections)
                .await
        }
    })
    .await;
    match decided {
        Ok(_) => Redirect::to("/backoffice").into_response(),
        Err(ApiError::Refused(reason)) => {
            review_page(app, headers, None, order_id, Some(reason)).await
        }
        Err(other) => failed(app, lang, &path, &other),
    }
}

/// A document's image for the review page, fetched with the case
/// handler's session (the page's policy allows images from this site only).
pub async fn document(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(document_id): Path<String>,
) -> Response {
    let lang = Lang::of(&headers, None).0;
    let file = as_person(&app, &headers, async |token| {
        app.api.document(token, &document_id).await
    })
    .await;
    match file {
        Ok(file) => {
            // Only the image types media stores are shown in the page;
            // anything else is a download.
            let inline = matches!(file.content_type.as_str(), "image/jpeg" | "image/png");
            let content_type = HeaderValue::from_str(&file.content_type)
                .unwrap_or(HeaderValue::from_static("application/octet-stream"));
            let disposition = if inline { "inline" } else { "attachment" };
            (
                [
                    (header::CONTENT_TYPE, content_type),
                    (
                        header::CONTENT_DISPOSITION,
                        HeaderValue::from_static(disposition),
                    ),
                ],
                file.bytes,
            )
                .into_response()
        }
        Err(error) => failed(&app, lang, "/backoffice", &error),
    }
}
