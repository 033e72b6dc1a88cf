//! `cargo xtask up`: every service on this machine, in the foreground, until
//! Ctrl-C.

use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use tokio::process::{Child, Command};
use tokio::signal::unix::{Signal, SignalKind, signal};
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

use crate::process::{self, Probe};
use crate::repo::Repo;
use crate::services::{self, Deployment, SERVICES, Service};
use crate::{postgres, prereqs, secrets};

const READY_TIMEOUT: Duration = Duration::from_secs(60);
const READY_POLL: Duration = Duration::from_millis(200);
const STOP_GRACE: Duration = Duration::from_secs(20);
const LOG_TAIL_LINES: usize = 30;

struct Running {
    service: &'static Service,
    child: Child,
    log: PathBuf,
}

pub async fn run(repo: &Repo) -> Result<()> {
    let prereqs = prereqs::ensure(repo).await?;

    let build_args = services::build_args();
    let mut build = Command::new(process::cargo());
    build.args(&build_args).current_dir(repo.root());
    process::run_streaming(&mut build, &format!("cargo {}", build_args.join(" "))).await?;
    let binaries = target_dir(repo).await?.join("debug");

    let secrets_file = repo.hms("dev-secrets.env");
    let secrets = secrets::load_or_create(&secrets_file)?;
    println!("Secrets: {}", repo.show(&secrets_file));

    let databases: Vec<String> = SERVICES.iter().map(Service::database).collect();
    let created = postgres::create_databases(&prereqs.database_url, &databases).await?;
    println!(
        "Databases: {}{}",
        databases.join(", "),
        if created.is_empty() {
            String::new()
        } else {
            format!(" (created {})", created.join(", "))
        }
    );

    let media_store = repo.hms("media");
    std::fs::create_dir_all(&media_store)
        .with_context(|| format!("cannot create {}", media_store.display()))?;
    let logs = repo.hms("logs");
    std::fs::create_dir_all(&logs).with_context(|| format!("cannot create {}", logs.display()))?;
    let deployment = Deployment::new(
        services::port_base_from_env()?,
        prereqs.database_url.clone(),
        prereqs.nats_url.clone(),
        media_store,
        secrets,
    )?;
    check_ports_free(&deployment)?;

    // From here on we own child processes: Ctrl-C must reach us, not kill
    // us and leave them running.
    let mut signals = Signals::new()?;
    let mut running: Vec<Running> = Vec::new();
    for service in SERVICES {
        let addr = deployment.addr(service);
        process::print_inline(&format!("starting {} … ", service.name));
        let mut started = match spawn(repo, service, &deployment, &binaries, &logs) {
            Ok(started) => started,
            Err(error) => {
                println!();
                stop_all(&mut running).await;
                return Err(error);
            }
        };
        let outcome = tokio::select! {
            waited = wait_ready(&mut started, addr) => Ok(waited),
            name = signals.recv() => Err(name),
        };
        match outcome {
            Ok(Ok(elapsed)) => {
                println!("ready on {addr} ({})", process::format_duration(elapsed));
                running.push(started);
            }
            Ok(Err(error)) => {
                println!();
                process::print_log_tail(service.name, &started.log, LOG_TAIL_LINES);
                running.push(started);
                stop_all(&mut running).await;
                return Err(error.context(format!("{} did not become ready", service.name)));
            }
            Err(signal_name) => {
                println!();
                running.push(started);
                stop_all(&mut running).await;
                bail!(
                    "interrupted by {signal_name} while starting {}",
                    service.name
                );
            }
        }
    }

    print_summary(repo, &deployment, &prereqs);

    let died = loop {
        tokio::select! {
            name = signals.recv() => {
                println!("{name}: stopping the services");
                break None;
            }
            () = tokio::time::sleep(Duration::from_millis(500)) => {
                if let Some(died) = find_exited(&mut running) {
                    break Some(died);
                }
            }
        }
    };
    if let Some((name, status, log)) = &died {
        eprintln!("{name} exited unexpectedly ({status})");
        process::print_log_tail(name, log, LOG_TAIL_LINES);
    }
    stop_all(&mut running).await;
    match died {
        Some((name, status, _)) => bail!("{name} exited unexpectedly ({status})"),
        None => Ok(()),
    }
}

