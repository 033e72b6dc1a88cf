//! The people one can log in as.
//!
//! Their national identity numbers are synthetic in the style of Test-Norge
//! (Tenor): the month is raised by 80, so no real person can have them, and
//! they still carry valid control digits. The built-in persons have the
//! names and birth dates that the register fake (`brreg-fake`) records for
//! its companies' roles, so that owner look-ups find them.

use std::collections::HashSet;
use std::fmt;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::NaiveDate;
use hms_domain::{Fodselsnummer, NationalIdPolicy};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::settings::{ACR_HIGH, ACR_SUBSTANTIAL, SUPPORTED_ACR_VALUES};

/// National identity numbers of the built-in persons, for tests that log in
/// with `login_hint`.
pub mod ids {
    /// Kari Nordmann, daglig leder and styreleder of NORDMANN BYGG AS.
    pub const KARI_NORDMANN: &str = "14838510117";
    /// Ola Leverandør, daglig leder of the supplier HMS LEVERANDØREN AS.
    pub const OLA_LEVERANDOR: &str = "02917820204";
    /// Per Ansatt, employed by the supplier; no role in the register.
    pub const PER_ANSATT: &str = "21869530376";
    /// Siri Saksbehandler, a back-office case handler; no role in the register.
    pub const SIRI_SAKSBEHANDLER: &str = "30899040437";
    /// Nils Annen, daglig leder and styreleder of ANNEN RENHOLD AS.
    pub const NILS_ANNEN: &str = "05816915009";
    /// Lise Lavnivå, like anyone else but logs in at the substantial level.
    pub const LISE_LAVNIVA: &str = "12928825009";
    /// Eva Eier, innehaver of the enkeltpersonforetak EVA EIER SNEKKERSERVICE.
    pub const EVA_EIER: &str = "08849235150";
    /// Tore Tidligere, no role in the register: for grants that were revoked.
    pub const TORE_TIDLIGERE: &str = "15879112343";
    /// Unni Utløpt, no role in the register: for grants that have run out.
    pub const UNNI_UTLOPT: &str = "24839220045";
}

/// Namespaces the subject hash, so that the simulator's `sub` values cannot
/// be mistaken for another system's hashes of the same number.
const SUBJECT_SALT: &str = "bankid-simulator/sub/v1:";

/// A person who can log in.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestPerson {
    /// Fødselsnummer or D-number, 11 digits.
    pub national_id: String,
    /// All given names, middle names included, as BankID gives them.
    pub given_name: String,
    pub family_name: String,
    pub birthdate: NaiveDate,
    /// The level of assurance this person's login reaches.
    #[serde(default = "default_acr")]
    pub acr: String,
    /// Shown on the login page: who this person is in the test scenarios.
    #[serde(default)]
    pub description: String,
}

fn default_acr() -> String {
    ACR_HIGH.to_owned()
}

/// Shows only the birth-date part of the national id, like
/// `hms_domain::Fodselsnummer`.
impl fmt::Debug for TestPerson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let masked: String = self
            .national_id
            .chars()
            .enumerate()
            .map(|(index, ch)| if index < 6 { ch } else { '*' })
            .collect();
        f.debug_struct("TestPerson")
            .field("national_id", &masked)
            .field("given_name", &self.given_name)
            .field("family_name", &self.family_name)
            .field("birthdate", &self.birthdate)
            .field("acr", &self.acr)
            .finish_non_exhaustive()
    }
}

impl TestPerson {
    /// `given_name family_name`, the OIDC `name` claim.
    pub fn name(&self) -> String {
        format!("{} {}", self.given_name, self.family_name)
    }

    /// The OIDC `sub`: stable for a person (it survives restarts, so stored
    /// users stay linked) but not the national id itself. It is the
    /// base64url SHA-256 of a fixed salt and the number, as opaque as
    /// ID-porten's. A real provider keys such a hash with a secret, since
    /// 11-digit numbers are few enough to try them all; for synthetic test
    /// persons that does not matter.
    pub fn subject(&self) -> String {
        let digest = Sha256::digest(format!("{SUBJECT_SALT}{}", self.national_id));
        URL_SAFE_NO_PAD.encode(digest)
    }
}

