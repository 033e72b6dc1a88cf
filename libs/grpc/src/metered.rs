//! The server layer that counts calls by method and status code and times
//! them, as `grpc_server_handled_total{grpc_service, grpc_method,
//! grpc_code}` and `grpc_server_handling_seconds{grpc_service,
//! grpc_method}`: the names operators know from other gRPC servers.
//!
//! A call's code is in the response headers when it failed before sending
//! anything, otherwise in the trailers at the end of the body; the body is
//! watched for them, and a body dropped before its end (the caller went
//! away) counts as `Cancelled`.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use http_body::{Body, Frame, SizeHint};
use tower::{Layer, Service};

/// Counts and times calls to the APIs named in `served`; health checks and
/// reflection are left out, and a path outside `served` counts as
/// `unknown`, so a caller cannot invent label values.
#[derive(Clone)]
pub struct MeteredLayer {
    served: Arc<[&'static str]>,
}

impl MeteredLayer {
    pub fn new(served: &[&'static str]) -> Self {
        metrics::describe_counter!(
            "grpc_server_handled_total",
            "gRPC calls answered, by service, method and status code"
        );
        metrics::describe_histogram!(
            "grpc_server_handling_seconds",
            metrics::Unit::Seconds,
            "Time from a gRPC call's arrival to its status"
        );
        Self {
            served: served.into(),
        }
    }
}

impl<S> Layer<S> for MeteredLayer {
    type Service = Metered<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Metered {
            inner,
            served: self.served.clone(),
        }
    }
}

#[derive(Clone)]
pub struct Metered<S> {
    inner: S,
    served: Arc<[&'static str]>,
}

/// The labels of one call.
#[derive(Clone)]
struct Method {
    service: &'static str,
    method: String,
}

impl<S> Metered<S> {
    fn method(&self, path: &str) -> Option<Method> {
        let (service, method) = path.trim_start_matches('/').split_once('/')?;
        if service.starts_with("grpc.health.") || service.starts_with("grpc.reflection.") {
            return None;
        }
        let known = self.served.iter().find(|name| **name == service).copied();
        // A method name is an identifier; anything else is not one of ours.
        let plausible = !method.is_empty()
            && method.len() <= 64
            && method.bytes().all(|byte| byte.is_ascii_alphanumeric());
        Some(match known {
            Some(service) if plausible => Method {
                service,
                method: method.to_owned(),
            },
            _ => Method {
                service: "unknown",
                method: "unknown".to_owned(),
            },
        })
    }
}

impl<S, B> Service<http::Request<B>> for Metered<S>
where
    S: Service<http::Request<B>, Response = http::Response<tonic::body::Body>>
        + Clone
        + Send
        + 'static,
    S::Future: Send,
    B: Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let method = self.method(request.uri().path());
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move {
            let started = Instant::now();
            let response = inner.call(request).await?;
            let Some(method) = method else {
                return Ok(response);
            };
            if let Some(code) = grpc_status(response.headers()) {
                record(&method, code, started);
                return Ok(response);
            }
            Ok(response.map(|body| {
                tonic::body::Body::new(Watched {
                    body,
                    call: Some((method, started)),
                })
            }))
        })
    }
}

/// A response body that records its call when its trailers pass.
struct Watched {
    body: tonic::body::Body,
    /// Taken once the call is recorded.
    call: Option<(Method, Instant)>,
}

impl Watched {
    fn finish(&mut self, code: tonic::Code) {
        if let Some((method, started)) = self.call.take() {
            record(&method, code, started);
        }
    }
}

impl Body for Watched {
    type Data = <tonic::body::Body as Body>::Data;
    type Error = <tonic::body::Body as Body>::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.body).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(code) = frame.trailers_ref().and_then(grpc_status) {
                    this.finish(code);
                }
            }
            Poll::Ready(Some(Err(_))) => this.finish(tonic::Code::Internal),
            // Ended without trailers: not a well-formed gRPC answer.
            Poll::Ready(None) => this.finish(tonic::Code::Unknown),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

impl Drop for Watched {
    fn drop(&mut self) {
        self.finish(tonic::Code::Cancelled);
    }
}

fn grpc_status(headers: &http::HeaderMap) -> Option<tonic::Code> {
    headers
        .get("grpc-status")
        .map(|value| tonic::Code::from_bytes(value.as_bytes()))
}

/// The code as other gRPC servers' metrics spell it (Go's `Code.String`).
fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code::*;
    match code {
        Ok => "OK",
        Cancelled => "Canceled",
        Unknown => "Unknown",
        InvalidArgument => "InvalidArgument",
        DeadlineExceeded => "DeadlineExceeded",
        NotFound => "NotFound",
        AlreadyExists => "AlreadyExists",
        PermissionDenied => "PermissionDenied",
        ResourceExhausted => "ResourceExhausted",
        FailedPrecondition => "FailedPrecondition",
        Aborted => "Aborted",
        OutOfRange => "OutOfRange",
        Unimplemented => "Unimplemented",
        Internal => "Internal",
        Unavailable => "Unavailable",
        DataLoss => "DataLoss",
        Unauthenticated => "Unauthenticated",
    }
}

fn record(method: &Method, code: tonic::Code, started: Instant) {
    let elapsed = started.elapsed().as_secs_f64();
    metrics::counter!(
        "grpc_server_handled_total",
        "grpc_service" => method.service,
        "grpc_method" => method.method.clone(),
        "grpc_code" => code_name(code),
    )
    .increment(1);
    metrics::histogram!(
        "grpc_server_handling_seconds",
        "grpc_service" => method.service,
        "grpc_method" => method.method.clone(),
    )
    .record(elapsed);
}
