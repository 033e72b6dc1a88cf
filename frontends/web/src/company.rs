//! The company portal: a company's page (its details, contact details and
//! their history, the data processing agreement) and the change of its
//! contact details, which only those with `company:contact:write` see and
//! which the platform allows only soon after a BankID login.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::context;
use minijinja::value::Serde;
use serde::Deserialize;

use crate::api::{ApiError, Contact, Me};
use crate::i18n::Lang;
use crate::pages::{App, AppState, Shown, as_person, failed, signed_in};

/// The scope that lets a person change a company's contact details.
const CONTACT_WRITE: &str = "company:contact:write";

#[derive(Debug, Deserialize)]
pub struct CompanyQuery {
    lang: Option<String>,
    /// Set after a change went through.
    changed: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct ContactForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    phone: String,
}

/// How the change form ended, when it was sent.
#[derive(Default)]
struct Outcome {
    /// What the person typed, to show again.
    typed: Option<Contact>,
    /// The API's reason for a refusal.
    refused: Option<String>,
    login_again: bool,
}

fn may_change_contact(me: &Me, company_id: &str) -> bool {
    me.companies.iter().any(|access| {
        access.company_id == company_id && access.scopes.iter().any(|scope| scope == CONTACT_WRITE)
    })
}

pub async fn company(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(company_id): Path<String>,
    Query(query): Query<CompanyQuery>,
) -> Response {
    let changed = query.changed.is_some();
    page(
        &app,
        &headers,
        query.lang.as_deref(),
        &company_id,
        changed,
        Outcome::default(),
    )
    .await
}

/// Changes the contact details, then shows the page again: with the change,
/// or with what was typed and why it did not go through.
pub async fn change_contact(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(company_id): Path<String>,
    form: Result<Form<ContactForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let lang = Lang::of(&headers, None).0;
    let path = format!("/companies/{company_id}");
    // An unreadable form is an empty one: the API says what is missing.
    let form = form.map(|Form(form)| form).unwrap_or_default();
    let typed = Contact {
        email: form.email.trim().to_owned(),
        phone: form.phone.trim().to_owned(),
    };
    let result = as_person(&app, &headers, async |token| {
        app.api.change_contact(token, &company_id, &typed).await
    })
    .await;
    let outcome = match result {
        Ok(_) => return Redirect::to(&format!("{path}?changed=1")).into_response(),
        Err(ApiError::Refused(reason)) => Outcome {
            typed: Some(typed),
            refused: Some(reason),
            login_again: false,
        },
        Err(ApiError::LoginRequired) => Outcome {
            typed: Some(typed),
            refused: None,
            login_again: true,
        },
        Err(other) => return failed(&app, lang, &path, &other),
    };
    page(&app, &headers, None, &company_id, false, outcome).await
}

async fn page(
    app: &App,
    headers: &HeaderMap,
    chosen: Option<&str>,
    company_id: &str,
    changed: bool,
    outcome: Outcome,
) -> Response {
    let path = format!("/companies/{company_id}");
    signed_in(app, headers, chosen, &path, async |token, me| {
        let (company, history, agreement) = tokio::join!(
            app.api.company(token, company_id),
            app.api.contact_history(token, company_id),
            app.api.agreement(token, company_id),
        );
        let company = company?;
        // What the person may not read is left out, not an error.
        let history = optional(history)?;
        let agreement = optional(agreement)?;
        let status = if outcome.refused.is_some() {
            StatusCode::BAD_REQUEST
        } else if outcome.login_again {
            StatusCode::FORBIDDEN
        } else {
            StatusCode::OK
        };
        let form = outcome.typed.unwrap_or_else(|| company.contact.clone());
        Ok(Shown {
            template: "company.html",
            status,
            values: context! {
                company => Serde(&company),
                history => Serde(history),
                agreement => Serde(agreement),
                may_change => may_change_contact(me, company_id),
                may_manage => crate::access::has_scope(me, company_id, "access:manage"),
                changed,
                form => Serde(form),
                refused => outcome.refused,
                login_again => outcome.login_again,
            },
        })
    })
    .await
}

#[derive(Debug, Default, Deserialize)]
pub struct RegistrationForm {
    #[serde(default)]
    org_number: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    industry: String,
    #[serde(default)]
    language: String,
}

/// Registers a company the person holds a role in (the platform checks
/// the register); then its page, or the front page with the reason.
pub async fn register(
    State(app): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<RegistrationForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let lang = Lang::of(&headers, None).0;
    let form = form.map(|Form(form)| form).unwrap_or_default();
    let company = serde_json::json!({
        "org_number": form.org_number.replace(' ', ""),
        "name": form.name.trim(),
        "contact": { "email": form.email.trim(), "phone": form.phone.trim() },
        "industry": form.industry,
        "language": if form.language.is_empty() { lang.code().to_owned() } else { form.language.clone() },
    });
    let registered = as_person(&app, &headers, async |token| {
        app.api.register_company(token, company).await
    })
    .await;
    match registered {
        Ok(company) => Redirect::to(&format!("/companies/{}", company.company_id)).into_response(),
        Err(ApiError::Refused(reason)) => {
            crate::pages::home_page(&app, &headers, None, Some((&form, reason))).await
        }
        Err(ApiError::Forbidden) => {
            crate::pages::home_page(&app, &headers, None, Some((&form, String::new()))).await
        }
        Err(other) => failed(&app, lang, "/", &other),
    }
}

impl RegistrationForm {
    /// What was typed, to show again.
    pub fn shown(&self) -> minijinja::Value {
        context! {
            org_number => self.org_number.clone(),
            name => self.name.clone(),
            email => self.email.clone(),
            phone => self.phone.clone(),
            industry => self.industry.clone(),
        }
    }
}

fn optional<T>(answer: Result<T, ApiError>) -> Result<Option<T>, ApiError> {
    match answer {
        Ok(value) => Ok(Some(value)),
        Err(ApiError::Forbidden | ApiError::NotFound) => Ok(None),
        Err(other) => Err(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::CompanyAccess;

    #[test]
    fn only_the_contact_scope_on_this_company_shows_the_form() {
        let me = Me {
            user_id: "u".to_owned(),
            name: "Per".to_owned(),
            back_office: false,
            companies: vec![
                CompanyAccess {
                    company_id: "a".to_owned(),
                    org_number: "1".to_owned(),
                    scopes: vec!["cards:order".to_owned()],
                    source: "supplier_grant".to_owned(),
                },
                CompanyAccess {
                    company_id: "b".to_owned(),
                    org_number: "2".to_owned(),
                    scopes: vec![CONTACT_WRITE.to_owned()],
                    source: "register_role".to_owned(),
                },
            ],
        };
        assert!(!may_change_contact(&me, "a"));
        assert!(may_change_contact(&me, "b"));
        assert!(!may_change_contact(&me, "c"));
    }
}
