//! PostgreSQL: checking that a server answers, and running a private one
//! under `.hms/postgres` when none does.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use sqlx::Connection;

use crate::process::{self, Probe, RunAs};
use crate::repo::Repo;

pub const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
/// Below Linux's ephemeral range (32768–60999) and the tests' ports
/// (20000–32000): a port in the ephemeral range can be taken as the local
/// end of any outgoing connection, and then the server cannot bind it (the
/// chaos run restarts this server while services connect everywhere).
pub const PRIVATE_PORT: u16 = 15432;

const BINARIES: [&str; 3] = ["initdb", "pg_ctl", "postgres"];
const DISTRO_ROOT: &str = "/usr/lib/postgresql";
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// Unix socket paths longer than this do not fit in `sockaddr_un`.
const MAX_SOCKET_PATH: usize = 100;

pub fn private_url() -> String {
    format!("postgres://postgres@127.0.0.1:{PRIVATE_PORT}/postgres")
}

/// Connects to `url` and runs `SELECT 1`; returns the server's version.
pub async fn check(url: &str) -> Result<String> {
    check_within(url, Duration::from_secs(5)).await
}

async fn check_within(url: &str, timeout: Duration) -> Result<String> {
    let connect = sqlx::PgConnection::connect(url);
    let mut conn = tokio::time::timeout(timeout, connect)
        .await
        .with_context(|| format!("no answer within {}", process::format_duration(timeout)))??;
    let one: i32 = sqlx::query_scalar("SELECT 1").fetch_one(&mut conn).await?;
    if one != 1 {
        bail!("SELECT 1 returned {one}");
    }
    let version = conn
        .server_version_num()
        .map_or_else(|| "unknown version".to_owned(), version_from_num);
    conn.close().await?;
    Ok(version)
}

/// `150020` is `15.20`; before 10 the scheme was `90624` for `9.6.24`.
fn version_from_num(num: u32) -> String {
    if num >= 100_000 {
        format!("{}.{}", num / 10_000, num % 10_000)
    } else {
        format!("{}.{}.{}", num / 10_000, num / 100 % 100, num % 100)
    }
}

/// `url` with its database (the URL path) replaced by `database`; the user,
/// host and query parameters stay.
pub fn with_database(url: &str, database: &str) -> Result<String> {
    let Some(scheme_end) = url.find("://").map(|at| at + 3) else {
        bail!("{url:?} is not a PostgreSQL URL (postgres://user@host:port/database)");
    };
    let rest = &url[scheme_end..];
    let authority_len = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let after_authority = &rest[authority_len..];
    let path_len = after_authority
        .find(['?', '#'])
        .unwrap_or(after_authority.len());
    let suffix = &after_authority[path_len..];
    Ok(format!(
        "{}/{database}{suffix}",
        &url[..scheme_end + authority_len]
    ))
}

/// `url` with any password masked, for printing.
pub fn redact(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|at| at + 3) else {
        return url.to_owned();
    };
    let rest = &url[scheme_end..];
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let Some(at) = authority.rfind('@') else {
        return url.to_owned();
    };
    match authority[..at].find(':') {
        Some(colon) => format!(
            "{}{}:***{}",
            &url[..scheme_end],
            &authority[..colon],
            &url[scheme_end + at..]
        ),
        None => url.to_owned(),
    }
}

/// Creates each of `names` that does not exist yet; returns those created.
pub async fn create_databases(admin_url: &str, names: &[String]) -> Result<Vec<String>> {
    let mut conn = sqlx::PgConnection::connect(admin_url)
        .await
        .with_context(|| format!("cannot connect to {}", redact(admin_url)))?;
    let mut created = Vec::new();
    for name in names {
        let exists: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
                .bind(name)
                .fetch_one(&mut conn)
                .await?;
        if exists {
            continue;
        }
        // CREATE DATABASE takes no parameters, hence the quoted identifier.
        let sql = format!("CREATE DATABASE {}", quote_ident(name));
        match sqlx::raw_sql(&sql).execute(&mut conn).await {
            Ok(_) => created.push(name.clone()),
            // Another process created it between our check and now.
            Err(sqlx::Error::Database(error)) if error.code().as_deref() == Some("42P04") => {}
            Err(error) => {
                return Err(error).with_context(|| format!("cannot create the database {name}"));
            }
        }
    }
    conn.close().await?;
    Ok(created)
}

/// `name` as an SQL identifier.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A folder holding `initdb`, `pg_ctl` and `postgres` of one installation.
#[derive(Debug, Clone)]
pub struct Binaries {
    dir: PathBuf,
    pub version: String,
}

