use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::env::ServiceName;

const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A running service binary. Killed when dropped.
pub struct ServiceProcess {
    service: ServiceName,
    child: Child,
    log: PathBuf,
}

impl ServiceProcess {
    /// The operating system's id of the running process.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Starts the binary with `settings` as its environment and waits for it
    /// to report SERVING; panics with its log if it does not.
    pub async fn start(
        service: ServiceName,
        dir: &Path,
        settings: &BTreeMap<String, String>,
    ) -> Self {
        let binary = binary_dir().join(format!("hms-{}", service.as_str()));
        assert!(
            binary.exists(),
            "{} is missing: build the services first (`cargo xtask test` does)",
            binary.display()
        );
        let log = dir.join(format!("{}.log", service.as_str()));
        let addr_file = dir.join(format!("{}.addr", service.as_str()));
        let _ = std::fs::remove_file(&addr_file);
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .expect("open the service's log");
        let child = Command::new(&binary)
            .arg("serve")
            .envs(settings)
            .env("HMS_ADDR_FILE", &addr_file)
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().expect("clone the log handle"))
            .stderr(log_file)
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {}: {error}", binary.display()));
        let mut process = Self {
            service,
            child,
            log,
        };
        process.wait_until_serving(&addr_file).await;
        process
    }

    async fn wait_until_serving(&mut self, addr_file: &Path) {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "{} exited during start-up ({status}):\n{}",
                    self.service.as_str(),
                    self.log_tail(60)
                );
            }
            if let Ok(addr) = std::fs::read_to_string(addr_file)
                && serving(addr.trim()).await
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{} did not become ready within {START_TIMEOUT:?}:\n{}",
                self.service.as_str(),
                self.log_tail(60)
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Sends SIGTERM and waits for the process to exit; its exit code.
    pub async fn terminate(&mut self) -> Option<i32> {
        let pid = self.child.id()?;
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(pid.to_string())
            .status()
            .await;
        match tokio::time::timeout(Duration::from_secs(20), self.child.wait()).await {
            Ok(Ok(status)) => status.code(),
            _ => {
                let _ = self.child.kill().await;
                None
            }
        }
    }

    /// Kills the process without warning and waits for it to be gone.
    pub async fn kill(&mut self) {
        let _ = self.child.kill().await;
    }

    /// The last `lines` lines of the service's log.
    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        let start = all.len().saturating_sub(lines);
        format!(
            "== {} ==\n{}",
            self.service.as_str(),
            all[start..].join("\n")
        )
    }

    /// Everything the service logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

async fn serving(addr: &str) -> bool {
    let Ok(endpoint) = tonic::transport::Endpoint::from_shared(format!("http://{addr}")) else {
        return false;
    };
    let Ok(channel) = endpoint
        .connect_timeout(Duration::from_secs(1))
        .connect()
        .await
    else {
        return false;
    };
    let response = HealthClient::new(channel)
        .check(HealthCheckRequest::default())
        .await;
    matches!(response, Ok(response) if response.get_ref().status == ServingStatus::Serving as i32)
}

/// Where Cargo put the service binaries: beside the test binary's `deps`
/// folder, unless `HMS_TEST_BIN_DIR` says otherwise.
pub(crate) fn binary_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("HMS_TEST_BIN_DIR") {
        return PathBuf::from(dir);
    }
    let exe = std::env::current_exe().expect("the test binary's path");
    let deps = exe.parent().expect("the test binary's folder");
    if deps.ends_with("deps") {
        deps.parent().unwrap_or(deps).to_path_buf()
    } else {
        deps.to_path_buf()
    }
}
