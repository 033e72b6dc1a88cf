//! Who may act for a company: its owners in the register, and the grants
//! to persons and to suppliers (a supplier only once the company confirms
//! a data processing agreement with it), given and revoked by those with
//! `access:manage` after a recent BankID login; and the company's
//! acceptance of the platform's data processing agreement.

use std::collections::BTreeMap;

use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::context;
use minijinja::value::Serde;

use crate::api::{ApiError, Me};
use crate::i18n::Lang;
use crate::pages::{App, AppState, LangQuery, Shown, as_person, failed, signed_in};

/// The scopes a company can grant, in the order the form lists them.
pub const SCOPES: [&str; 4] = [
    "cards:order",
    "workers:read",
    "company:contact:write",
    "access:manage",
];

/// The scope that lets a person manage who has access.
const ACCESS_MANAGE: &str = "access:manage";

pub(crate) fn has_scope(me: &Me, company_id: &str, scope: &str) -> bool {
    me.companies.iter().any(|access| {
        access.company_id == company_id && access.scopes.iter().any(|held| held == scope)
    })
}

/// How a change ended, to show at the form.
#[derive(Default)]
struct Outcome {
    refused: Option<String>,
    login_again: bool,
}

impl Outcome {
    fn of(error: ApiError) -> Result<Self, ApiError> {
        match error {
            ApiError::Refused(reason) => Ok(Self {
                refused: Some(reason),
                login_again: false,
            }),
            ApiError::LoginRequired => Ok(Self {
                refused: None,
                login_again: true,
            }),
            other => Err(other),
        }
    }

    fn status(&self) -> StatusCode {
        if self.refused.is_some() {
            StatusCode::BAD_REQUEST
        } else if self.login_again {
            StatusCode::FORBIDDEN
        } else {
            StatusCode::OK
        }
    }
}

pub async fn page(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(company_id): Path<String>,
    Query(query): Query<LangQuery>,
) -> Response {
    access_page(
        &app,
        &headers,
        query.lang(),
        &company_id,
        Outcome::default(),
    )
    .await
}

async fn access_page(
    app: &App,
    headers: &HeaderMap,
    chosen: Option<&str>,
    company_id: &str,
    outcome: Outcome,
) -> Response {
    let path = format!("/companies/{company_id}/access");
    signed_in(app, headers, chosen, &path, async |token, me| {
        let (company, access) = tokio::try_join!(
            app.api.company(token, company_id),
            app.api.access(token, company_id),
        )?;
        Ok(Shown {
            template: "access.html",
            status: outcome.status(),
            values: context! {
                company => Serde(&company),
                access => Serde(&access),
                may_manage => has_scope(me, company_id, ACCESS_MANAGE),
                scopes => SCOPES,
                refused => outcome.refused,
                login_again => outcome.login_again,
            },
        })
    })
    .await
}

/// A form that gives or passes on a grant: its fields, and a
/// `scope_<scope>` for each scope ticked. A form that cannot be read is
/// an empty one, which the API refuses with its reasons.
pub struct GrantForm(BTreeMap<String, String>);

impl GrantForm {
    pub fn read(form: Result<Form<BTreeMap<String, String>>, FormRejection>) -> Self {
        Self(form.map(|Form(fields)| fields).unwrap_or_default())
    }

    /// A field, trimmed; empty when missing.
    pub fn field(&self, name: &str) -> String {
        self.0
            .get(name)
            .map(|value| value.trim().to_owned())
            .unwrap_or_default()
    }

    /// Whether a checkbox was ticked (a form sends only those).
    pub fn ticked(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }

    pub fn scopes(&self) -> Vec<&'static str> {
        SCOPES
            .into_iter()
            .filter(|scope| self.ticked(&format!("scope_{scope}")))
            .collect()
    }
}

/// Gives a grant from the form: `grantee` (`person` or `supplier`),
/// `national_id` and `name`, or `org_number`, `agreement` and
/// `agreement_reference`; and a `scope_<scope>` for each scope given.
pub async fn give(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(company_id): Path<String>,
    form: Result<Form<BTreeMap<String, String>>, FormRejection>,
) -> Response {
    let form = GrantForm::read(form);
    let field = |name: &str| form.field(name);
    let scopes = form.scopes();
    let grantee = if field("grantee") == "supplier" {
        let reference = field("agreement_reference");
        serde_json::json!({
            "type": "supplier",
            "org_number": field("org_number").replace(' ', ""),
            "processor_agreement": {
                "in_place": form.ticked("agreement"),
                "reference": (!reference.is_empty()).then_some(reference),
            },
        })
    } else {
        let name = field("name");
        serde_json::json!({
            "type": "person",
            "national_id": field("national_id").replace(' ', ""),
            "name": (!name.is_empty()).then_some(name),
        })
    };
    let grant = serde_json::json!({ "grantee": grantee, "scopes": scopes });
    change(&app, &headers, &company_id, async |token| {
        app.api.grant(token, &company_id, grant).await.map(drop)
    })
    .await
}

pub async fn revoke(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path((company_id, grant_id)): Path<(String, String)>,
) -> Response {
    change(&app, &headers, &company_id, async |token| {
        app.api.revoke(token, &grant_id).await
    })
    .await
}

/// Accepts the agreement version the form names (the one the person read).
pub async fn accept_agreement(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(company_id): Path<String>,
    form: Result<Form<BTreeMap<String, String>>, FormRejection>,
) -> Response {
    let version: u32 = form
        .ok()
        .and_then(|Form(fields)| fields.get("version").and_then(|v| v.parse().ok()))
        .unwrap_or_default();
    let lang = Lang::of(&headers, None).0;
    let path = format!("/companies/{company_id}");
    let accepted = as_person(&app, &headers, async |token| {
        app.api.accept_agreement(token, &company_id, version).await
    })
    .await;
    match accepted {
        Ok(()) => Redirect::to(&path).into_response(),
        Err(error) => failed(&app, lang, &path, &error),
    }
}

/// A change to the company's access from this site's form; then the access
/// page, with the API's reason when it was refused.
async fn change(
    app: &App,
    headers: &HeaderMap,
    company_id: &str,
    act: impl AsyncFnOnce(&str) -> Result<(), ApiError>,
) -> Response {
    let lang = Lang::of(headers, None).0;
    let path = format!("/companies/{company_id}/access");
    match as_person(app, headers, act).await.map_err(Outcome::of) {
        Ok(()) => Redirect::to(&path).into_response(),
        Err(Ok(outcome)) => access_page(app, headers, None, company_id, outcome).await,
        Err(Err(other)) => failed(app, lang, &path, &other),
    }
}
