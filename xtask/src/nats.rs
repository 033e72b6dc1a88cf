//! NATS: checking that a server with JetStream answers, and running a
//! private one under `.hms/nats` when none does. Speaking the first line of
//! the protocol by hand is enough for that, so no NATS client is needed.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

use crate::process::{self, Probe};
use crate::repo::Repo;

pub const DEFAULT_URL: &str = "nats://127.0.0.1:4222";
/// Outside the ephemeral range, for the reason given at
/// [`crate::postgres::PRIVATE_PORT`].
pub const PRIVATE_PORT: u16 = 14222;

const DEFAULT_PORT: u16 = 4222;
const TIMEOUT: Duration = Duration::from_secs(3);
const START_TIMEOUT: Duration = Duration::from_secs(30);

pub fn private_url() -> String {
    format!("nats://127.0.0.1:{PRIVATE_PORT}")
}

/// What a server says about itself in its greeting.
#[derive(Debug, PartialEq, Eq)]
pub struct ServerInfo {
    pub version: String,
    pub jetstream: bool,
}

/// Parses the greeting every NATS server sends first: `INFO {json}`.
pub fn parse_info_line(line: &str) -> Result<ServerInfo> {
    let line = line.trim();
    let json = line
        .split_once([' ', '\t'])
        .filter(|(op, _)| op.eq_ignore_ascii_case("INFO"))
        .map(|(_, json)| json)
        .with_context(|| {
            let start: String = line.chars().take(60).collect();
            format!("not a NATS server: its first line is {start:?}, not `INFO {{…}}`")
        })?;
    let info: serde_json::Value =
        serde_json::from_str(json).context("the server's INFO line is not JSON")?;
    Ok(ServerInfo {
        version: info["version"].as_str().unwrap_or("unknown").to_owned(),
        jetstream: info["jetstream"].as_bool() == Some(true),
    })
}

/// Host and port of the first server in a NATS URL (`nats://user:pw@host:port`,
/// a comma-separated list, or a bare `host:port`).
pub fn host_port(url: &str) -> Result<(String, u16)> {
    let first = url.split(',').next().unwrap_or(url).trim();
    let rest = first.split_once("://").map_or(first, |(_, rest)| rest);
    let authority = rest.split(['/', '?']).next().unwrap_or(rest);
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, hp)| hp);
    let (host, port) = if let Some(bracketed) = host_port.strip_prefix('[') {
        let (host, after) = bracketed
            .split_once(']')
            .with_context(|| format!("unclosed [ in {url:?}"))?;
        (host, after.strip_prefix(':'))
    } else {
        match host_port.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (host_port, None),
        }
    };
    if host.is_empty() {
        bail!("no host in the NATS URL {url:?}");
    }
    let port = match port {
        Some(port) => port
            .parse()
            .with_context(|| format!("bad port in the NATS URL {url:?}"))?,
        None => DEFAULT_PORT,
    };
    Ok((host.to_owned(), port))
}

/// Connects to `url`, reads the greeting and requires JetStream.
pub async fn check(url: &str) -> Result<ServerInfo> {
    let (host, port) = host_port(url)?;
    let stream = tokio::time::timeout(
        TIMEOUT,
        tokio::net::TcpStream::connect((host.as_str(), port)),
    )
    .await
    .context("no answer within 3 s")?
    .context("cannot connect")?;
    // The greeting is a few hundred bytes; the limit keeps something that is
    // not NATS from feeding us forever.
    let mut reader = BufReader::new(stream.take(64 * 1024));
    let mut line = String::new();
    tokio::time::timeout(TIMEOUT, reader.read_line(&mut line))
        .await
        .context("connected, but no greeting within 3 s")??;
    let info = parse_info_line(&line)?;
    if !info.jetstream {
        bail!(
            "nats-server {} answers, but JetStream is not enabled (start it with -js)",
            info.version
        );
    }
    Ok(info)
}

