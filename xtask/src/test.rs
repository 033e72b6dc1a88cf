//! `cargo xtask test`: everything CI checks, in the order that fails
//! fastest, stopping at the first failure.

use std::future::Future;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use tokio::process::Command;

use crate::process;
use crate::repo::Repo;
use crate::{postgres, prereqs, services, tools};

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
    steps.run_or_skip("manifests", manifests(repo)).await?;

    // The end-to-end tests start the real binaries from the target folder.
    let build_args = services::build_args();
    let build_args: Vec<&str> = build_args.iter().map(String::as_str).collect();
    steps
        .run("build services", cargo(repo, &build_args, &[]))
        .await?;

    let moto = steps
        .run("S3 fake (moto)", tools::find_or_install(repo, &tools::MOTO))
        .await?;
    let moto = moto.display().to_string();
    let schemathesis = steps
        .run(
            "API fuzzer (schemathesis)",
            tools::find_or_install(repo, &tools::SCHEMATHESIS),
        )
        .await?;
    let schemathesis = schemathesis.display().to_string();
    let aiosmtpd = steps
        .run(
            "SMTP server (aiosmtpd)",
            tools::find_or_install(repo, &tools::AIOSMTPD),
        )
        .await?;
    let aiosmtpd = aiosmtpd.display().to_string();
    let browser = steps.run("browser (chromium)", prereqs::browser()).await?;
    let axe = steps
        .run("accessibility rules (axe-core)", async {
            tools::find_or_install_npm(repo, &tools::AXE)
                .await
                .map_err(anyhow::Error::msg)
        })
        .await?;
    let axe = axe.display().to_string();
    let chromium = browser.chromium.display().to_string();
    let chromedriver = browser.chromedriver.display().to_string();

    let test_database_url = postgres::with_database(&prereqs.database_url, "postgres")?;
    let env = [
        ("HMS_TEST_DATABASE_URL", test_database_url.as_str()),
        ("HMS_TEST_NATS_URL", prereqs.nats_url.as_str()),
        ("HMS_TEST_MOTO_SERVER", moto.as_str()),
        ("HMS_TEST_SCHEMATHESIS", schemathesis.as_str()),
        ("HMS_TEST_AIOSMTPD", aiosmtpd.as_str()),
        ("HMS_TEST_CHROMIUM", chromium.as_str()),
        ("HMS_TEST_CHROMEDRIVER", chromedriver.as_str()),
        ("HMS_TEST_AXE", axe.as_str()),
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
/// The Kubernetes release the manifests must be valid for.
const KUBERNETES_VERSION: &str = "1.32.0";

/// Every overlay, built with kustomize (or kubectl's) and validated
/// against the Kubernetes schemas offline: a broken manifest fails here,
/// not at `kubectl apply`.
async fn manifests(repo: &Repo) -> Result<((), Option<String>)> {
    let (kustomize, build): (PathBuf, &[&str]) =
        if let Some(kustomize) = process::find_program("kustomize", &[]) {
            (kustomize, &["build"])
        } else if let Some(kubectl) = process::find_program("kubectl", &[]) {
            (kubectl, &["kustomize"])
        } else {
            return Ok((
                (),
                Some(
                    "neither kustomize (5 or later) nor kubectl (1.27 or later) is on PATH \
                     to build k8s/overlays"
                        .to_owned(),
                ),
            ));
        };
    let validate = tools::find_or_install(repo, &tools::KUBERNETES_VALIDATE).await?;
    let built = repo.hms("manifests");
    std::fs::create_dir_all(&built)
        .with_context(|| format!("cannot create {}", repo.show(&built)))?;
    for overlay in ["dev", "prod"] {
        let source = repo.root().join("k8s/overlays").join(overlay);
        let output = Command::new(&kustomize)
            .args(build)
            .arg(&source)
            .output()
            .await
            .with_context(|| format!("cannot run {}", kustomize.display()))?;
        anyhow::ensure!(
            output.status.success(),
            "building k8s/overlays/{overlay} failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
        let manifest = built.join(format!("{overlay}.yaml"));
        std::fs::write(&manifest, &output.stdout)
            .with_context(|| format!("cannot write {}", repo.show(&manifest)))?;
        let mut command = Command::new(&validate);
        command
            .args(["--strict", "--quiet", "-k", KUBERNETES_VERSION])
            .arg(&manifest);
        process::run_streaming(
            &mut command,
            &format!(
                "kubernetes-validate --strict -k {KUBERNETES_VERSION} {}",
                repo.show(&manifest)
            ),
        )
        .await?;
    }
    Ok(((), None))
}

async fn proto_lint(repo: &Repo) -> Result<((), Option<String>)> {
    let buf = match tools::find_or_install_npm(repo, &tools::BUF).await {
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
