//! The client over real HTTP: against the register fake (which serves the
//! recorded responses), and against small servers that misbehave.

use std::time::Duration;

use axum::Router;
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::get;
use brreg_fake::companies;
use chrono::NaiveDate;
use hms_brreg::{PersonMatch, RegisterClient, RegisterError, RoleHolder, RoleKind};
use hms_domain::OrgNumber;
use tokio::net::TcpListener;
use url::Url;

/// Serves `router` on a free port; returns its base URL.
async fn serve(router: Router) -> Url {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, router).await });
    Url::parse(&format!("http://{addr}")).expect("url")
}

async fn client_for_fake() -> RegisterClient {
    let dataset = brreg_fake::Dataset::embedded().expect("recorded data");
    let base = serve(brreg_fake::router(dataset)).await;
    RegisterClient::new(base, Duration::from_secs(5)).expect("client")
}

fn org(number: &str) -> OrgNumber {
    OrgNumber::parse(number).expect("valid organisation number")
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("date")
}

#[tokio::test]
async fn a_live_company_and_its_roles_are_read() {
    let client = client_for_fake().await;
    let unit = client
        .unit(&org(companies::NORDMANN_BYGG))
        .await
        .expect("answer")
        .expect("known unit");
    assert_eq!(unit.name, "NORDMANN BYGG AS");
    assert_eq!(unit.form.code, "AS");
    assert!(unit.is_active());

    let roles = client
        .roles(&org(companies::NORDMANN_BYGG))
        .await
        .expect("roles");
    assert_eq!(roles.len(), 5);
    let kari = PersonMatch::new(date(1985, 3, 14), "Kari", "Nordmann");
    assert_eq!(
        kari.ownership_roles(&roles),
        [RoleKind::DailyManager, RoleKind::BoardChair]
    );
    // The board member with a middle name holds no ownership role.
    let hans = PersonMatch::new(date(1958, 7, 19), "Hans Olav Berg", "Nordmann");
    assert!(roles.iter().any(|role| hans.is(&role.holder)));
    assert!(!hans.holds_ownership(&roles));
    assert!(
        roles.iter().any(|role| role.kind == RoleKind::Auditor
            && matches!(role.holder, RoleHolder::Entity { .. }))
    );
}

#[tokio::test]
async fn an_enkeltpersonforetak_has_its_innehaver_as_owner() {
    let client = client_for_fake().await;
    let org = org(companies::EVA_EIER_SNEKKERSERVICE);
    let unit = client.unit(&org).await.expect("answer").expect("known");
    assert_eq!(unit.form.code, "ENK");
    let roles = client.roles(&org).await.expect("roles");
    let eva = PersonMatch::new(date(1992, 4, 8), "Eva", "Eier");
    assert_eq!(eva.ownership_roles(&roles), [RoleKind::Proprietor]);
}

#[tokio::test]
async fn deleted_and_unknown_units_are_none_and_have_no_roles() {
    let client = client_for_fake().await;
    for number in [companies::GAMMEL_BYGG_DELETED, "974760673"] {
        assert!(
            client.unit(&org(number)).await.expect("answer").is_none(),
            "{number}"
        );
        assert!(
            client.roles(&org(number)).await.expect("answer").is_empty(),
            "{number}"
        );
    }
}

#[tokio::test]
async fn the_client_asks_for_the_versioned_media_types() {
    let router = Router::new()
        .route(
            "/enhetsregisteret/api/enheter/{orgnr}",
            get(|headers: HeaderMap| async move { echo_accept(&headers) }),
        )
        .route(
            "/enhetsregisteret/api/enheter/{orgnr}/roller",
            get(|headers: HeaderMap| async move { echo_accept(&headers) }),
        );
    let client = RegisterClient::new(serve(router).await, Duration::from_secs(5)).expect("client");
    // The echo server answers 418 for the right Accept header and 406 for
    // any other, so Refused(418) proves the header.
    let unit = client.unit(&org(companies::NORDMANN_BYGG)).await;
    assert!(matches!(unit, Err(RegisterError::Refused(418))), "{unit:?}");
    let roles = client.roles(&org(companies::NORDMANN_BYGG)).await;
    assert!(
        matches!(roles, Err(RegisterError::Refused(418))),
        "{roles:?}"
    );
}

