//! `sms-fake`: a stand-in for LINK Mobility's SMS API over HTTP.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use sms_fake::{Settings, router};
use tokio::net::TcpListener;

/// A stand-in for LINK Mobility's SMS REST API, for development and tests:
/// it accepts messages, records them, and sends nothing.
#[derive(Debug, Parser)]
#[command(name = "sms-fake", version)]
struct Cli {
    /// Address to listen on; port 0 lets the OS choose.
    #[arg(long, env = "SMS_FAKE_LISTEN", default_value = "127.0.0.1:8092")]
    listen: SocketAddr,
    /// Once listening, write the bound `ip:port` here.
    #[arg(long, env = "SMS_FAKE_ADDR_FILE")]
    addr_file: Option<PathBuf>,
    /// Demand these basic-authentication credentials (with `--password`).
    #[arg(long, env = "SMS_FAKE_USERNAME", requires = "password")]
    username: Option<String>,
    #[arg(long, env = "SMS_FAKE_PASSWORD", requires = "username")]
    password: Option<String>,
    /// Append every accepted message to this file, one JSON object a line.
    #[arg(long, env = "SMS_FAKE_RECORD")]
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
        credentials: cli.username.zip(cli.password),
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
    tracing::info!(%addr, "sms-fake listening");

    axum::serve(listener, router(settings))
        .with_graceful_shutdown(hms_runtime::shutdown_signal().cancelled_owned())
        .await
        .context("serving HTTP")?;
    tracing::info!("sms-fake stopped");
    Ok(())
}
