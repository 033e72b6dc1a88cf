//! Channels to other services whose calls carry the current trace context and
//! this service's identity.

use std::time::Duration;

use hms_auth::ServiceTokens;
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};

/// A channel wrapped with [`Outgoing`]; what generated clients are built on.
pub type ServiceChannel = InterceptedService<Channel, Outgoing>;

#[derive(Debug, thiserror::Error)]
#[error("invalid URL for the {service} service: {url}")]
pub struct ChannelError {
    service: &'static str,
    url: String,
}

/// A lazily connecting channel to `service` at `url`: the service may start
/// after us, and reconnects are handled by the channel.
pub fn connect(
    url: &str,
    service: &'static str,
    tokens: &ServiceTokens,
) -> Result<ServiceChannel, ChannelError> {
    let endpoint = Endpoint::from_shared(url.to_owned())
        .map_err(|_| ChannelError {
            service,
            url: url.to_owned(),
        })?
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(30))
        .tcp_keepalive(Some(Duration::from_secs(30)));
    Ok(InterceptedService::new(
        endpoint.connect_lazy(),
        Outgoing {
            tokens: tokens.clone(),
            audience: service,
        },
    ))
}

/// Adds the trace context and a service token for the callee.
#[derive(Clone)]
pub struct Outgoing {
    tokens: ServiceTokens,
    audience: &'static str,
}

impl Interceptor for Outgoing {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        hms_telemetry::inject_into_grpc(request.metadata_mut());
        let token = self
            .tokens
            .issue(self.audience)
            .map_err(|_| tonic::Status::internal("could not sign a service token"))?;
        let value = format!("Bearer {token}")
            .parse()
            .map_err(|_| tonic::Status::internal("could not sign a service token"))?;
        request.metadata_mut().insert("authorization", value);
        Ok(request)
    }
}
