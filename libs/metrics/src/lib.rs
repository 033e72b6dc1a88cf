//! Prometheus metrics. Every crate records through the `metrics` facade
//! (`metrics::counter!` and friends); a service installs one recorder at
//! start-up and serves what it holds at `GET /metrics` on a port of its
//! own (`HMS_METRICS_ADDR`), apart from the gRPC port, so that scraping
//! needs no token and the API port is never opened to the monitoring
//! system.
//!
//! Labels name methods, consumers, kinds and outcomes, never a person,
//! company, order or anything a caller chose: every label value comes from
//! a fixed set.

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use serde::Deserialize;
use tokio_util::sync::CancellationToken;

/// `HMS_METRICS_ADDR`.
#[derive(Debug, Clone, Deserialize)]
pub struct MetricsConfig {
    /// Where `GET /metrics` answers; port 0 picks a free port.
    pub metrics_addr: SocketAddr,
}

#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    #[error("cannot listen for metrics on {0}: {1}")]
    Bind(SocketAddr, std::io::Error),
    #[error("cannot install the metrics recorder: {0}")]
    Recorder(String),
}

/// Latency buckets (seconds), from a cached lookup to a slow backlog.
const SECONDS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];
/// Size buckets (bytes), from a signature to the largest upload.
const BYTES: &[f64] = &[
    1_024.0,
    16_384.0,
    65_536.0,
    262_144.0,
    1_048_576.0,
    4_194_304.0,
    10_485_760.0,
    26_214_400.0,
];
/// Batch buckets (events), from one alone to the largest batch.
const BATCH: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0];
/// How often histograms are compacted between scrapes.
const UPKEEP: Duration = Duration::from_secs(5);

static RECORDER: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the process's recorder (once; later calls get the same one).
/// Every series carries `service`. Histograms whose names end in
/// `_seconds`, `_bytes` or `_batch_size` get buckets, so quantiles can be
/// computed across replicas.
pub fn install(service: &str) -> Result<PrometheusHandle, MetricsError> {
    if let Some(handle) = RECORDER.get() {
        return Ok(handle.clone());
    }
    let recorder = PrometheusBuilder::new()
        .add_global_label("service", service)
        .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), SECONDS)
        .and_then(|builder| {
            builder.set_buckets_for_metric(Matcher::Suffix("_bytes".to_owned()), BYTES)
        })
        .and_then(|builder| {
            builder.set_buckets_for_metric(Matcher::Suffix("_batch_size".to_owned()), BATCH)
        })
        .map_err(|error| MetricsError::Recorder(error.to_string()))?
        .build_recorder();
    let handle = recorder.handle();
    // Another thread may have won the race; its recorder is the one in use.
    if metrics::set_global_recorder(recorder).is_err() {
        return RECORDER
            .get()
            .cloned()
            .ok_or_else(|| MetricsError::Recorder("another recorder is installed".to_owned()));
    }
    Ok(RECORDER.get_or_init(|| handle).clone())
}

/// The metrics port, bound but not yet answering.
pub struct MetricsEndpoint {
    listener: tokio::net::TcpListener,
    local_addr: SocketAddr,
    handle: PrometheusHandle,
}

impl MetricsEndpoint {
    /// Installs the recorder and binds `HMS_METRICS_ADDR`.
    pub async fn bind(config: &MetricsConfig, service: &str) -> Result<Self, MetricsError> {
        let handle = install(service)?;
        let listener = tokio::net::TcpListener::bind(config.metrics_addr)
            .await
            .map_err(|error| MetricsError::Bind(config.metrics_addr, error))?;
        let local_addr = listener
            .local_addr()
            .map_err(|error| MetricsError::Bind(config.metrics_addr, error))?;
        Ok(Self {
            listener,
            local_addr,
            handle,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Answers `GET /metrics` until `shutdown` is cancelled. A failure here
    /// is logged, not fatal: a service that cannot be watched still works.
    pub async fn serve(self, shutdown: CancellationToken) {
        let upkeep = {
            let handle = self.handle.clone();
            let shutdown = shutdown.clone();
            async move {
                let mut ticks = tokio::time::interval(UPKEEP);
                loop {
                    tokio::select! {
                        () = shutdown.cancelled() => return,
                        _ = ticks.tick() => handle.run_upkeep(),
                    }
                }
            }
        };
        let app = Router::new()
            .route("/metrics", get(render))
            .with_state(self.handle);
        tracing::info!(addr = %self.local_addr, "metrics listening");
        let served = axum::serve(self.listener, app)
            .with_graceful_shutdown(shutdown.cancelled_owned())
            .into_future();
        let (served, ()) = tokio::join!(served, upkeep);
        if let Err(error) = served {
            tracing::warn!(%error, "the metrics endpoint stopped");
        }
    }
}

async fn render(State(handle): State<PrometheusHandle>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        handle.render(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn recorded_series_are_served_with_the_service_label_and_buckets() {
        let config = MetricsConfig {
            metrics_addr: "127.0.0.1:0".parse().expect("an address"),
        };
        let endpoint = MetricsEndpoint::bind(&config, "example")
            .await
            .expect("bind the metrics port");
        let addr = endpoint.local_addr();
        let shutdown = CancellationToken::new();
        let served = tokio::spawn(endpoint.serve(shutdown.clone()));

        metrics::counter!("example_things_total", "outcome" => "done").increment(3);
        metrics::histogram!("example_wait_seconds").record(0.02);
        let text = scrape(addr).await;

        assert!(
            text.contains(r#"example_things_total{service="example",outcome="done"} 3"#),
            "{text}"
        );
        assert!(
            text.contains(r#"example_wait_seconds_bucket{service="example",le="0.025"} 1"#),
            "{text}"
        );
        // A second install is the same recorder, not an error.
        assert!(install("example").is_ok());
        shutdown.cancel();
        served.await.expect("the endpoint stops on shutdown");
    }

    /// A bare HTTP/1.0 GET, so the test needs no HTTP client.
    async fn scrape(addr: SocketAddr) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect(addr)
            .await
            .expect("connect to the metrics port");
        stream
            .write_all(b"GET /metrics HTTP/1.0\r\nHost: test\r\n\r\n")
            .await
            .expect("send the request");
        let mut response = String::new();
        stream
            .read_to_string(&mut response)
            .await
            .expect("read the response");
        assert!(response.starts_with("HTTP/1.0 200"), "{response}");
        response
    }
}
