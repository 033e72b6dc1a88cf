//! `brreg-fake`: serves recorded Enhetsregisteret responses over HTTP.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use brreg_fake::{Dataset, router};
use clap::Parser;
use tokio::net::TcpListener;

/// A stand-in for the open Enhetsregisteret API (data.brreg.no) with recorded
/// companies, for development and tests.
#[derive(Debug, Parser)]
#[command(name = "brreg-fake", version)]
struct Cli {
    /// Address to listen on; port 0 lets the OS choose.
    #[arg(long, env = "BRREG_FAKE_LISTEN", default_value = "127.0.0.1:8091")]
    listen: SocketAddr,
    /// Once listening, write the bound `ip:port` here (via `<path>.partial`
    /// and a rename, so readers never see half a file).
    #[arg(long, env = "BRREG_FAKE_ADDR_FILE")]
    addr_file: Option<PathBuf>,
    /// Serve this directory (`enheter/<orgnr>.json`, `roller/<orgnr>.json`)
    /// instead of the recorded files built into the binary.
    #[arg(long, env = "BRREG_FAKE_DATA")]
    data: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let cli = Cli::parse();

    let dataset = match &cli.data {
        Some(dir) => Dataset::from_dir(dir)
            .with_context(|| format!("loading register data from {}", dir.display()))?,
        None => Dataset::embedded().context("loading the embedded register data")?,
    };
    let units = dataset.org_numbers().count();

    let listener = TcpListener::bind(cli.listen)
        .await
        .with_context(|| format!("binding {}", cli.listen))?;
    let addr = listener.local_addr().context("reading the bound address")?;
    if let Some(path) = &cli.addr_file {
        hms_runtime::write_addr_file(path, addr)
            .with_context(|| format!("writing the address file {}", path.display()))?;
    }
    tracing::info!(%addr, units, "brreg-fake listening");

    axum::serve(listener, router(dataset))
        .with_graceful_shutdown(hms_runtime::shutdown_signal().cancelled_owned())
        .await
        .context("serving HTTP")?;
    tracing::info!("brreg-fake stopped");
    Ok(())
}
