//! The routes, the OpenAPI 3.1 document generated from their annotations
//! (`/api/openapi.json`), and a page that shows it to people (`/api/docs`).

use std::fmt::Write;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use bytes::Bytes;
use hms_runtime::StartupError;
use utoipa::OpenApi;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::problem::{ApiError, Problem, ProblemKind};
use crate::routes::{
    access, access_log, agreements, auth, card_credentials, cards, companies, documents, me,
    notifications, orders, processing, receipts,
};
use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "HMS-kort API",
        version = "1",
        description = "Ordering HMS cards for construction and cleaning workers: log in with \
                       BankID, register companies, grant access, order cards. Errors are \
                       `application/problem+json` (RFC 9457) with a stable `type` per kind."
    ),
    components(schemas(Problem)),
    modifiers(&Security),
    tags(
        (name = "session", description = "Logging in with BankID, and who you are"),
        (name = "companies", description = "Companies, their registration and contact details"),
        (name = "access", description = "Who may act for a company"),
        (name = "orders", description = "Orders of HMS cards for workers"),
        (name = "cards", description = "HMS cards: a company's cards, blocking and deactivating them, the public check, and the QR credential anyone can verify offline with the published keys and status list"),
        (name = "back office", description = "The authority's case handlers: queues and decisions"),
        (name = "documentation", description = "This document, as JSON and as a page"),
    )
)]
struct ApiDoc;

struct Security;

impl utoipa::Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some("An access token from /api/v1/auth/token"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                crate::auth::ACCESS_COOKIE,
                "Set by the browser login (/api/v1/auth/login)",
            ))),
        );
    }
}

/// The problems any operation can answer with, added where an operation
/// does not describe them itself: so the document names every error.
struct StandardProblems;

impl utoipa::Modify for StandardProblems {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        let problem = |description: &str| {
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/problem+json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("Problem")))
                        .build(),
                )
                .build()
        };
        for item in openapi.paths.paths.values_mut() {
            for operation in [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.patch,
                &mut item.delete,
            ]
            .into_iter()
            .flatten()
            {
                let secured = operation.security.is_some();
                let has_body = operation.request_body.is_some();
                let mut standard = vec![
                    ("400", "The request is not valid: a parameter or the body"),
                    ("429", "Too many requests; see `Retry-After`"),
                    ("500", "Something went wrong; the error was logged"),
                    (
                        "503",
                        "A service is unavailable or the request took too long",
                    ),
                ];
                if secured {
                    standard.push(("401", "Log in, or present a valid token"));
                    standard.push((
                        "403",
                        "Not allowed, or the login is too old for this: log in again",
                    ));
                }
                if has_body {
                    standard.push(("413", "The body is too large"));
                }
                for (status, description) in standard {
                    operation
                        .responses
                        .responses
                        .entry(status.to_owned())
                        .or_insert_with(|| problem(description).into());
                }
            }
        }
    }
}

/// The document and its page are routes too, and so in the document.
fn describe_documentation(openapi: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::path::{HttpMethod, OperationBuilder};
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    use utoipa::openapi::{ContentBuilder, ResponseBuilder};
    for (path, operation_id, summary, media_type, schema_type) in [
        (
            "/api/openapi.json",
            "openapi_document",
            "This document (OpenAPI 3.1)",
            "application/json",
            Type::Object,
        ),
        (
            "/api/docs",
            "docs_page",
            "This document as a page to read",
            "text/html",
            Type::String,
        ),
    ] {
        let operation = OperationBuilder::new()
            .tag("documentation")
            .operation_id(Some(operation_id))
            .summary(Some(summary))
            .response(
                "200",
                ResponseBuilder::new().description(summary).content(
                    media_type,
                    ContentBuilder::new()
                        .schema(Some(ObjectBuilder::new().schema_type(schema_type)))
                        .build(),
                ),
            )
            .build();
        openapi
            .paths
            .add_path_operation(path, vec![HttpMethod::Get], operation);
    }
}

