//! `registers-fake`: a stand-in for Folkeregisteret and Aa-registeret.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use registers_fake::{Settings, router};
use tokio::net::TcpListener;

/// A stand-in for the person lookup of Folkeregisteret and the employment
/// lookup of Aa-registeret, for development and tests.
#[derive(Debug, Parser)]
#[command(name = "registers-fake", version)]
struct Cli {
    /// Address to listen on; port 0 lets the OS choose.
    #[arg(long, env = "REGISTERS_FAKE_LISTEN", default_value = "127.0.0.1:8095")]
    listen: SocketAddr,
    /// Once listening, write the bound `ip:port` here.
    #[arg(long, env = "REGISTERS_FAKE_ADDR_FILE")]
    addr_file: Option<PathBuf>,
    /// Demand this bearer token (a Maskinporten token in reality).
    #[arg(long, env = "REGISTERS_FAKE_TOKEN")]
    token: Option<String>,
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
    let listener = TcpListener::bind(cli.listen)
        .await
        .with_context(|| format!("binding {}", cli.listen))?;
    let addr = listener.local_addr().context("reading the bound address")?;
    if let Some(path) = &cli.addr_file {
        hms_runtime::write_addr_file(path, addr)
            .with_context(|| format!("writing the address file {}", path.display()))?;
    }
    tracing::info!(%addr, "registers-fake listening");
    axum::serve(listener, router(Settings { token: cli.token }))
        .with_graceful_shutdown(hms_runtime::shutdown_signal().cancelled_owned())
        .await
        .context("serving HTTP")?;
    tracing::info!("registers-fake stopped");
    Ok(())
}
