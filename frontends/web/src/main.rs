//! `hms-web`: the web front end over the gateway's public API.

use anyhow::Context;
use tokio::net::TcpListener;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let (settings, telemetry) = hms_web::config::load().context("reading the settings")?;
    let _telemetry = hms_telemetry::init("hms-web", &telemetry).context("starting telemetry")?;
    let router = hms_web::router(&settings)?;
    let listener = TcpListener::bind(settings.addr)
        .await
        .with_context(|| format!("binding {}", settings.addr))?;
    let addr = listener.local_addr().context("reading the bound address")?;
    if let Some(path) = &settings.addr_file {
        hms_runtime::write_addr_file(path, addr)
            .with_context(|| format!("writing the address file {}", path.display()))?;
    }
    tracing::info!(%addr, api = %settings.api, "web front end listening");
    axum::serve(listener, router)
        .with_graceful_shutdown(hms_runtime::shutdown_signal().cancelled_owned())
        .await
        .context("serving HTTP")?;
    tracing::info!("web front end stopped");
    Ok(())
}
