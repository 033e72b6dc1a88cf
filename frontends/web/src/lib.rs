//! The reference web front end: server-rendered pages in bokmål and
//! English that reach the platform only through the gateway's public REST
//! API (`/api/v1`), with the person's own session, as any other frontend
//! would. It keeps nothing: the session is the gateway's cookies.
//!
//! Behind one address, an ingress sends `/api` to the gateway and the rest
//! here, so both see the same cookies; in development they listen on two
//! ports of one host, which browsers treat alike for cookies.

mod access;
mod activity;
mod api;
mod backoffice;
mod company;
pub mod config;
mod i18n;
mod orders;
mod pages;
mod render;
mod security;
mod session;
mod supplier;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};

/// The largest upload form taken: the gateway's 10 MB and room for the
/// form's own parts.
const UPLOAD_LIMIT_BYTES: usize = 11 * 1024 * 1024;

pub use config::Settings;

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Templates(#[from] render::TemplateError),
    #[error("the HTTP client could not be built: {0}")]
    Client(#[from] reqwest::Error),
}

/// Every page, with the headers every answer carries.
pub fn router(settings: &Settings) -> Result<Router, StartupError> {
    let app = Arc::new(pages::App {
        api: api::Api::new(settings.api.clone())?,
        pages: render::Pages::new(&settings.browser_api)?,
        cookie_secure: settings.cookie_secure,
    });
    let router = Router::new()
        .route("/", get(pages::home))
        .route("/companies", post(company::register))
        .route("/check", get(pages::check))
        .route("/check/{number}", get(pages::check_link))
        .route("/me", get(pages::me))
        .route("/companies/{company_id}", get(company::company))
        .route(
            "/companies/{company_id}/contact",
            post(company::change_contact),
        )
        .route(
            "/companies/{company_id}/access",
            get(access::page).post(access::give),
        )
        .route(
            "/companies/{company_id}/access/{grant_id}/revoke",
            post(access::revoke),
        )
        .route("/companies/{company_id}/cards", get(activity::cards))
        .route(
            "/companies/{company_id}/cards/{card_number}/{action}",
            post(activity::change_card),
        )
        .route(
            "/companies/{company_id}/notifications",
            get(activity::notifications),
        )
        .route(
            "/companies/{company_id}/access-log",
            get(activity::access_log),
        )
        .route(
            "/companies/{company_id}/agreement",
            post(access::accept_agreement),
        )
        .route(
            "/companies/{company_id}/orders",
            get(orders::list).post(orders::create),
        )
        .route("/orders/{order_id}", get(orders::show))
        .route("/orders/{order_id}/submit", post(orders::submit))
        .route("/orders/{order_id}/workers", post(orders::add_worker))
        .route(
            "/orders/{order_id}/workers/{worker_id}/remove",
            post(orders::remove_worker),
        )
        .route(
            "/orders/{order_id}/workers/{worker_id}/documents/{kind}",
            post(orders::upload).layer(DefaultBodyLimit::max(UPLOAD_LIMIT_BYTES)),
        )
        .route("/suppliers", post(supplier::find))
        .route("/suppliers/{org_number}", get(supplier::page))
        .route(
            "/suppliers/{org_number}/grants/{grant_id}/pass-on",
            post(supplier::pass_on),
        )
        .route(
            "/suppliers/{org_number}/grants/{grant_id}/revoke",
            post(supplier::revoke),
        )
        .route("/backoffice", get(backoffice::queue))
        .route("/backoffice/orders/{order_id}", get(backoffice::review))
        .route(
            "/backoffice/companies/{company_id}/{decision}",
            post(backoffice::decide_company),
        )
        .route(
            "/backoffice/orders/{order_id}/approve",
            post(backoffice::approve),
        )
        .route(
            "/backoffice/orders/{order_id}/return",
            post(backoffice::send_back),
        )
        .route("/documents/{document_id}", get(backoffice::document))
        .route("/logged-in", get(pages::logged_in))
        .route("/logout", post(pages::logout))
        .route("/static/style.css", get(pages::style))
        .route("/healthz", get(pages::healthz))
        .fallback(pages::not_found)
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            security::only_from_this_site,
        ))
        .with_state(app);
    Ok(security::with_headers(router))
}
