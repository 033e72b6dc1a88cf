//! The fake over HTTP, read with the real client, and checked against the
//! BankID simulator's test persons: whoever the scenarios say owns a company
//! must be found as its owner, and nobody else.

use std::time::Duration;

use bankid_simulator::persons::{builtin, ids};
use brreg_fake::{Dataset, ROLES_CONTENT_TYPE, UNIT_CONTENT_TYPE, companies, router};
use hms_brreg::{PersonMatch, RegisterClient, RoleKind};
use hms_domain::OrgNumber;
use tokio::net::TcpListener;
use url::Url;

async fn start() -> Url {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let app = router(Dataset::embedded().expect("recorded data"));
    tokio::spawn(async move { axum_serve(listener, app).await });
    Url::parse(&format!("http://{addr}")).expect("url")
}

async fn axum_serve(listener: TcpListener, app: axum::Router) {
    axum::serve(listener, app).await.ok();
}

/// The companies a person owns, with the roles that make them an owner.
type Ownership = &'static [(&'static str, &'static [RoleKind])];

#[tokio::test]
async fn every_simulator_person_owns_exactly_the_companies_of_the_scenarios() {
    let base = start().await;
    let client = RegisterClient::new(base, Duration::from_secs(5)).expect("client");
    let live = [
        companies::NORDMANN_BYGG,
        companies::HMS_LEVERANDOREN,
        companies::ANNEN_RENHOLD,
        companies::EVA_EIER_SNEKKERSERVICE,
    ];
    let mut roles = Vec::new();
    for number in live {
        let org = OrgNumber::parse(number).expect("valid");
        let unit = client.unit(&org).await.expect("answer").expect("live unit");
        assert!(unit.is_active(), "{number}");
        roles.push((number, client.roles(&org).await.expect("roles")));
    }

    let expected: [(&str, Ownership); 7] = [
        (
            ids::KARI_NORDMANN,
            &[(
                companies::NORDMANN_BYGG,
                &[RoleKind::DailyManager, RoleKind::BoardChair],
            )],
        ),
        (
            ids::OLA_LEVERANDOR,
            &[(companies::HMS_LEVERANDOREN, &[RoleKind::DailyManager])],
        ),
        (ids::PER_ANSATT, &[]),
        (ids::SIRI_SAKSBEHANDLER, &[]),
        (
            ids::NILS_ANNEN,
            &[(
                companies::ANNEN_RENHOLD,
                &[RoleKind::DailyManager, RoleKind::BoardChair],
            )],
        ),
        (ids::LISE_LAVNIVA, &[]),
        (
            ids::EVA_EIER,
            &[(companies::EVA_EIER_SNEKKERSERVICE, &[RoleKind::Proprietor])],
        ),
    ];
    let persons = builtin();
    for (national_id, owns) in expected {
        let person = persons
            .iter()
            .find(|person| person.national_id == national_id)
            .expect("a built-in person");
        // What the identity service will have after a BankID login.
        let login = PersonMatch::new(person.birthdate, &person.given_name, &person.family_name);
        let found: Vec<(&str, Vec<RoleKind>)> = roles
            .iter()
            .map(|(number, roles)| (*number, login.ownership_roles(roles)))
            .filter(|(_, kinds)| !kinds.is_empty())
            .collect();
        let wanted: Vec<(&str, Vec<RoleKind>)> = owns
            .iter()
            .map(|(number, kinds)| (*number, kinds.to_vec()))
            .collect();
        assert_eq!(found, wanted, "{}", person.name());
    }
}

#[tokio::test]
async fn answers_have_the_registers_statuses_and_media_types() {
    let base = start().await;
    let http = reqwest::Client::new();
    let get = |path: String| {
        let http = http.clone();
        let url = base.join(&path).expect("url");
        async move { http.get(url).send().await.expect("request") }
    };
    let content_type = |response: &reqwest::Response| {
        response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let api = "enhetsregisteret/api/enheter";

    let response = get(format!("{api}/{}", companies::NORDMANN_BYGG)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(content_type(&response), UNIT_CONTENT_TYPE);

    let response = get(format!("{api}/{}/roller", companies::NORDMANN_BYGG)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(content_type(&response), ROLES_CONTENT_TYPE);

    let response = get(format!("{api}/{}", companies::GAMMEL_BYGG_DELETED)).await;
    assert_eq!(response.status(), 410);
    assert_eq!(content_type(&response), UNIT_CONTENT_TYPE);
    let body: serde_json::Value =
        serde_json::from_str(&response.text().await.expect("body")).expect("JSON");
    assert_eq!(body["slettedato"], "2023-05-31");
    assert_eq!(body["organisasjonsnummer"], companies::GAMMEL_BYGG_DELETED);

    let response = get(format!("{api}/{}/roller", companies::GAMMEL_BYGG_DELETED)).await;
    assert_eq!(response.status(), 410);

    for path in [
        format!("{api}/974760673"),
        format!("{api}/974760673/roller"),
    ] {
        let response = get(path.clone()).await;
        assert_eq!(response.status(), 404, "{path}");
        assert_eq!(content_type(&response), "application/json", "{path}");
    }

    let response = get(format!("{api}/12345")).await;
    assert_eq!(response.status(), 400);
}
