//! A stand-in for the open API of Enhetsregisteret (the Central Coordinating
//! Register for Legal Entities, run by Brønnøysundregistrene) for development
//! and tests, where the real `https://data.brreg.no` cannot be reached.
//!
//! It serves recorded responses in the register's real JSON format and with
//! its real media types, for two endpoints:
//!
//! | request | answer |
//! |---|---|
//! | `GET /enhetsregisteret/api/enheter/{orgnr}` | 200 with the unit; 410 Gone when the unit is deleted (its body has `slettedato`); 404 when unknown |
//! | `GET /enhetsregisteret/api/enheter/{orgnr}/roller` | 200 with the role groups; 410 for a deleted unit; 404 when unknown |
//!
//! An organisation number that is not nine digits gets 400, like the register.
//!
//! The recorded files under `recorded/` are the single source of truth: the
//! binary embeds them (or reads a directory with the same layout), and the
//! `hms-brreg` client's tests parse the very same files. The companies and
//! their role holders match the test persons of the BankID simulator, so that
//! a person logged in there is found as an owner here. See
//! `recorded/README.md` for who is who.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use hms_domain::OrgNumber;

/// Media type of a unit, as the register labels it when asked for version 2.
pub const UNIT_CONTENT_TYPE: &str =
    "application/vnd.brreg.enhetsregisteret.enhet.v2+json;charset=UTF-8";
/// Media type of a unit's roles (version 1 is the current one).
pub const ROLES_CONTENT_TYPE: &str =
    "application/vnd.brreg.enhetsregisteret.rolle.v1+json;charset=UTF-8";
/// Errors are plain JSON.
const ERROR_CONTENT_TYPE: &str = "application/json";

/// Where the API lives below the host, as on `data.brreg.no`.
const API_PREFIX: &str = "/enhetsregisteret/api";

/// Organisation numbers of the recorded units. They start with 3, like the
/// synthetic organisations of Test-Norge (Tenor), so they belong to no real
/// company.
pub mod companies {
    /// Company A, NORDMANN BYGG AS: Kari Nordmann is daglig leder and
    /// styreleder.
    pub const NORDMANN_BYGG: &str = "310100005";
    /// Company S, HMS LEVERANDØREN AS, the supplier: Ola Leverandør is daglig
    /// leder (and board member).
    pub const HMS_LEVERANDOREN: &str = "310200018";
    /// Company B, ANNEN RENHOLD AS: Nils Annen is daglig leder and styreleder.
    pub const ANNEN_RENHOLD: &str = "310300004";
    /// Company C, EVA EIER SNEKKERSERVICE, an enkeltpersonforetak (ENK): Eva
    /// Eier is innehaver.
    pub const EVA_EIER_SNEKKERSERVICE: &str = "310400009";
    /// GAMMEL BYGG AS, deleted on 2023-05-31: answered with 410 Gone.
    pub const GAMMEL_BYGG_DELETED: &str = "310500003";
}

/// The recorded files, embedded at build time. Paths are relative to the
/// `recorded/` folder, which has the layout `--data` expects.
pub const RECORDED: &[(&str, &str)] = &[
    (
        "enheter/310100005.json",
        include_str!("../recorded/enheter/310100005.json"),
    ),
    (
        "enheter/310200018.json",
        include_str!("../recorded/enheter/310200018.json"),
    ),
    (
        "enheter/310300004.json",
        include_str!("../recorded/enheter/310300004.json"),
    ),
    (
        "enheter/310400009.json",
        include_str!("../recorded/enheter/310400009.json"),
    ),
    (
        "enheter/310500003.json",
        include_str!("../recorded/enheter/310500003.json"),
    ),
    (
        "roller/310100005.json",
        include_str!("../recorded/roller/310100005.json"),
    ),
    (
        "roller/310200018.json",
        include_str!("../recorded/roller/310200018.json"),
    ),
    (
        "roller/310300004.json",
        include_str!("../recorded/roller/310300004.json"),
    ),
    (
        "roller/310400009.json",
        include_str!("../recorded/roller/310400009.json"),
    ),
];

/// Why a data set could not be loaded. Start-up fails on any of these rather
/// than serving a half-valid register.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: the file name must be a valid organisation number followed by .json")]
    FileName { path: String },
    #[error("{path}: not valid JSON: {source}")]
    Json {
        path: String,
        source: serde_json::Error,
    },
    #[error("{path}: `organisasjonsnummer` is missing or differs from the file name")]
    OrgNumberMismatch { path: String },
    #[error("{path}: roles for a unit that has no file under enheter/")]
    RolesWithoutUnit { path: String },
    #[error("{path}: expected a file under enheter/ or roller/")]
    UnexpectedFile { path: String },
}

/// A recorded unit: its JSON as served, and whether it is deleted.
#[derive(Debug, Clone)]
struct RecordedUnit {
    body: String,
    deleted: bool,
}

