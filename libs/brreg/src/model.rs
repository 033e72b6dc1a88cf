//! What the platform keeps of the register's answers, and how the wire
//! format maps onto it.

use std::fmt;

use chrono::NaiveDate;
use hms_domain::OrgNumber;

use crate::error::RegisterError;
use crate::wire;

/// A unit (enhet) of the register: a company, an enkeltpersonforetak, an
/// association …
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unit {
    pub org_number: OrgNumber,
    pub name: String,
    pub form: OrganisationForm,
    pub business_address: Option<Address>,
    pub postal_address: Option<Address>,
    pub registered_on: Option<NaiveDate>,
    pub bankrupt: bool,
    pub under_liquidation: bool,
    pub under_forced_liquidation: bool,
    /// Set for a deleted unit. The register normally answers those with 410
    /// (and [`crate::RegisterClient::unit`] gives `None`), but a 200 with a
    /// deletion date is kept here rather than mistaken for a live company.
    pub deleted_on: Option<NaiveDate>,
}

impl Unit {
    /// Neither deleted, bankrupt nor being wound up: a company that can
    /// order cards.
    pub fn is_active(&self) -> bool {
        self.deleted_on.is_none()
            && !self.bankrupt
            && !self.under_liquidation
            && !self.under_forced_liquidation
    }
}

/// Organisasjonsform: `AS` (aksjeselskap), `ENK` (enkeltpersonforetak) …
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrganisationForm {
    pub code: String,
    pub description: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    /// Street lines, empty ones dropped.
    pub lines: Vec<String>,
    pub postal_code: Option<String>,
    pub city: Option<String>,
    pub municipality: Option<String>,
    pub municipality_number: Option<String>,
    pub country: Option<String>,
    pub country_code: Option<String>,
}

/// One registered role, flattened out of its role group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    pub kind: RoleKind,
    pub holder: RoleHolder,
    /// Stepped down (`fratraadt`) or removed (`avregistrert`): the role no
    /// longer counts.
    pub resigned: bool,
}

/// The register's role codes (rolletype) that the platform tells apart.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RoleKind {
    /// DAGL: daglig leder (managing director).
    DailyManager,
    /// LEDE: styrets leder (chair of the board).
    BoardChair,
    /// NEST: nestleder (deputy chair).
    DeputyChair,
    /// MEDL: styremedlem (board member).
    BoardMember,
    /// INNH: innehaver, the owner of an enkeltpersonforetak.
    Proprietor,
    /// DTPR: deltaker med delt ansvar (partner with shared liability, DA).
    PartnerSharedLiability,
    /// DTSO: deltaker med fullt ansvar (partner with full liability, ANS).
    PartnerFullLiability,
    /// KONT: kontaktperson.
    ContactPerson,
    /// REPR: norsk representant for utenlandsk enhet.
    NorwegianRepresentative,
    /// REVI: revisor (auditor).
    Auditor,
    /// REGN: regnskapsfører (accountant).
    Accountant,
    /// Any other code, kept as the register spells it.
    Other(String),
}

impl RoleKind {
    pub fn from_code(code: &str) -> Self {
        match code {
            "DAGL" => Self::DailyManager,
            "LEDE" => Self::BoardChair,
            "NEST" => Self::DeputyChair,
            "MEDL" => Self::BoardMember,
            "INNH" => Self::Proprietor,
            "DTPR" => Self::PartnerSharedLiability,
            "DTSO" => Self::PartnerFullLiability,
            "KONT" => Self::ContactPerson,
            "REPR" => Self::NorwegianRepresentative,
            "REVI" => Self::Auditor,
            "REGN" => Self::Accountant,
            other => Self::Other(other.to_owned()),
        }
    }

    pub fn code(&self) -> &str {
        match self {
            Self::DailyManager => "DAGL",
            Self::BoardChair => "LEDE",
            Self::DeputyChair => "NEST",
            Self::BoardMember => "MEDL",
            Self::Proprietor => "INNH",
            Self::PartnerSharedLiability => "DTPR",
            Self::PartnerFullLiability => "DTSO",
            Self::ContactPerson => "KONT",
            Self::NorwegianRepresentative => "REPR",
            Self::Auditor => "REVI",
            Self::Accountant => "REGN",
            Self::Other(code) => code,
        }
    }