impl Binaries {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

/// Versions (folder names under /usr/lib/postgresql) highest first; names
/// that are not versions are dropped.
pub fn highest_first(names: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut versions: Vec<(Vec<u32>, String)> = names
        .into_iter()
        .filter_map(|name| Some((parse_version(&name)?, name)))
        .collect();
    versions.sort_by(|a, b| b.0.cmp(&a.0));
    versions.into_iter().map(|(_, name)| name).collect()
}

fn parse_version(text: &str) -> Option<Vec<u32>> {
    text.split('.').map(|part| part.parse().ok()).collect()
}

/// The major version as `PG_VERSION` spells it: `15` for 15.20, `9.6` for
/// 9.6.24, `17` for 17beta1.
pub fn major(version: &str) -> String {
    let numeric: String = version
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let mut parts = numeric.split('.').filter(|part| !part.is_empty());
    match (parts.next(), parts.next()) {
        (Some(first), Some(second)) if first.parse::<u32>().is_ok_and(|n| n < 10) => {
            format!("{first}.{second}")
        }
        (Some(first), _) => first.to_owned(),
        _ => String::new(),
    }
}

/// The version from `postgres --version`: `postgres (PostgreSQL) 15.20 (Debian …)`.
pub fn parse_version_output(output: &str) -> Option<String> {
    let after = output.split_once("(PostgreSQL)")?.1;
    after.split_whitespace().next().map(str::to_owned)
}

/// Folders that may hold a PostgreSQL installation, in order of preference:
/// `$PATH` first (the user's choice), then Debian's versioned folders, newest
/// first.
fn candidate_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    let versions = std::fs::read_dir(DISTRO_ROOT)
        .map(|entries| {
            entries
                .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    dirs.extend(
        highest_first(versions)
            .into_iter()
            .map(|version| Path::new(DISTRO_ROOT).join(version).join("bin")),
    );
    // pg_ctl starts the `postgres` next to itself, so the three must come
    // from one folder; symlinks on PATH resolve to their real folder.
    let mut seen = Vec::new();
    dirs.into_iter()
        .filter(|dir| {
            BINARIES
                .iter()
                .all(|name| process::is_executable(&dir.join(name)))
        })
        .filter_map(|dir| {
            let real = dir
                .join("postgres")
                .canonicalize()
                .ok()?
                .parent()?
                .to_path_buf();
            if seen.contains(&real) {
                None
            } else {
                seen.push(real.clone());
                Some(real)
            }
        })
        .collect()
}

/// The installation to run `data_dir` with: the first candidate, or, when
/// the data folder exists, the first whose major version matches it (a data
/// folder only works with the major version that created it).
pub fn find_binaries(data_dir: &Path) -> Result<Option<Binaries>> {
    let wanted = std::fs::read_to_string(data_dir.join("PG_VERSION"))
        .ok()
        .map(|text| text.trim().to_owned());
    let mut found = Vec::new();
    for dir in candidate_dirs() {
        let output = std::process::Command::new(dir.join("postgres"))
            .arg("--version")
            .output();
        let Some(version) = output
            .ok()
            .and_then(|out| parse_version_output(&String::from_utf8_lossy(&out.stdout)))
        else {
            continue;
        };
        if wanted
            .as_ref()
            .is_none_or(|wanted| *wanted == major(&version))
        {
            return Ok(Some(Binaries { dir, version }));
        }
        found.push(version);
    }
    match (wanted, found.is_empty()) {
        (Some(wanted), false) => bail!(
            "{} was created by PostgreSQL {wanted}, but only PostgreSQL {} is installed; \
             delete that folder to start a fresh private database",
            data_dir.display(),
            found.join(", ")
        ),
        _ => Ok(None),
    }
}

/// The private server's files.
struct Layout {
    base: PathBuf,
    data: PathBuf,
    log: PathBuf,
}

impl Layout {
    fn new(repo: &Repo) -> Self {
        let base = repo.hms("postgres");
        Self {
            data: base.join("data"),
            log: base.join("postgres.log"),
            base,
        }
    }
}

pub enum Private {
    Reused {
        version: String,
    },
    Started {
        version: String,
        user: Option<String>,
    },
    /// No PostgreSQL installation to run one with.
    NoBinaries,
}

/// Makes sure the private server answers at [`private_url`], starting it
/// (and creating its data folder) if needed.
pub async fn ensure_private(repo: &Repo) -> Result<Private> {
    let url = private_url();
    if let Ok(version) = check(&url).await {
        return Ok(Private::Reused { version });
    }
    let layout = Layout::new(repo);
    let Some(binaries) = find_binaries(&layout.data)? else {
        return Ok(Private::NoBinaries);
    };
    let run_as = RunAs::unprivileged()?;
    prepare_folder(repo, &layout, &run_as)?;

    if !layout.data.join("PG_VERSION").exists() {
        if layout.data.exists() {
            // Left over from an interrupted initdb, which refuses non-empty folders.
            std::fs::remove_dir_all(&layout.data)
                .with_context(|| format!("cannot remove {}", layout.data.display()))?;
        }
        process::print_inline(&format!(
            "PostgreSQL: creating {} with initdb … ",
            repo.show(&layout.data)
        ));
        let data = layout.data.to_string_lossy();
        let args = [
            "-D",
            &data,
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--no-locale",
        ];
        let mut initdb = run_as.command(&binaries.path("initdb"), &args);
        initdb.current_dir(&layout.base);
        if let Err(error) = process::run_captured(&mut initdb, "initdb") {
            println!();
            return Err(error);
        }
        println!("done");
    }

    process::print_inline(&format!(
        "PostgreSQL: starting a private server (PostgreSQL {}) on 127.0.0.1:{PRIVATE_PORT} … ",
        binaries.version
    ));
    if !is_running(&binaries, &layout, &run_as)
        && let Err(error) = start(&binaries, &layout, &run_as)
    {
        println!();
        return Err(error);
    }
    let mut last_look = std::time::Instant::now();
    let waited = process::wait_until(START_TIMEOUT, Duration::from_millis(250), async || {
        // pg_ctl is a process per call, so only look about once a second
        // whether the server died (a port in use, a bad setting).
        if last_look.elapsed() >= Duration::from_secs(1) {
            last_look = std::time::Instant::now();
            if !is_running(&binaries, &layout, &run_as) {
                return Probe::Failed("the PostgreSQL server exited".to_owned());
            }
        }
        match check_within(&url, Duration::from_secs(1)).await {
            Ok(_) => Probe::Ready,
            Err(_) => Probe::NotYet,
        }
    })
    .await;
    match waited {
        Ok(elapsed) => {
            println!("ready ({})", process::format_duration(elapsed));
            Ok(Private::Started {
                version: binaries.version,
                user: run_as.user().map(str::to_owned),
            })
        }
        Err(error) => {
            println!();
            process::print_log_tail("PostgreSQL", &layout.log, 30);
            Err(error.context(format!(
                "the private PostgreSQL did not start; its log is {}",
                layout.log.display()
            )))
        }
    }
}

/// Creates `.hms/postgres` and, when PostgreSQL will run as another user,
/// hands it to that user.
fn prepare_folder(repo: &Repo, layout: &Layout, run_as: &RunAs) -> Result<()> {
    std::fs::create_dir_all(&layout.base)
        .with_context(|| format!("cannot create {}", layout.base.display()))?;
    let Some(user) = run_as.user() else {
        return Ok(());
    };
    // The other user must be able to pass through `.hms` (a umask of 077
    // would lock it out); the secrets in it are protected by their own mode.
    let hms = repo.hms("");
    std::fs::set_permissions(&hms, std::fs::Permissions::from_mode(0o755))
        .with_context(|| format!("cannot set the mode of {}", hms.display()))?;
    let mut chown = std::process::Command::new("chown");
    chown.arg("-R").arg(user).arg(&layout.base);
    process::run_captured(&mut chown, &format!("chown -R {user}"))?;
    let base = layout.base.to_string_lossy();
    let mut probe = run_as.command(Path::new("test"), &["-w", &base]);
    probe.current_dir("/");
    if process::run_captured(&mut probe, "test -w").is_err() {
        bail!(
            "PostgreSQL refuses to run as root, so it runs as the user {user}, but {user} cannot \
             write to {} (a parent folder is not open to other users, e.g. /root is 0700). \
             Clone the repository somewhere {user} can reach, or set HMS_DEV_DATABASE_URL to a \
             running PostgreSQL",
            layout.base.display()
        );
    }
    Ok(())
}

fn is_running(binaries: &Binaries, layout: &Layout, run_as: &RunAs) -> bool {
    let data = layout.data.to_string_lossy();
    run_as
        .command(&binaries.path("pg_ctl"), &["-D", &data, "status"])
        .current_dir(&layout.base)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

fn start(binaries: &Binaries, layout: &Layout, run_as: &RunAs) -> Result<()> {
    let socket_dir = layout.base.to_string_lossy();
    // Our own socket folder, because the default (/var/run/postgresql) may
    // not exist or not be writable; without one if the path is too long.
    let socket_name = format!(".s.PGSQL.{PRIVATE_PORT}");
    let socket_dir = if socket_dir.len() + socket_name.len() < MAX_SOCKET_PATH {
        socket_dir.into_owned()
    } else {
        String::new()
    };
    // pg_ctl hands these to postgres through /bin/sh.
    let options = format!(
        "-c listen_addresses=127.0.0.1 -p {PRIVATE_PORT} -k {}",
        process::shell_quote(&socket_dir)
    );
    let data = layout.data.to_string_lossy();
    let log = layout.log.to_string_lossy();
    // -W: we wait ourselves, by connecting; pg_ctl detaches the server into
    // its own session, so it outlives us and ignores our Ctrl-C.
    let args = ["-D", &data, "-l", &log, "-o", &options, "-W", "start"];
    let mut pg_ctl = run_as.command(&binaries.path("pg_ctl"), &args);
    pg_ctl.current_dir(&layout.base);
    process::run_captured(&mut pg_ctl, "pg_ctl start")?;
    Ok(())
}

/// Stops the private server, if it runs. Returns what happened.
pub fn stop_private(repo: &Repo) -> Result<String> {
    let layout = Layout::new(repo);
    if !layout.data.join("postmaster.pid").exists() {
        return Ok("the private PostgreSQL is not running".to_owned());
    }
    let Some(binaries) = find_binaries(&layout.data)? else {
        bail!("no PostgreSQL installation found to stop the private server with");
    };
    let run_as = RunAs::unprivileged()?;
    let data = layout.data.to_string_lossy();
    let mut pg_ctl = run_as.command(
        &binaries.path("pg_ctl"),
        &["-D", &data, "-m", "fast", "-w", "stop"],
    );
    pg_ctl.current_dir(&layout.base);
    process::run_captured(&mut pg_ctl, "pg_ctl stop")?;
    Ok(format!(
        "stopped the private PostgreSQL ({})",
        repo.show(&layout.data)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Needs a server, found like the other end-to-end tests find theirs.
    fn test_server_url() -> String {
        std::env::var("HMS_TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_URL.to_owned())
    }

    #[tokio::test]
    async fn databases_are_created_once() -> Result<()> {
        let url = test_server_url();
        check(&url).await?;
        // A hyphen needs the quoting; the pid keeps parallel runs apart.
        let name = format!("xtask-probe-{}", std::process::id());
        let names = [name.clone()];
        assert_eq!(create_databases(&url, &names).await?, names);
        assert!(create_databases(&url, &names).await?.is_empty());
        let mut conn = sqlx::PgConnection::connect(&url).await?;
        sqlx::raw_sql(&format!("DROP DATABASE {}", quote_ident(&name)))
            .execute(&mut conn)
            .await?;
        conn.close().await?;
        Ok(())
    }

    #[tokio::test]
    async fn an_unreachable_server_is_reported() {
        let error = check("postgres://postgres@127.0.0.1:9/postgres").await;
        assert!(error.is_err());
    }

    #[test]
    fn database_is_replaced_and_the_rest_kept() -> Result<()> {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/postgres", "hms_orders")?,
            "postgres://postgres@127.0.0.1:5432/hms_orders"
        );
        assert_eq!(
            with_database(
                "postgresql://u:p%40ss@db.example:6543/app?sslmode=disable",
                "hms_media"
            )?,
            "postgresql://u:p%40ss@db.example:6543/hms_media?sslmode=disable"
        );
        assert_eq!(with_database("postgres://host", "x")?, "postgres://host/x");
        assert_eq!(with_database("postgres://host/", "x")?, "postgres://host/x");
        assert_eq!(
            with_database("postgres://host?application_name=a", "x")?,
            "postgres://host/x?application_name=a"
        );
        assert_eq!(
            with_database("postgres:///db?host=/run/postgresql", "x")?,
            "postgres:///x?host=/run/postgresql"
        );
        assert!(with_database("127.0.0.1:5432", "x").is_err());
        Ok(())
    }

    #[test]
    fn passwords_are_masked() {
        assert_eq!(
            redact("postgres://me:secret@host:5432/db"),
            "postgres://me:***@host:5432/db"
        );
        assert_eq!(redact(DEFAULT_URL), DEFAULT_URL);
        assert_eq!(
            redact("postgres://host/db?x=a:b@c"),
            "postgres://host/db?x=a:b@c"
        );
    }

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(quote_ident("hms_orders"), "\"hms_orders\"");
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
    }

    #[test]
    fn installations_are_ordered_newest_first() {
        let names = ["9.6", "15", "16", "10", "common", "13.2"].map(str::to_owned);
        assert_eq!(highest_first(names), ["16", "15", "13.2", "10", "9.6"]);
    }

    #[test]
    fn versions_are_read_from_the_binary_and_the_server() {
        assert_eq!(
            parse_version_output("postgres (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)\n")
                .as_deref(),
            Some("15.20")
        );
        assert_eq!(parse_version_output("something else"), None);
        assert_eq!(major("15.20"), "15");
        assert_eq!(major("9.6.24"), "9.6");
        assert_eq!(major("17beta1"), "17");
        assert_eq!(version_from_num(150_020), "15.20");
        assert_eq!(version_from_num(90_624), "9.6.24");
    }
}
