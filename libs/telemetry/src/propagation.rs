//! W3C trace context (`traceparent`, `tracestate`) in and out of gRPC
//! metadata, HTTP headers, NATS headers and stored events.

use std::collections::BTreeMap;

use opentelemetry::Context;
use opentelemetry::propagation::{Extractor, Injector};
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// Trace context as plain key/value pairs, for storing with an outbox event
/// until it is published.
pub type TraceContext = BTreeMap<String, String>;

/// The context of the current span, ready to store.
pub fn current_trace_context() -> TraceContext {
    let context = tracing::Span::current().context();
    let mut carrier = TraceContext::new();
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.inject_context(&context, &mut MapInjector(&mut carrier));
    });
    carrier
}

/// Adds the current span's context to an outgoing request's headers (gRPC
/// metadata travels as HTTP headers).
pub fn inject_into_http(headers: &mut http::HeaderMap) {
    let context = tracing::Span::current().context();
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.inject_context(&context, &mut HttpInjector(headers));
    });
}

/// The caller's context from incoming HTTP headers (gRPC servers see these
/// before tonic turns them into metadata).
pub fn extract_from_http(headers: &http::HeaderMap) -> Context {
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.extract(&HttpExtractor(headers))
    })
}

/// Makes `span` continue the trace the caller's headers carry, if any.
pub fn continue_from_http(span: &tracing::Span, headers: &http::HeaderMap) {
    let _ = span.set_parent(extract_from_http(headers));
}

/// Makes `span` continue a trace stored with queued work, if any.
pub fn continue_from_stored(span: &tracing::Span, context: &TraceContext) {
    let parent = opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.extract(&MapExtractor(context))
    });
    let _ = span.set_parent(parent);
}

/// Writes stored trace context into the headers of a NATS message.
pub fn inject_into_nats(context: &TraceContext, headers: &mut async_nats::HeaderMap) {
    for (key, value) in context {
        headers.insert(key.as_str(), value.as_str());
    }
}

/// The publisher's context from a NATS message.
pub fn extract_from_nats(headers: Option<&async_nats::HeaderMap>) -> Context {
    let Some(headers) = headers else {
        return Context::new();
    };
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.extract(&NatsExtractor(headers))
    })
}

/// Links `span` to the trace a NATS message carries: a span that handles
/// many messages at once continues one of their traces and links the rest.
pub fn link_to_nats(span: &tracing::Span, headers: Option<&async_nats::HeaderMap>) {
    use opentelemetry::trace::TraceContextExt;
    let context = extract_from_nats(headers);
    let linked = context.span().span_context().clone();
    if linked.is_valid() {
        span.add_link(linked);
    }
}

struct MapInjector<'a>(&'a mut TraceContext);

impl Injector for MapInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        self.0.insert(key.to_owned(), value);
    }
}

struct MapExtractor<'a>(&'a TraceContext);

impl Extractor for MapExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(String::as_str).collect()
    }
}

struct HttpInjector<'a>(&'a mut http::HeaderMap);

impl Injector for HttpInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        let name = http::HeaderName::from_bytes(key.as_bytes());
        let value = http::HeaderValue::from_str(&value);
        if let (Ok(name), Ok(value)) = (name, value) {
            self.0.insert(name, value);
        }
    }
}

struct HttpExtractor<'a>(&'a http::HeaderMap);

impl Extractor for HttpExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

struct NatsExtractor<'a>(&'a async_nats::HeaderMap);

impl Extractor for NatsExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(async_nats::HeaderValue::as_str)
    }

    fn keys(&self) -> Vec<&str> {
        self.0.iter().map(|(name, _)| name.as_ref()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{
        SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState,
    };
    use opentelemetry_sdk::propagation::TraceContextPropagator;

    fn remote_context() -> Context {
        Context::new().with_remote_span_context(SpanContext::new(
            TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").expect("trace id"),
            SpanId::from_hex("00f067aa0ba902b7").expect("span id"),
            TraceFlags::SAMPLED,
            true,
            TraceState::default(),
        ))
    }

    #[test]
    fn context_survives_grpc_and_nats_round_trips() {
        opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
        let mut stored = TraceContext::new();
        opentelemetry::global::get_text_map_propagator(|propagator| {
            propagator.inject_context(&remote_context(), &mut MapInjector(&mut stored));
        });
        assert_eq!(
            stored.get("traceparent").map(String::as_str),
            Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
        );

        let mut headers = async_nats::HeaderMap::new();
        inject_into_nats(&stored, &mut headers);
        let from_nats = extract_from_nats(Some(&headers));
        assert_eq!(
            from_nats.span().span_context().trace_id(),
            TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").expect("trace id")
        );

        let mut headers = http::HeaderMap::new();
        opentelemetry::global::get_text_map_propagator(|propagator| {
            propagator.inject_context(&from_nats, &mut HttpInjector(&mut headers));
        });
        let from_grpc = extract_from_http(&headers);
        assert_eq!(
            from_grpc.span().span_context().span_id(),
            SpanId::from_hex("00f067aa0ba902b7").expect("span id")
        );
        assert!(!extract_from_nats(None).span().span_context().is_valid());
    }
}