    /// Whether holding this role lets a person act for the company on the
    /// register's authority alone: the daglig leder, the chair, the owner of
    /// an enkeltpersonforetak and the partners of an ANS/DA. Board members,
    /// contact persons, auditors and accountants need a delegation.
    pub fn grants_ownership(&self) -> bool {
        matches!(
            self,
            Self::DailyManager
                | Self::BoardChair
                | Self::Proprietor
                | Self::PartnerSharedLiability
                | Self::PartnerFullLiability
        )
    }
}

/// Who holds a role.
#[derive(Clone, PartialEq, Eq)]
pub enum RoleHolder {
    Person {
        birth_date: NaiveDate,
        /// Fornavn and mellomnavn, in that order, separated by a space.
        given_names: String,
        family_name: String,
        deceased: bool,
    },
    Entity {
        org_number: OrgNumber,
    },
}

/// Hides names and birth dates: a role logged with `{:?}` must not leak
/// personal data.
impl fmt::Debug for RoleHolder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Person { deceased, .. } => f
                .debug_struct("Person")
                .field("deceased", deceased)
                .finish_non_exhaustive(),
            Self::Entity { org_number } => f
                .debug_struct("Entity")
                .field("org_number", org_number)
                .finish(),
        }
    }
}

impl TryFrom<wire::Enhet> for Unit {
    type Error = RegisterError;

    fn try_from(enhet: wire::Enhet) -> Result<Self, Self::Error> {
        let org_number = OrgNumber::parse(&enhet.organisasjonsnummer)
            .map_err(|error| RegisterError::Malformed(format!("organisasjonsnummer: {error}")))?;
        Ok(Self {
            org_number,
            name: enhet.navn,
            form: OrganisationForm {
                description: enhet.organisasjonsform.beskrivelse.unwrap_or_default(),
                code: enhet.organisasjonsform.kode,
            },
            business_address: enhet.forretningsadresse.map(Address::from),
            postal_address: enhet.postadresse.map(Address::from),
            registered_on: optional_date(
                enhet.registreringsdato_enhetsregisteret.as_deref(),
                "registreringsdatoEnhetsregisteret",
            )?,
            bankrupt: enhet.konkurs.unwrap_or(false),
            under_liquidation: enhet.under_avvikling.unwrap_or(false),
            under_forced_liquidation: enhet
                .under_tvangsavvikling_eller_tvangsopplosning
                .unwrap_or(false),
            deleted_on: optional_date(enhet.slettedato.as_deref(), "slettedato")?,
        })
    }
}

impl From<wire::Adresse> for Address {
    fn from(adresse: wire::Adresse) -> Self {
        Self {
            lines: adresse
                .adresse
                .into_iter()
                .flatten()
                .map(|line| line.trim().to_owned())
                .filter(|line| !line.is_empty())
                .collect(),
            postal_code: adresse.postnummer,
            city: adresse.poststed,
            municipality: adresse.kommune,
            municipality_number: adresse.kommunenummer,
            country: adresse.land,
            country_code: adresse.landkode,
        }
    }
}

/// A date the register may leave out, send as `null` or as `""`. Unit dates
/// are public, but the message still leaves the value out.
fn optional_date(value: Option<&str>, field: &str) -> Result<Option<NaiveDate>, RegisterError> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(text) => NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .map(Some)
            .map_err(|_| RegisterError::Malformed(format!("{field} is not a YYYY-MM-DD date"))),
    }
}

