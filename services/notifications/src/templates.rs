//! Messages from templates (minijinja), in the company's language. Each
//! kind of message is `templates/<language>/<kind>.txt` (an email: its
//! subject set in a `subject` block, then its text) and, if it also goes by
//! SMS, `<kind>.sms`. The HTML part of an email is its text, paragraph by
//! paragraph, in `templates/layout.html`. Templates are compiled into the
//! binary, and a test renders every one of them in every language.

use hms_domain::Language;
use minijinja::value::Serde;
use minijinja::{Environment, Value};

include!(concat!(env!("OUT_DIR"), "/templates.rs"));

/// An email, rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedEmail {
    pub subject: String,
    pub text: String,
    pub html: String,
}

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("no template {0}")]
    Missing(String),
    #[error("template {template}: {message}")]
    Render { template: String, message: String },
}

pub struct Templates {
    env: Environment<'static>,
}

impl Templates {
    pub fn new() -> Result<Self, TemplateError> {
        let mut env = Environment::new();
        // Variables a template names but the message lacks are an error,
        // not an empty gap in a message to a customer.
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        for (name, source) in TEMPLATES {
            env.add_template(name, source)
                .map_err(|error| render_error(name, &error))?;
        }
        // Every kind of message in every language, or no start at all.
        for kind in crate::notices::KINDS {
            for language in Language::ALL {
                let name = path(*language, kind, "txt");
                if env.get_template(&name).is_err() {
                    return Err(TemplateError::Missing(name));
                }
            }
        }
        Ok(Self { env })
    }

    /// Whether `kind` is also sent as a text message.
    pub fn has_sms(&self, kind: &str) -> bool {
        self.env
            .get_template(&path(Language::Nb, kind, "sms"))
            .is_ok()
    }

    pub fn email(
        &self,
        kind: &str,
        language: Language,
        context: &serde_json::Value,
    ) -> Result<RenderedEmail, TemplateError> {
        let name = path(language, kind, "txt");
        let template = self
            .env
            .get_template(&name)
            .map_err(|_| TemplateError::Missing(name.clone()))?;
        let rendered = template
            .render_captured(Value::from(Serde(context)))
            .map_err(|error| render_error(&name, &error))?;
        let subject = rendered
            .state()
            .lookup("subject")
            .map(|subject| subject.to_string())
            .ok_or_else(|| TemplateError::Render {
                template: name.clone(),
                message: "sets no subject".to_owned(),
            })?;
        let text = rendered.output().trim().to_owned();
        let paragraphs: Vec<Vec<&str>> = text
            .split("\n\n")
            .map(|paragraph| paragraph.lines().collect())
            .collect();
        let html = self
            .env
            .get_template("layout.html")
            .and_then(|layout| {
                layout.render(Value::from(Serde(serde_json::json!({
                    "language": language.as_str(),
                    "subject": subject,
                    "paragraphs": paragraphs,
                }))))
            })
            .map_err(|error| render_error("layout.html", &error))?;
        Ok(RenderedEmail {
            subject: subject.trim().to_owned(),
            text,
            html,
        })
    }

    pub fn sms(
        &self,
        kind: &str,
        language: Language,
        context: &serde_json::Value,
    ) -> Result<String, TemplateError> {
        let name = path(language, kind, "sms");
        self.env
            .get_template(&name)
            .map_err(|_| TemplateError::Missing(name.clone()))?
            .render(Value::from(Serde(context)))
            .map(|text| text.trim().to_owned())
            .map_err(|error| render_error(&name, &error))
    }
}

fn path(language: Language, kind: &str, extension: &str) -> String {
    format!("{}/{kind}.{extension}", language.as_str())
}

fn render_error(template: &str, error: &minijinja::Error) -> TemplateError {
    TemplateError::Render {
        template: template.to_owned(),
        message: error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notices::KINDS;

    /// Everything any message may name, as a real one would have it.
    fn context() -> serde_json::Value {
        serde_json::json!({
            "company": {"name": "Nordmann Bygg AS", "org_number": "310100005"},
            "actor": {"name": "Per Ansatt", "supplier": {"name": "HMS LEVERANDØREN AS", "org_number": "310200018"}},
            "when": "2. desember 2026 kl. 09.15",
            "to_supplier": false,
            "link": "https://bestill.hms-kort.no/companies/x",
            "old": {"email": "post@nordmannbygg.no", "phone": "+4791234567"},
            "new": {"email": "falsk@example.no", "phone": "+4799999999"},
            "grantee": "HMS LEVERANDØREN AS",
            "supplier": {"name": "HMS LEVERANDØREN AS", "org_number": "310200018"},
            "passed_on": true,
            "scopes": ["cards:order"],
            "valid_until": "1. januar 2027 kl. 00.00",
            "cards": 2,
            "price": {"net": "265,80", "vat": "66,45", "gross": "332,25"},
            "reason": "Ikke et bilde <script>",
            "order_id": "0193",
            "workers": 2,
            "documents": 6,
            "card_number": "1234567897",
            "holder": "Arbeider Nordmann",
            "days": 30,
            "closed_because": "draft_abandoned",
            "unprinted": [
                {"card_number": "1234567897", "holder": "Arbeider Nordmann"},
                {"card_number": "2234567891", "holder": "Arbeider To"},
            ],
        })
    }

    /// The context, and the shapes it takes for other recipients and
    /// grants: to a supplier, a grant without an end, one passed on from
    /// a grant the service does not know.
    fn contexts() -> Vec<serde_json::Value> {
        let mut to_supplier = context();
        to_supplier["to_supplier"] = true.into();
        let mut open_ended = context();
        open_ended["valid_until"] = serde_json::Value::Null;
        open_ended["actor"]["supplier"] = serde_json::Value::Null;
        let mut unknown_parent = context();
        unknown_parent["supplier"] = serde_json::Value::Null;
        let mut one = context();
        one["cards"] = 1.into();
        one["workers"] = 1.into();
        one["documents"] = 1.into();
        vec![context(), to_supplier, open_ended, unknown_parent, one]
    }

    #[test]
    fn every_kind_renders_in_every_language() {
        let templates = Templates::new().expect("templates");
        for context in contexts() {
            for kind in KINDS {
                for language in Language::ALL {
                    let email = templates
                        .email(kind, *language, &context)
                        .unwrap_or_else(|error| panic!("{kind} {language}: {error}"));
                    assert!(!email.subject.is_empty(), "{kind} {language}");
                    assert!(email.text.contains("Nordmann Bygg AS"), "{kind} {language}");
                    assert!(
                        !email.html.contains("<script>"),
                        "escaped: {kind} {language}"
                    );
                    if *language == Language::En {
                        // English starts its sentences with a capital.
                        let body = email.text.split("\n\n").nth(1).unwrap_or_default();
                        assert!(
                            !body.starts_with(|c: char| c.is_lowercase()),
                            "{kind}: {body}"
                        );
                    }
                    if templates.has_sms(kind) {
                        let sms = templates
                            .sms(kind, *language, &context)
                            .unwrap_or_else(|error| panic!("{kind} {language} sms: {error}"));
                        assert!(sms.starts_with("HMS-kort"), "{kind} {language}");
                    }
                }
            }
        }
    }

    #[test]
    fn a_missing_variable_is_an_error_not_a_gap() {
        let templates = Templates::new().expect("templates");
        let mut context = context();
        context["company"] = serde_json::json!({"org_number": "310100005"});
        assert!(
            templates
                .email("company_approved", Language::Nb, &context)
                .is_err()
        );
    }
}
