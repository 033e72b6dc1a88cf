//! A supplier's side of access: what companies have granted it, and
//! passing a grant on to one of its own staff (never with more than the
//! grant gives), or taking that back. For the supplier's access managers;
//! to anyone else the supplier has nothing.

use std::collections::BTreeMap;

use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::context;
use minijinja::value::Serde;
use serde::Deserialize;

use crate::access::GrantForm;
use crate::api::ApiError;
use crate::pages::{App, AppState, LangQuery, Shown, after_change, as_person, signed_in};

#[derive(Debug, Default, Deserialize)]
pub struct SupplierForm {
    #[serde(default)]
    org_number: String,
}

/// The front page's form names the supplier; its page has the address.
pub async fn find(form: Result<Form<SupplierForm>, FormRejection>) -> Response {
    let org: String = form
        .map(|Form(form)| form.org_number)
        .unwrap_or_default()
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    Redirect::to(&format!("/suppliers/{org}")).into_response()
}

pub async fn page(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(org_number): Path<String>,
    Query(query): Query<LangQuery>,
) -> Response {
    supplier_page(&app, &headers, query.lang(), &org_number, None).await
}

async fn supplier_page(
    app: &App,
    headers: &HeaderMap,
    chosen: Option<&str>,
    org_number: &str,
    refused: Option<String>,
) -> Response {
    let path = format!("/suppliers/{org_number}");
    signed_in(app, headers, chosen, &path, async |token, _| {
        let given = app.api.supplier_grants(token, org_number).await?;
        Ok(Shown::after(
            "supplier.html",
            refused.is_some(),
            context! { org_number, grants => Serde(&given.grants), refused },
        ))
    })
    .await
}

/// Passes the grant on: `national_id`, `name`, and a `scope_<scope>` for
/// each scope passed on (the API refuses more than the grant holds).
pub async fn pass_on(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path((org_number, grant_id)): Path<(String, String)>,
    form: Result<Form<BTreeMap<String, String>>, FormRejection>,
) -> Response {
    let form = GrantForm::read(form);
    let field = |name: &str| form.field(name);
    let scopes = form.scopes();
    let name = field("name");
    let delegation = serde_json::json!({
        "national_id": field("national_id").replace(' ', ""),
        "name": (!name.is_empty()).then_some(name),
        "scopes": scopes,
    });
    change(&app, &headers, &org_number, async |token| {
        app.api.delegate(token, &grant_id, delegation).await
    })
    .await
}

/// Takes back what the supplier passed on.
pub async fn revoke(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path((org_number, grant_id)): Path<(String, String)>,
) -> Response {
    change(&app, &headers, &org_number, async |token| {
        app.api.revoke(token, &grant_id).await
    })
    .await
}

/// The supplier's page after a change: as it is now, or with the API's
/// reason.
async fn change(
    app: &App,
    headers: &HeaderMap,
    org_number: &str,
    act: impl AsyncFnOnce(&str) -> Result<(), ApiError>,
) -> Response {
    let done = as_person(app, headers, act).await;
    after_change(
        app,
        headers,
        &format!("/suppliers/{org_number}"),
        done,
        async |reason| supplier_page(app, headers, None, org_number, Some(reason)).await,
    )
    .await
}
