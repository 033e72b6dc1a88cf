//! BankID login through the simulator, identity's own tokens, and how every
//! service treats tokens that are not what they claim.

use base64::Engine;
use hms_proto::companies::v1 as companies_pb;
use hms_proto::companies::v1::company_service_client::CompanyServiceClient;
use hms_proto::identity::v1 as pb;
use hms_proto::identity::v1::identity_service_client::IdentityServiceClient;
use hms_test_support::fakes::persons;
use hms_test_support::{ExpectRefused, ServiceName, TestEnv};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use tonic::Code;

const VAGUE: &str = "invalid or expired credentials";

fn claims_of(token: &str) -> serde_json::Value {
    let payload = token.split('.').nth(1).expect("a JWT");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url");
    serde_json::from_slice(&bytes).expect("JSON claims")
}

/// Asks companies for a company nobody has: a token it accepts gets
/// NOT_FOUND (the call got as far as the question), a bad one is refused.
async fn ask_companies_with(env: &TestEnv, token: &str) -> Result<(), tonic::Status> {
    let answer =
        CompanyServiceClient::new(env.channel_with_token(ServiceName::Companies, token).await)
            .get_company(companies_pb::GetCompanyRequest {
                company_id: uuid::Uuid::now_v7().to_string(),
            })
            .await;
    match answer {
        Err(status) if status.code() == Code::NotFound => Ok(()),
        Err(status) => Err(status),
        Ok(_) => panic!("a company nobody registered was found"),
    }
}

#[tokio::test]
async fn a_person_logs_in_with_bankid_and_the_session_can_be_refreshed_and_ended() {
    let mut env = TestEnv::new();
    env.start(ServiceName::Companies).await;

    let login = env.login(persons::KARI_NORDMANN).await;
    let user = login.user.expect("user");
    assert_eq!(user.name, "Kari Nordmann");
    assert!(!user.back_office);
    let tokens = login.tokens.expect("tokens");

    // The token names the person by a stable id, never by number.
    let claims = claims_of(&tokens.access_token);
    assert_eq!(claims["sub"], user.user_id.as_str());
    assert_eq!(claims["iss"], "hms-identity");
    assert!(claims["auth_time"].is_i64());
    assert!(!tokens.access_token.contains(persons::KARI_NORDMANN));
    let payload = claims.to_string();
    assert!(!payload.contains(persons::KARI_NORDMANN), "{payload}");
    assert!(!payload.contains("14838"), "{payload}");

    // Another service verifies it against identity's published keys.
    ask_companies_with(&env, &tokens.access_token)
        .await
        .expect("companies accepts the person's token");

    let mut identity = IdentityServiceClient::new(
        env.channel_with_token(ServiceName::Identity, &tokens.access_token)
            .await,
    );
    let me = identity
        .get_current_user(pb::GetCurrentUserRequest {})
        .await
        .expect("who am I")
        .into_inner();
    assert_eq!(me.user.expect("user").user_id, user.user_id);

    // The same person logging in again is the same user.
    let again = env.login(persons::KARI_NORDMANN).await;
    assert_eq!(again.user.expect("user").user_id, user.user_id);

    // Refreshing rotates the refresh token: the old one stops working.
    let mut anonymous = IdentityServiceClient::new(env.channel(ServiceName::Identity).await);
    let refreshed = anonymous
        .refresh_session(pb::RefreshSessionRequest {
            refresh_token: tokens.refresh_token.clone(),
        })
        .await
        .expect("refresh")
        .into_inner()
        .tokens
        .expect("tokens");
    assert_ne!(refreshed.refresh_token, tokens.refresh_token);

    // Logging out ends the session: no refresh, and identity no longer
    // recognises its access tokens.
    anonymous
        .logout(pb::LogoutRequest {
            refresh_token: refreshed.refresh_token.clone(),
        })
        .await
        .expect("logout");
    anonymous
        .refresh_session(pb::RefreshSessionRequest {
            refresh_token: refreshed.refresh_token,
        })
        .await
        .expect_refused(Code::Unauthenticated, "");
    identity
        .get_current_user(pb::GetCurrentUserRequest {})
        .await
        .expect_refused(Code::Unauthenticated, "");
    // So does every other service: the token is bad credentials now, not a
    // person without access.
    let elsewhere = ask_companies_with(&env, &refreshed.access_token)
        .await
        .expect_refused(Code::Unauthenticated, VAGUE);
    assert_eq!(elsewhere.message(), VAGUE);
}

