//! Logs and traces, set up the same way in every binary, and the one place
//! where W3C trace context crosses process boundaries: gRPC metadata, NATS
//! headers and the outbox.
//!
//! Spans always carry OpenTelemetry context, so a trace passes through a
//! service even when that service exports nothing; spans are exported over
//! OTLP/gRPC only when `HMS_OTLP_ENDPOINT` is set.

mod propagation;

use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use serde::Deserialize;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

pub use propagation::{
    TraceContext, continue_from_http, continue_from_stored, current_trace_context,
    extract_from_http, extract_from_nats, inject_into_http, inject_into_nats, link_to_nats,
};

/// How a binary logs and traces (`HMS_LOG_FORMAT`, `HMS_LOG_FILTER`,
/// `HMS_OTLP_ENDPOINT`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct TelemetryConfig {
    pub log_format: LogFormat,
    /// `tracing` filter directives, like `RUST_LOG`.
    pub log_filter: String,
    /// OTLP/gRPC collector, for example `http://otel-collector:4317`.
    pub otlp_endpoint: Option<String>,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        Self {
            log_format: LogFormat::Text,
            log_filter: "info,h2=warn,hyper=warn,tower=warn,sqlx=warn,async_nats=warn".to_owned(),
            otlp_endpoint: None,
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("invalid log filter: {0}")]
    Filter(String),
    #[error("could not build the OTLP exporter: {0}")]
    Exporter(String),
    #[error("a global tracing subscriber is already installed")]
    AlreadyInstalled,
}

/// Flushes and stops trace export when dropped; keep it alive in `main`.
#[must_use = "traces stop being exported when the guard is dropped"]
pub struct TelemetryGuard {
    provider: SdkTracerProvider,
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Err(error) = self.provider.shutdown_with_timeout(Duration::from_secs(5)) {
            eprintln!("trace export did not shut down cleanly: {error}");
        }
    }
}

/// Installs the global subscriber and propagator. Call once, inside the
/// Tokio runtime (the OTLP exporter needs it).
pub fn init(
    service_name: &'static str,
    config: &TelemetryConfig,
) -> Result<TelemetryGuard, TelemetryError> {
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());

    let resource = Resource::builder().with_service_name(service_name).build();
    let mut provider = SdkTracerProvider::builder().with_resource(resource);
    if let Some(endpoint) = config.otlp_endpoint.as_deref().filter(|e| !e.is_empty()) {
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(endpoint)
            .with_timeout(Duration::from_secs(5))
            .build()
            .map_err(|error| TelemetryError::Exporter(error.to_string()))?;
        provider = provider.with_batch_exporter(exporter);
    }
    let provider = provider.build();
    let tracer = provider.tracer(service_name);
    opentelemetry::global::set_tracer_provider(provider.clone());

    let filter = EnvFilter::try_new(&config.log_filter)
        .map_err(|error| TelemetryError::Filter(error.to_string()))?;
    let otel = tracing_opentelemetry::layer().with_tracer(tracer);
    let registry = tracing_subscriber::registry().with(filter).with(otel);
    let installed = match config.log_format {
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(true)
                    .with_span_list(false),
            )
            .try_init(),
        LogFormat::Text => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_target(true)
                    // Colours for a person at a terminal; a log file or a
                    // log collector gets plain text it can search.
                    .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout())),
            )
            .try_init(),
    };
    installed.map_err(|_| TelemetryError::AlreadyInstalled)?;
    Ok(TelemetryGuard { provider })
}
