//! Support for end-to-end tests that run the real service binaries against
//! the real PostgreSQL and NATS JetStream.
//!
//! Each [`TestEnv`] is private: its databases are named after it, its NATS
//! subjects and streams carry its namespace, its objects live in its own
//! folder, so tests run in parallel and repeatedly. PostgreSQL and NATS are
//! found through `HMS_TEST_DATABASE_URL` and `HMS_TEST_NATS_URL` (set by
//! `cargo xtask test`; the defaults are the standard local ports). The
//! service binaries are taken from the Cargo target folder (`cargo xtask test`
//! builds them first).

pub mod api;
mod cable;
mod env;
pub mod fakes;
pub mod fixtures;
pub mod latency;
mod mail;
mod otlp;
pub mod ports;
mod process;
mod s3;

pub use api::{Answer, Api};
pub use cable::Cable;
pub use env::{Authed, ServiceAuth, ServiceName, TestEnv};
pub use mail::{Mail, MailSink};
pub use otlp::{OtlpReceiver, ReceivedSpan};
pub use process::ServiceProcess;
pub use s3::S3Fake;

use std::future::Future;
use std::time::{Duration, Instant};

/// Polls `check` until it returns `Some`, or panics with `what` after
/// `timeout`.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A gRPC call that should be refused: `.expect_refused(Code::NotFound,
/// "order not found")` fails the test unless the call was refused with
/// that code and a message containing the text; the status, for more.
pub trait ExpectRefused {
    fn expect_refused(self, code: tonic::Code, says: &str) -> tonic::Status;
}

impl<T: std::fmt::Debug> ExpectRefused for Result<T, tonic::Status> {
    #[track_caller]
    fn expect_refused(self, code: tonic::Code, says: &str) -> tonic::Status {
        match self {
            Ok(answer) => panic!("expected {code:?} ({says}), got an answer: {answer:?}"),
            Err(status) => {
                assert_eq!(status.code(), code, "{status:?}");
                assert!(
                    status.message().contains(says),
                    "expected {code:?} saying {says:?}, got {:?}",
                    status.message()
                );
                status
            }
        }
    }
}

/// Files below a folder, recursively.
pub fn files_below(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                found.push(path);
            }
        }
    }
    found
}
