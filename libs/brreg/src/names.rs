//! Is the person who logged in with BankID the person the register names?
//!
//! The open register gives a role holder's birth date and name, BankID gives
//! the login's birth date and name (and a fødselsnummer the open register
//! does not have), so the two are compared on birth date and full name.
//!
//! # The name rule
//!
//! The full names must be equal after normalisation:
//!
//! - BankID's full name is `given_name` then `family_name`.
//! - The register's full name is `fornavn`, `mellomnavn`, `etternavn`, in
//!   that order (a person's `given_names` in [`RoleHolder`] already holds
//!   fornavn and mellomnavn).
//!
//! Comparing whole names, rather than given name with given name, makes the
//! rule indifferent to where a middle name ends up: Folkeregisteret's
//! mellomnavn (`Hans Olav` `Berg` `Nordmann`) matches BankID's
//! `Hans Olav Berg` + `Nordmann` as well as `Hans Olav` + `Berg Nordmann`.
//! A name with the middle name left out does not match: the rule errs on the
//! side of a manual check in the back office, never on a wrong owner.
//!
//! Normalisation: letters are compared case-insensitively, runs of
//! whitespace count as one space, and a letter written as a base letter plus
//! a combining accent (`a` + U+030A) equals the precomposed letter (`å`), the
//! way NFC would have it, for the accents found in Nordic and common
//! European names. æ, ø and å simply compare as themselves (`Æ` = `æ`).
//! Hyphens and other punctuation are kept: `Anne-Lise` is not `Anne Lise`.

use chrono::NaiveDate;

use crate::model::{Role, RoleHolder, RoleKind};

/// A logged-in person, to be looked for among a company's role holders.
#[derive(Clone, PartialEq, Eq)]
pub struct PersonMatch {
    birth_date: NaiveDate,
    full_name: String,
}

/// Personal data stays out of debug output.
impl std::fmt::Debug for PersonMatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PersonMatch").finish_non_exhaustive()
    }
}

impl PersonMatch {
    /// `given_name` and `family_name` as BankID gives them.
    pub fn new(birth_date: NaiveDate, given_name: &str, family_name: &str) -> Self {
        Self {
            birth_date,
            full_name: normalise(&format!("{given_name} {family_name}")),
        }
    }

    /// Whether `holder` is this person: same birth date, same full name.
    /// Dead or alive; see [`Self::ownership_roles`] for what counts.
    pub fn is(&self, holder: &RoleHolder) -> bool {
        match holder {
            RoleHolder::Person {
                birth_date,
                given_names,
                family_name,
                ..
            } => {
                *birth_date == self.birth_date
                    && normalise(&format!("{given_names} {family_name}")) == self.full_name
            }
            RoleHolder::Entity { .. } => false,
        }
    }

    /// The ownership roles ([`RoleKind::grants_ownership`]) this person holds
    /// and still fills: not resigned, and not registered as deceased (a dead
    /// person's BankID is revoked, so a match would be someone else with the
    /// same name and birth date).
    pub fn ownership_roles(&self, roles: &[Role]) -> Vec<RoleKind> {
        roles
            .iter()
            .filter(|role| role.kind.grants_ownership() && !role.resigned)
            .filter(|role| !matches!(role.holder, RoleHolder::Person { deceased: true, .. }))
            .filter(|role| self.is(&role.holder))
            .map(|role| role.kind.clone())
            .collect()
    }

    /// Whether this person may act for the company on the register's
    /// authority alone.
    pub fn holds_ownership(&self, roles: &[Role]) -> bool {
        !self.ownership_roles(roles).is_empty()
    }
}

/// For recognising a person without keeping their name and birth date:
/// identity stores only a keyed fingerprint of [`PersonMatch::canonical`].
impl PersonMatch {
    /// The person a register role names, if a person.
    pub fn of_holder(holder: &RoleHolder) -> Option<Self> {
        match holder {
            RoleHolder::Person {
                birth_date,
                given_names,
                family_name,
                ..
            } => Some(Self::new(*birth_date, given_names, family_name)),
            RoleHolder::Entity { .. } => None,
        }
    }

