//! Project tasks: `cargo xtask up` runs the platform locally, `cargo xtask
//! test` runs what CI runs. Both start private PostgreSQL and NATS servers
//! under `.hms/` when none are reachable.

mod bench;
mod chaos;
mod k8s;
mod nats;
mod postgres;
mod prereqs;
mod process;
mod register;
mod repo;
mod secrets;
mod services;
mod test;
mod tools;
mod up;

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

use crate::repo::Repo;

#[derive(Debug, Parser)]
#[command(
    name = "cargo xtask",
    bin_name = "cargo xtask",
    about = "Development tasks for HMS-kort",
    after_help = "PostgreSQL and NATS come from HMS_DEV_DATABASE_URL and HMS_DEV_NATS_URL \
                  (defaults postgres://postgres@127.0.0.1:5432/postgres and nats://127.0.0.1:4222); \
                  when they do not answer, private servers are started under .hms/."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Task>,
}

#[derive(Debug, Subcommand)]
enum Task {
    /// Build and run every service locally until Ctrl-C.
    Up {
        /// Run the optimised build (slower to build, several times faster
        /// to run: what to measure or load-test against).
        #[arg(long)]
        release: bool,
    },
    /// Run what CI runs: rustfmt, clippy, buf lint, build, all tests.
    Test,
    /// Run the benchmarks against the real services and print their figures.
    Bench {
        /// Use the dev build instead of an optimised one (quicker to build,
        /// slower to run).
        #[arg(long)]
        dev: bool,
    },
    /// Stream approvals while killing services and restarting PostgreSQL
    /// and NATS (private servers under .hms/), then count what was lost.
    Chaos {
        /// Use the dev build instead of an optimised one.
        #[arg(long)]
        dev: bool,
        /// Orders approved during the run (default 2000).
        #[arg(long)]
        orders: Option<usize>,
    },
    /// Only make sure PostgreSQL and NATS are there, and say where.
    Prereqs,
    /// Stop the private PostgreSQL and NATS servers under .hms/.
    StopPrivate,
    /// Write k8s/base/network-policies.yaml from the layout.
    NetworkPolicies,
    /// Write docs/processing-register.md from docs/processing-register.json.
    ProcessingRegister,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let Some(task) = cli.command else {
        // No task: the usage, as `cargo xtask help` prints it.
        return match Cli::command().print_help() {
            Ok(()) => ExitCode::SUCCESS,
            Err(_) => ExitCode::FAILURE,
        };
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let repo = Repo::locate();
    match runtime.block_on(run(task, &repo)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(task: Task, repo: &Repo) -> anyhow::Result<()> {
    match task {
        Task::Up { release } => up::run(repo, release).await,
        Task::Test => test::run(repo).await,
        Task::Bench { dev } => bench::run(repo, dev).await,
        Task::Chaos { dev, orders } => chaos::run(repo, dev, orders).await,
        Task::Prereqs => {
            let found = prereqs::ensure(repo).await?;
            let test_database_url = postgres::with_database(&found.database_url, "postgres")?;
            println!("To run tests by hand:");
            println!(
                "  export HMS_TEST_DATABASE_URL={} HMS_TEST_NATS_URL={}",
                postgres::redact(&test_database_url),
                found.nats_url
            );
            Ok(())
        }
        Task::StopPrivate => {
            println!("PostgreSQL: {}", postgres::stop_private(repo)?);
            println!("NATS: {}", nats::stop_private(repo).await?);
            Ok(())
        }
        Task::NetworkPolicies => k8s::write(repo),
        Task::ProcessingRegister => register::write(repo),
    }
}
