//! Pages from templates (minijinja, compiled into the binary): each page
//! extends `base.html`, which carries the language, the navigation and the
//! skip link. Times are shown on the Norwegian clock.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use chrono::{DateTime, Utc};
use minijinja::{Environment, Value, context};

use crate::i18n::{Catalogues, Lang};

const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../templates/base.html")),
    ("home.html", include_str!("../templates/home.html")),
    ("check.html", include_str!("../templates/check.html")),
    ("me.html", include_str!("../templates/me.html")),
    (
        "logged_in.html",
        include_str!("../templates/logged_in.html"),
    ),
    ("error.html", include_str!("../templates/error.html")),
    ("company.html", include_str!("../templates/company.html")),
    ("orders.html", include_str!("../templates/orders.html")),
    ("access.html", include_str!("../templates/access.html")),
    ("cards.html", include_str!("../templates/cards.html")),
    (
        "notifications.html",
        include_str!("../templates/notifications.html"),
    ),
    (
        "access_log.html",
        include_str!("../templates/access_log.html"),
    ),
    (
        "access_table.html",
        include_str!("../templates/access_table.html"),
    ),
    ("order.html", include_str!("../templates/order.html")),
    (
        "backoffice.html",
        include_str!("../templates/backoffice.html"),
    ),
    ("review.html", include_str!("../templates/review.html")),
    ("supplier.html", include_str!("../templates/supplier.html")),
    ("pager.html", include_str!("../templates/pager.html")),
];

#[derive(Debug, thiserror::Error)]
#[error("template {template}: {message}")]
pub struct TemplateError {
    template: String,
    message: String,
}

pub struct Pages {
    env: Environment<'static>,
    texts: Catalogues,
    /// Where the login link sends the browser: the gateway's BankID login.
    login_url: String,
}

/// What every page knows about the request.
pub struct Frame<'a> {
    pub lang: Lang,
    /// The path of this page, for the language switch.
    pub path: &'a str,
    /// The person's name, when logged in.
    pub person: Option<&'a str>,
    /// The person is a case handler: the desk is in the menu.
    pub back_office: bool,
    /// Cookies to set with the answer.
    pub set_cookies: Vec<HeaderValue>,
}

impl<'a> Frame<'a> {
    /// A page for no one in particular: no session read, no cookies set.
    pub fn plain(lang: Lang, path: &'a str) -> Self {
        Self {
            lang,
            path,
            person: None,
            back_office: false,
            set_cookies: Vec::new(),
        }
    }
}

impl Pages {
    pub fn new(browser_api: &str) -> Result<Self, TemplateError> {
        let mut env = Environment::new();
        // A text or value the page names but lacks is a bug to find in the
        // tests, not a blank on a page.
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        env.add_filter("when", when);
        env.add_filter("day", day);
        for (name, source) in TEMPLATES {
            env.add_template(name, source)
                .map_err(|error| TemplateError {
                    template: (*name).to_owned(),
                    message: error.to_string(),
                })?;
        }
        let texts = Catalogues::load().map_err(|error| TemplateError {
            template: "messages".to_owned(),
            message: error.to_string(),
        })?;
        Ok(Self {
            env,
            texts,
            login_url: format!("{browser_api}/api/v1/auth/login"),
        })
    }

    /// A page, or the error page if it cannot be rendered.
    pub fn page(&self, template: &str, frame: Frame<'_>, values: Value) -> Response {
        self.answer(StatusCode::OK, template, frame, values)
    }

