//! Channels to other services whose calls carry the current trace context and
//! this service's identity.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use hms_auth::TokenSource;
use hms_layout::ServiceName;
use tonic::transport::{Channel, Endpoint};
use tower::Service;

#[derive(Debug, thiserror::Error)]
#[error("invalid URL for the {service} service: {url}")]
pub struct ChannelError {
    service: ServiceName,
    url: String,
}

/// A lazily connecting channel to `service` at `url`: the service may start
/// after us, and reconnects are handled by the channel.
pub fn connect(
    url: &str,
    service: ServiceName,
    tokens: Arc<dyn TokenSource>,
) -> Result<ServiceChannel, ChannelError> {
    connect_with_deadline(url, service, tokens, Some(Duration::from_secs(30)))
}

/// [`connect`] with another limit on each call, or none: a client-streamed
/// upload from a slow phone may rightly take minutes, and its caller bounds
/// it instead.
pub fn connect_with_deadline(
    url: &str,
    service: ServiceName,
    tokens: Arc<dyn TokenSource>,
    deadline: Option<Duration>,
) -> Result<ServiceChannel, ChannelError> {
    let endpoint = Endpoint::from_shared(url.to_owned())
        .map_err(|_| ChannelError {
            service,
            url: url.to_owned(),
        })?
        .connect_timeout(Duration::from_secs(5))
        .tcp_keepalive(Some(Duration::from_secs(30)));
    let endpoint = match deadline {
        Some(deadline) => endpoint.timeout(deadline),
        None => endpoint,
    };
    Ok(ServiceChannel {
        inner: endpoint.connect_lazy(),
        audience: service.as_str(),
        tokens,
    })
}

/// What generated clients are built on: a channel whose calls carry the
/// trace context and a token that identifies this service to the callee,
/// or the person's token the caller put on the request.
#[derive(Clone)]
pub struct ServiceChannel {
    inner: Channel,
    audience: &'static str,
    tokens: Arc<dyn TokenSource>,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl Service<http::Request<tonic::body::Body>> for ServiceChannel {
    type Response = http::Response<tonic::body::Body>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, mut request: http::Request<tonic::body::Body>) -> Self::Future {
        // Injected here, synchronously, while the caller's span is current.
        hms_telemetry::inject_into_http(request.headers_mut());
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        // A person's token the caller already put on the request (the
        // gateway forwarding it) goes through: the callee decides for them.
        if request.headers().contains_key("authorization") {
            return Box::pin(async move { inner.call(request).await.map_err(Into::into) });
        }
        let tokens = self.tokens.clone();
        let audience = self.audience;
        Box::pin(async move {
            // A tonic::Status as the error reaches the caller unchanged.
            let token = tokens
                .token(audience)
                .await
                .map_err(|error| Box::new(error.to_status()) as BoxError)?;
            let value = format!("Bearer {token}").parse().map_err(|_| {
                Box::new(tonic::Status::internal("unusable service token")) as BoxError
            })?;
            request.headers_mut().insert("authorization", value);
            inner.call(request).await.map_err(Into::into)
        })
    }
}