/// Where cargo puts binaries (it may be moved with CARGO_TARGET_DIR or
/// build.target-dir).
async fn target_dir(repo: &Repo) -> Result<PathBuf> {
    let output = Command::new(process::cargo())
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .current_dir(repo.root())
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .await
        .context("cannot run cargo metadata")?;
    if !output.status.success() {
        bail!("cargo metadata failed ({})", output.status);
    }
    let metadata: serde_json::Value =
        serde_json::from_slice(&output.stdout).context("cargo metadata printed no JSON")?;
    metadata["target_directory"]
        .as_str()
        .map(PathBuf::from)
        .context("cargo metadata names no target_directory")
}

/// A service from an earlier `up` still on its port would answer our health
/// checks in place of the new one.
fn check_ports_free(deployment: &Deployment) -> Result<()> {
    for service in SERVICES {
        let addr = deployment.addr(service);
        if let Err(error) = std::net::TcpListener::bind(addr) {
            bail!(
                "{addr} (for {}) is not free: {error}. Is another `cargo xtask up` running? \
                 Stop it, or set HMS_DEV_PORT_BASE to use other ports",
                service.name
            );
        }
    }
    Ok(())
}

fn spawn(
    repo: &Repo,
    service: &'static Service,
    deployment: &Deployment,
    binaries: &Path,
    logs: &Path,
) -> Result<Running> {
    let binary = binaries.join(service.package());
    if !process::is_executable(&binary) {
        bail!(
            "{} is missing after the build; does the package {} have a binary of that name?",
            binary.display(),
            service.package()
        );
    }
    let log = logs.join(format!("{}.log", service.name));
    let out =
        std::fs::File::create(&log).with_context(|| format!("cannot create {}", log.display()))?;
    let err = out.try_clone()?;
    let child = Command::new(&binary)
        .envs(deployment.env(service)?)
        .current_dir(repo.root())
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        // Its own process group: Ctrl-C comes to us, and we stop the
        // services in order instead of all at once behind our back.
        .process_group(0)
        // Should we fail without reaching stop_all, do not leave orphans.
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("cannot start {}", binary.display()))?;
    Ok(Running {
        service,
        child,
        log,
    })
}

async fn wait_ready(running: &mut Running, addr: std::net::SocketAddr) -> Result<Duration> {
    process::wait_until(READY_TIMEOUT, READY_POLL, async || {
        if let Ok(Some(status)) = running.child.try_wait() {
            return Probe::Failed(format!("{} exited ({status})", running.service.name));
        }
        match health(addr).await {
            Ok(true) => Probe::Ready,
            Ok(false) | Err(_) => Probe::NotYet,
        }
    })
    .await
}

/// The standard gRPC health check for the whole server (empty service name).
async fn health(addr: std::net::SocketAddr) -> Result<bool> {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))?
        .connect_timeout(Duration::from_secs(1))
        .timeout(Duration::from_secs(1))
        .connect()
        .await?;
    let response = HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await?;
    Ok(response.get_ref().status == ServingStatus::Serving as i32)
}

fn find_exited(running: &mut [Running]) -> Option<(&'static str, ExitStatus, PathBuf)> {
    running
        .iter_mut()
        .find_map(|running| match running.child.try_wait() {
            Ok(Some(status)) => Some((running.service.name, status, running.log.clone())),
            _ => None,
        })
}

/// SIGTERM to all (last started first), then up to [`STOP_GRACE`] for them
/// to finish before they are killed.
async fn stop_all(running: &mut [Running]) {
    for running in running.iter().rev() {
        // No id once reaped: then the pid may belong to someone else.
        if let Some(pid) = running.child.id() {
            process::send_signal(pid, "TERM");
        }
    }
    let deadline = tokio::time::Instant::now() + STOP_GRACE;
    for running in running.iter_mut().rev() {
        process::print_inline(&format!("stopping {} … ", running.service.name));
        let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
        match tokio::time::timeout(remaining, running.child.wait()).await {
            Ok(Ok(status)) if status.success() => println!("stopped"),
            Ok(Ok(status)) => println!("stopped ({status})"),
            Ok(Err(error)) => println!("cannot wait for it: {error}"),
            Err(_) => match running.child.kill().await {
                Ok(()) => println!("killed after {} s", STOP_GRACE.as_secs()),
                Err(error) => println!("cannot kill it: {error}"),
            },
        }
    }
}