/// Why a list of persons was refused. Messages name the person by position
/// and name, never by national id.
#[derive(Debug, thiserror::Error)]
pub enum PersonsError {
    #[error("cannot read the persons file: {0}")]
    Read(#[from] std::io::Error),
    #[error("the persons file is not a JSON array of persons ({0})")]
    Json(String),
    #[error("the list of persons is empty")]
    Empty,
    #[error("person #{index} ({name}): national_id {reason}")]
    NationalId {
        index: usize,
        name: String,
        reason: hms_domain::NationalIdError,
    },
    #[error("person #{index} ({name}): birthdate does not match the national id")]
    Birthdate { index: usize, name: String },
    #[error("person #{index} ({name}): acr must be one of {SUPPORTED_ACR_VALUES:?}")]
    Acr { index: usize, name: String },
    #[error("person #{index}: given_name and family_name must not be empty")]
    Name { index: usize },
    #[error("person #{index} ({name}): the same national_id appears twice")]
    Duplicate { index: usize, name: String },
}

/// Reads persons from a JSON file: an array of objects with `national_id`,
/// `given_name`, `family_name`, `birthdate` (`YYYY-MM-DD`), and optionally
/// `acr` and `description`.
pub fn load(path: &Path) -> Result<Vec<TestPerson>, PersonsError> {
    let text = std::fs::read_to_string(path)?;
    // serde's messages can quote a value (a national id typed as a number),
    // so only the kind and position of the error are kept.
    let persons: Vec<TestPerson> = serde_json::from_str(&text).map_err(|error| {
        PersonsError::Json(format!(
            "{:?} error at line {} column {}",
            error.classify(),
            error.line(),
            error.column()
        ))
    })?;
    validate(&persons)?;
    Ok(persons)
}

/// Checks that every national id is valid (synthetic numbers allowed) and
/// encodes the stated birth date, that the acr is one the provider
/// announces, and that no number appears twice.
pub fn validate(persons: &[TestPerson]) -> Result<(), PersonsError> {
    if persons.is_empty() {
        return Err(PersonsError::Empty);
    }
    let policy = NationalIdPolicy {
        allow_synthetic: true,
    };
    let mut seen = HashSet::new();
    for (position, person) in persons.iter().enumerate() {
        let index = position + 1;
        if person.given_name.trim().is_empty() || person.family_name.trim().is_empty() {
            return Err(PersonsError::Name { index });
        }
        let name = person.name();
        let number = Fodselsnummer::parse(&person.national_id, policy).map_err(|reason| {
            PersonsError::NationalId {
                index,
                name: name.clone(),
                reason,
            }
        })?;
        if number.birth_date() != person.birthdate {
            return Err(PersonsError::Birthdate { index, name });
        }
        if !SUPPORTED_ACR_VALUES.contains(&person.acr.as_str()) {
            return Err(PersonsError::Acr { index, name });
        }
        if !seen.insert(number.expose()) {
            return Err(PersonsError::Duplicate { index, name });
        }
    }
    Ok(())
}

/// The built-in persons (see [`ids`] for who is who).
pub fn builtin() -> Vec<TestPerson> {
    let person = |national_id: &str,
                  given_name: &str,
                  family_name: &str,
                  (year, month, day): (i32, u32, u32),
                  acr: &str,
                  description: &str| TestPerson {
        national_id: national_id.to_owned(),
        given_name: given_name.to_owned(),
        family_name: family_name.to_owned(),
        // The dates are literals checked by the tests below; a typo falls
        // back to a date the validation then rejects.
        birthdate: NaiveDate::from_ymd_opt(year, month, day).unwrap_or_default(),
        acr: acr.to_owned(),
        description: description.to_owned(),
    };
    vec![
        person(
            ids::KARI_NORDMANN,
            "Kari",
            "Nordmann",
            (1985, 3, 14),
            ACR_HIGH,
            "Daglig leder and styreleder of NORDMANN BYGG AS (310100005)",
        ),
        person(
            ids::OLA_LEVERANDOR,
            "Ola",
            "Leverandør",
            (1978, 11, 2),
            ACR_HIGH,
            "Daglig leder of the supplier HMS LEVERANDØREN AS (310200018)",
        ),
        person(
            ids::PER_ANSATT,
            "Per",
            "Ansatt",
            (1995, 6, 21),
            ACR_HIGH,
            "Employee of HMS LEVERANDØREN AS; no role in the register",
        ),
        person(
            ids::SIRI_SAKSBEHANDLER,
            "Siri",
            "Saksbehandler",
            (1990, 9, 30),
            ACR_HIGH,
            "Back-office case handler; no role in the register",
        ),
        person(
            ids::NILS_ANNEN,
            "Nils",
            "Annen",
            (1969, 1, 5),
            ACR_HIGH,
            "Daglig leder and styreleder of ANNEN RENHOLD AS (310300004)",
        ),
        person(
            ids::LISE_LAVNIVA,
            "Lise",
            "Lavnivå",
            (1988, 12, 12),
            ACR_SUBSTANTIAL,
            "Logs in at the substantial level only",
        ),
        person(
            ids::EVA_EIER,
            "Eva",
            "Eier",
            (1992, 4, 8),
            ACR_HIGH,
            "Innehaver of the enkeltpersonforetak EVA EIER SNEKKERSERVICE (310400009)",
        ),
        person(
            ids::TORE_TIDLIGERE,
            "Tore",
            "Tidligere",
            (1991, 7, 15),
            ACR_HIGH,
            "No role in the register; for grants that were revoked",
        ),
        person(
            ids::UNNI_UTLOPT,
            "Unni",
            "Utløpt",
            (1992, 3, 24),
            ACR_HIGH,
            "No role in the register; for grants that have run out",
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    const WITH_SYNTHETIC: NationalIdPolicy = NationalIdPolicy {
        allow_synthetic: true,
    };

    #[test]
    fn every_builtin_person_has_a_valid_synthetic_number_matching_the_birthdate() {
        let persons = builtin();
        assert_eq!(persons.len(), 9);
        for person in &persons {
            let number = Fodselsnummer::parse(&person.national_id, WITH_SYNTHETIC)
                .unwrap_or_else(|error| panic!("{}: {error}", person.name()));
            assert!(number.is_synthetic(), "{}", person.name());
            assert_eq!(number.birth_date(), person.birthdate, "{}", person.name());
            // Synthetic numbers must never pass where real ones are required.
            assert!(
                Fodselsnummer::parse(&person.national_id, NationalIdPolicy::default()).is_err(),
                "{}",
                person.name()
            );
        }
        validate(&persons).expect("the built-in list is valid");
    }

    #[test]
    fn the_birthdates_are_the_ones_the_register_fake_records() {
        let born = |id: &str| {
            builtin()
                .into_iter()
                .find(|person| person.national_id == id)
                .map(|person| person.birthdate.to_string())
        };
        assert_eq!(born(ids::KARI_NORDMANN).as_deref(), Some("1985-03-14"));
        assert_eq!(born(ids::OLA_LEVERANDOR).as_deref(), Some("1978-11-02"));
        assert_eq!(born(ids::NILS_ANNEN).as_deref(), Some("1969-01-05"));
        assert_eq!(born(ids::EVA_EIER).as_deref(), Some("1992-04-08"));
    }

    #[test]
    fn only_lise_logs_in_below_high() {
        let lower: Vec<String> = builtin()
            .into_iter()
            .filter(|person| person.acr != ACR_HIGH)
            .map(|person| person.name())
            .collect();
        assert_eq!(lower, ["Lise Lavnivå"]);
    }

    #[test]
    fn subjects_are_stable_distinct_and_not_the_number() {
        let persons = builtin();
        let subjects: HashSet<String> = persons.iter().map(TestPerson::subject).collect();
        assert_eq!(subjects.len(), persons.len());
        for person in &persons {
            let subject = person.subject();
            assert_eq!(subject, person.clone().subject());
            assert!(!subject.contains(&person.national_id));
            assert_eq!(subject.len(), 43, "base64url of 32 bytes");
        }
    }

    #[test]
    fn debug_masks_the_number() {
        let kari = &builtin()[0];
        let debug = format!("{kari:?}");
        assert!(!debug.contains(ids::KARI_NORDMANN), "{debug}");
        assert!(debug.contains("148385*****"), "{debug}");
    }

    #[test]
    fn bad_lists_are_refused_without_quoting_the_number() {
        let mut persons = builtin();
        persons[1].birthdate = persons[0].birthdate;
        let error = validate(&persons).expect_err("birthdate mismatch");
        assert!(matches!(error, PersonsError::Birthdate { index: 2, .. }));

        let mut persons = builtin();
        persons[2].national_id = "14838510118".into();
        let error = validate(&persons).expect_err("bad control digit");
        assert!(!error.to_string().contains("14838510118"), "{error}");

        let mut persons = builtin();
        persons[3].acr = "Level4".into();
        assert!(matches!(
            validate(&persons),
            Err(PersonsError::Acr { index: 4, .. })
        ));

        let mut persons = builtin();
        persons.push(persons[0].clone());
        assert!(matches!(
            validate(&persons),
            Err(PersonsError::Duplicate { index: 10, .. })
        ));

        assert!(matches!(validate(&[]), Err(PersonsError::Empty)));
    }

    #[test]
    fn a_persons_file_round_trips() {
        let dir = std::env::temp_dir().join(format!("bankid-sim-persons-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("persons.json");
        let mut persons = builtin();
        persons.truncate(2);
        std::fs::write(&path, serde_json::to_string(&persons).expect("json")).expect("write");
        assert_eq!(load(&path).expect("load"), persons);

        // A number written as a JSON number is refused without being quoted.
        std::fs::write(
            &path,
            r#"[{"national_id": 14838510117, "given_name": "Kari", "family_name": "Nordmann", "birthdate": "1985-03-14"}]"#,
        )
        .expect("write");
        let error = load(&path).expect_err("number instead of string");
        assert!(!error.to_string().contains("14838510117"), "{error}");
        std::fs::remove_dir_all(&dir).ok();
    }
}
