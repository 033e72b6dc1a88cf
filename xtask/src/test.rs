//! `cargo xtask test`: everything CI checks, in the order that fails
//! fastest, stopping at the first failure.

use std::future::Future;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Result;
use tokio::process::Command;

use crate::process;
use crate::repo::Repo;
use crate::{postgres, prereqs, services};

/// Pinned so every machine lints the protos with the same rules.
const BUF_PACKAGE: &str = "@bufbuild/buf@1.75.0";
/// The S3 fake the media tests store objects in.
const MOTO_PACKAGE: &str = "moto[server]==5.2.5";
/// The API fuzzer the gateway's OpenAPI document is checked with.
const SCHEMATHESIS_PACKAGE: &str = "schemathesis==4.32.5";

enum Outcome {
    Passed,
    Skipped(String),
    Failed,
}

/// The steps run so far, for the summary.
struct Steps {
    started: Instant,
    done: Vec<(&'static str, Outcome, Duration)>,
}

impl Steps {
    fn new() -> Self {
        Self {
            started: Instant::now(),
            done: Vec::new(),
        }
    }

    /// Runs one step; on failure prints the summary and returns the error.
    async fn run<T>(
        &mut self,
        name: &'static str,
        step: impl Future<Output = Result<T>>,
    ) -> Result<T> {
        self.run_or_skip(name, async { Ok((step.await?, None)) })
            .await
    }

    /// Like [`run`](Self::run), for a step that may find it cannot run and
    /// says why instead of failing.
    async fn run_or_skip<T>(
        &mut self,
        name: &'static str,
        step: impl Future<Output = Result<(T, Option<String>)>>,
    ) -> Result<T> {
        println!("\n==> {name}");
        let started = Instant::now();
        let result = step.await;
        let took = started.elapsed();
        let shown = process::format_duration(took);
        match result {
            Ok((value, None)) => {
                println!("<== {name}: ok ({shown})");
                self.done.push((name, Outcome::Passed, took));
                Ok(value)
            }
            Ok((value, Some(why))) => {
                eprintln!("warning: {name} was SKIPPED: {why}");
                println!("<== {name}: SKIPPED");
                self.done.push((name, Outcome::Skipped(why), took));
                Ok(value)
            }
            Err(error) => {
                println!("<== {name}: FAILED ({shown})");
                self.done.push((name, Outcome::Failed, took));
                self.summary();
                Err(error.context(format!("step `{name}` failed")))
            }
        }
    }

