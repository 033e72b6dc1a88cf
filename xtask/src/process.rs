//! Running other programs: finding them, streaming or capturing their
//! output, signalling them, and waiting for what they start.

use std::ffi::OsStr;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// The cargo that runs us. `cargo xtask` sets `CARGO`; using that one keeps
/// the toolchain the user picked (rustup overrides, `+nightly`).
pub fn cargo() -> PathBuf {
    std::env::var_os("CARGO").map_or_else(|| PathBuf::from("cargo"), PathBuf::from)
}

/// `name` from `$PATH`, else the first of `fallbacks` that is executable.
pub fn find_program(name: &str, fallbacks: &[&str]) -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|candidate| is_executable(candidate))
    });
    on_path.or_else(|| {
        fallbacks
            .iter()
            .map(PathBuf::from)
            .find(|candidate| is_executable(candidate))
    })
}

pub fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

/// Runs `command` with the terminal as its output, after showing `shown`.
pub async fn run_streaming(command: &mut tokio::process::Command, shown: &str) -> Result<()> {
    println!("$ {shown}");
    let status = command
        .stdin(Stdio::null())
        .status()
        .await
        .with_context(|| format!("cannot run `{shown}`"))?;
    if !status.success() {
        bail!("`{shown}` failed ({status})");
    }
    Ok(())
}

