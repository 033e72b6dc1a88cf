//! The servers every command needs: PostgreSQL, and NATS with JetStream.
//! Use the configured ones if they answer; else run private ones from the
//! installed binaries; else, as root on Debian, install those first.

use std::path::PathBuf;

use anyhow::{Result, bail};

use crate::process;
use crate::repo::Repo;
use crate::{nats, postgres};

/// Where the servers answer.
#[derive(Debug, Clone)]
pub struct Prereqs {
    /// Administrative URL (an existing database to connect to, usually `postgres`).
    pub database_url: String,
    pub nats_url: String,
}

enum Located {
    Ready(String),
    Missing {
        reason: String,
        package: &'static str,
    },
}

pub async fn ensure(repo: &Repo) -> Result<Prereqs> {
    let database_url = env_or("HMS_DEV_DATABASE_URL", postgres::DEFAULT_URL);
    let nats_url = env_or("HMS_DEV_NATS_URL", nats::DEFAULT_URL);

    let mut pg = locate_postgres(repo, &database_url).await?;
    let mut nats = locate_nats(repo, &nats_url).await?;

    let packages: Vec<&str> = [&pg, &nats]
        .into_iter()
        .filter_map(|located| match located {
            Located::Missing { package, .. } => Some(*package),
            Located::Ready(_) => None,
        })
        .collect();
    if !packages.is_empty()
        && let Some(apt_get) = apt_get_as_root()
    {
        install(&apt_get, &packages).await?;
        if matches!(pg, Located::Missing { .. }) {
            pg = locate_postgres(repo, &database_url).await?;
        }
        if matches!(nats, Located::Missing { .. }) {
            nats = locate_nats(repo, &nats_url).await?;
        }
    }

    match (pg, nats) {
        (Located::Ready(database_url), Located::Ready(nats_url)) => Ok(Prereqs {
            database_url,
            nats_url,
        }),
        (pg, nats) => {
            let mut problems = String::new();
            for (name, located) in [("PostgreSQL", pg), ("NATS", nats)] {
                if let Located::Missing { reason, .. } = located {
                    problems.push_str(&format!("\n  - {name}: {reason}"));
                }
            }
            bail!(
                "missing prerequisites:{problems}\n\
                 Provide them in one of these ways:\n  \
                 - point HMS_DEV_DATABASE_URL at a running PostgreSQL (default {}, trust \
                 authentication) and HMS_DEV_NATS_URL at a running NATS with JetStream \
                 (default {}, started with `nats-server -js`), or\n  \
                 - install the Debian packages postgresql and nats-server \
                 (`sudo apt-get install postgresql nats-server`); xtask then runs private \
                 servers under .hms/",
                postgres::DEFAULT_URL,
                nats::DEFAULT_URL
            )
        }
    }
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|value| !value.trim().is_empty())
        .unwrap_or_else(|| default.to_owned())
}

async fn locate_postgres(repo: &Repo, url: &str) -> Result<Located> {
    let shown = postgres::redact(url);
    let unreachable = match postgres::check(url).await {
        Ok(version) => {
            println!("PostgreSQL: using {shown} (PostgreSQL {version}, reachable)");
            return Ok(Located::Ready(url.to_owned()));
        }
        Err(error) => process::describe(&error),
    };
    println!("PostgreSQL: nothing usable at {shown} ({unreachable}); trying a private server");
    let private = postgres::private_url();
    let data = repo.show(&repo.hms("postgres/data"));
    let log = repo.show(&repo.hms("postgres/postgres.log"));
    match postgres::ensure_private(repo).await? {
        postgres::Private::Reused { version } => {
            println!(
                "PostgreSQL: using the private server at {private} (PostgreSQL {version}, already running, data in {data})"
            );
        }
        postgres::Private::Started { version, user } => {
            let user = user.map_or_else(String::new, |user| format!(", running as user {user}"));
            println!(
                "PostgreSQL: started a private server at {private} (PostgreSQL {version}{user}; data in {data}, log {log})"
            );
        }
        postgres::Private::NoBinaries => {
            return Ok(Located::Missing {
                reason: format!(
                    "nothing usable at {shown} ({unreachable}), and no PostgreSQL server \
                     (initdb, pg_ctl and postgres) on PATH or in /usr/lib/postgresql/*/bin \
                     to run a private one"
                ),
                package: "postgresql",
            });
        }
    }
    Ok(Located::Ready(private))
}

