//! `hms-card-verify`: the verifier as a command, with a saved key set and
//! status list and nothing else.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use hms_card_credential::{
    CardCredential, CardStatus, KeySet, SigningKey, StatusList, StatusListToken, StatusReference,
    issue,
};

const LIST_URI: &str = "https://bestill.hms-kort.test/api/v1/public/card-credentials/status-list";

/// A folder of its own, removed afterwards.
struct Folder(PathBuf);

impl Folder {
    fn new() -> Self {
        let path = std::env::temp_dir().join(format!(
            "hms-card-verify-{}-{}",
            std::process::id(),
            Utc::now().timestamp_nanos_opt().unwrap_or_default()
        ));
        std::fs::create_dir_all(&path).expect("a folder");
        Self(path)
    }

    fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, bytes).expect("written");
        path
    }
}

impl Drop for Folder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn card() -> CardCredential {
    CardCredential {
        issuer: "https://bestill.hms-kort.test".to_owned(),
        card_number: "1000000018".to_owned(),
        holder_name: "Kari Nordmann".to_owned(),
        employer_name: "Byggmester Hansen AS".to_owned(),
        employer_org_number: "912345678".to_owned(),
        card_type: "cleaning".to_owned(),
        issued_at: Utc::now(),
        valid_until: Utc::now() + TimeDelta::days(700),
        status: StatusReference {
            index: 42,
            uri: LIST_URI.to_owned(),
        },
    }
}

fn list(status: CardStatus, key: &SigningKey) -> Vec<u8> {
    let mut list = StatusList::covering(42);
    list.set(42, status).expect("in range");
    StatusListToken {
        uri: LIST_URI.to_owned(),
        issued_at: Utc::now(),
        expires_at: Utc::now() + TimeDelta::hours(1),
        ttl: Duration::from_secs(60),
        list,
    }
    .sign(key)
    .expect("signed")
}

fn verify(keys: &Path, list: &Path, payload: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hms-card-verify"))
        .arg("--keys")
        .arg(keys)
        .arg("--status-list")
        .arg(list)
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the command starts");
    let written = child
        .stdin
        .take()
        .expect("stdin")
        .write_all(payload.as_bytes());
    // A command that refuses before it reads (an unreadable status list)
    // may close its input first; what it says is what counts.
    if let Err(error) = written {
        assert_eq!(
            error.kind(),
            std::io::ErrorKind::BrokenPipe,
            "payload written"
        );
    }
    child.wait_with_output().expect("the command ends")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn the_command_tells_valid_blocked_forged_and_stale_apart_by_exit_code() {
    let folder = Folder::new();
    let key = SigningKey::generate("k1");
    let keys = folder.write(
        "keys.json",
        KeySet::new([key.public()], Utc::now() + TimeDelta::days(90))
            .expect("keys")
            .to_json()
            .as_bytes(),
    );
    let payload = issue(&card(), &key).expect("issued");

    let valid = folder.write("valid.cwt", &list(CardStatus::Valid, &key));
    let output = verify(&keys, &valid, &payload);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let said = text(&output.stdout);
    assert!(
        said.starts_with("valid: card 1000000018 of Kari Nordmann"),
        "{said}"
    );
    assert!(
        said.contains("Byggmester Hansen AS (912345678), cleaning card"),
        "{said}"
    );

    let blocked = folder.write("blocked.cwt", &list(CardStatus::Blocked, &key));
    let output = verify(&keys, &blocked, &payload);
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output.stdout).starts_with("blocked: "));

    let forged = issue(&card(), &SigningKey::from_seed("k1", &[7; 32])).expect("issued");
    let output = verify(&keys, &valid, &forged);
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output.stderr).contains("altered or forged"));

    let stale_keys = folder.write(
        "stale.json",
        KeySet::new([key.public()], Utc::now() - TimeDelta::seconds(1))
            .expect("keys")
            .to_json()
            .as_bytes(),
    );
    let output = verify(&stale_keys, &valid, &payload);
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output.stderr).contains("key set expired"));

    let output = verify(&keys, &folder.0.join("missing.cwt"), &payload);
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output.stderr).contains("cannot read"));
}
