//! A real SMTP server for tests: aiosmtpd (from PyPI) keeping every message
//! in a Maildir. `cargo xtask test` installs it and names it in
//! `HMS_TEST_AIOSMTPD`. It can be stopped and started again on its port, to
//! show that mail sent meanwhile is not lost.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use mail_parser::MessageParser;
use tokio::process::{Child, Command};

use crate::ports::{self, ReservedPort};

/// A received email, as the tests look at it.
#[derive(Debug, Clone)]
pub struct Mail {
    /// Whom the server was told to deliver it to (SMTP `RCPT TO`).
    pub recipients: Vec<String>,
    pub from: String,
    pub subject: String,
    pub message_id: String,
    pub text: String,
    pub html: String,
    /// The whole message as it arrived, headers and encoding included.
    pub raw: String,
}

/// A running SMTP server. Killed when dropped.
pub struct MailSink {
    binary: PathBuf,
    maildir: PathBuf,
    log: PathBuf,
    port: ReservedPort,
    child: Option<Child>,
}

impl MailSink {
    pub async fn start(dir: &Path) -> Self {
        let mut sink = Self {
            binary: aiosmtpd(),
            maildir: dir.join("mail"),
            log: dir.join("aiosmtpd.log"),
            port: ports::reserve(),
            child: None,
        };
        sink.resume().await;
        sink
    }

    /// `smtp://127.0.0.1:<port>`: plain SMTP, which the service allows only
    /// to this machine.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port.port())
    }

    /// The server's process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref()?.id()
    }

    /// Stops the server; mail sent meanwhile cannot be delivered.
    pub async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().await.ok();
        }
    }

    /// Starts the server again, on the same port and Maildir.
    pub async fn resume(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("mail server log");
        let child = Command::new(&self.binary)
            .args(["-n", "-l"])
            .arg(format!("127.0.0.1:{}", self.port.port()))
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&self.maildir)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {}: {error}", self.binary.display()));
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while tokio::net::TcpStream::connect(("127.0.0.1", self.port.port()))
            .await
            .is_err()
        {
            assert!(Instant::now() < deadline, "aiosmtpd did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Every message received so far, oldest first.
    pub fn messages(&self) -> Vec<Mail> {
        let Ok(entries) = std::fs::read_dir(self.maildir.join("new")) else {
            return Vec::new();
        };
        let mut files: Vec<(std::time::SystemTime, PathBuf)> = entries
            .filter_map(Result::ok)
            .filter_map(|entry| {
                let modified = entry.metadata().ok()?.modified().ok()?;
                Some((modified, entry.path()))
            })
            .collect();
        files.sort();
        files
            .into_iter()
            .filter_map(|(_, path)| std::fs::read(path).ok())
            .map(|bytes| parse(&bytes))
            .collect()
    }

    /// The messages that arrived since the last call, by the file names
    /// seen so far: for a benchmark that watches mail arrive without
    /// reading every message again.
    pub fn arrived(&self, seen: &mut std::collections::HashSet<PathBuf>) -> Vec<Mail> {
        let Ok(entries) = std::fs::read_dir(self.maildir.join("new")) else {
            return Vec::new();
        };
        entries
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|path| seen.insert(path.clone()))
            .filter_map(|path| std::fs::read(path).ok())
            .map(|bytes| parse(&bytes))
            .collect()
    }

    /// The messages delivered to `address`.
    pub fn to(&self, address: &str) -> Vec<Mail> {
        self.messages()
            .into_iter()
            .filter(|mail| mail.recipients.iter().any(|to| to == address))
            .collect()
    }
}

fn parse(bytes: &[u8]) -> Mail {
    let raw = String::from_utf8_lossy(bytes).into_owned();
    let message = MessageParser::default()
        .parse(bytes)
        .expect("aiosmtpd stores whole messages");
    // aiosmtpd's Mailbox records the envelope in these headers.
    let header = |name: &str| {
        message
            .header_raw(name)
            .map(|value| value.trim().to_owned())
            .unwrap_or_default()
    };
    Mail {
        recipients: header("X-RcptTo")
            .split(',')
            .map(|to| to.trim().to_owned())
            .filter(|to| !to.is_empty())
            .collect(),
        from: header("X-MailFrom"),
        subject: message.subject().unwrap_or_default().to_owned(),
        message_id: message.message_id().unwrap_or_default().to_owned(),
        text: message
            .body_text(0)
            .map(|text| text.into_owned())
            .unwrap_or_default(),
        html: message
            .body_html(0)
            .map(|html| html.into_owned())
            .unwrap_or_default(),
        raw,
    }
}

fn aiosmtpd() -> PathBuf {
    if let Ok(path) = std::env::var("HMS_TEST_AIOSMTPD") {
        return PathBuf::from(path);
    }
    let installed =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.hms/tools/aiosmtpd/bin/aiosmtpd");
    if installed.exists() {
        return installed;
    }
    panic!(
        "aiosmtpd not found (neither HMS_TEST_AIOSMTPD nor .hms/tools/aiosmtpd): \
         `cargo xtask test` installs it from PyPI"
    );
}
