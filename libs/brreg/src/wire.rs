//! The register's JSON, field for field, as documented at
//! `https://data.brreg.no/enhetsregisteret/api/dokumentasjon/` (media types
//! `application/vnd.brreg.enhetsregisteret.enhet.v2+json` and
//! `application/vnd.brreg.enhetsregisteret.rolle.v1+json`).
//!
//! Everything the platform does not need is left out (serde skips unknown
//! fields), and almost everything is optional: the register omits fields it
//! has no value for, sends `null` for some and `""` for others (an empty
//! `konkursdato`), and a deleted unit comes back with little more than its
//! number, name, form and `slettedato`.

use serde::Deserialize;

/// `GET /enhetsregisteret/api/enheter/{orgnr}`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Enhet {
    pub organisasjonsnummer: String,
    pub navn: String,
    pub organisasjonsform: Kode,
    pub forretningsadresse: Option<Adresse>,
    pub postadresse: Option<Adresse>,
    pub registreringsdato_enhetsregisteret: Option<String>,
    pub konkurs: Option<bool>,
    pub under_avvikling: Option<bool>,
    pub under_tvangsavvikling_eller_tvangsopplosning: Option<bool>,
    pub slettedato: Option<String>,
}

/// A code with its Norwegian description: organisasjonsform, rolletype,
/// rollegruppetype.
#[derive(Debug, Deserialize)]
pub(crate) struct Kode {
    pub kode: String,
    pub beskrivelse: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Adresse {
    /// Street lines; the register pads with `null` and `""`.
    #[serde(default)]
    pub adresse: Vec<Option<String>>,
    pub postnummer: Option<String>,
    pub poststed: Option<String>,
    pub kommune: Option<String>,
    pub kommunenummer: Option<String>,
    pub land: Option<String>,
    pub landkode: Option<String>,
}

/// `GET /enhetsregisteret/api/enheter/{orgnr}/roller`.
#[derive(Debug, Deserialize)]
pub(crate) struct Roller {
    pub rollegrupper: Vec<Rollegruppe>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Rollegruppe {
    #[serde(rename = "type")]
    pub kind: Kode,
    #[serde(default)]
    pub roller: Vec<Rolle>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Rolle {
    #[serde(rename = "type")]
    pub kind: Kode,
    /// Set when a person holds the role …
    pub person: Option<Person>,
    /// … and this when an entity does (an auditing firm, a partner company).
    pub enhet: Option<RolleEnhet>,
    /// The holder has stepped down; the register may still list the role
    /// until the change is processed.
    pub fratraadt: Option<bool>,
    /// The role has been removed from the register.
    pub avregistrert: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Person {
    /// `YYYY-MM-DD`: the open API never gives the fødselsnummer.
    pub fodselsdato: Option<String>,
    pub navn: Option<Navn>,
    pub er_doed: Option<bool>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Navn {
    pub fornavn: Option<String>,
    pub mellomnavn: Option<String>,
    pub etternavn: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct RolleEnhet {
    pub organisasjonsnummer: Option<String>,
}
