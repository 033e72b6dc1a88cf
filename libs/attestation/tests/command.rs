//! `hms-receipt-verify`: the verifier as a command, with a saved key set
//! and nothing else.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use ed25519_dalek::SigningKey;
use hms_attestation::{Attester, DeletionReceipt, KeySet};

/// A folder of its own, removed afterwards.
struct Folder(PathBuf);

impl Folder {
    fn new() -> Self {
        let path = std::env::temp_dir().join(format!(
            "hms-receipt-verify-{}-{}",
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

fn receipt() -> DeletionReceipt {
    let now = Utc::now();
    DeletionReceipt {
        iss: "urn:hms-kort:redaction".to_owned(),
        iat: now.timestamp(),
        order_id: "0193a3c0-0000-7000-8000-0000000000aa".to_owned(),
        company_id: "0193a3c0-0000-7000-8000-0000000000bb".to_owned(),
        cause: Some("rejected".to_owned()),
        workers_masked: 3,
        objects_deleted: 9,
        keys_destroyed: 9,
        started_at: now,
        completed_at: now,
    }
}

fn verify(keys: &Path, receipt: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hms-receipt-verify"))
        .arg("--keys")
        .arg(keys)
        .arg(receipt)
        .output()
        .expect("the command runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn a_saved_receipt_is_checked_against_saved_keys() {
    let folder = Folder::new();
    let key = SigningKey::generate(&mut rand_core_06::OsRng);
    let attester = Attester::new("2026-12-r1", &key).expect("an Ed25519 key");
    let public = key.verifying_key().to_bytes();
    let keys = KeySet::new([("2026-12-r1", public.as_slice())]).expect("a key set");
    let keys = folder.write("keys.json", keys.to_json().as_bytes());
    let signed = attester.sign(&receipt()).expect("signed");

    // As the token, and as the API's answer that carries it.
    let token = folder.write("receipt.jws", signed.as_bytes());
    let answer = folder.write(
        "receipt.json",
        serde_json::json!({ "order_id": receipt().order_id, "signed": signed })
            .to_string()
            .as_bytes(),
    );
    for file in [&token, &answer] {
        let out = verify(&keys, file);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let said = text(&out.stdout);
        assert!(
            said.starts_with("verified: order 0193a3c0-0000-7000-8000-0000000000aa"),
            "{said}"
        );
        assert!(
            said.contains("9 documents deleted, 9 keys destroyed"),
            "{said}"
        );
    }

    // One number changed: not verified, exit 1.
    let mut parts: Vec<String> = signed.split('.').map(str::to_owned).collect();
    let payload = text(&URL_SAFE_NO_PAD.decode(&parts[1]).expect("base64url"));
    parts[1] =
        URL_SAFE_NO_PAD.encode(payload.replace("\"keys_destroyed\":9", "\"keys_destroyed\":19"));
    let forged = folder.write("forged.jws", parts.join(".").as_bytes());
    let out = verify(&keys, &forged);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("signature does not match"),
        "{}",
        text(&out.stderr)
    );

    // Signed by a key the platform never published: exit 1.
    let stranger = SigningKey::generate(&mut rand_core_06::OsRng);
    let other = Attester::new("2026-12-r1", &stranger).expect("an Ed25519 key");
    let other = folder.write(
        "other.jws",
        other.sign(&receipt()).expect("signed").as_bytes(),
    );
    assert_eq!(verify(&keys, &other).status.code(), Some(1));

    // Keys that cannot be read: exit 2.
    let missing = folder.0.join("missing.json");
    assert_eq!(verify(&missing, &token).status.code(), Some(2));
}
