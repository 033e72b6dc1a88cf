//! A stand-in for two registers the regulation names, for development and
//! tests, where the real ones (behind Maskinporten) cannot be reached:
//!
//! | request | answer |
//! |---|---|
//! | `GET /folkeregisteret/offentlig-med-hjemmel/api/v1/personer/{ident}` | Folkeregisteret: the person (identifiers, status, names, death) in Skatteetaten's JSON; 404 with an error body when unknown |
//! | `GET /aareg/api/v2/arbeidstaker/arbeidsforhold` with `Nav-Personident` | Aa-registeret: the person's employments (workplace and employer organisation numbers, periods) in NAV's JSON; `[]` when none |
//! | `POST /_fake/persons` `{"ident", "name"}` | records the person's name, so an order that names them matches |
//! | `POST /_fake/down` `{"register": "folkeregisteret" \| "aareg", "down": true}` | that register answers 503 until told otherwise |
//!
//! Persons: [`persons`] names the test persons with something to find
//! (dead, emigrated, not in the register, without work). Any other valid
//! number is a resident, named as recorded through `/_fake/persons` (or
//! `OLA NORDMANN`), employed since 2020 by every company of the register
//! fake (`brreg-fake`), so that orders of those companies pass.
//!
//! Every request must carry the bearer token the fake was started with.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

/// Test persons (synthetic numbers of Test-Norge: month + 80).
pub mod persons {
    /// DAG DØDSEN: died on 2024-03-01.
    pub const DECEASED: &str = "05818840065";
    /// ULLA UTFLYTTET: emigrated; still employed.
    pub const EMIGRATED: &str = "12827940001";
    /// ARNE ARBEIDSLØS: resident, no employment at all.
    pub const WITHOUT_WORK: &str = "23869140090";
    /// Not in Folkeregisteret.
    pub const UNKNOWN: &str = "17898440060";
}

/// The organisations of the register fake: everyone else works for each.
const EMPLOYERS: [&str; 4] = ["310100005", "310200018", "310300004", "310400009"];

const DEFAULT_NAME: &str = "OLA NORDMANN";

#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// The bearer token demanded; none: any caller.
    pub token: Option<String>,
}

#[derive(Default)]
struct Behaviour {
    names: HashMap<String, String>,
    folkeregisteret_down: bool,
    aareg_down: bool,
}

#[derive(Clone)]
struct Fake {
    settings: Arc<Settings>,
    behaviour: Arc<Mutex<Behaviour>>,
}

impl Fake {
    fn behaviour(&self) -> std::sync::MutexGuard<'_, Behaviour> {
        self.behaviour
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn authorised(&self, headers: &HeaderMap) -> bool {
        let Some(token) = &self.settings.token else {
            return true;
        };
        headers
            .get("authorization")
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .is_some_and(|given| given == token)
    }
}

pub fn router(settings: Settings) -> Router {
    let fake = Fake {
        settings: Arc::new(settings),
        behaviour: Arc::default(),
    };
    Router::new()
        .route(
            "/folkeregisteret/offentlig-med-hjemmel/api/v1/personer/{ident}",
            get(person),
        )
        .route(
            "/aareg/api/v2/arbeidstaker/arbeidsforhold",
            get(employments),
        )
        .route("/_fake/persons", post(record_person))
        .route("/_fake/down", post(down))
        .with_state(fake)
}

fn valid_ident(ident: &str) -> bool {
    ident.len() == 11 && ident.bytes().all(|b| b.is_ascii_digit())
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(json!({"kode": code, "melding": message}))).into_response()
}

/// Splits a full name the way the register stores it.
fn name_parts(full: &str) -> Value {
    let words: Vec<&str> = full.split_whitespace().collect();
    let (first, rest) = words.split_first().map_or(("", &[][..]), |(f, r)| (*f, r));
    let (last, middle) = rest.split_last().map_or(("", &[][..]), |(l, m)| (*l, m));
    json!({
        "fornavn": first,
        "mellomnavn": if middle.is_empty() { Value::Null } else { Value::from(middle.join(" ")) },
        "etternavn": last,
        "erGjeldende": true,
    })
}