async fn locate_nats(repo: &Repo, url: &str) -> Result<Located> {
    let unreachable = match nats::check(url).await {
        Ok(info) => {
            println!(
                "NATS: using {url} (nats-server {}, JetStream on)",
                info.version
            );
            return Ok(Located::Ready(url.to_owned()));
        }
        Err(error) => process::describe(&error),
    };
    println!("NATS: nothing usable at {url} ({unreachable}); trying a private server");
    let private = nats::private_url();
    let dir = repo.show(&repo.hms("nats"));
    match nats::ensure_private(repo).await? {
        nats::Private::Reused { version, pid } => {
            let pid = pid.map_or_else(String::new, |pid| format!(", pid {pid}"));
            println!(
                "NATS: using the private nats-server at {private} (version {version}{pid}, already running, data and log in {dir})"
            );
        }
        nats::Private::Started { version, pid } => {
            println!(
                "NATS: started a private nats-server at {private} (version {version}, pid {pid}, JetStream on; data and log in {dir})"
            );
        }
        nats::Private::NoBinary => {
            return Ok(Located::Missing {
                reason: format!(
                    "nothing usable at {url} ({unreachable}), and no nats-server on PATH or \
                     at /usr/sbin/nats-server to run a private one"
                ),
                package: "nats-server",
            });
        }
    }
    Ok(Located::Ready(private))
}

/// apt-get, when we may use it: as root only, never through sudo prompts.
fn apt_get_as_root() -> Option<PathBuf> {
    if process::effective_uid() != Some(0) {
        return None;
    }
    process::find_program("apt-get", &["/usr/bin/apt-get"])
}

async fn install(apt_get: &std::path::Path, packages: &[&str]) -> Result<()> {
    println!(
        "Installing the Debian packages {} with apt-get (running as root) …",
        packages.join(" ")
    );
    let shown = format!("apt-get install -y {}", packages.join(" "));
    let install = async || {
        let mut command = tokio::process::Command::new(apt_get);
        command
            .args(["install", "-y"])
            .args(packages)
            .env("DEBIAN_FRONTEND", "noninteractive");
        process::run_streaming(&mut command, &shown).await
    };
    if install().await.is_ok() {
        return Ok(());
    }
    // A fresh system (a container) often has no package lists yet.
    let mut update = tokio::process::Command::new(apt_get);
    update
        .arg("update")
        .env("DEBIAN_FRONTEND", "noninteractive");
    process::run_streaming(&mut update, "apt-get update").await?;
    install().await
}

/// The headless browser the web front end's tests drive: Debian's
/// chromium and its WebDriver, chromedriver.
#[derive(Debug, Clone)]
pub struct Browser {
    pub chromium: PathBuf,
    pub chromedriver: PathBuf,
}

const BROWSER_PACKAGES: [&str; 2] = ["chromium", "chromium-driver"];

fn locate_browser() -> Option<Browser> {
    Some(Browser {
        chromium: process::find_program("chromium", &["/usr/bin/chromium"])?,
        chromedriver: process::find_program("chromedriver", &["/usr/bin/chromedriver"])?,
    })
}

/// The installed browser, or, as root on Debian, the packages installed
/// first; else what is missing and how to get it.
pub async fn browser() -> Result<Browser> {
    if let Some(browser) = locate_browser() {
        return Ok(browser);
    }
    if let Some(apt_get) = apt_get_as_root() {
        install(&apt_get, &BROWSER_PACKAGES).await?;
        if let Some(browser) = locate_browser() {
            return Ok(browser);
        }
    }
    bail!(
        "chromium and chromedriver are missing: the web front end's tests drive them. \
         Install the Debian packages {} (`sudo apt-get install {}`)",
        BROWSER_PACKAGES.join(" and "),
        BROWSER_PACKAGES.join(" ")
    )
}