/// The units and roles the fake answers with, keyed by organisation number.
#[derive(Debug, Clone, Default)]
pub struct Dataset {
    units: BTreeMap<String, RecordedUnit>,
    roles: BTreeMap<String, String>,
}

impl Dataset {
    /// The recorded files built into the binary.
    pub fn embedded() -> Result<Self, DataError> {
        Self::from_files(
            RECORDED
                .iter()
                .map(|(path, body)| ((*path).to_owned(), (*body).to_owned())),
        )
    }

    /// Reads `enheter/<orgnr>.json` and `roller/<orgnr>.json` below `dir`.
    pub fn from_dir(dir: &Path) -> Result<Self, DataError> {
        let mut files = Vec::new();
        for folder in ["enheter", "roller"] {
            let folder_path = dir.join(folder);
            let entries = std::fs::read_dir(&folder_path).map_err(|source| DataError::Read {
                path: folder_path.clone(),
                source,
            })?;
            for entry in entries {
                let entry = entry.map_err(|source| DataError::Read {
                    path: folder_path.clone(),
                    source,
                })?;
                let path = entry.path();
                let body = std::fs::read_to_string(&path).map_err(|source| DataError::Read {
                    path: path.clone(),
                    source,
                })?;
                let name = entry.file_name().to_string_lossy().into_owned();
                files.push((format!("{folder}/{name}"), body));
            }
        }
        Self::from_files(files)
    }

    /// Checks and indexes `(relative path, contents)` pairs.
    fn from_files(files: impl IntoIterator<Item = (String, String)>) -> Result<Self, DataError> {
        let mut dataset = Self::default();
        let mut role_files = Vec::new();
        for (path, body) in files {
            let (folder, org) = split_path(&path)?;
            let json: serde_json::Value =
                serde_json::from_str(&body).map_err(|source| DataError::Json {
                    path: path.clone(),
                    source,
                })?;
            match folder {
                "enheter" => {
                    if json.get("organisasjonsnummer").and_then(|v| v.as_str()) != Some(org) {
                        return Err(DataError::OrgNumberMismatch { path });
                    }
                    // The register answers a deleted unit with 410 Gone and a
                    // short body that carries the deletion date.
                    let deleted = json.get("slettedato").is_some_and(|v| !v.is_null());
                    dataset
                        .units
                        .insert(org.to_owned(), RecordedUnit { body, deleted });
                }
                "roller" => role_files.push((path.clone(), org.to_owned(), body)),
                _ => return Err(DataError::UnexpectedFile { path }),
            }
        }
        for (path, org, body) in role_files {
            if !dataset.units.contains_key(&org) {
                return Err(DataError::RolesWithoutUnit { path });
            }
            dataset.roles.insert(org, body);
        }
        Ok(dataset)
    }

    /// The recorded unit JSON for `org`, as served.
    pub fn unit_json(&self, org: &str) -> Option<&str> {
        self.units.get(org).map(|unit| unit.body.as_str())
    }

    /// The recorded roles JSON for `org`, as served.
    pub fn roles_json(&self, org: &str) -> Option<&str> {
        self.roles.get(org).map(String::as_str)
    }

    /// Organisation numbers of every recorded unit, deleted ones included.
    pub fn org_numbers(&self) -> impl Iterator<Item = &str> {
        self.units.keys().map(String::as_str)
    }
}

/// `enheter/310100005.json` → `("enheter", "310100005")`, the number checked.
fn split_path(path: &str) -> Result<(&str, &str), DataError> {
    let (folder, file) = path
        .split_once('/')
        .ok_or_else(|| DataError::UnexpectedFile {
            path: path.to_owned(),
        })?;
    let org = file
        .strip_suffix(".json")
        .filter(|org| OrgNumber::parse(org).is_ok_and(|parsed| parsed.as_str() == *org))
        .ok_or_else(|| DataError::FileName {
            path: path.to_owned(),
        })?;
    Ok((folder, org))
}

/// The HTTP API over a data set.
pub fn router(dataset: Dataset) -> Router {
    Router::new()
        .route(&format!("{API_PREFIX}/enheter/{{orgnr}}"), get(unit))
        .route(
            &format!("{API_PREFIX}/enheter/{{orgnr}}/roller"),
            get(roles),
        )
        .with_state(Arc::new(dataset))
}

async fn unit(State(dataset): State<Arc<Dataset>>, UrlPath(orgnr): UrlPath<String>) -> Response {
    if !is_nine_digits(&orgnr) {
        return error(
            StatusCode::BAD_REQUEST,
            "Ugyldig organisasjonsnummer",
            &orgnr,
            "",
        );
    }
    match dataset.units.get(&orgnr) {
        Some(unit) => {
            let status = if unit.deleted {
                StatusCode::GONE
            } else {
                StatusCode::OK
            };
            json(status, UNIT_CONTENT_TYPE, unit.body.clone())
        }
        None => error(
            StatusCode::NOT_FOUND,
            "Ingen enhet med organisasjonsnummer ble funnet",
            &orgnr,
            "",
        ),
    }
}