/// Runs `command` quietly; on failure its output goes into the error.
pub fn run_captured(command: &mut Command, what: &str) -> Result<Output> {
    let output = command
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot run {what}"))?;
    if !output.status.success() {
        bail!(
            "{what} failed ({}):\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(output)
}

/// Whether `program args` exits successfully; all output is discarded.
pub fn succeeds(program: impl AsRef<OsStr>, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// The effective user id of this process (what PostgreSQL checks).
pub fn effective_uid() -> Option<u32> {
    let from_proc = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| parse_effective_uid(&status));
    from_proc.or_else(|| {
        let output = Command::new("id").arg("-u").output().ok()?;
        String::from_utf8_lossy(&output.stdout).trim().parse().ok()
    })
}

/// The effective uid from `/proc/<pid>/status` (`Uid: real effective saved fs`).
pub fn parse_effective_uid(status: &str) -> Option<u32> {
    status
        .lines()
        .find_map(|line| line.strip_prefix("Uid:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

pub fn user_exists(name: &str) -> bool {
    succeeds("id", &["-u", name])
}

/// Sends `signal` (`TERM`, `KILL`, `0`) with the `kill` command, which keeps
/// us free of unsafe FFI; false when there is no such process.
pub fn send_signal(pid: u32, signal: &str) -> bool {
    succeeds("kill", &[&format!("-{signal}"), &pid.to_string()])
}

pub fn is_alive(pid: u32) -> bool {
    send_signal(pid, "0")
}

/// `text` as one word for `/bin/sh`.
pub fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// The last `count` lines of a log file, for error reports.
pub fn log_tail(path: &Path, count: usize) -> String {
    match std::fs::read(path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            let lines: Vec<&str> = text.lines().collect();
            let start = lines.len().saturating_sub(count);
            lines[start..].join("\n")
        }
        Err(error) => format!("(cannot read {}: {error})", path.display()),
    }
}

pub fn print_log_tail(name: &str, path: &Path, count: usize) {
    eprintln!(
        "---- last {count} lines of {} ({name}) ----",
        path.display()
    );
    eprintln!("{}", log_tail(path, count));
    eprintln!("---- end of {name} log ----");
}

pub fn format_duration(duration: Duration) -> String {
    let secs = duration.as_secs_f64();
    if secs < 60.0 {
        format!("{secs:.1} s")
    } else {
        let whole = duration.as_secs();
        format!("{} min {:02} s", whole / 60, whole % 60)
    }
}

/// Prints without a newline, for progress that continues on the same line.
pub fn print_inline(text: &str) {
    print!("{text}");
    let _ = std::io::stdout().flush();
}

/// What one look at something starting up found.
pub enum Probe {
    Ready,
    NotYet,
    /// It cannot become ready any more (for example, it exited).
    Failed(String),
}

/// Polls `probe` every `interval` until it reports ready, printing a dot
/// every second so a slow start does not look like a hang. Returns how long
/// it took.
pub async fn wait_until(
    timeout: Duration,
    interval: Duration,
    mut probe: impl AsyncFnMut() -> Probe,
) -> Result<Duration> {
    let started = Instant::now();
    let mut dots = 0;
    let outcome = loop {
        match probe().await {
            Probe::Ready => break Ok(started.elapsed()),
            Probe::Failed(why) => break Err(anyhow::anyhow!("{why}")),
            Probe::NotYet => {}
        }
        let elapsed = started.elapsed();
        if elapsed >= timeout {
            break Err(anyhow::anyhow!(
                "not ready after {}",
                format_duration(timeout)
            ));
        }
        if elapsed.as_secs() > dots {
            print_inline(".");
            dots += 1;
        }
        tokio::time::sleep(interval).await;
    };
    if dots > 0 {
        print_inline(" ");
    }
    outcome
}

/// An error and its causes on one line, without the repetition of errors
/// (like sqlx's) that already print their source.
pub fn describe(error: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in error.chain() {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&cause);
        }
    }
    text
}

/// Who runs a program. PostgreSQL refuses to run as root, so as root we
/// switch to another user for it.
#[derive(Debug, Clone)]
pub enum RunAs {
    Myself,
    User { name: String, switch: Switch },
}

#[derive(Debug, Clone)]
pub enum Switch {
    /// `runuser -u <user> -- program args` (util-linux, root only).
    Runuser(PathBuf),
    /// `su <user> -s /bin/sh -c '<program args>'`, where runuser is missing.
    Su(PathBuf),
}

impl RunAs {
    /// This process's user, unless we are root: then the `postgres` system
    /// user if there is one, else `nobody`.
    pub fn unprivileged() -> Result<Self> {
        if effective_uid() != Some(0) {
            return Ok(Self::Myself);
        }
        let name = if user_exists("postgres") {
            "postgres"
        } else {
            "nobody"
        };
        let switch = if let Some(runuser) =
            find_program("runuser", &["/usr/sbin/runuser", "/sbin/runuser"])
        {
            Switch::Runuser(runuser)
        } else if let Some(su) = find_program("su", &["/bin/su", "/usr/bin/su"]) {
            Switch::Su(su)
        } else {
            bail!(
                "running as root, but neither runuser nor su is there to run PostgreSQL as {name}"
            );
        };
        Ok(Self::User {
            name: name.to_owned(),
            switch,
        })
    }

    pub fn user(&self) -> Option<&str> {
        match self {
            Self::Myself => None,
            Self::User { name, .. } => Some(name),
        }
    }

    pub fn command<S: AsRef<OsStr>>(&self, program: &Path, args: &[S]) -> Command {
        match self {
            Self::Myself => {
                let mut command = Command::new(program);
                command.args(args);
                command
            }
            Self::User {
                name,
                switch: Switch::Runuser(runuser),
            } => {
                let mut command = Command::new(runuser);
                command.args(["-u", name, "--"]).arg(program).args(args);
                command
            }
            Self::User {
                name,
                switch: Switch::Su(su),
            } => {
                let line = std::iter::once(program.as_os_str())
                    .chain(args.iter().map(AsRef::as_ref))
                    .map(|word| shell_quote(&word.to_string_lossy()))
                    .collect::<Vec<_>>()
                    .join(" ");
                let mut command = Command::new(su);
                command.args([name.as_str(), "-s", "/bin/sh", "-c", &line]);
                command
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn effective_uid_is_the_second_field() {
        let status =
            "Name:\tcat\nUmask:\t0022\nUid:\t1000\t0\t0\t0\nGid:\t1000\t1000\t1000\t1000\n";
        assert_eq!(parse_effective_uid(status), Some(0));
        assert_eq!(parse_effective_uid("Name:\tcat\n"), None);
    }

    #[test]
    fn commands_switch_user_with_runuser_or_su() {
        let args = |command: &Command| -> Vec<String> {
            std::iter::once(command.get_program())
                .chain(command.get_args())
                .map(|arg| arg.to_string_lossy().into_owned())
                .collect()
        };
        let program = Path::new("/opt/pg 15/bin/pg_ctl");
        let runuser = RunAs::User {
            name: "postgres".to_owned(),
            switch: Switch::Runuser(PathBuf::from("/usr/sbin/runuser")),
        };
        assert_eq!(
            args(&runuser.command(program, &["-D", "/d"])),
            [
                "/usr/sbin/runuser",
                "-u",
                "postgres",
                "--",
                "/opt/pg 15/bin/pg_ctl",
                "-D",
                "/d"
            ]
        );
        let su = RunAs::User {
            name: "nobody".to_owned(),
            switch: Switch::Su(PathBuf::from("/bin/su")),
        };
        let line = r"'/opt/pg 15/bin/pg_ctl' '-o' '-k '\''/x'\'''";
        assert_eq!(
            args(&su.command(program, &["-o", "-k '/x'"])),
            ["/bin/su", "nobody", "-s", "/bin/sh", "-c", line]
        );
        assert_eq!(
            args(&RunAs::Myself.command(program, &["status"])),
            ["/opt/pg 15/bin/pg_ctl", "status"]
        );
    }

    #[test]
    fn shell_quoting_survives_single_quotes() {
        assert_eq!(shell_quote("/a b/c"), "'/a b/c'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }

    #[test]
    fn repeated_causes_are_described_once() {
        let io = std::io::Error::other("Connection refused");
        let error = anyhow::Error::new(io).context("error talking to db: Connection refused");
        assert_eq!(describe(&error), "error talking to db: Connection refused");
        let error = anyhow::anyhow!("refused").context("cannot connect");
        assert_eq!(describe(&error), "cannot connect: refused");
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(format_duration(Duration::from_millis(1_340)), "1.3 s");
        assert_eq!(format_duration(Duration::from_secs(125)), "2 min 05 s");
    }

    #[test]
    fn log_tail_keeps_the_last_lines() -> Result<()> {
        let dir = std::env::temp_dir().join(format!("xtask-tail-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let file = dir.join("a.log");
        std::fs::write(&file, "1\n2\n3\n4\n")?;
        assert_eq!(log_tail(&file, 2), "3\n4");
        assert_eq!(log_tail(&file, 10), "1\n2\n3\n4");
        std::fs::remove_dir_all(&dir)?;
        Ok(())
    }
}