/// Every route, with the document that describes them.
fn api(state: AppState) -> (Router, utoipa::openapi::OpenApi) {
    let (router, mut document) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(auth::login_redirect, auth::login_json))
        .routes(routes!(auth::callback))
        .routes(routes!(auth::token))
        .routes(routes!(auth::refresh))
        .routes(routes!(auth::logout))
        .routes(routes!(auth::me))
        .routes(routes!(me::records))
        .routes(routes!(me::access_log))
        .routes(routes!(companies::register))
        .routes(routes!(companies::get))
        .routes(routes!(companies::update_contact))
        .routes(routes!(companies::contact_history))
        .routes(routes!(access_log::list))
        .routes(routes!(access_log::export))
        .routes(routes!(access_log::keys))
        .routes(routes!(agreements::get))
        .routes(routes!(agreements::accept))
        .routes(routes!(agreements::publish))
        .routes(routes!(notifications::list))
        .routes(routes!(access::list, access::grant))
        .routes(routes!(access::delegate))
        .routes(routes!(access::supplier_grants))
        .routes(routes!(access::revoke))
        .routes(routes!(orders::create, orders::list))
        .routes(routes!(orders::get))
        .routes(routes!(orders::add_worker))
        .routes(routes!(orders::remove_worker))
        .routes(routes!(orders::submit))
        .routes(routes!(receipts::receipt))
        .routes(routes!(receipts::keys))
        .routes(routes!(processing::register))
        .routes(routes!(documents::upload))
        .routes(routes!(documents::list))
        .routes(routes!(documents::download))
        .routes(routes!(companies::queue))
        .routes(routes!(companies::approve))
        .routes(routes!(companies::reject))
        .routes(routes!(companies::suspend))
        .routes(routes!(orders::queue))
        .routes(routes!(orders::approve))
        .routes(routes!(orders::reject))
        .routes(routes!(orders::return_for_correction))
        .routes(routes!(notifications::all))
        .routes(routes!(cards::list))
        .routes(routes!(cards::get))
        .routes(routes!(cards::block))
        .routes(routes!(cards::deactivate))
        .routes(routes!(cards::renewal))
        .routes(routes!(cards::check))
        .routes(routes!(card_credentials::credential))
        .routes(routes!(card_credentials::qr_png))
        .routes(routes!(card_credentials::qr_svg))
        .routes(routes!(card_credentials::keys))
        .routes(routes!(card_credentials::status_list))
        .with_state(state)
        .split_for_parts();
    describe_documentation(&mut document);
    // The paths exist only now, so this modifier runs here.
    utoipa::Modify::modify(&StandardProblems, &mut document);
    (router, document)
}

/// The API with its document, rendered once at start-up: each request for
/// it shares the same bytes.
pub fn router(state: AppState) -> Result<Router, StartupError> {
    let (api, document) = api(state);
    let json = Bytes::from(
        document
            .to_pretty_json()
            .map_err(|error| StartupError::OpenApi(error.to_string()))?,
    );
    let page = Bytes::from(render(&document));
    Ok(api
        .route(
            "/api/openapi.json",
            get(move || {
                let json = json.clone();
                async move {
                    (
                        [(
                            header::CONTENT_TYPE,
                            HeaderValue::from_static("application/json"),
                        )],
                        json,
                    )
                }
            }),
        )
        .route(
            "/api/docs",
            get(move || {
                let page = page.clone();
                async move {
                    (
                        [(
                            header::CONTENT_SECURITY_POLICY,
                            HeaderValue::from_static(
                                "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
                            ),
                        )],
                        Html(page),
                    )
                        .into_response()
                }
            }),
        )
    .fallback(|| async { ApiError::new(ProblemKind::NotFound, "no such route") })
    .method_not_allowed_fallback(|| async {
        ApiError::new(
            ProblemKind::MethodNotAllowed,
            "this route does not take that method",
        )
    }))
}

/// A plain page listing every operation: readable without JavaScript or
/// anything fetched from elsewhere.
fn render(document: &utoipa::openapi::OpenApi) -> String {
    let mut page = String::from(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>HMS-kort API</title><style>body{font-family:sans-serif;max-width:60rem;\
         margin:2rem auto;padding:0 1rem}code{background:#f3f3f3;padding:0 .2rem}\
         h3{margin-bottom:.2rem}.m{display:inline-block;width:4rem;font-weight:bold}</style>\
         </head><body><h1>HMS-kort API</h1>",
    );
    if let Some(description) = &document.info.description {
        let _ = write!(page, "<p>{}</p>", escape(description));
    }
    page.push_str("<p>The machine-readable document: <a href=\"/api/openapi.json\">/api/openapi.json</a> (OpenAPI 3.1).</p>");
    for (path, item) in &document.paths.paths {
        for (method, operation) in [
            ("GET", &item.get),
            ("POST", &item.post),
            ("PUT", &item.put),
            ("PATCH", &item.patch),
            ("DELETE", &item.delete),
        ] {
            let Some(operation) = operation else { continue };
            let _ = write!(
                page,
                "<h3><span class=\"m\">{method}</span><code>{}</code></h3>",
                escape(path)
            );
            for text in [&operation.summary, &operation.description]
                .into_iter()
                .flatten()
            {
                let _ = write!(page, "<p>{}</p>", escape(text));
            }
            page.push_str("<ul>");
            for (status, response) in &operation.responses.responses {
                let description = match response {
                    utoipa::openapi::RefOr::T(response) => response.description.as_str(),
                    utoipa::openapi::RefOr::Ref(_) => "",
                };
                let _ = write!(
                    page,
                    "<li><code>{}</code> {}</li>",
                    escape(status),
                    escape(description)
                );
            }
            page.push_str("</ul>");
        }
    }
    page.push_str("</body></html>");
    page
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