/// 418 when the Accept header is one of the register's versioned types,
/// 406 otherwise.
fn echo_accept(headers: &HeaderMap) -> StatusCode {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    if accept == "application/vnd.brreg.enhetsregisteret.enhet.v2+json"
        || accept == "application/vnd.brreg.enhetsregisteret.rolle.v1+json"
    {
        StatusCode::IM_A_TEAPOT
    } else {
        StatusCode::NOT_ACCEPTABLE
    }
}

#[tokio::test]
async fn outages_are_retryable_and_bad_answers_are_not() {
    let router = Router::new()
        .route(
            "/down/enhetsregisteret/api/enheter/{orgnr}",
            get(|| async { StatusCode::SERVICE_UNAVAILABLE }),
        )
        .route(
            "/busy/enhetsregisteret/api/enheter/{orgnr}",
            get(|| async { StatusCode::TOO_MANY_REQUESTS }),
        )
        .route(
            "/slow/enhetsregisteret/api/enheter/{orgnr}",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                StatusCode::OK
            }),
        )
        .route(
            "/garbage/enhetsregisteret/api/enheter/{orgnr}",
            get(|| async { (StatusCode::OK, "<html>maintenance</html>") }),
        )
        .route(
            "/wrong/enhetsregisteret/api/enheter/{orgnr}",
            get(|| async {
                (
                    StatusCode::OK,
                    brreg_fake::Dataset::embedded()
                        .expect("data")
                        .unit_json(companies::ANNEN_RENHOLD)
                        .expect("unit")
                        .to_owned(),
                )
            }),
        )
        .route(
            "/personal/enhetsregisteret/api/enheter/{orgnr}/roller",
            get(|| async {
                (
                    StatusCode::OK,
                    r#"{"rollegrupper":[{"type":{"kode":"DAGL"},"roller":[{"type":{"kode":"DAGL"},"person":{"fodselsdato":19850314,"navn":{"fornavn":"Kari"}}}]}]}"#,
                )
            }),
        )
        .route(
            "/refused/enhetsregisteret/api/enheter/{orgnr}",
            get(|| async { StatusCode::BAD_REQUEST }),
        );
    let base = serve(router).await;
    let client = |path: &str| {
        RegisterClient::new(base.join(path).expect("url"), Duration::from_millis(300))
            .expect("client")
    };
    let company = org(companies::NORDMANN_BYGG);

    for path in ["down", "busy"] {
        let error = client(path).unit(&company).await.expect_err(path);
        assert!(
            matches!(error, RegisterError::Unavailable(_)),
            "{path}: {error:?}"
        );
        assert!(error.is_retryable(), "{path}");
    }

    let error = client("slow").unit(&company).await.expect_err("timeout");
    assert!(matches!(error, RegisterError::Timeout), "{error:?}");
    assert!(error.is_retryable());

    let unreachable = RegisterClient::new(
        Url::parse("http://127.0.0.1:9").expect("url"),
        Duration::from_secs(2),
    )
    .expect("client");
    let error = unreachable.unit(&company).await.expect_err("no server");
    assert!(error.is_retryable(), "{error:?}");

    for path in ["garbage", "wrong"] {
        let error = client(path).unit(&company).await.expect_err(path);
        assert!(
            matches!(error, RegisterError::Malformed(_)),
            "{path}: {error:?}"
        );
        assert!(!error.is_retryable(), "{path}");
    }

    // A value of the wrong type is reported without being quoted.
    let error = client("personal")
        .roles(&company)
        .await
        .expect_err("bad type");
    assert!(matches!(error, RegisterError::Malformed(_)), "{error:?}");
    assert!(!error.to_string().contains("19850314"), "{error}");

    let error = client("refused").unit(&company).await.expect_err("400");
    assert!(matches!(error, RegisterError::Refused(400)), "{error:?}");
    assert!(!error.is_retryable());
}