#[tokio::test]
async fn a_replayed_refresh_token_ends_the_whole_session() {
    let mut env = TestEnv::new();
    env.set("HMS_REFRESH_REUSE_GRACE_SECS", "1");
    env.start(ServiceName::Companies).await;
    let tokens = env
        .login(persons::KARI_NORDMANN)
        .await
        .tokens
        .expect("tokens");
    let mut anonymous = IdentityServiceClient::new(env.channel(ServiceName::Identity).await);
    let refresh = |refresh_token: &str| pb::RefreshSessionRequest {
        refresh_token: refresh_token.to_owned(),
    };

    // The person refreshes twice; a thief kept the first refresh token.
    let second = anonymous
        .refresh_session(refresh(&tokens.refresh_token))
        .await
        .expect("refresh")
        .into_inner()
        .tokens
        .expect("tokens");
    let third = anonymous
        .refresh_session(refresh(&second.refresh_token))
        .await
        .expect("refresh")
        .into_inner()
        .tokens
        .expect("tokens");
    ask_companies_with(&env, &third.access_token)
        .await
        .expect("the session is live");

    // Presented again at once, as two tabs refreshing together or a retry
    // after a lost answer would: refused, and nothing more.
    anonymous
        .refresh_session(refresh(&second.refresh_token))
        .await
        .expect_refused(Code::Unauthenticated, "");
    ask_companies_with(&env, &third.access_token)
        .await
        .expect("the session lives on within the grace");

    // The thief presents a spent token later: refused, and the whole
    // session ends, since identity cannot tell which of the two is the
    // person.
    tokio::time::sleep(std::time::Duration::from_millis(1_500)).await;
    let replayed = anonymous
        .refresh_session(refresh(&tokens.refresh_token))
        .await
        .expect_refused(Code::Unauthenticated, VAGUE);
    assert_eq!(replayed.message(), VAGUE);
    // The session's current refresh token died with it, and so did its
    // access tokens.
    anonymous
        .refresh_session(refresh(&third.refresh_token))
        .await
        .expect_refused(Code::Unauthenticated, "");
    ask_companies_with(&env, &third.access_token)
        .await
        .expect_refused(Code::Unauthenticated, "");

    // Another session of the same person is not touched.
    let other = env
        .login(persons::KARI_NORDMANN)
        .await
        .tokens
        .expect("tokens");
    ask_companies_with(&env, &other.access_token)
        .await
        .expect("a separate login lives on");
}

#[tokio::test]
async fn a_login_is_completed_once_and_only_at_the_required_level() {
    let mut env = TestEnv::new();
    env.start(ServiceName::Identity).await;

    // Substantial is below the configured minimum.
    let low = env
        .try_login(persons::LISE_LAVNIVA)
        .await
        .expect_refused(Code::FailedPrecondition, "level");
    assert!(!low.message().contains(persons::LISE_LAVNIVA));

    let mut identity = IdentityServiceClient::new(env.channel(ServiceName::Identity).await);
    identity
        .complete_login(pb::CompleteLoginRequest {
            state: "made-up".into(),
            code: "made-up".into(),
        })
        .await
        .expect_refused(Code::FailedPrecondition, "");
    identity
        .complete_login(pb::CompleteLoginRequest::default())
        .await
        .expect_refused(Code::InvalidArgument, "");

    let log = env.logs();
    for number in [persons::LISE_LAVNIVA, persons::KARI_NORDMANN] {
        assert!(!log.contains(number), "a national id reached a log");
    }
}

/// Identity's current signing key, read the way only an operator with the
/// database and HMS_IDENTITY_KEY could: to forge tokens that are wrong in
/// one way only.
async fn identity_signing_key(env: &TestEnv) -> (String, EncodingKey) {
    let db = env.db(ServiceName::Identity).await;
    let (kid, sealed): (String, Vec<u8>) = sqlx::query_as(
        "SELECT kid, private_key FROM signing_keys WHERE retire_at > now() ORDER BY created_at DESC LIMIT 1",
    )
    .fetch_one(&db)
    .await
    .expect("a signing key");
    let key = hms_crypto::SealingKey::from_base64(&secrecy_string(
        env.setting("HMS_IDENTITY_KEY").expect("identity key"),
    ))
    .expect("key");
    let der = key.open(&sealed, kid.as_bytes()).expect("unseal");
    (kid, EncodingKey::from_ed_der(&der))
}

fn secrecy_string(value: &str) -> secrecy::SecretString {
    secrecy::SecretString::from(value.to_owned())
}

