//! The stand-ins for third parties the tests cannot reach: the BankID
//! simulator, the register fake and the SMS provider's fake, started as
//! their real binaries.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};

use crate::process::binary_dir;

/// The simulator's test persons' national identity numbers, by who they are.
pub use bankid_simulator::persons::ids as persons;

/// The register fake's companies' organisation numbers, by name.
pub use brreg_fake::companies as orgs;

pub const CLIENT_ID: &str = "hms-identity";
pub const CLIENT_SECRET: &str = "test-client-secret";

/// A running fake. Killed when dropped.
pub struct FakeProcess {
    child: Child,
    binary: String,
    pub addr: SocketAddr,
}

impl FakeProcess {
    pub async fn start(binary: &str, dir: &Path, args: &[String]) -> Self {
        let path = binary_dir().join(binary);
        assert!(
            path.exists(),
            "{} is missing: build the workspace first (`cargo xtask test` does)",
            path.display()
        );
        let addr_file = dir.join(format!("{binary}.addr"));
        let log = std::fs::File::create(dir.join(format!("{binary}.log"))).expect("log file");
        let mut child = Command::new(&path)
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--addr-file")
            .arg(&addr_file)
            .args(args)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {}: {error}", path.display()));
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(addr) = std::fs::read_to_string(&addr_file)
                && let Ok(addr) = addr.trim().parse()
            {
                return Self {
                    child,
                    binary: binary.to_owned(),
                    addr,
                };
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("{binary} exited during start-up ({status})");
            }
            assert!(Instant::now() < deadline, "{binary} did not start in time");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Its process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// The binary it runs, which names it.
    pub fn binary(&self) -> &str {
        &self.binary
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// The simulator, with the client identity uses in tests; it sends
/// browsers back to `redirect_uri` (the gateway's callback).
pub async fn start_bankid(dir: &Path, redirect_uri: &str) -> FakeProcess {
    FakeProcess::start(
        "bankid-simulator",
        dir,
        &[
            "--client-id".to_owned(),
            CLIENT_ID.to_owned(),
            "--client-secret".to_owned(),
            CLIENT_SECRET.to_owned(),
            "--redirect-uri".to_owned(),
            redirect_uri.to_owned(),
        ],
    )
    .await
}

pub async fn start_register(dir: &Path) -> FakeProcess {
    FakeProcess::start("brreg-fake", dir, &[]).await
}

/// The SMS provider's stand-in, demanding the credentials the tests give
/// the notifications service.
pub async fn start_sms(dir: &Path) -> FakeProcess {
    FakeProcess::start(
        "sms-fake",
        dir,
        &[
            "--username".to_owned(),
            SMS_USERNAME.to_owned(),
            "--password".to_owned(),
            SMS_PASSWORD.to_owned(),
        ],
    )
    .await
}

pub const SMS_USERNAME: &str = "hms-test";
pub const SMS_PASSWORD: &str = "test-sms-password";

/// The card producer's fake, demanding the tests' API key.
pub async fn start_card_producer(dir: &Path) -> FakeProcess {
    FakeProcess::start(
        "card-producer-fake",
        dir,
        &["--api-key".to_owned(), PRINT_API_KEY.to_owned()],
    )
    .await
}

pub const PRINT_API_KEY: &str = "test-print-api-key";

/// Folkeregisteret's and Aa-registeret's fake, demanding the tests'
/// token.
pub async fn start_registers(dir: &Path) -> FakeProcess {
    FakeProcess::start(
        "registers-fake",
        dir,
        &["--token".to_owned(), REGISTERS_TOKEN.to_owned()],
    )
    .await
}

pub const REGISTERS_TOKEN: &str = "test-registers-token";

/// The registers fake's test persons.
pub use registers_fake::persons as register_persons;

/// Where notifications tells the back office, in tests.
pub const BACK_OFFICE_EMAIL: &str = "kontroll@hms-kort.test";

/// A print job the card producer's fake took.
pub use card_producer_fake::Job as PrintJob;

/// A text message the SMS fake accepted.
pub use sms_fake::Received as Sms;
