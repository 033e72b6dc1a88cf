//! `cargo xtask up`: every service on this machine, in the foreground, until
//! Ctrl-C.

use std::net::SocketAddr;
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
use crate::services::{
    self, BANKID_SIMULATOR, CARD_PRODUCER_FAKE, Deployment, FAKES, Fake, REGISTERS_FAKE, SERVICES,
    SMS_FAKE, Service,
};
use crate::{postgres, prereqs, secrets, tools};

const READY_TIMEOUT: Duration = Duration::from_secs(60);
const READY_POLL: Duration = Duration::from_millis(200);
const STOP_GRACE: Duration = Duration::from_secs(20);
const LOG_TAIL_LINES: usize = 30;

struct Running {
    name: &'static str,
    child: Child,
    log: PathBuf,
}

/// A process to start: a fake or a service.
struct Launch {
    name: &'static str,
    binary: PathBuf,
    args: Vec<String>,
    env: Vec<(String, String)>,
    ready: Ready,
}

/// How to tell that a started process is ready.
enum Ready {
    /// A service: the gRPC health check answers SERVING.
    Health(SocketAddr),
    /// A fake: it has written the address it listens on (`--addr-file`).
    AddrFile(PathBuf),
    /// A server of someone else's making: it accepts connections.
    Listening(SocketAddr),
}