struct Layout {
    dir: PathBuf,
    log: PathBuf,
    pid: PathBuf,
}

impl Layout {
    fn new(repo: &Repo) -> Self {
        let dir = repo.hms("nats");
        Self {
            log: dir.join("nats.log"),
            pid: dir.join("nats.pid"),
            dir,
        }
    }

    /// The pid in the pid file, if that process is still a nats-server.
    fn running_pid(&self) -> Option<u32> {
        let pid: u32 = std::fs::read_to_string(&self.pid)
            .ok()?
            .trim()
            .parse()
            .ok()?;
        // A stale pid file may name a process that reused the number.
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok();
        let is_nats = comm.is_none_or(|comm| comm.contains("nats"));
        (is_nats && process::is_alive(pid)).then_some(pid)
    }
}

pub enum Private {
    Reused { version: String, pid: Option<u32> },
    Started { version: String, pid: u32 },
    NoBinary,
}

/// Makes sure the private server answers at [`private_url`], starting it if
/// needed. It is left running when we exit: starting it costs time, and its
/// JetStream data may be worth keeping between runs.
pub async fn ensure_private(repo: &Repo) -> Result<Private> {
    let url = private_url();
    let layout = Layout::new(repo);
    let running = layout.running_pid();
    if let Ok(info) = check(&url).await {
        return Ok(Private::Reused {
            version: info.version,
            pid: running,
        });
    }
    if let Some(pid) = running {
        // Started by an earlier run and maybe still starting up.
        process::print_inline(&format!(
            "NATS: waiting for the private nats-server (pid {pid}) … "
        ));
        let mut version = String::new();
        let waited =
            process::wait_until(
                START_TIMEOUT,
                Duration::from_millis(200),
                async || match check(&url).await {
                    Ok(info) => {
                        version = info.version;
                        Probe::Ready
                    }
                    Err(_) if !process::is_alive(pid) => {
                        Probe::Failed(format!("nats-server (pid {pid}) exited"))
                    }
                    Err(_) => Probe::NotYet,
                },
            )
            .await;
        return match waited {
            Ok(elapsed) => {
                println!("ready ({})", process::format_duration(elapsed));
                Ok(Private::Reused {
                    version,
                    pid: Some(pid),
                })
            }
            Err(error) => {
                println!();
                process::print_log_tail("nats-server", &layout.log, 30);
                Err(error.context(format!(
                    "nats-server (pid {pid}, from {}) does not answer on port {PRIVATE_PORT}; stop it and retry",
                    layout.pid.display()
                )))
            }
        };
    }
    let Some(binary) = find_binary() else {
        return Ok(Private::NoBinary);
    };
    start(&binary, &layout, &url).await
}

fn find_binary() -> Option<PathBuf> {
    process::find_program("nats-server", &["/usr/sbin/nats-server"])
}

async fn start(binary: &Path, layout: &Layout, url: &str) -> Result<Private> {
    std::fs::create_dir_all(&layout.dir)
        .with_context(|| format!("cannot create {}", layout.dir.display()))?;
    process::print_inline(&format!(
        "NATS: starting a private nats-server with JetStream on 127.0.0.1:{PRIVATE_PORT} … "
    ));
    let port = PRIVATE_PORT.to_string();
    // Its own process group: Ctrl-C in this terminal (meant for `cargo xtask
    // up`) must not stop a server that later runs reuse.
    let mut child = std::process::Command::new(binary)
        .args(["-a", "127.0.0.1", "-p", &port, "-js", "-sd"])
        .arg(&layout.dir)
        .arg("-l")
        .arg(&layout.log)
        .arg("-P")
        .arg(&layout.pid)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .with_context(|| format!("cannot start {}", binary.display()))?;
    let mut version = String::new();
    let waited =
        process::wait_until(
            START_TIMEOUT,
            Duration::from_millis(200),
            async || match check(url).await {
                Ok(info) => {
                    version = info.version;
                    Probe::Ready
                }
                Err(error) => match child.try_wait() {
                    Ok(Some(status)) => Probe::Failed(format!("nats-server exited ({status})")),
                    Ok(None) => Probe::NotYet,
                    Err(wait_error) => Probe::Failed(format!(
                        "cannot watch nats-server: {wait_error} (last check: {error:#})"
                    )),
                },
            },
        )
        .await;
    match waited {
        Ok(elapsed) => {
            println!("ready ({})", process::format_duration(elapsed));
            Ok(Private::Started {
                version,
                pid: child.id(),
            })
        }
        Err(error) => {
            println!();
            // Do not leave a half-started server behind.
            let _ = child.kill();
            let _ = child.wait();
            process::print_log_tail("nats-server", &layout.log, 30);
            Err(error.context(format!(
                "the private nats-server did not start; its log is {}",
                layout.log.display()
            )))
        }
    }
}

