//! The registers the regulation names, asked about a worker before a card
//! is approved: Folkeregisteret (Skatteetaten) for the person, Aa-registeret
//! (NAV) for the employment. Both are reached with a bearer token
//! (Maskinporten's, in production) and get the full national identity
//! number, so only over HTTPS beyond this machine; the number is never
//! logged, and an error never quotes it.

use std::time::Duration;

use chrono::NaiveDate;
use hms_config::ConfigError;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use url::Url;

use crate::domain::{EmploymentFinding, PersonFinding};

/// Why a register gave no answer to use now; the check waits and is tried
/// again, it never passes for want of an answer.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{register} {problem}")]
pub struct Unanswered {
    pub register: &'static str,
    pub problem: String,
}

/// What Folkeregisteret knows of a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub finding: PersonFinding,
    /// The current name, as registered.
    pub name: Option<String>,
}

#[derive(Clone)]
pub struct Registers {
    http: reqwest::Client,
    person_url: Url,
    employment_url: Url,
    /// None: no `Authorization` header (a fake, or a proxy that adds it).
    token: Option<SecretString>,
}

// Skatteetaten's person document, the parts read here.
#[derive(Deserialize)]
struct PersonDocument {
    #[serde(default)]
    status: Vec<Historic<StatusEntry>>,
    #[serde(default)]
    navn: Vec<Historic<NameEntry>>,
    #[serde(default)]
    doedsfall: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
struct Historic<T> {
    #[serde(rename = "erGjeldende", default)]
    current: bool,
    #[serde(flatten)]
    entry: T,
}

#[derive(Deserialize)]
struct StatusEntry {
    status: String,
}

#[derive(Deserialize)]
struct NameEntry {
    #[serde(default)]
    fornavn: String,
    #[serde(default)]
    mellomnavn: Option<String>,
    #[serde(default)]
    etternavn: String,
}

// NAV's employment document, the parts read here.
#[derive(Deserialize)]
struct Employment {
    arbeidssted: Option<Party>,
    opplysningspliktig: Option<Party>,
    #[serde(default)]
    ansettelsesperioder: Vec<Period>,
}

#[derive(Deserialize)]
struct Party {
    #[serde(default)]
    identer: Vec<Ident>,
}

#[derive(Deserialize)]
struct Ident {
    #[serde(rename = "type")]
    kind: String,
    ident: String,
}

#[derive(Deserialize)]
struct Period {
    /// `YYYY-MM-DD`.
    startdato: Option<String>,
    sluttdato: Option<String>,
}

impl Period {
    /// Whether the period covers `day`; an unreadable date counts as none.
    fn covers(&self, day: NaiveDate) -> bool {
        let date = |text: &Option<String>| {
            text.as_deref()
                .and_then(|text| NaiveDate::parse_from_str(text, "%Y-%m-%d").ok())
        };
        date(&self.startdato).is_none_or(|start| start <= day)
            && date(&self.sluttdato).is_none_or(|end| end >= day)
    }
}

impl Party {
    fn is(&self, org_number: &str) -> bool {
        self.identer
            .iter()
            .any(|ident| ident.kind == "ORGANISASJONSNUMMER" && ident.ident == org_number)
    }
}

impl Registers {
    pub fn new(
        folkeregisteret: &str,
        aareg: &str,
        token: Option<SecretString>,
        timeout: Duration,
    ) -> Result<Self, ConfigError> {
        let base = |setting: &str, value: &str| {
            let mut url = hms_config::outside_party_url(setting, value)?;
            if !url.path().ends_with('/') {
                url.set_path(&format!("{}/", url.path()));
            }
            Ok::<_, ConfigError>(url)
        };
        let person_url = base("HMS_FOLKEREGISTERET_URL", folkeregisteret)?
            .join("folkeregisteret/offentlig-med-hjemmel/api/v1/personer/")
            .map_err(|e| ConfigError::invalid("HMS_FOLKEREGISTERET_URL", e))?;
        let employment_url = base("HMS_AAREG_URL", aareg)?
            .join("aareg/api/v2/arbeidstaker/arbeidsforhold")
            .map_err(|e| ConfigError::invalid("HMS_AAREG_URL", e))?;
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| ConfigError::invalid("HMS_FOLKEREGISTERET_URL", e))?;
        Ok(Self {
            http,
            person_url,
            employment_url,
            token,
        })
    }

