//! The binary as a harness starts it: port 0, an address file, SIGTERM.

#![cfg(unix)]

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[tokio::test]
async fn the_binary_reports_its_address_serves_and_exits_cleanly_on_sigterm() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = std::env::temp_dir().join(format!("bankid-sim-bin-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let addr_file: PathBuf = dir.join("addr");
    let key_file: PathBuf = dir.join("key.pem");
    std::fs::remove_file(&addr_file).ok();
    std::fs::remove_file(&key_file).ok();

    let mut child = Command::new(env!("CARGO_BIN_EXE_bankid-simulator"))
        .args(["--listen", "127.0.0.1:0", "--addr-file"])
        .arg(&addr_file)
        .arg("--key-file")
        .arg(&key_file)
        .args(["--national-id-claim", "nnin_altsub"])
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the simulator");

    let started = Instant::now();
    let addr = loop {
        if let Ok(addr) = std::fs::read_to_string(&addr_file) {
            break addr;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no address file within 30 s"
        );
        assert!(child.try_wait().expect("status").is_none(), "exited early");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(!dir.join("addr.partial").exists());
    assert!(key_file.exists(), "--key-file creates a missing key");

    let http = reqwest::Client::new();
    let discovery: serde_json::Value = serde_json::from_str(
        &http
            .get(format!("http://{addr}/.well-known/openid-configuration"))
            .send()
            .await
            .expect("discovery")
            .text()
            .await
            .expect("body"),
    )
    .expect("JSON");
    assert_eq!(discovery["issuer"], format!("http://{addr}"));
    let claims = discovery["claims_supported"].as_array().expect("claims");
    assert!(claims.contains(&serde_json::Value::from("nnin_altsub")));

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let started = Instant::now();
    let exit = loop {
        if let Some(exit) = child.try_wait().expect("status") {
            break exit;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "still running");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(exit.success(), "exit status {exit}");
    std::fs::remove_dir_all(&dir).ok();
}