/// Stops the private server, if it runs. Returns what happened.
pub async fn stop_private(repo: &Repo) -> Result<String> {
    let layout = Layout::new(repo);
    let Some(pid) = layout.running_pid() else {
        return Ok("the private nats-server is not running".to_owned());
    };
    process::send_signal(pid, "TERM");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while process::is_alive(pid) {
        if tokio::time::Instant::now() >= deadline {
            process::send_signal(pid, "KILL");
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = std::fs::remove_file(&layout.pid);
    Ok(format!("stopped the private nats-server (pid {pid})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const GREETING: &str = r#"INFO {"server_id":"N","version":"2.9.10","proto":1,"port":4222,"headers":true,"jetstream":true,"client_id":6}"#;

    #[tokio::test]
    async fn the_test_server_has_jetstream() -> Result<()> {
        // Needs a server, found like the other end-to-end tests find theirs.
        let url = std::env::var("HMS_TEST_NATS_URL").unwrap_or_else(|_| DEFAULT_URL.to_owned());
        assert!(check(&url).await?.jetstream);
        assert!(check("nats://127.0.0.1:9").await.is_err());
        Ok(())
    }

    #[test]
    fn jetstream_is_read_from_the_greeting() -> Result<()> {
        assert_eq!(
            parse_info_line(&format!("{GREETING} \r\n"))?,
            ServerInfo {
                version: "2.9.10".to_owned(),
                jetstream: true
            }
        );
        let without = GREETING.replace(r#""jetstream":true"#, r#""jetstream":false"#);
        assert!(!parse_info_line(&without)?.jetstream);
        let absent = r#"INFO {"version":"2.10.0","max_payload":1048576}"#;
        assert!(!parse_info_line(absent)?.jetstream);
        Ok(())
    }

    #[test]
    fn other_greetings_are_rejected() {
        assert!(parse_info_line("HTTP/1.1 400 Bad Request").is_err());
        assert!(parse_info_line("+OK").is_err());
        assert!(parse_info_line("INFO not-json").is_err());
        assert!(parse_info_line("").is_err());
    }

    #[test]
    fn host_and_port_come_from_the_first_server() -> Result<()> {
        let expect = |host: &str, port| (host.to_owned(), port);
        assert_eq!(
            host_port("nats://127.0.0.1:4222")?,
            expect("127.0.0.1", 4222)
        );
        assert_eq!(host_port("nats://localhost")?, expect("localhost", 4222));
        assert_eq!(
            host_port("nats://u:p@nats.example:5222")?,
            expect("nats.example", 5222)
        );
        assert_eq!(host_port("tls://[::1]:7422")?, expect("::1", 7422));
        assert_eq!(host_port("nats://a:1,nats://b:2")?, expect("a", 1));
        assert_eq!(host_port("127.0.0.1:4333")?, expect("127.0.0.1", 4333));
        assert!(host_port("nats://:4222").is_err());
        assert!(host_port("nats://host:port").is_err());
        Ok(())
    }
}