#[tokio::test]
async fn bad_tokens_are_refused_with_unauthenticated_and_no_detail() {
    let mut env = TestEnv::new();
    env.start(ServiceName::Companies).await;
    let login = env.login(persons::KARI_NORDMANN).await;
    let good = login.tokens.expect("tokens").access_token;
    ask_companies_with(&env, &good)
        .await
        .expect("the real token works");

    let (kid, key) = identity_signing_key(&env).await;
    let sign = |claims: &serde_json::Value| {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(kid.clone());
        jsonwebtoken::encode(&header, claims, &key).expect("sign")
    };
    let base = claims_of(&good);
    let with = |field: &str, value: serde_json::Value| {
        let mut claims = base.clone();
        claims[field] = value;
        claims
    };
    let now = chrono::Utc::now().timestamp();
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;

    // Signed with identity's real key, wrong in one claim each.
    let mut bad = vec![
        ("expired", sign(&with("exp", (now - 600).into()))),
        (
            "wrong issuer",
            sign(&with("iss", "https://evil.example".into())),
        ),
        ("wrong audience", sign(&with("aud", "someone-else".into()))),
    ];
    // A service token addressed to another service.
    let for_orders = with("aud", "orders".into());
    let mut for_orders = for_orders;
    for_orders["kind"] = "service".into();
    for_orders["sub"] = "redaction".into();
    bad.push(("service token for another callee", sign(&for_orders)));
    // Not signed at all.
    let payload = engine.encode(base.to_string());
    bad.push((
        "alg none",
        format!(
            "{}.{payload}.",
            engine.encode(format!(r#"{{"alg":"none","kid":"{kid}"}}"#))
        ),
    ));
    // Signed with a key identity never published.
    let stranger = ed25519_stranger();
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some("not-a-key-of-ours".into());
    bad.push((
        "unknown key",
        jsonwebtoken::encode(&header, &base, &stranger).expect("sign"),
    ));
    // The real token with its payload changed.
    let mut parts: Vec<&str> = good.split('.').collect();
    let forged = engine.encode(with("sub", uuid::Uuid::new_v4().to_string().into()).to_string());
    parts[1] = &forged;
    bad.push(("tampered", parts.join(".")));
    bad.push(("garbage", "not-a-token".to_owned()));

    for (what, token) in bad {
        let status = ask_companies_with(&env, &token).await.expect_err(what);
        assert_eq!(status.code(), Code::Unauthenticated, "{what}");
        assert_eq!(status.message(), VAGUE, "{what}");
    }
}

fn ed25519_stranger() -> EncodingKey {
    // A fixed PKCS#8 Ed25519 key that identity has never seen.
    let seed = [7u8; 32];
    let mut der = vec![
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    der.extend_from_slice(&seed);
    EncodingKey::from_ed_der(&der)
}

#[tokio::test]
async fn a_new_signing_key_is_published_before_it_signs_and_the_old_one_after() {
    let mut env = TestEnv::new();
    // The shortest rotation allowed.
    env.set("HMS_SIGNING_KEY_ROTATION_SECS", "20");
    env.start(ServiceName::Companies).await;
    let identity = IdentityServiceClient::new(env.channel(ServiceName::Identity).await);
    let published = || {
        let mut identity = identity.clone();
        async move {
            let jwks = identity
                .get_jwks(pb::GetJwksRequest {})
                .await
                .expect("the JWKS")
                .into_inner()
                .jwks_json;
            let jwks: serde_json::Value = serde_json::from_str(&jwks).expect("JSON");
            jwks["keys"]
                .as_array()
                .expect("keys")
                .iter()
                .map(|key| key["kid"].as_str().expect("a kid").to_owned())
                .collect::<Vec<_>>()
        }
    };
    let signing_kid = |token: &str| {
        jsonwebtoken::decode_header(token)
            .expect("a JWT header")
            .kid
            .expect("a kid")
    };

    // The next key is out from the start, while the first signs.
    let first_token = env.service_token("gateway", ServiceName::Companies).await;
    let first = signing_kid(&first_token);
    let kids = published().await;
    assert_eq!(kids.len(), 2, "{kids:?}");
    assert!(kids.contains(&first), "{kids:?}");
    let next = kids
        .into_iter()
        .find(|kid| *kid != first)
        .expect("the next key");

    // Once the first retires the next signs, its own successor is out, and
    // the first is still published for the tokens it signed, which every
    // service keeps accepting.
    hms_test_support::eventually(
        "the next key to sign",
        std::time::Duration::from_secs(30),
        || async {
            let signs = signing_kid(&env.service_token("gateway", ServiceName::Companies).await);
            (signs == next).then_some(())
        },
    )
    .await;
    let kids = published().await;
    assert_eq!(kids.len(), 3, "{kids:?}");
    assert!(kids.contains(&first) && kids.contains(&next), "{kids:?}");
    // A token the first key signed is still accepted: refused only because
    // the gateway is not the back office.
    CompanyServiceClient::new(
        env.channel_with_token(ServiceName::Companies, &first_token)
            .await,
    )
    .list_companies(companies_pb::ListCompaniesRequest::default())
    .await
    .expect_refused(Code::PermissionDenied, "");
}