    /// Birth date and normalised full name in one string: equal exactly when
    /// [`PersonMatch::is`] would match.
    pub fn canonical(&self) -> String {
        format!("{}|{}", self.birth_date, self.full_name)
    }
}

/// Lower-cased, accents composed, whitespace collapsed.
fn normalise(name: &str) -> String {
    let mut composed: Vec<char> = Vec::with_capacity(name.len());
    for ch in name.chars().flat_map(char::to_lowercase) {
        let merged = composed
            .last()
            .and_then(|base| compose(*base, ch))
            .inspect(|_| {
                composed.pop();
            });
        composed.push(merged.unwrap_or(ch));
    }
    let text: String = composed.into_iter().collect();
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The precomposed lower-case letter for `base` followed by the combining
/// mark `mark`, for the accents of Nordic and common European names.
fn compose(base: char, mark: char) -> Option<char> {
    const GRAVE: char = '\u{300}';
    const ACUTE: char = '\u{301}';
    const CIRCUMFLEX: char = '\u{302}';
    const TILDE: char = '\u{303}';
    const DIAERESIS: char = '\u{308}';
    const RING: char = '\u{30A}';
    const CARON: char = '\u{30C}';
    const CEDILLA: char = '\u{327}';
    let composed = match (base, mark) {
        ('a', GRAVE) => 'à',
        ('a', ACUTE) => 'á',
        ('a', CIRCUMFLEX) => 'â',
        ('a', TILDE) => 'ã',
        ('a', DIAERESIS) => 'ä',
        ('a', RING) => 'å',
        ('e', GRAVE) => 'è',
        ('e', ACUTE) => 'é',
        ('e', CIRCUMFLEX) => 'ê',
        ('e', DIAERESIS) => 'ë',
        ('i', GRAVE) => 'ì',
        ('i', ACUTE) => 'í',
        ('i', CIRCUMFLEX) => 'î',
        ('i', DIAERESIS) => 'ï',
        ('o', GRAVE) => 'ò',
        ('o', ACUTE) => 'ó',
        ('o', CIRCUMFLEX) => 'ô',
        ('o', TILDE) => 'õ',
        ('o', DIAERESIS) => 'ö',
        ('u', GRAVE) => 'ù',
        ('u', ACUTE) => 'ú',
        ('u', CIRCUMFLEX) => 'û',
        ('u', DIAERESIS) => 'ü',
        ('u', RING) => 'ů',
        ('y', ACUTE) => 'ý',
        ('y', DIAERESIS) => 'ÿ',
        ('n', TILDE) => 'ñ',
        ('n', ACUTE) => 'ń',
        ('c', CEDILLA) => 'ç',
        ('c', ACUTE) => 'ć',
        ('c', CARON) => 'č',
        ('s', CARON) => 'š',
        ('z', CARON) => 'ž',
        ('r', CARON) => 'ř',
        _ => return None,
    };
    Some(composed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
    }

    fn person(given: &str, family: &str, born: NaiveDate) -> RoleHolder {
        RoleHolder::Person {
            birth_date: born,
            given_names: given.to_owned(),
            family_name: family.to_owned(),
            deceased: false,
        }
    }

    fn role(code: &str, holder: RoleHolder) -> Role {
        Role {
            kind: RoleKind::from_code(code),
            holder,
            resigned: false,
        }
    }

    #[test]
    fn names_are_compared_case_and_space_insensitively() {
        let born = date(1978, 11, 2);
        let login = PersonMatch::new(born, "Ola", "Leverandør");
        assert!(login.is(&person("OLA", "LEVERANDØR", born)));
        assert!(login.is(&person("  ola ", "leverandør", born)));
        assert!(!login.is(&person("Ola", "Leverandor", born)), "ø is not o");
        assert!(!login.is(&person("Ola", "Leverandør", date(1978, 11, 3))));
    }

    #[test]
    fn decomposed_letters_equal_precomposed_ones() {
        let born = date(1990, 1, 1);
        // "Åse Bråten" typed with combining rings.
        let login = PersonMatch::new(born, "A\u{30A}se", "Bra\u{30A}ten");
        assert!(login.is(&person("Åse", "BRÅTEN", born)));
        let login = PersonMatch::new(born, "Rene\u{301}e", "Mu\u{308}ller");
        assert!(login.is(&person("Renée", "Müller", born)));
        assert!(PersonMatch::new(born, "Ærlig", "Øvre").is(&person("ÆRLIG", "ØVRE", born)));
    }

    #[test]
    fn a_middle_name_may_sit_on_either_side_but_not_be_missing() {
        let born = date(1958, 7, 19);
        // Register: fornavn "Hans Olav", mellomnavn "Berg", etternavn "Nordmann".
        let register = person("Hans Olav Berg", "Nordmann", born);
        assert!(PersonMatch::new(born, "Hans Olav Berg", "Nordmann").is(&register));
        assert!(PersonMatch::new(born, "Hans Olav", "Berg Nordmann").is(&register));
        assert!(!PersonMatch::new(born, "Hans Olav", "Nordmann").is(&register));
        assert!(!PersonMatch::new(born, "Hans", "Nordmann").is(&register));
        assert!(!PersonMatch::new(born, "Anne-Lise", "Nordmann").is(&person(
            "Anne Lise",
            "Nordmann",
            born
        )));
    }

    #[test]
    fn only_live_unresigned_ownership_roles_count() {
        let born = date(1985, 3, 14);
        let kari = || person("Kari", "Nordmann", born);
        let login = PersonMatch::new(born, "Kari", "Nordmann");

        let roles = vec![
            role("MEDL", kari()),
            role("DAGL", kari()),
            role("LEDE", kari()),
        ];
        assert_eq!(
            login.ownership_roles(&roles),
            [RoleKind::DailyManager, RoleKind::BoardChair]
        );

        assert!(!login.holds_ownership(&[role("MEDL", kari()), role("KONT", kari())]));

        let mut resigned = role("DAGL", kari());
        resigned.resigned = true;
        assert!(!login.holds_ownership(&[resigned]));

        let dead = role(
            "INNH",
            RoleHolder::Person {
                birth_date: born,
                given_names: "Kari".into(),
                family_name: "Nordmann".into(),
                deceased: true,
            },
        );
        assert!(!login.holds_ownership(&[dead]));

        let entity = role(
            "DTSO",
            RoleHolder::Entity {
                org_number: hms_domain::OrgNumber::parse("310600008").expect("valid"),
            },
        );
        assert!(!login.holds_ownership(&[entity]));

        for code in ["INNH", "DTPR", "DTSO"] {
            assert!(login.holds_ownership(&[role(code, kari())]), "{code}");
        }
    }

    #[test]
    fn canonical_forms_are_equal_exactly_when_the_persons_match() {
        let born = date(1958, 7, 19);
        let register = person("Hans Olav Berg", "Nordmann", born);
        let from_register = PersonMatch::of_holder(&register).expect("a person");
        let login = PersonMatch::new(born, "HANS OLAV", "Berg  Nordmann");
        assert!(login.is(&register));
        assert_eq!(login.canonical(), from_register.canonical());
        let other = PersonMatch::new(born, "Hans Olav", "Nordmann");
        assert_ne!(other.canonical(), from_register.canonical());
        let entity = RoleHolder::Entity {
            org_number: hms_domain::OrgNumber::parse("310600008").expect("valid"),
        };
        assert!(PersonMatch::of_holder(&entity).is_none());
    }

    #[test]
    fn debug_output_hides_the_person() {
        let login = PersonMatch::new(date(1985, 3, 14), "Kari", "Nordmann");
        let debug = format!("{login:?}");
        assert!(
            !debug.contains("kari") && !debug.contains("1985"),
            "{debug}"
        );
    }
}