async fn person(
    State(fake): State<Fake>,
    headers: HeaderMap,
    Path(ident): Path<String>,
) -> Response {
    if !fake.authorised(&headers) {
        return error(StatusCode::UNAUTHORIZED, "FREG-401", "mangler gyldig token");
    }
    let recorded = {
        let behaviour = fake.behaviour();
        if behaviour.folkeregisteret_down {
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                "FREG-503",
                "tjenesten er utilgjengelig",
            );
        }
        behaviour.names.get(&ident).cloned()
    };
    if !valid_ident(&ident) {
        return error(
            StatusCode::BAD_REQUEST,
            "FREG-400",
            "ugyldig personidentifikator",
        );
    }
    let (name, status, died) = match ident.as_str() {
        persons::UNKNOWN => {
            return error(StatusCode::NOT_FOUND, "FREG-404", "fant ikke person");
        }
        persons::DECEASED => ("DAG DØDSEN".to_owned(), "doed", Some("2024-03-01")),
        persons::EMIGRATED => ("ULLA UTFLYTTET".to_owned(), "utflyttet", None),
        persons::WITHOUT_WORK => ("ARNE ARBEIDSLØS".to_owned(), "bosatt", None),
        _ => (
            recorded.unwrap_or_else(|| DEFAULT_NAME.to_owned()),
            "bosatt",
            None,
        ),
    };
    let identifier_type = if ident.as_bytes()[0] >= b'4' {
        "dNummer"
    } else {
        "foedselsnummer"
    };
    Json(json!({
        "identifikasjonsnummer": [{
            "foedselsEllerDNummer": ident,
            "identifikatortype": identifier_type,
            "status": "iBruk",
            "erGjeldende": true,
        }],
        "status": [{"status": status, "erGjeldende": true}],
        "navn": [name_parts(&name)],
        "doedsfall": died.map_or_else(Vec::new, |day| vec![json!({"doedsdato": day})]),
    }))
    .into_response()
}

async fn employments(State(fake): State<Fake>, headers: HeaderMap) -> Response {
    if !fake.authorised(&headers) {
        return error(
            StatusCode::UNAUTHORIZED,
            "AAREG-401",
            "mangler gyldig token",
        );
    }
    if fake.behaviour().aareg_down {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "AAREG-503",
            "tjenesten er utilgjengelig",
        );
    }
    let Some(ident) = headers
        .get("nav-personident")
        .and_then(|value| value.to_str().ok())
        .filter(|ident| valid_ident(ident))
    else {
        return error(
            StatusCode::BAD_REQUEST,
            "AAREG-400",
            "Nav-Personident mangler eller er ugyldig",
        );
    };
    if matches!(
        ident,
        persons::WITHOUT_WORK | persons::UNKNOWN | persons::DECEASED
    ) {
        return Json(json!([])).into_response();
    }
    let employments: Vec<Value> = EMPLOYERS
        .iter()
        .enumerate()
        .map(|(index, org)| {
            let organisation = |kind: &str| json!({"type": kind, "identer": [{"type": "ORGANISASJONSNUMMER", "ident": org, "gjeldende": true}]});
            json!({
                "id": format!("{ident}-{index}"),
                "type": {"kode": "ordinaertArbeidsforhold", "beskrivelse": "Ordinært arbeidsforhold"},
                "arbeidstaker": {"identer": [{"type": "FOLKEREGISTERIDENT", "ident": ident, "gjeldende": true}]},
                "arbeidssted": organisation("Underenhet"),
                "opplysningspliktig": organisation("Hovedenhet"),
                "ansettelsesperioder": [{"startdato": "2020-01-01", "sluttdato": null}],
            })
        })
        .collect();
    Json(Value::from(employments)).into_response()
}

#[derive(Deserialize)]
struct RecordPerson {
    ident: String,
    name: String,
}

async fn record_person(State(fake): State<Fake>, Json(person): Json<RecordPerson>) -> StatusCode {
    if !valid_ident(&person.ident) {
        return StatusCode::BAD_REQUEST;
    }
    fake.behaviour()
        .names
        .insert(person.ident, person.name.to_uppercase());
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
struct Down {
    register: String,
    down: bool,
}

async fn down(State(fake): State<Fake>, Json(down): Json<Down>) -> StatusCode {
    let mut behaviour = fake.behaviour();
    match down.register.as_str() {
        "folkeregisteret" => behaviour.folkeregisteret_down = down.down,
        "aareg" => behaviour.aareg_down = down.down,
        _ => return StatusCode::BAD_REQUEST,
    }
    StatusCode::NO_CONTENT
}
