//! `cargo xtask bench`: the benchmarks, which print figures. Nothing here
//! passes or fails on a number; the figures go into issue notes and
//! docs/performance.md.

use anyhow::Result;

use crate::repo::Repo;
use crate::test::cargo;
use crate::{postgres, prereqs, services, tools};

/// The benchmarks, each a `harness = false` bench target of `tests/`.
const BENCHES: [&str; 5] = ["authz", "gateway", "notifications", "cards", "pipeline"];

pub async fn run(repo: &Repo, dev: bool) -> Result<()> {
    let prereqs = prereqs::ensure(repo).await?;
    // The services run as the same build the benchmark is: optimised,
    // unless a quick look with the dev build will do.
    let mut build_args = services::build_args();
    let mut bench_args = vec!["bench".to_owned(), "-p".to_owned(), "hms-e2e".to_owned()];
    if dev {
        bench_args.extend(["--profile".to_owned(), "dev".to_owned()]);
    } else {
        build_args.push("--release".to_owned());
    }
    let build_args: Vec<&str> = build_args.iter().map(String::as_str).collect();
    cargo(repo, &build_args, &[]).await?;

    // Notifications sends its email to the SMTP server the tests use.
    let aiosmtpd = tools::find_or_install(repo, &tools::AIOSMTPD).await?;
    let aiosmtpd = aiosmtpd.display().to_string();
    let test_database_url = postgres::with_database(&prereqs.database_url, "postgres")?;
    let env = [
        ("HMS_TEST_DATABASE_URL", test_database_url.as_str()),
        ("HMS_TEST_NATS_URL", prereqs.nats_url.as_str()),
        ("HMS_TEST_AIOSMTPD", aiosmtpd.as_str()),
    ];
    for bench in BENCHES {
        let mut args: Vec<&str> = bench_args.iter().map(String::as_str).collect();
        args.extend(["--bench", bench]);
        cargo(repo, &args, &env).await?;
    }
    Ok(())
}