    pub fn answer(
        &self,
        status: StatusCode,
        template: &str,
        frame: Frame<'_>,
        values: Value,
    ) -> Response {
        let other = match frame.lang {
            Lang::Nb => Lang::En,
            Lang::En => Lang::Nb,
        };
        let context = context! {
            lang => frame.lang.code(),
            other_lang => other.code(),
            t => self.texts.of(frame.lang),
            path => frame.path,
            person => frame.person,
            back_office => frame.back_office,
            login_url => self.login_url.clone(),
            ..values
        };
        let rendered = self
            .env
            .get_template(template)
            .and_then(|page| page.render(context));
        let mut response = match rendered {
            Ok(html) => (status, Html(html)).into_response(),
            Err(error) => {
                tracing::error!(template, error = %error, "a page could not be rendered");
                #[cfg(test)]
                eprintln!("{template}: {error:#}");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    Html("<!doctype html><title>Feil / Error</title><p>Feil / Error</p>"),
                )
                    .into_response()
            }
        };
        for cookie in frame.set_cookies {
            response.headers_mut().append(header::SET_COOKIE, cookie);
        }
        response
    }
}

fn parse(value: &str) -> Option<DateTime<chrono_tz::Tz>> {
    DateTime::parse_from_rfc3339(value).ok().map(|time| {
        time.with_timezone(&Utc)
            .with_timezone(&chrono_tz::Europe::Oslo)
    })
}

/// `3.12.2026 11:05`, Norwegian time; empty for no time.
fn when(value: Option<String>) -> String {
    value
        .as_deref()
        .and_then(parse)
        .map(|time| time.format("%-d.%-m.%Y %H:%M").to_string())
        .unwrap_or_default()
}