pub async fn run(repo: &Repo, release: bool) -> Result<()> {
    let prereqs = prereqs::ensure(repo).await?;

    let mut build_args = services::build_args();
    if release {
        build_args.push("--release".to_owned());
    }
    let mut build = Command::new(process::cargo());
    build.args(&build_args).current_dir(repo.root());
    process::run_streaming(&mut build, &format!("cargo {}", build_args.join(" "))).await?;
    let binaries = target_dir(repo)
        .await?
        .join(if release { "release" } else { "debug" });

    let secrets_file = repo.hms("dev-secrets.env");
    let secrets = secrets::load_or_create(&secrets_file)?;
    println!("Secrets: {}", repo.show(&secrets_file));

    let databases: Vec<String> = SERVICES.iter().filter_map(Service::database).collect();
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

    // The fakes first: the identity service needs them at start-up.
    let mut launches = Vec::new();
    for fake in FAKES {
        launches.push(fake_launch(repo, fake, &deployment, &binaries)?);
    }
    launches.push(mail_sink_launch(repo, &deployment).await?);
    for service in SERVICES {
        launches.push(Launch {
            name: service.name.as_str(),
            binary: binary(&binaries, &service.package(), &service.package())?,
            args: Vec::new(),
            env: deployment.env(service)?,
            ready: Ready::Health(deployment.addr(service)),
        });
    }

    let web_addr: SocketAddr = services::WEB_HTTP_ADDR.parse()?;
    launches.push(Launch {
        name: "web",
        binary: binary(&binaries, services::WEB_PACKAGE, services::WEB_PACKAGE)?,
        args: Vec::new(),
        env: services::web_env()
            .into_iter()
            .map(|(key, value)| (key.to_owned(), value))
            .collect(),
        ready: Ready::Listening(web_addr),
    });

    // From here on we own child processes: Ctrl-C must reach us, not kill
    // us and leave them running.
    let mut signals = Signals::new()?;
    let mut running: Vec<Running> = Vec::new();
    for launch in &launches {
        process::print_inline(&format!("starting {} … ", launch.name));
        let mut started = match spawn(repo, launch, &logs) {
            Ok(started) => started,
            Err(error) => {
                println!();
                stop_all(&mut running).await;
                return Err(error);
            }
        };
        let outcome = tokio::select! {
            waited = wait_ready(&mut started, &launch.ready) => Ok(waited),
            name = signals.recv() => Err(name),
        };
        match outcome {
            Ok(Ok((addr, elapsed))) => {
                println!("ready on {addr} ({})", process::format_duration(elapsed));
                running.push(started);
            }
            Ok(Err(error)) => {
                println!();
                process::print_log_tail(launch.name, &started.log, LOG_TAIL_LINES);
                running.push(started);
                stop_all(&mut running).await;
                return Err(error.context(format!("{} did not become ready", launch.name)));
            }
            Err(signal_name) => {
                println!();
                running.push(started);
                stop_all(&mut running).await;
                bail!(
                    "interrupted by {signal_name} while starting {}",
                    launch.name
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
    let services = SERVICES
        .iter()
        .map(|service| (service.name.as_str(), deployment.addr(service)));
    let fakes = FAKES
        .iter()
        .map(|fake| (fake.name, deployment.fake_addr(fake)));
    let mail = std::iter::once(("mail", deployment.mail_sink_addr()));
    let web = services::WEB_HTTP_ADDR
        .parse()
        .map(|addr| ("web", addr))
        .into_iter();
    for (name, addr) in services.chain(fakes).chain(mail).chain(web) {
        if let Err(error) = std::net::TcpListener::bind(addr) {
            bail!(
                "{addr} (for {name}) is not free: {error}. Is another `cargo xtask up` running? \
                 Stop it, or set HMS_DEV_PORT_BASE to use other ports",
            );
        }
    }
    Ok(())
}

/// `binaries/<name>`, which the build must have made.
fn binary(binaries: &Path, name: &str, package: &str) -> Result<PathBuf> {
    let binary = binaries.join(name);
    if !process::is_executable(&binary) {
        bail!(
            "{} is missing after the build; does the package {package} have a binary of that name?",
            binary.display(),
        );
    }
    Ok(binary)
}

/// A fake on its port, writing its address to `.hms/<name>.addr` once
/// listening. The BankID simulator knows the identity service as its client
/// and keeps its signing key in `.hms/`, so logins survive restarts.
fn fake_launch(
    repo: &Repo,
    fake: &'static Fake,
    deployment: &Deployment,
    binaries: &Path,
) -> Result<Launch> {
    let addr_file = repo.hms(&format!("{}.addr", fake.name));
    match std::fs::remove_file(&addr_file) {
        Ok(()) => {}
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => {
            return Err(error).with_context(|| format!("cannot remove {}", addr_file.display()));
        }
    }
    let mut args = vec![
        "--listen".to_owned(),
        deployment.fake_addr(fake).to_string(),
        "--addr-file".to_owned(),
        addr_file.display().to_string(),
    ];
    if fake.name == SMS_FAKE.name {
        args.extend([
            "--record".to_owned(),
            repo.hms("sms.jsonl").display().to_string(),
        ]);
    }
    if fake.name == CARD_PRODUCER_FAKE.name {
        args.extend([
            "--api-key".to_owned(),
            deployment.secret("HMS_PRINT_API_KEY")?.to_owned(),
            "--record".to_owned(),
            repo.hms("print-jobs.jsonl").display().to_string(),
        ]);
    }
    if fake.name == BANKID_SIMULATOR.name {
        args.extend([
            "--client-id".to_owned(),
            services::OIDC_CLIENT_ID.to_owned(),
            "--client-secret".to_owned(),
            deployment.secret("HMS_OIDC_CLIENT_SECRET")?.to_owned(),
            "--redirect-uri".to_owned(),
            services::OIDC_REDIRECT_URI.to_owned(),
            "--key-file".to_owned(),
            repo.hms("bankid-simulator.pem").display().to_string(),
        ]);
    }
    Ok(Launch {
        name: fake.name,
        binary: binary(binaries, fake.binary, fake.name)?,
        args,
        env: Vec::new(),
        ready: Ready::AddrFile(addr_file),
    })
}

/// A real SMTP server on this machine (aiosmtpd, from PyPI), keeping every
/// message notifications sends in the Maildir `.hms/mail`.
async fn mail_sink_launch(repo: &Repo, deployment: &Deployment) -> Result<Launch> {
    let binary = tools::find_or_install(repo, &tools::AIOSMTPD).await?;
    let addr = deployment.mail_sink_addr();
    Ok(Launch {
        name: "mail",
        binary,
        args: vec![
            "-n".to_owned(),
            "-l".to_owned(),
            addr.to_string(),
            "-c".to_owned(),
            "aiosmtpd.handlers.Mailbox".to_owned(),
            repo.hms("mail").display().to_string(),
        ],
        env: Vec::new(),
        ready: Ready::Listening(addr),
    })
}

fn spawn(repo: &Repo, launch: &Launch, logs: &Path) -> Result<Running> {
    let log = logs.join(format!("{}.log", launch.name));
    let out =
        std::fs::File::create(&log).with_context(|| format!("cannot create {}", log.display()))?;
    let err = out.try_clone()?;
    let child = Command::new(&launch.binary)
        .args(&launch.args)
        .envs(launch.env.iter().cloned())
        .current_dir(repo.root())
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        // Its own process group: Ctrl-C comes to us, and we stop the
        // processes in order instead of all at once behind our back.
        .process_group(0)
        // Should we fail without reaching stop_all, do not leave orphans.
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("cannot start {}", launch.binary.display()))?;
    Ok(Running {
        name: launch.name,
        child,
        log,
    })
}

/// Where it is ready, and how long that took.
async fn wait_ready(running: &mut Running, ready: &Ready) -> Result<(SocketAddr, Duration)> {
    let mut found = None;
    let elapsed = process::wait_until(READY_TIMEOUT, READY_POLL, async || {
        if let Ok(Some(status)) = running.child.try_wait() {
            return Probe::Failed(format!("{} exited ({status})", running.name));
        }
        match ready {
            Ready::Health(addr) => match health(*addr).await {
                Ok(true) => {
                    found = Some(*addr);
                    Probe::Ready
                }
                Ok(false) | Err(_) => Probe::NotYet,
            },
            Ready::AddrFile(path) => match std::fs::read_to_string(path) {
                Ok(text) => match text.trim().parse() {
                    Ok(addr) => {
                        found = Some(addr);
                        Probe::Ready
                    }
                    Err(_) => Probe::Failed(format!(
                        "{} wrote {text:?} to {}, not an address",
                        running.name,
                        path.display()
                    )),
                },
                Err(_) => Probe::NotYet,
            },
            Ready::Listening(addr) => match tokio::net::TcpStream::connect(addr).await {
                Ok(_) => {
                    found = Some(*addr);
                    Probe::Ready
                }
                Err(_) => Probe::NotYet,
            },
        }
    })
    .await?;
    let addr = found.context("ready without an address")?;
    Ok((addr, elapsed))
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
            Ok(Some(status)) => Some((running.name, status, running.log.clone())),
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
        process::print_inline(&format!("stopping {} … ", running.name));
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
    let log_of = |name: &str| repo.show(&repo.hms(&format!("logs/{name}.log")));
    let services = SERVICES.iter().map(|service| {
        (
            service.name.as_str(),
            format!(
                "gRPC {}, metrics http://{}/metrics",
                deployment.addr(service),
                deployment.metrics_addr(service)
            ),
            log_of(service.name.as_str()),
        )
    });
    let fakes = FAKES
        .iter()
        .map(|fake| (fake.name, deployment.fake_url(fake), log_of(fake.name)));
    let mail = std::iter::once((
        "mail",
        format!("smtp://{}", deployment.mail_sink_addr()),
        log_of("mail"),
    ));
    let web = std::iter::once((
        "web",
        format!("http://{}", services::WEB_HTTP_ADDR),
        log_of("web"),
    ));
    let rows: Vec<(&str, String, String)> = services.chain(fakes).chain(mail).chain(web).collect();
    let name_width = rows
        .iter()
        .map(|row| row.0.len())
        .max()
        .unwrap_or(0)
        .max("process".len());
    let addr_width = rows
        .iter()
        .map(|row| row.1.len())
        .max()
        .unwrap_or(0)
        .max("address".len());
    println!();
    println!("{:name_width$}  {:addr_width$}  log", "process", "address");
    for (name, addr, log) in &rows {
        println!("{name:name_width$}  {addr:addr_width$}  {log}");
    }
    println!();
    println!("PostgreSQL  {}", postgres::redact(&prereqs.database_url));
    println!("NATS        {}", prereqs.nats_url);
    println!();
    println!(
        "The BankID simulator ({}) lists its test persons on its /authorize page; \
         the back office one is Siri Saksbehandler.",
        deployment.fake_url(&BANKID_SIMULATOR)
    );
    println!(
        "Email the services send is kept in {} (a Maildir: one file a message in new/); \
         text messages in {} (one JSON a line), or GET {}/_fake/messages.",
        repo.show(&repo.hms("mail")),
        repo.show(&repo.hms("sms.jsonl")),
        deployment.fake_url(&SMS_FAKE)
    );
    println!(
        "Print jobs the card producer was sent are in {} (one JSON a line, images as \
         digests), or GET {}/_fake/jobs.",
        repo.show(&repo.hms("print-jobs.jsonl")),
        deployment.fake_url(&CARD_PRODUCER_FAKE)
    );
    println!(
        "Workers are looked up in the fake Folkeregisteret and Aa-registeret ({}): any \
         valid number is a resident employed by the register fake's companies, except its \
         test persons (fakes/registers).",
        deployment.fake_url(&REGISTERS_FAKE)
    );
    if let Some(first) = SERVICES.first() {
        println!("Try: grpcurl -plaintext {} list", deployment.addr(first));
    }
    println!(
        "The web front end is at http://{}: the public card check, and, after a BankID \
         login, the worker's own page.",
        services::WEB_HTTP_ADDR
    );
    println!("Ctrl-C stops the services and fakes (PostgreSQL and NATS keep running).");
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
            name: "companies",
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
        let error = wait_ready(&mut exits, &Ready::Health(addr))
            .await
            .err()
            .context("not ready")?;
        assert!(error.to_string().contains("companies exited"), "{error}");
        assert!(started.elapsed() < Duration::from_secs(10));
        assert!(find_exited(std::slice::from_mut(&mut exits)).is_some());
        Ok(())
    }

    #[tokio::test]
    async fn a_fake_is_ready_once_it_writes_its_address() -> Result<()> {
        let dir = std::env::temp_dir().join(format!("xtask-up-addr-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let path = dir.join("fake.addr");
        let script = format!(
            "sleep 0.3; echo 127.0.0.1:4567 > {0}.partial; mv {0}.partial {0}; exec sleep 30",
            process::shell_quote(&path.display().to_string())
        );
        let mut fake = running("sh", &["-c", &script])?;
        let (addr, _) = wait_ready(&mut fake, &Ready::AddrFile(path.clone())).await?;
        assert_eq!(addr.to_string(), "127.0.0.1:4567");
        stop_all(std::slice::from_mut(&mut fake)).await;
        std::fs::remove_dir_all(&dir)?;
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