async fn roles(State(dataset): State<Arc<Dataset>>, UrlPath(orgnr): UrlPath<String>) -> Response {
    if !is_nine_digits(&orgnr) {
        return error(
            StatusCode::BAD_REQUEST,
            "Ugyldig organisasjonsnummer",
            &orgnr,
            "/roller",
        );
    }
    match dataset.units.get(&orgnr) {
        None => error(
            StatusCode::NOT_FOUND,
            "Ingen enhet med organisasjonsnummer ble funnet",
            &orgnr,
            "/roller",
        ),
        Some(unit) if unit.deleted => {
            error(StatusCode::GONE, "Enheten er slettet", &orgnr, "/roller")
        }
        Some(_) => {
            let body = dataset
                .roles
                .get(&orgnr)
                .cloned()
                .unwrap_or_else(|| no_roles(&orgnr));
            json(StatusCode::OK, ROLES_CONTENT_TYPE, body)
        }
    }
}

/// What the register answers for a live unit without registered roles.
fn no_roles(orgnr: &str) -> String {
    serde_json::json!({
        "rollegrupper": [],
        "_links": {
            "self": { "href": format!("https://data.brreg.no{API_PREFIX}/enheter/{orgnr}/roller") },
            "enhet": { "href": format!("https://data.brreg.no{API_PREFIX}/enheter/{orgnr}") }
        }
    })
    .to_string()
}

fn is_nine_digits(value: &str) -> bool {
    value.len() == 9 && value.bytes().all(|b| b.is_ascii_digit())
}

fn json(status: StatusCode, content_type: &'static str, body: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
        body,
    )
        .into_response()
}

/// An error in the shape of the register's (Spring-style) error bodies.
/// Clients should rely on the status code only: the body is not part of the
/// register's documented contract.
fn error(status: StatusCode, message: &str, orgnr: &str, suffix: &str) -> Response {
    // The path echoes the request only when it is a plausible number, so
    // that arbitrary input is never reflected.
    let shown = if is_nine_digits(orgnr) {
        orgnr
    } else {
        "{orgnr}"
    };
    let body = serde_json::json!({
        "status": status.as_u16(),
        "error": status.canonical_reason().unwrap_or("Error"),
        "message": message,
        "path": format!("{API_PREFIX}/enheter/{shown}{suffix}"),
    });
    json(status, ERROR_CONTENT_TYPE, body.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_data_loads() {
        let dataset = Dataset::embedded().expect("embedded data is valid");
        let orgs: Vec<&str> = dataset.org_numbers().collect();
        assert_eq!(
            orgs,
            [
                companies::NORDMANN_BYGG,
                companies::HMS_LEVERANDOREN,
                companies::ANNEN_RENHOLD,
                companies::EVA_EIER_SNEKKERSERVICE,
                companies::GAMMEL_BYGG_DELETED,
            ]
        );
        for org in orgs {
            assert!(OrgNumber::parse(org).is_ok(), "{org}");
        }
        assert!(dataset.units[companies::GAMMEL_BYGG_DELETED].deleted);
        assert!(!dataset.units[companies::NORDMANN_BYGG].deleted);
    }

    #[test]
    fn the_recorded_folder_and_the_embedded_list_agree() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("recorded");
        let from_dir = Dataset::from_dir(&dir).expect("recorded folder is valid");
        let embedded = Dataset::embedded().expect("embedded");
        assert_eq!(
            from_dir.org_numbers().collect::<Vec<_>>(),
            embedded.org_numbers().collect::<Vec<_>>()
        );
        assert_eq!(from_dir.roles.len(), embedded.roles.len());
    }

    #[test]
    fn bad_files_are_refused() {
        let unit = |org: &str| format!(r#"{{"organisasjonsnummer":"{org}"}}"#);
        let cases = [
            (vec![("enheter/123.json", unit("123"))], "file name"),
            (
                vec![("enheter/310100005.json", unit("310200018"))],
                "differs",
            ),
            (
                vec![("roller/310100005.json", "{}".to_owned())],
                "no file under enheter",
            ),
            (vec![("enheter/310100005.json", "{".to_owned())], "JSON"),
            (
                vec![("other/310100005.json", unit("310100005"))],
                "expected a file",
            ),
        ];
        for (files, expected) in cases {
            let error = Dataset::from_files(
                files
                    .into_iter()
                    .map(|(path, body)| (path.to_owned(), body)),
            )
            .expect_err(expected);
            assert!(error.to_string().contains(expected), "{error}");
        }
    }
}