/// `3.12.2026`, Norwegian time.
fn day(value: Option<String>) -> String {
    value
        .as_deref()
        .and_then(parse)
        .map(|time| time.format("%-d.%-m.%Y").to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_shown_on_the_norwegian_clock() {
        assert_eq!(
            when(Some("2026-12-03T10:05:00Z".to_owned())),
            "3.12.2026 11:05"
        );
        assert_eq!(day(Some("2026-06-30T23:30:00Z".to_owned())), "1.7.2026");
        assert_eq!(when(None), "");
    }

    fn render(pages: &Pages, template: &str, lang: Lang, values: Value) -> String {
        let response = pages.page(
            template,
            Frame {
                lang,
                path: "/",
                person: Some("Kari Nordmann"),
                back_office: true,
                set_cookies: Vec::new(),
            },
            values,
        );
        assert_eq!(response.status(), StatusCode::OK, "{template} in {lang:?}");
        let (_, body) = response.into_parts();
        let bytes = futures_body(body);
        String::from_utf8(bytes).expect("utf-8")
    }

    fn futures_body(body: axum::body::Body) -> Vec<u8> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime");
        runtime
            .block_on(axum::body::to_bytes(body, usize::MAX))
            .expect("the body")
            .to_vec()
    }

    /// Every page in every language, with every value each shows: a text
    /// missing from a catalogue or a value missing from a page fails here.
    #[test]
    fn every_page_renders_in_every_language() {
        use minijinja::value::Serde;
        let pages = Pages::new("http://127.0.0.1:8080").expect("templates");
        let record = serde_json::json!({
            "order_id": "o1", "worker_id": "w1", "company_name": "Bygg AS",
            "company_org_number": "123456785", "order_status": "approved",
            "closed_because": null, "card_type": "construction",
            "ordered_at": "2026-12-01T10:00:00Z", "decided_at": "2026-12-02T10:00:00Z",
            "name": null, "phone_held": false, "national_id_masked": "010190*****",
            "national_id_held": false, "national_id_masked_at": "2026-12-02T10:00:01Z",
            "register_findings_held": false
        });
        let records = serde_json::json!({
            "records": [record],
            "cards": [{ "card_number": "1234567897", "holder_name": "Ola", "employer_name": "Bygg AS",
                        "card_type": "cleaning", "issued_at": null, "valid_until": "2028-12-01T00:00:00Z",
                        "status": "active", "print_state": "handed_over" }],
            "receipts": [{ "order_id": "o1", "cause": "approved", "workers_masked": 1,
                           "documents_deleted": 3, "keys_destroyed": 3,
                           "completed_at": "2026-12-02T10:00:02Z", "signed": "a.b.c" }]
        });
        let actions = [
            "worker_data_created",
            "worker_data_read",
            "document_uploaded",
            "document_downloaded",
            "register_checked",
            "print_material_sent",
            "national_id_masked",
            "documents_destroyed",
            "grant_given",
            "grant_revoked",
            "grant_first_used",
        ];
        let purposes = [
            "ordering",
            "case_review",
            "register_check",
            "card_printing",
            "data_deletion",
            "access_management",
        ];
        let access: Vec<serde_json::Value> = actions
            .iter()
            .zip(purposes.iter().cycle())
            .map(|(action, purpose)| {
                serde_json::json!({
                    "seq": 1, "action": action, "purpose": purpose, "actor": "service:cards",
                    "order_id": "o1", "occurred_at": "2026-12-02T10:00:00Z"
                })
            })
            .collect();
        let card = serde_json::json!({
            "valid": true, "holder_name": "Ola", "employer_name": "Bygg AS",
            "valid_until": "2028-12-01T00:00:00Z"
        });
        for lang in Lang::ALL {
            let home = render(
                &pages,
                "home.html",
                lang,
                context! {
                    companies => Serde(serde_json::json!([{ "company_id": "c", "org_number": "123456785",
                        "scopes": ["cards:order", "workers:read", "company:contact:write", "access:manage"], "source": "register_role" }])),
                typed => context! { org_number => "310100005", name => "Bygg", email => "a@b.no", phone => "+4791234567", industry => "cleaning" },
                refused => "",
                },
            );
            assert!(home.contains(&format!("<html lang=\"{}\">", lang.code())));
            let me = render(
                &pages,
                "me.html",
                lang,
                context! {
                    records => Serde(&records), access => Serde(&access)
                },
            );
            assert!(me.contains("010190*****"));
            assert!(me.contains("3.12.2026") || me.contains("2.12.2026"));
            let check = render(
                &pages,
                "check.html",
                lang,
                context! {
                    number => "1234567897", checked => true, malformed => false, card => Serde(&card)
                },
            );
            assert!(check.contains("id=\"holder\">Ola<"));
            render(&pages, "logged_in.html", lang, context! {});
            let company = serde_json::json!({
                "company_id": "c1", "org_number": "310100005", "name": "NORDMANN BYGG AS",
                "contact": { "email": "post@nordmannbygg.no", "phone": "+4722334455" },
                "industry": "construction", "status": "approved",
                "registered_at": "2026-12-01T10:00:00Z"
            });
            let history = serde_json::json!([{
                "old_contact": { "email": "a@b.no", "phone": "+4711111111" },
                "new_contact": { "email": "c@d.no", "phone": "+4722222222" },
                "changed_at": "2026-12-02T10:00:00Z"
            }]);
            let agreement = serde_json::json!({
                "current": { "version": 2, "published_at": "2026-12-01T00:00:00Z", "text": "# Avtale" },
                "current_accepted": false
            });
            for status in ["pending", "approved", "rejected", "suspended"] {
                let mut company = company.clone();
                company["status"] = status.into();
                let page = render(
                    &pages,
                    "company.html",
                    lang,
                    context! {
                        company => Serde(&company), history => Serde(&history),
                        agreement => Serde(&agreement), may_change => true, may_manage => true, changed => true,
                        form => Serde(&company["contact"]), refused => "email: is not an address",
                        login_again => true,
                    },
                );
                assert!(page.contains("id=\"contact-form\""));
                assert!(page.contains("email: is not an address"));
            }
            let hidden = render(
                &pages,
                "company.html",
                lang,
                context! {
                    company => Serde(&company), history => (), agreement => (),
                    may_change => false, may_manage => false, changed => false, form => Serde(&company["contact"]),
                    refused => (), login_again => false,
                },
            );
            assert!(
                !hidden.contains("contact-form"),
                "no form without the scope"
            );
            let order = serde_json::json!({
                "order_id": "o1", "company_id": "c1", "status": "needs_correction",
                "workers": [{ "worker_id": "w1", "name": "Ola", "national_id_masked": "010190*****",
                    "card_type": "construction",
                    "register_check": { "state": "done", "person": "resident", "name_matches": true, "employment": "active" } }],
                "created_at": "2026-12-01T10:00:00Z", "submitted_at": "2026-12-01T11:00:00Z",
                "decided_at": null, "rejection_reason": null,
                "reviews": [{ "document_id": "d1", "worker_id": "w1", "kind": "passport_photo",
                    "decision": "rejected", "reason": "photo_unclear", "note": "Too dark" }]
            });
            let documents = serde_json::json!([
                { "document_id": "d2", "worker_id": "w1", "kind": "id_document",
                  "content_type": "image/png", "uploaded_at": "2026-12-01T10:30:00Z" }
            ]);
            let kinds = ["passport_photo", "id_document", "signature"];
            let page = render(
                &pages,
                "order.html",
                lang,
                context! {
                    order => Serde(&order), documents => Serde(&documents), kinds,
                    open => true, submitted => true, refused => "",
                receipt => Serde(&records["receipts"][0]),
                },
            );
            assert!(
                page.contains("Too dark"),
                "the reason a document was sent back"
            );
            assert!(
                page.contains("capture=\"user\""),
                "the camera for the photo"
            );
            let listed = render(
                &pages,
                "orders.html",
                lang,
                context! {
                    company => Serde(&company), orders => Serde(serde_json::json!([order])),
                    key => "k", name => "Ola", phone => "+4791234567", card_type => "cleaning", next_page => "n/x+1", paged => true,
                    refused => "workers[0].national_id: is not valid",
                },
            );
            render(
                &pages,
                "backoffice.html",
                lang,
                context! {
                    companies => Serde(serde_json::json!([company])),
                    orders => Serde(serde_json::json!([order])),
                },
            );
            for (person, employment) in [
                ("emigrated", "none"),
                ("deceased", "active"),
                ("not_found", "none"),
            ] {
                let mut order = order.clone();
                order["status"] = "submitted".into();
                order["workers"][0]["register_check"]["person"] = person.into();
                order["workers"][0]["register_check"]["employment"] = employment.into();
                let review = render(
                    &pages,
                    "review.html",
                    lang,
                    context! {
                        order => Serde(&order), documents => Serde(&documents), kinds,
                        reasons => crate::backoffice::REJECTION_REASONS, refused => "at least one",
                    },
                );
                assert!(review.contains("/documents/d2"));
                assert!(review.contains("id=\"approve\""));
            }
            let mut grants: Vec<serde_json::Value> = ["pending", "active", "expired", "revoked"]
                .iter()
                .map(|state| serde_json::json!({
                    "grant_id": "g1", "grantee": { "type": "supplier", "name": "HMS LEVERANDØREN AS", "org_number": "310200018" },
                    "scopes": ["cards:order"], "state": state, "granted_by_name": "Kari Nordmann",
                    "granted_at": "2026-12-01T10:00:00Z", "processor_agreement": { "reference": "DBA-1" },
                    "parent_grant_id": null
                }))
                .collect();
            grants.push(serde_json::json!({
                "grant_id": "g2", "grantee": { "type": "person", "label": "Per Ansatt" },
                "scopes": ["workers:read"], "state": "active", "granted_by_name": "Kari Nordmann",
                "granted_at": null, "processor_agreement": null, "parent_grant_id": "g1"
            }));
            let access_list = serde_json::json!({
                "owners": [{ "name": "Kari Nordmann", "role": "daglig leder" }],
                "grants": grants,
            });
            assert!(
                listed.contains("?page=n&#x2f;x%2B1"),
                "the next page's token is encoded in its link: {}",
                listed
                    .lines()
                    .filter(|line| line.contains("page="))
                    .collect::<Vec<_>>()
                    .join("\n")
            );
            let page = render(
                &pages,
                "access.html",
                lang,
                context! {
                    company => Serde(&company), access => Serde(&access_list), may_manage => true,
                    scopes => crate::access::SCOPES, refused => "scopes: at least one", login_again => true,
                },
            );
            assert!(page.contains("id=\"grant-form\""));
            assert!(page.contains("HMS LEVERANDØREN AS"));
            let cards: Vec<serde_json::Value> = ["active", "blocked", "deactivated", "expired"]
                .iter()
                .zip(["awaiting", "handed_over", "needs_photo", "handed_over"])
                .map(|(status, print)| serde_json::json!({
                    "card_number": "1234567897", "holder_name": "Ola", "employer_name": "Bygg AS",
                    "card_type": "construction", "issued_at": null, "valid_until": "2028-12-01T00:00:00Z",
                    "status": status, "print_state": print
                }))
                .collect();
            let page = render(
                &pages,
                "cards.html",
                lang,
                context! {
                    company => Serde(&company), cards => Serde(&cards), refused => "reason: is required", next_page => (), paged => true,
                },
            );
            assert!(page.contains("/block") && page.contains("/deactivate"));
            let sent: Vec<serde_json::Value> = [("email", "sent"), ("sms", "pending"), ("email", "failed")]
                .iter()
                .map(|(channel, status)| serde_json::json!({
                    "kind": "order_submitted", "channel": channel, "recipient": "post@nordmannbygg.no",
                    "subject": null, "status": status, "created_at": "2026-12-01T10:00:00Z", "sent_at": null
                }))
                .collect();
            render(
                &pages,
                "notifications.html",
                lang,
                context! {
                    company => Serde(&company), notifications => Serde(&sent),
                },
            );
            let log = serde_json::json!({
                "entries": access, "checkpoint": { "seq": 11, "head_hash": "ab".repeat(32), "signed_at": "2026-12-01T10:00:00Z" }
            });
            let page = render(
                &pages,
                "access_log.html",
                lang,
                context! { company => Serde(&company), log => Serde(&log), next_page => "p2", paged => false },
            );
            assert!(page.contains("abababab"));
            let given: Vec<serde_json::Value> = grants
                .iter()
                .map(|grant| serde_json::json!({
                    "company_org_number": "310100005", "company_name": "Nordmann Bygg AS", "grant": grant,
                }))
                .chain(std::iter::once(serde_json::json!({
                    "company_org_number": "310100005", "company_name": "Nordmann Bygg AS",
                    "grant": { "grant_id": "g3", "grantee": { "type": "person", "label": "" },
                        "scopes": ["cards:order"], "state": "active", "granted_by_name": "Ola",
                        "granted_at": null, "processor_agreement": null, "parent_grant_id": "g1" }
                })))
                .collect();
            let page = render(
                &pages,
                "supplier.html",
                lang,
                context! {
                    org_number => "310200018", grants => Serde(&given), refused => "scopes: too many",
                },
            );
            assert!(page.contains("/pass-on") && page.contains("/revoke"));
            for problem in [
                "unauthenticated",
                "not_found",
                "refused",
                "unavailable",
                "forbidden",
            ] {
                render(&pages, "error.html", lang, context! { problem });
            }
            for status in [
                "draft",
                "submitted",
                "needs_correction",
                "rejected",
                "closed",
            ] {
                let mut other = records.clone();
                other["records"][0]["order_status"] = status.into();
                render(
                    &pages,
                    "me.html",
                    lang,
                    context! { records => Serde(other), access => Serde(&access) },
                );
            }
            for cause in [
                "rejected",
                "draft_abandoned",
                "correction_abandoned",
                "company_ineligible",
            ] {
                let mut other = records.clone();
                other["receipts"][0]["cause"] = cause.into();
                render(
                    &pages,
                    "me.html",
                    lang,
                    context! { records => Serde(other), access => Serde(&access) },
                );
            }
            for status in ["blocked", "deactivated", "expired"] {
                let mut other = records.clone();
                other["cards"][0]["status"] = status.into();
                render(
                    &pages,
                    "me.html",
                    lang,
                    context! { records => Serde(other), access => Serde(&access) },
                );
            }
        }
    }
}