    fn summary(&self) {
        let width = self
            .done
            .iter()
            .map(|(name, ..)| name.len())
            .max()
            .unwrap_or(0);
        println!("\nSummary:");
        for (name, outcome, took) in &self.done {
            let took = process::format_duration(*took);
            match outcome {
                Outcome::Passed => println!("  {name:width$}  ok       {took}"),
                Outcome::Failed => println!("  {name:width$}  FAILED   {took}"),
                Outcome::Skipped(why) => println!("  {name:width$}  skipped  ({why})"),
            }
        }
        let failed = self
            .done
            .iter()
            .any(|(_, outcome, _)| matches!(outcome, Outcome::Failed));
        let skipped = self
            .done
            .iter()
            .filter(|(_, outcome, _)| matches!(outcome, Outcome::Skipped(_)))
            .count();
        let verdict = match (failed, skipped) {
            (true, _) => "FAILED".to_owned(),
            (false, 0) => "All steps passed".to_owned(),
            (false, skipped) => format!("All steps passed ({skipped} SKIPPED, see above)"),
        };
        println!(
            "{verdict} in {}",
            process::format_duration(self.started.elapsed())
        );
    }
}

pub async fn run(repo: &Repo) -> Result<()> {
    let mut steps = Steps::new();
    let prereqs = steps.run("prerequisites", prereqs::ensure(repo)).await?;
    steps
        .run(
            "rustfmt",
            cargo(repo, &["fmt", "--all", "--", "--check"], &[]),
        )
        .await?;
    steps
        .run(
            "clippy",
            cargo(
                repo,
                &[
                    "clippy",
                    "--workspace",
                    "--all-targets",
                    "--",
                    "-D",
                    "warnings",
                ],
                &[],
            ),
        )
        .await?;

    steps.run_or_skip("proto lint", proto_lint(repo)).await?;

    // The end-to-end tests start the real binaries from the target folder.
    let build_args = services::build_args();
    let build_args: Vec<&str> = build_args.iter().map(String::as_str).collect();
    steps
        .run("build services", cargo(repo, &build_args, &[]))
        .await?;

    let moto = steps
        .run("S3 fake (moto)", find_or_install(repo, &MOTO))
        .await?;
    let moto = moto.display().to_string();
    let schemathesis = steps
        .run(
            "API fuzzer (schemathesis)",
            find_or_install(repo, &SCHEMATHESIS),
        )
        .await?;
    let schemathesis = schemathesis.display().to_string();

    let test_database_url = postgres::with_database(&prereqs.database_url, "postgres")?;
    let env = [
        ("HMS_TEST_DATABASE_URL", test_database_url.as_str()),
        ("HMS_TEST_NATS_URL", prereqs.nats_url.as_str()),
        ("HMS_TEST_MOTO_SERVER", moto.as_str()),
        ("HMS_TEST_SCHEMATHESIS", schemathesis.as_str()),
    ];
    let has_nextest = process::succeeds(process::cargo(), &["nextest", "--version"]);
    let test_args: &[&str] = if has_nextest {
        &["nextest", "run", "--workspace", "--no-fail-fast"]
    } else {
        println!("(cargo-nextest is not installed; using cargo test)");
        &["test", "--workspace", "--no-fail-fast"]
    };
    steps.run("tests", cargo(repo, test_args, &env)).await?;

    steps.summary();
    Ok(())
}

pub async fn cargo(repo: &Repo, args: &[&str], env: &[(&str, &str)]) -> Result<()> {
    let mut command = Command::new(process::cargo());
    command
        .args(args)
        .envs(env.iter().copied())
        .current_dir(repo.root());
    let shown_env: String = env
        .iter()
        .map(|(key, value)| format!("{key}={} ", postgres::redact(value)))
        .collect();
    process::run_streaming(
        &mut command,
        &format!("{shown_env}cargo {}", args.join(" ")),
    )
    .await
}

/// `buf lint` in `proto/`, or why it could not run for want of buf.
async fn proto_lint(repo: &Repo) -> Result<((), Option<String>)> {
    let buf = match find_or_install_buf(repo).await {
        Ok(buf) => buf,
        Err(why) => return Ok(((), Some(why))),
    };
    let mut command = Command::new(&buf);
    command.arg("lint").current_dir(repo.root().join("proto"));
    process::run_streaming(
        &mut command,
        &format!("(cd proto && {} lint)", buf.display()),
    )
    .await?;
    Ok(((), None))
}

/// `buf` from PATH or `.hms/tools`, installed there with npm if need be.
/// Err holds why there is none.
async fn find_or_install_buf(repo: &Repo) -> std::result::Result<PathBuf, String> {
    let local = repo.hms("tools/node_modules/.bin/buf");
    if let Some(buf) = process::find_program("buf", &[]) {
        return Ok(buf);
    }
    if process::is_executable(&local) {
        return Ok(local);
    }
    let Some(npm) = process::find_program("npm", &[]) else {
        return Err(format!(
            "buf is not on PATH nor in {}, and npm is not there to install it \
             (install Node.js, or buf itself: https://buf.build/docs/installation)",
            repo.show(&local)
        ));
    };
    let prefix = repo.hms("tools");
    let shown = format!(
        "npm install --prefix {} --no-audit --no-fund {BUF_PACKAGE}",
        repo.show(&prefix)
    );
    let mut install = Command::new(npm);
    install
        .arg("install")
        .arg("--prefix")
        .arg(&prefix)
        .args(["--no-audit", "--no-fund", BUF_PACKAGE])
        .current_dir(repo.root());
    if let Err(error) = process::run_streaming(&mut install, &shown).await {
        return Err(format!("buf could not be installed: {error:#}"));
    }
    if process::is_executable(&local) {
        Ok(local)
    } else {
        Err(format!(
            "npm installed {BUF_PACKAGE}, but {} is missing",
            repo.show(&local)
        ))
    }
}

/// `moto_server` (an S3 implementation from PyPI) from PATH or
/// `.hms/tools/moto`, installed there in a virtual environment if need be.
/// A Python tool the tests use, installed from PyPI into its own virtual
/// environment under `.hms/tools/` when it is not on the path.
struct PypiTool {
    /// Its folder under `.hms/tools/`.
    name: &'static str,
    /// Pinned, so every machine tests with the same version.
    package: &'static str,
    binary: &'static str,
    /// What the tests need it for, for the error when it cannot be had.
    purpose: &'static str,
}

const MOTO: PypiTool = PypiTool {
    name: "moto",
    package: MOTO_PACKAGE,
    binary: "moto_server",
    purpose: "the S3 the media tests use",
};

const SCHEMATHESIS: PypiTool = PypiTool {
    name: "schemathesis",
    package: SCHEMATHESIS_PACKAGE,
    binary: "st",
    purpose: "fuzzes the gateway against its OpenAPI document",
};

async fn find_or_install(repo: &Repo, tool: &PypiTool) -> Result<PathBuf> {
    let venv = repo.hms(&format!("tools/{}", tool.name));
    let local = venv.join("bin").join(tool.binary);
    if process::is_executable(&local) {
        return Ok(local);
    }
    if let Some(found) = process::find_program(tool.binary, &[]) {
        return Ok(found);
    }
    let Some(python) = process::find_program("python3", &[]) else {
        anyhow::bail!(
            "python3 is needed to install {} from PyPI ({}); install python3 with venv, \
             or put {} on PATH",
            tool.package,
            tool.purpose,
            tool.binary
        );
    };
    let mut create = Command::new(python);
    create
        .args(["-m", "venv"])
        .arg(&venv)
        .current_dir(repo.root());
    process::run_streaming(
        &mut create,
        &format!("python3 -m venv {}", repo.show(&venv)),
    )
    .await?;
    let mut install = Command::new(venv.join("bin/pip"));
    install
        .args([
            "install",
            "--quiet",
            "--disable-pip-version-check",
            tool.package,
        ])
        .current_dir(repo.root());
    process::run_streaming(
        &mut install,
        &format!("{}/bin/pip install {}", repo.show(&venv), tool.package),
    )
    .await?;
    anyhow::ensure!(
        process::is_executable(&local),
        "pip installed {}, but {} is missing",
        tool.package,
        repo.show(&local)
    );
    Ok(local)
}
