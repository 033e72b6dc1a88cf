//! `cargo xtask chaos`: approvals streaming in while services are killed
//! and PostgreSQL and NATS restarted, then a count of what was lost. The
//! run (the `chaos` bench target of `tests/`) starts and kills the
//! services itself; PostgreSQL and NATS are the private servers this task
//! starts under `.hms/`, which it restarts when the run asks (`CHAOS
//! restart <postgres|nats>` on the run's stdout, `done` on its stdin).

use std::process::Stdio;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;

use crate::repo::Repo;
use crate::test::cargo;
use crate::{nats, postgres, process, services, tools};

pub async fn run(repo: &Repo, dev: bool, orders: Option<usize>) -> Result<()> {
    // Servers this task may restart; never the shared ones.
    if let postgres::Private::NoBinaries = postgres::ensure_private(repo).await? {
        bail!(
            "chaos restarts PostgreSQL, so it needs a private server of its own, and no \
             PostgreSQL installation was found to run one (install the `postgresql` package)"
        );
    }
    if let nats::Private::NoBinary = nats::ensure_private(repo).await? {
        bail!(
            "chaos restarts NATS, so it needs a private server of its own, and no nats-server \
             was found to run one (install the `nats-server` package)"
        );
    }

    let mut build_args = services::build_args();
    let mut run_args = vec!["bench", "-p", "hms-e2e", "--bench", "chaos"];
    if dev {
        run_args.extend(["--profile", "dev"]);
    } else {
        build_args.push("--release".to_owned());
    }
    let build_args: Vec<&str> = build_args.iter().map(String::as_str).collect();
    cargo(repo, &build_args, &[]).await?;
    let aiosmtpd = tools::find_or_install(repo, &tools::AIOSMTPD).await?;

    let mut command = Command::new(process::cargo());
    command
        .args(&run_args)
        .current_dir(repo.root())
        .env("HMS_TEST_DATABASE_URL", postgres::private_url())
        .env("HMS_TEST_NATS_URL", nats::private_url())
        .env("HMS_TEST_AIOSMTPD", &aiosmtpd)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true);
    if let Some(orders) = orders {
        command.env("HMS_CHAOS_ORDERS", orders.to_string());
    }
    println!("$ cargo {}", run_args.join(" "));
    let mut child = command.spawn().context("cannot start the chaos run")?;
    let mut stdin = child.stdin.take().context("the run's stdin")?;
    let stdout = child.stdout.take().context("the run's stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    while let Some(line) = lines.next_line().await? {
        let Some(request) = line.strip_prefix("CHAOS ") else {
            println!("{line}");
            continue;
        };
        let began = Instant::now();
        match request {
            "restart postgres" => {
                postgres::stop_private(repo)?;
                postgres::ensure_private(repo).await?;
            }
            "restart nats" => {
                nats::stop_private(repo).await?;
                nats::ensure_private(repo).await?;
            }
            other => bail!("the chaos run asked for something unknown: {other}"),
        }
        println!(
            "  ({request}: {})",
            process::format_duration(began.elapsed())
        );
        stdin.write_all(b"done\n").await?;
        stdin.flush().await?;
    }
    let status = child.wait().await?;
    if !status.success() {
        bail!("the chaos run found losses or failed ({status})");
    }
    Ok(())
}
