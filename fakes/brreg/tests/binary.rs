//! The binary as a harness starts it: port 0, an address file, a data
//! folder, SIGTERM.

#![cfg(unix)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[tokio::test]
async fn the_binary_serves_a_data_folder_and_exits_cleanly_on_sigterm() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = std::env::temp_dir().join(format!("brreg-fake-bin-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let addr_file = dir.join("addr");
    std::fs::remove_file(&addr_file).ok();
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("recorded");

    let mut child = Command::new(env!("CARGO_BIN_EXE_brreg-fake"))
        .args(["--listen", "127.0.0.1:0", "--addr-file"])
        .arg(&addr_file)
        .arg("--data")
        .arg(&data)
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the fake");

    let started = Instant::now();
    let addr = loop {
        if let Ok(addr) = std::fs::read_to_string(&addr_file) {
            break addr;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no address file"
        );
        assert!(child.try_wait().expect("status").is_none(), "exited early");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };

    let response = reqwest::Client::new()
        .get(format!(
            "http://{addr}/enhetsregisteret/api/enheter/{}",
            brreg_fake::companies::EVA_EIER_SNEKKERSERVICE
        ))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);

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
