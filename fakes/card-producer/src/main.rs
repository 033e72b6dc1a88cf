//! `card-producer-fake`: a stand-in for the card producer's print-job API.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use card_producer_fake::{Settings, router};
use clap::Parser;
use tokio::net::TcpListener;

/// A stand-in for the card producer's print-job API, for development and
/// tests: it accepts print jobs, records each once, and prints nothing.
#[derive(Debug, Parser)]
#[command(name = "card-producer-fake", version)]
struct Cli {
    /// Address to listen on; port 0 lets the OS choose.
    #[arg(
        long,
        env = "CARD_PRODUCER_FAKE_LISTEN",
        default_value = "127.0.0.1:8093"
    )]
    listen: SocketAddr,
    /// Once listening, write the bound `ip:port` here.
    #[arg(long, env = "CARD_PRODUCER_FAKE_ADDR_FILE")]
    addr_file: Option<PathBuf>,
    /// Demand this bearer API key.
    #[arg(long, env = "CARD_PRODUCER_FAKE_API_KEY")]
    api_key: Option<String>,
    /// Append every accepted job (without its images) to this file, one
    /// JSON object a line.
    #[arg(long, env = "CARD_PRODUCER_FAKE_RECORD")]
    record: Option<PathBuf>,
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
    let settings = Settings {
        api_key: cli.api_key,
        record: cli.record,
    };

    let listener = TcpListener::bind(cli.listen)
        .await
        .with_context(|| format!("binding {}", cli.listen))?;
    let addr = listener.local_addr().context("reading the bound address")?;
    if let Some(path) = &cli.addr_file {
        hms_runtime::write_addr_file(path, addr)
            .with_context(|| format!("writing the address file {}", path.display()))?;
    }
    tracing::info!(%addr, "card-producer-fake listening");

    axum::serve(listener, router(settings))
        .with_graceful_shutdown(hms_runtime::shutdown_signal().cancelled_owned())
        .await
        .context("serving HTTP")?;
    tracing::info!("card-producer-fake stopped");
    Ok(())
}