/// Flattens role groups into roles.
///
/// A role whose holder cannot be read (neither a person with a birth date
/// nor an entity with a valid number) is skipped with a warning that names
/// only its role code: it could never match anyone, and refusing the whole
/// answer would lock every owner of the company out over one odd entry.
pub(crate) fn flatten_roles(roller: wire::Roller) -> Vec<Role> {
    let mut roles = Vec::new();
    for group in roller.rollegrupper {
        for rolle in group.roller {
            let kind = RoleKind::from_code(&rolle.kind.kode);
            let resigned = rolle.fratraadt.unwrap_or(false) || rolle.avregistrert.unwrap_or(false);
            match holder_of(rolle.person, rolle.enhet) {
                Some(holder) => roles.push(Role {
                    kind,
                    holder,
                    resigned,
                }),
                None => tracing::warn!(
                    group = %group.kind.kode,
                    role = %kind.code(),
                    "skipped a register role whose holder could not be read"
                ),
            }
        }
    }
    roles
}

fn holder_of(person: Option<wire::Person>, enhet: Option<wire::RolleEnhet>) -> Option<RoleHolder> {
    if let Some(person) = person {
        let birth_date = person
            .fodselsdato
            .as_deref()
            .and_then(|text| NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").ok())?;
        let navn = person.navn?;
        let given_names = [navn.fornavn, navn.mellomnavn]
            .into_iter()
            .flatten()
            .map(|part| part.trim().to_owned())
            .filter(|part| !part.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        return Some(RoleHolder::Person {
            birth_date,
            given_names,
            family_name: navn.etternavn.unwrap_or_default().trim().to_owned(),
            deceased: person.er_doed.unwrap_or(false),
        });
    }
    let org_number = OrgNumber::parse(enhet?.organisasjonsnummer.as_deref()?).ok()?;
    Some(RoleHolder::Entity { org_number })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
    }

    fn unit(org: &str) -> Unit {
        let json = brreg_fake::Dataset::embedded()
            .expect("recorded data")
            .unit_json(org)
            .expect("recorded unit")
            .to_owned();
        let enhet: wire::Enhet = serde_json::from_str(&json).expect("wire format");
        Unit::try_from(enhet).expect("domain")
    }

    fn roles(org: &str) -> Vec<Role> {
        let json = brreg_fake::Dataset::embedded()
            .expect("recorded data")
            .roles_json(org)
            .expect("recorded roles")
            .to_owned();
        flatten_roles(serde_json::from_str(&json).expect("wire format"))
    }

    #[test]
    fn a_recorded_company_parses() {
        let unit = unit(brreg_fake::companies::NORDMANN_BYGG);
        assert_eq!(unit.org_number.as_str(), "310100005");
        assert_eq!(unit.name, "NORDMANN BYGG AS");
        assert_eq!(unit.form.code, "AS");
        assert_eq!(unit.form.description, "Aksjeselskap");
        assert_eq!(unit.registered_on, Some(date(2015, 3, 2)));
        assert!(unit.is_active());
        let address = unit.business_address.expect("forretningsadresse");
        assert_eq!(address.lines, ["Storgata 1"]);
        assert_eq!(address.postal_code.as_deref(), Some("0155"));
        assert_eq!(address.city.as_deref(), Some("OSLO"));
        assert_eq!(address.municipality_number.as_deref(), Some("0301"));
        assert_eq!(address.country_code.as_deref(), Some("NO"));
        assert!(unit.postal_address.is_some());
    }

    #[test]
    fn an_empty_date_and_an_enk_parse() {
        // ANNEN RENHOLD AS is recorded with `"konkursdato": ""`.
        assert!(unit(brreg_fake::companies::ANNEN_RENHOLD).is_active());
        let enk = unit(brreg_fake::companies::EVA_EIER_SNEKKERSERVICE);
        assert_eq!(enk.form.code, "ENK");
        assert!(enk.is_active());
    }

    #[test]
    fn the_short_shape_of_a_deleted_unit_parses() {
        let deleted = unit(brreg_fake::companies::GAMMEL_BYGG_DELETED);
        assert_eq!(deleted.deleted_on, Some(date(2023, 5, 31)));
        assert!(deleted.business_address.is_none());
        assert!(!deleted.is_active());
    }

    #[test]
    fn recorded_roles_flatten() {
        let roles = roles(brreg_fake::companies::NORDMANN_BYGG);
        let kinds: Vec<&str> = roles.iter().map(|role| role.kind.code()).collect();
        assert_eq!(kinds, ["DAGL", "LEDE", "MEDL", "VARA", "REVI"]);
        assert!(roles.iter().all(|role| !role.resigned));

        let RoleHolder::Person {
            birth_date,
            given_names,
            family_name,
            deceased,
        } = &roles[0].holder
        else {
            panic!("DAGL is a person");
        };
        assert_eq!(*birth_date, date(1985, 3, 14));
        assert_eq!(given_names, "Kari");
        assert_eq!(family_name, "Nordmann");
        assert!(!deceased);

        // Fornavn and mellomnavn together make the given names.
        let RoleHolder::Person { given_names, .. } = &roles[2].holder else {
            panic!("MEDL is a person");
        };
        assert_eq!(given_names, "Hans Olav Berg");
        assert!(matches!(
            roles[3].holder,
            RoleHolder::Person { deceased: true, .. }
        ));
        assert_eq!(
            roles[4].holder,
            RoleHolder::Entity {
                org_number: OrgNumber::parse("310600008").expect("valid")
            }
        );
    }

    #[test]
    fn role_codes_round_trip_and_only_owners_grant_ownership() {
        for code in [
            "DAGL", "LEDE", "NEST", "MEDL", "INNH", "DTPR", "DTSO", "KONT", "REPR", "REVI", "REGN",
            "VARA",
        ] {
            assert_eq!(RoleKind::from_code(code).code(), code);
        }
        let owners: Vec<&str> = [
            "DAGL", "LEDE", "NEST", "MEDL", "INNH", "DTPR", "DTSO", "KONT",
        ]
        .into_iter()
        .filter(|code| RoleKind::from_code(code).grants_ownership())
        .collect();
        assert_eq!(owners, ["DAGL", "LEDE", "INNH", "DTPR", "DTSO"]);
        assert!(!RoleKind::Other("VARA".into()).grants_ownership());
    }

    #[test]
    fn unreadable_holders_are_skipped_and_resignations_kept() {
        let json = r#"{"rollegrupper":[{"type":{"kode":"DAGL"},"roller":[
            {"type":{"kode":"DAGL"},"person":{"navn":{"fornavn":"Uten","etternavn":"Dato"}}},
            {"type":{"kode":"DAGL"},"enhet":{"organisasjonsnummer":"123"}},
            {"type":{"kode":"DAGL"}},
            {"type":{"kode":"DAGL"},"person":{"fodselsdato":"1970-01-31","navn":{"fornavn":"Gått","etternavn":"Av"}},"fratraadt":true},
            {"type":{"kode":"DAGL"},"person":{"fodselsdato":"1970-01-31","navn":{"fornavn":"Fjernet","etternavn":"Av"}},"avregistrert":true,"nyttFelt":1}
        ]}]}"#;
        let roles = flatten_roles(serde_json::from_str(json).expect("wire format"));
        assert_eq!(roles.len(), 2);
        assert!(roles.iter().all(|role| role.resigned));
    }

    #[test]
    fn debug_output_hides_personal_data() {
        let roles = roles(brreg_fake::companies::NORDMANN_BYGG);
        let debug = format!("{roles:?}");
        for secret in ["Kari", "Nordmann", "1985"] {
            assert!(!debug.contains(secret), "{debug}");
        }
        assert!(debug.contains("DailyManager"), "{debug}");
    }

    #[test]
    fn a_bad_date_is_malformed_without_quoting_it() {
        let json = r#"{"organisasjonsnummer":"310100005","navn":"X","organisasjonsform":{"kode":"AS"},"slettedato":"31.05.2023"}"#;
        let error = Unit::try_from(serde_json::from_str::<wire::Enhet>(json).expect("wire"))
            .expect_err("bad date");
        assert!(matches!(error, RegisterError::Malformed(_)));
        assert!(!error.to_string().contains("31.05.2023"), "{error}");
    }
}