fn print_summary(repo: &Repo, deployment: &Deployment, prereqs: &prereqs::Prereqs) {
    let rows: Vec<(&str, String, String)> = SERVICES
        .iter()
        .map(|service| {
            let log = repo.hms(&format!("logs/{}.log", service.name));
            (
                service.name,
                deployment.addr(service).to_string(),
                repo.show(&log),
            )
        })
        .collect();
    let name_width = rows
        .iter()
        .map(|row| row.0.len())
        .max()
        .unwrap_or(0)
        .max("service".len());
    let addr_width = rows
        .iter()
        .map(|row| row.1.len())
        .max()
        .unwrap_or(0)
        .max("gRPC address".len());
    println!();
    println!(
        "{:name_width$}  {:addr_width$}  log",
        "service", "gRPC address"
    );
    for (name, addr, log) in &rows {
        println!("{name:name_width$}  {addr:addr_width$}  {log}");
    }
    println!();
    println!("PostgreSQL  {}", postgres::redact(&prereqs.database_url));
    println!("NATS        {}", prereqs.nats_url);
    if let Some(first) = SERVICES.first() {
        println!();
        println!("Try: grpcurl -plaintext {} list", deployment.addr(first));
    }
    println!("Ctrl-C stops the services (PostgreSQL and NATS keep running).");
}

struct Signals {
    interrupt: Signal,
    terminate: Signal,
    hangup: Signal,
}

impl Signals {
    fn new() -> Result<Self> {
        Ok(Self {
            interrupt: signal(SignalKind::interrupt()).context("cannot listen for SIGINT")?,
            terminate: signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?,
            // A closed terminal must stop the services too, not orphan them.
            hangup: signal(SignalKind::hangup()).context("cannot listen for SIGHUP")?,
        })
    }

    async fn recv(&mut self) -> &'static str {
        tokio::select! {
            _ = self.interrupt.recv() => "Ctrl-C",
            _ = self.terminate.recv() => "SIGTERM",
            _ = self.hangup.recv() => "SIGHUP",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;

    fn running(program: &str, args: &[&str]) -> Result<Running> {
        let child = Command::new(program)
            .args(args)
            .kill_on_drop(true)
            .spawn()?;
        Ok(Running {
            service: &SERVICES[0],
            child,
            log: PathBuf::from("/nonexistent/companies.log"),
        })
    }

    #[tokio::test]
    async fn health_follows_the_overall_status() -> Result<()> {
        let (reporter, service) = tonic_health::server::health_reporter();
        let incoming = tonic::transport::server::TcpIncoming::bind("127.0.0.1:0".parse()?)?;
        let addr = incoming.local_addr()?;
        let server = tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming(incoming),
        );
        assert!(health(addr).await?);
        reporter
            .set_service_status("", tonic_health::ServingStatus::NotServing)
            .await;
        assert!(!health(addr).await?);
        server.abort();
        Ok(())
    }

    #[tokio::test]
    async fn a_service_that_exits_is_reported_at_once() -> Result<()> {
        let addr = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
        let mut exits = running("true", &[])?;
        let started = std::time::Instant::now();
        let error = wait_ready(&mut exits, addr)
            .await
            .err()
            .context("not ready")?;
        assert!(error.to_string().contains("companies exited"), "{error}");
        assert!(started.elapsed() < Duration::from_secs(10));
        assert!(find_exited(std::slice::from_mut(&mut exits)).is_some());
        Ok(())
    }

    #[tokio::test]
    async fn services_are_stopped_with_sigterm() -> Result<()> {
        let mut children = vec![running("sleep", &["30"])?, running("sleep", &["30"])?];
        assert!(find_exited(&mut children).is_none());
        stop_all(&mut children).await;
        for child in &mut children {
            let status = child.child.try_wait()?.context("still running")?;
            assert_eq!(status.signal(), Some(15));
        }
        Ok(())
    }
}
