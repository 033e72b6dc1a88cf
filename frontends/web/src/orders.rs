//! Orders in the company portal: a company's orders and a new one, an
//! order's workers and their three documents (the phone's camera works as
//! the file input), sending it for review, and fixing what the back office
//! sent back.

use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::context;
use minijinja::value::Serde;
use serde::Deserialize;

use crate::api::{ApiError, NewWorker};
use crate::i18n::Lang;
use crate::pages::{App, AppState, PageQuery, Shown, after_change, as_person, failed, signed_in};

/// The documents every worker needs, in the order they are asked for.
pub const DOCUMENT_KINDS: [&str; 3] = ["passport_photo", "id_document", "signature"];

#[derive(Debug, Default, Deserialize)]
pub struct OrderForm {
    /// Chosen when the form was shown: the same form sent twice orders once.
    #[serde(default)]
    key: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    national_id: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    card_type: String,
}

impl OrderForm {
    /// The worker as typed, spaces in the number left out.
    fn worker(&self) -> NewWorker {
        NewWorker {
            name: self.name.trim().to_owned(),
            national_id: self
                .national_id
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect(),
            phone: self.phone.trim().to_owned(),
            card_type: self.card_type.clone(),
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct OrderQuery {
    lang: Option<String>,
    submitted: Option<String>,
}

pub async fn list(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(company_id): Path<String>,
    Query(query): Query<PageQuery>,
) -> Response {
    list_page(
        &app,
        &headers,
        query.lang(),
        query.page(),
        &company_id,
        None,
        None,
    )
    .await
}

/// The company's orders and the form for a new one; after a refusal, with
/// what was typed (never the national identity number, which is typed
/// again) and why.
async fn list_page(
    app: &App,
    headers: &HeaderMap,
    chosen: Option<&str>,
    page: Option<&str>,
    company_id: &str,
    typed: Option<&OrderForm>,
    refused: Option<String>,
) -> Response {
    let path = format!("/companies/{company_id}/orders");
    signed_in(app, headers, chosen, &path, async |token, _| {
        let (company, orders) = tokio::try_join!(
            app.api.company(token, company_id),
            app.api.company_orders(token, company_id, page),
        )?;
        Ok(Shown::after(
            "orders.html",
            refused.is_some(),
            context! {
                company => Serde(&company),
                orders => Serde(&orders.orders),
                next_page => orders.next_page_token,
                paged => page.is_some(),
                key => uuid::Uuid::new_v4().to_string(),
                name => typed.map(|form| form.name.clone()).unwrap_or_default(),
                phone => typed.map(|form| form.phone.clone()).unwrap_or_default(),
                card_type => typed.map(|form| form.card_type.clone()).unwrap_or_else(|| "construction".to_owned()),
                refused,
            },
        ))
    })
    .await
}

pub async fn create(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(company_id): Path<String>,
    form: Result<Form<OrderForm>, FormRejection>,
) -> Response {
    let lang = Lang::of(&headers, None).0;
    let path = format!("/companies/{company_id}/orders");
    let form = form.map(|Form(form)| form).unwrap_or_default();
    let worker = NewWorker {
        name: form.name.trim().to_owned(),
        national_id: form
            .national_id
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect(),
        phone: form.phone.trim().to_owned(),
        card_type: form.card_type.clone(),
    };
    // A form without its key is not from our page; a new key still orders
    // once.
    let key = if form.key.is_empty() {
        uuid::Uuid::new_v4().to_string()
    } else {
        form.key.clone()
    };
    let created = as_person(&app, &headers, async |token| {
        app.api
            .create_order(token, &company_id, &key, &worker)
            .await
    })
    .await;
    match created {
        Ok(order) => Redirect::to(&format!("/orders/{}", order.order_id)).into_response(),
        Err(ApiError::Refused(reason)) => {
            list_page(
                &app,
                &headers,
                None,
                None,
                &company_id,
                Some(&form),
                Some(reason),
            )
            .await
        }
        Err(other) => failed(&app, lang, &path, &other),
    }
}

pub async fn show(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(order_id): Path<String>,
    Query(query): Query<OrderQuery>,
) -> Response {
    let submitted = query.submitted.is_some();
    order_page(
        &app,
        &headers,
        query.lang.as_deref(),
        &order_id,
        submitted,
        None,
    )
    .await
}

async fn order_page(
    app: &App,
    headers: &HeaderMap,
    chosen: Option<&str>,
    order_id: &str,
    submitted: bool,
    refused: Option<String>,
) -> Response {
    let path = format!("/orders/{order_id}");
    signed_in(app, headers, chosen, &path, async |token, _| {
        let (order, documents, receipt) = tokio::join!(
            app.api.order(token, order_id),
            app.api.documents(token, order_id),
            app.api.receipt(token, order_id),
        );
        let (order, documents) = (order?, documents?);
        // No receipt until the order is decided and its data forgotten.
        let receipt = match receipt {
            Ok(receipt) => Some(receipt),
            Err(ApiError::NotFound | ApiError::Forbidden) => None,
            Err(other) => return Err(other),
        };
        let open = matches!(order.status.as_str(), "draft" | "needs_correction");
        Ok(Shown::after(
            "order.html",
            refused.is_some(),
            context! {
                order => Serde(&order),
                documents => Serde(&documents),
                receipt => Serde(receipt),
                kinds => DOCUMENT_KINDS,
                open,
                submitted,
                refused,
            },
        ))
    })
    .await
}

/// One document from the form's file field, passed on to the API as it
/// came; the API checks and cleans it.
pub async fn upload(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path((order_id, worker_id, kind)): Path<(String, String, String)>,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Response {
    let lang = Lang::of(&headers, None).0;
    let path = format!("/orders/{order_id}");
    if !DOCUMENT_KINDS.contains(&kind.as_str()) {
        return failed(&app, lang, &path, &ApiError::NotFound);
    }
    let file = match multipart {
        Ok(multipart) => file_field(multipart).await,
        Err(_) => None,
    };
    let Some(file) = file.filter(|file| !file.is_empty()) else {
        return order_page(&app, &headers, None, &order_id, false, Some(String::new())).await;
    };
    let uploaded = as_person(&app, &headers, async |token| {
        app.api
            .upload(token, &order_id, &worker_id, &kind, file)
            .await
    })
    .await;
    match uploaded {
        Ok(_) => Redirect::to(&format!("{path}#worker-{worker_id}")).into_response(),
        Err(ApiError::Refused(reason)) => {
            order_page(&app, &headers, None, &order_id, false, Some(reason)).await
        }
        Err(other) => failed(&app, lang, &path, &other),
    }
}

/// The bytes of the form's `file` field.
async fn file_field(mut multipart: Multipart) -> Option<bytes::Bytes> {
    while let Ok(Some(field)) = multipart.next_field().await {
        if field.name() == Some("file") {
            return field.bytes().await.ok();
        }
    }
    None
}

/// Adds a worker to an open order, from the same form as a new order's.
pub async fn add_worker(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(order_id): Path<String>,
    form: Result<Form<OrderForm>, FormRejection>,
) -> Response {
    let form = form.map(|Form(form)| form).unwrap_or_default();
    let worker = form.worker();
    let done = as_person(&app, &headers, async |token| {
        app.api.add_worker(token, &order_id, &worker).await
    })
    .await;
    order_changed(&app, &headers, &order_id, done).await
}

pub async fn remove_worker(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path((order_id, worker_id)): Path<(String, String)>,
) -> Response {
    let done = as_person(&app, &headers, async |token| {
        app.api.remove_worker(token, &order_id, &worker_id).await
    })
    .await;
    order_changed(&app, &headers, &order_id, done).await
}

/// The order's page after a change: as it is now, or with the API's reason.
async fn order_changed(
    app: &App,
    headers: &HeaderMap,
    order_id: &str,
    done: Result<(), ApiError>,
) -> Response {
    after_change(
        app,
        headers,
        &format!("/orders/{order_id}"),
        done,
        async |reason| order_page(app, headers, None, order_id, false, Some(reason)).await,
    )
    .await
}

pub async fn submit(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(order_id): Path<String>,
) -> Response {
    let lang = Lang::of(&headers, None).0;
    let path = format!("/orders/{order_id}");
    let submitted = as_person(&app, &headers, async |token| {
        app.api.submit(token, &order_id).await
    })
    .await;
    match submitted {
        Ok(_) => Redirect::to(&format!("{path}?submitted=1")).into_response(),
        Err(ApiError::Refused(reason)) => {
            order_page(&app, &headers, None, &order_id, false, Some(reason)).await
        }
        Err(other) => failed(&app, lang, &path, &other),
    }
}
