//! The verifier decides with nothing but a payload, a cached key set and a
//! cached status list: no network, no service.

use std::io::{Read, Write};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use hms_card_credential::{
    CardCredential, CardStatus, KeySet, PREFIX, SigningKey, Standing, StatusList, StatusListToken,
    StatusReference, VerifyError, issue, verify,
};

const LIST_URI: &str = "https://bestill.hms-kort.no/api/v1/public/card-credentials/status-list";

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-12-02T12:00:00Z")
        .expect("a time")
        .to_utc()
}

fn key(kid: &str, seed: u8) -> SigningKey {
    SigningKey::from_seed(kid, &[seed; 32])
}

fn card(index: u64) -> CardCredential {
    CardCredential {
        issuer: "https://bestill.hms-kort.no".to_owned(),
        card_number: "1000000018".to_owned(),
        holder_name: "Kari Nordmann".to_owned(),
        employer_name: "Byggmester Hansen AS".to_owned(),
        employer_org_number: "912345678".to_owned(),
        card_type: "construction".to_owned(),
        issued_at: now() - TimeDelta::days(10),
        valid_until: now() + TimeDelta::days(700),
        status: StatusReference {
            index,
            uri: LIST_URI.to_owned(),
        },
    }
}

fn keys(published: &[&SigningKey]) -> KeySet {
    KeySet::new(
        published.iter().map(|key| key.public()),
        now() + TimeDelta::days(90),
    )
    .expect("Ed25519 keys")
}

/// A list as the service publishes it, read back as a verifier would.
fn list(entries: &[(u64, CardStatus)], signer: &SigningKey, keys: &KeySet) -> StatusListToken {
    let mut list = StatusList::covering(entries.iter().map(|(index, _)| *index).max().unwrap_or(0));
    for (index, status) in entries {
        list.set(*index, *status).expect("in range");
    }
    let token = StatusListToken {
        uri: LIST_URI.to_owned(),
        issued_at: now() - TimeDelta::minutes(1),
        expires_at: now() + TimeDelta::hours(24),
        ttl: Duration::from_secs(300),
        list,
    }
    .sign(signer)
    .expect("signed");
    StatusListToken::verify(&token, keys).expect("a list we signed")
}

/// The signed CWT inside a payload, and back.
fn unwrap(payload: &str) -> Vec<u8> {
    let compressed = base45::decode(payload.strip_prefix(PREFIX).expect("prefix")).expect("base45");
    let mut signed = Vec::new();
    flate2::read::ZlibDecoder::new(compressed.as_slice())
        .read_to_end(&mut signed)
        .expect("zlib");
    signed
}

fn wrap(signed: &[u8]) -> String {
    let mut zlib = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    zlib.write_all(signed).expect("compress");
    format!(
        "{PREFIX}{}",
        base45::encode(zlib.finish().expect("compress"))
    )
}

#[test]
fn a_signed_card_verifies_with_its_fields_and_fits_a_small_qr_code() {
    let signer = key("k1", 1);
    let keys = keys(&[&signer]);
    let payload = issue(&card(7), &signer).expect("issued");
    assert!(payload.starts_with(PREFIX));
    // Alphanumeric mode: a version 15 QR code holds 758 characters at
    // medium error correction.
    assert!(
        payload.len() < 600,
        "payload of {} characters",
        payload.len()
    );
    let list = list(&[(3, CardStatus::Blocked)], &signer, &keys);
    let verified = verify(&payload, &keys, &list, now()).expect("verified");
    assert_eq!(verified.standing, Standing::Valid);
    assert_eq!(verified.credential, card(7));
}

#[test]
fn a_blocked_card_fails_once_the_next_list_says_so() {
    let signer = key("k1", 1);
    let keys = keys(&[&signer]);
    let payload = issue(&card(7), &signer).expect("issued");
    let before = list(&[], &signer, &keys);
    assert_eq!(
        verify(&payload, &keys, &before, now())
            .expect("verified")
            .standing,
        Standing::Valid
    );
    let blocked = list(&[(7, CardStatus::Blocked)], &signer, &keys);
    assert_eq!(
        verify(&payload, &keys, &blocked, now())
            .expect("verified")
            .standing,
        Standing::Blocked
    );
    let ended = list(&[(7, CardStatus::Deactivated)], &signer, &keys);
    assert_eq!(
        verify(&payload, &keys, &ended, now())
            .expect("verified")
            .standing,
        Standing::Deactivated
    );
}