    /// Presents the registers' token, when there is one.
    fn authorised(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.token {
            Some(token) => request.bearer_auth(token.expose_secret()),
            None => request,
        }
    }

    /// Whether the person exists, lives here, and under which name.
    pub async fn person(&self, national_id: &SecretString) -> Result<Person, Unanswered> {
        let unanswered = |problem: String| Unanswered {
            register: "Folkeregisteret",
            problem,
        };
        let mut url = self
            .person_url
            .join(national_id.expose_secret())
            .map_err(|_| unanswered("cannot be asked for this number".to_owned()))?;
        url.query_pairs_mut().append_pair("part", "person-basis");
        let response = self
            .authorised(self.http.get(url))
            .send()
            .await
            .map_err(|error| unanswered(transport(&error)))?;
        match response.status().as_u16() {
            200 => {}
            404 => {
                return Ok(Person {
                    finding: PersonFinding::NotFound,
                    name: None,
                });
            }
            status => return Err(unanswered(format!("answered HTTP {status}"))),
        }
        let document: PersonDocument = response
            .json()
            .await
            .map_err(|_| unanswered("answered with an unreadable person".to_owned()))?;
        let status = document
            .status
            .iter()
            .find(|status| status.current)
            .map(|status| status.entry.status.as_str());
        let finding = if !document.doedsfall.is_empty() || status == Some("doed") {
            PersonFinding::Deceased
        } else if status == Some("utflyttet") {
            PersonFinding::Emigrated
        } else {
            PersonFinding::Resident
        };
        let name = document.navn.iter().find(|name| name.current).map(|name| {
            let name = &name.entry;
            [
                name.fornavn.as_str(),
                name.mellomnavn.as_deref().unwrap_or_default(),
                name.etternavn.as_str(),
            ]
            .into_iter()
            .filter(|part| !part.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
        });
        Ok(Person { finding, name })
    }

    /// Whether the person has an employment with the company now, as its
    /// workplace or as the employer that reports it.
    pub async fn employment(
        &self,
        national_id: &SecretString,
        org_number: &str,
        today: NaiveDate,
    ) -> Result<EmploymentFinding, Unanswered> {
        let unanswered = |problem: String| Unanswered {
            register: "Aa-registeret",
            problem,
        };
        let mut url = self.employment_url.clone();
        url.query_pairs_mut()
            .append_pair("arbeidsforholdstatus", "AKTIV");
        let response = self
            .authorised(self.http.get(url))
            .header("Nav-Personident", national_id.expose_secret())
            .send()
            .await
            .map_err(|error| unanswered(transport(&error)))?;
        match response.status().as_u16() {
            200 => {}
            404 => return Ok(EmploymentFinding::None),
            status => return Err(unanswered(format!("answered HTTP {status}"))),
        }
        let employments: Vec<Employment> = response
            .json()
            .await
            .map_err(|_| unanswered("answered with unreadable employments".to_owned()))?;
        let active = employments.iter().any(|employment| {
            let with_company = [&employment.arbeidssted, &employment.opplysningspliktig]
                .into_iter()
                .flatten()
                .any(|party| party.is(org_number));
            let now = employment
                .ansettelsesperioder
                .iter()
                .any(|period| period.covers(today));
            with_company && now
        });
        Ok(if active {
            EmploymentFinding::Active
        } else {
            EmploymentFinding::None
        })
    }
}

/// What went wrong on the way, without the address (it holds the number).
fn transport(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        "did not answer in time".to_owned()
    } else {
        "could not be reached".to_owned()
    }
}