#[test]
fn an_altered_payload_fails() {
    let signer = key("k1", 1);
    let keys = keys(&[&signer]);
    let list = list(&[], &signer, &keys);
    let signed = unwrap(&issue(&card(7), &signer).expect("issued"));
    // Another holder's name, same length, in the signed claims.
    let at = signed
        .windows(4)
        .position(|window| window == b"Kari")
        .expect("the name is in the claims");
    let mut altered = signed.clone();
    altered[at..at + 4].copy_from_slice(b"Mari");
    assert_eq!(
        verify(&wrap(&altered), &keys, &list, now()),
        Err(VerifyError::BadSignature)
    );
    // A flipped bit of the signature itself.
    let mut flipped = signed.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 1;
    assert_eq!(
        verify(&wrap(&flipped), &keys, &list, now()),
        Err(VerifyError::BadSignature)
    );
    // Truncated, or not ours at all.
    let payload = issue(&card(7), &signer).expect("issued");
    assert_eq!(
        verify(&payload[..payload.len() - 5], &keys, &list, now()),
        Err(VerifyError::NotACredential)
    );
    assert_eq!(
        verify("HC1:6BFOXN%TS3DH0YOJ58S", &keys, &list, now()),
        Err(VerifyError::NotACredential)
    );
}

#[test]
fn a_forged_credential_fails_even_under_a_published_key_id() {
    let signer = key("k1", 1);
    let keys = keys(&[&signer]);
    let list = list(&[], &signer, &keys);
    // Someone else's key claiming the published id.
    let forger = key("k1", 2);
    let forged = issue(&card(7), &forger).expect("issued");
    assert_eq!(
        verify(&forged, &keys, &list, now()),
        Err(VerifyError::BadSignature)
    );
    let unknown = issue(&card(7), &key("k9", 2)).expect("issued");
    assert_eq!(
        verify(&unknown, &keys, &list, now()),
        Err(VerifyError::UnknownKey)
    );
    // A status list from a forger does not read either.
    let mut forged_list = StatusList::covering(0);
    forged_list.set(7, CardStatus::Valid).expect("in range");
    let token = StatusListToken {
        uri: LIST_URI.to_owned(),
        issued_at: now(),
        expires_at: now() + TimeDelta::hours(1),
        ttl: Duration::from_secs(60),
        list: forged_list,
    }
    .sign(&forger)
    .expect("signed");
    assert_eq!(
        StatusListToken::verify(&token, &keys),
        Err(VerifyError::BadSignature)
    );
    // A credential is not a status list, nor the other way round.
    let payload = issue(&card(7), &signer).expect("issued");
    assert_eq!(
        StatusListToken::verify(&unwrap(&payload), &keys),
        Err(VerifyError::BadStatusList)
    );
}

#[test]
fn an_expired_key_set_or_list_decides_nothing() {
    let signer = key("k1", 1);
    let keys = keys(&[&signer]);
    let payload = issue(&card(7), &signer).expect("issued");
    let list = list(&[], &signer, &keys);
    let later = keys.expires_at() + TimeDelta::seconds(1);
    assert_eq!(
        verify(&payload, &keys, &list, later),
        Err(VerifyError::KeySetExpired(keys.expires_at()))
    );
    let after_list = list.expires_at + TimeDelta::seconds(1);
    assert_eq!(
        verify(&payload, &keys, &list, after_list),
        Err(VerifyError::StatusListExpired(list.expires_at))
    );
}

#[test]
fn a_card_past_its_end_is_expired_whatever_the_list_says() {
    let signer = key("k1", 1);
    let keys = keys(&[&signer]);
    let mut ended = card(7);
    ended.valid_until = now() - TimeDelta::days(1);
    let payload = issue(&ended, &signer).expect("issued");
    let list = list(&[], &signer, &keys);
    assert_eq!(
        verify(&payload, &keys, &list, now())
            .expect("verified")
            .standing,
        Standing::Expired
    );
}

#[test]
fn a_rotated_key_still_verifies_what_it_signed_and_the_set_round_trips() {
    let old = key("k1", 1);
    let new = key("k2", 3);
    let published = KeySet::from_json(keys(&[&new, &old]).to_json().as_bytes()).expect("a set");
    assert_eq!(published.len(), 2);
    let list = list(&[], &new, &published);
    for signer in [&old, &new] {
        let payload = issue(&card(7), signer).expect("issued");
        assert_eq!(
            verify(&payload, &published, &list, now())
                .expect("verified")
                .standing,
            Standing::Valid
        );
    }
    assert_eq!(
        KeySet::from_json(br#"{"keys":[{"kty":"RSA","crv":"","x":"","kid":"a"}],"exp":1}"#).err(),
        Some(VerifyError::BadKeySet)
    );
}

#[test]
fn a_list_for_another_uri_is_refused() {
    let signer = key("k1", 1);
    let keys = keys(&[&signer]);
    let mut elsewhere = card(7);
    elsewhere.status.uri = "https://example.com/list".to_owned();
    let payload = issue(&elsewhere, &signer).expect("issued");
    let list = list(&[], &signer, &keys);
    assert_eq!(
        verify(&payload, &keys, &list, now()),
        Err(VerifyError::WrongStatusList)
    );
}
