//! Where a verifier gets identity's public keys.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use hms_proto::identity::v1::GetJwksRequest;
use hms_proto::identity::v1::identity_service_client::IdentityServiceClient;
use jsonwebtoken::jwk::JwkSet;
use tonic::transport::{Channel, Endpoint};

use crate::AuthError;

pub type KeysFuture<'a> = Pin<Box<dyn Future<Output = Result<JwkSet, AuthError>> + Send + 'a>>;

/// The current JSON Web Key Set of the token issuer.
pub trait KeySource: Send + Sync {
    fn fetch(&self) -> KeysFuture<'_>;
}

/// Identity's keys, asked for over gRPC (`GetJwks` needs no credentials).
#[derive(Clone)]
pub struct IdentityKeys {
    client: IdentityServiceClient<Channel>,
}

impl IdentityKeys {
    pub fn new(identity_url: &str) -> Result<Self, AuthError> {
        Ok(Self {
            client: IdentityServiceClient::new(plain_channel(identity_url)?),
        })
    }
}

impl KeySource for IdentityKeys {
    fn fetch(&self) -> KeysFuture<'_> {
        let mut client = self.client.clone();
        Box::pin(async move {
            let response = client.get_jwks(GetJwksRequest {}).await.map_err(|status| {
                tracing::warn!(code = ?status.code(), "cannot fetch identity's keys");
                AuthError::IdentityUnavailable
            })?;
            serde_json::from_str(&response.into_inner().jwks_json).map_err(|error| {
                tracing::error!(%error, "identity returned a malformed key set");
                AuthError::IdentityUnavailable
            })
        })
    }
}

/// A channel to identity that carries no credentials: the calls it is used
/// for (keys, service tokens) are how credentials are obtained.
pub(crate) fn plain_channel(identity_url: &str) -> Result<Channel, AuthError> {
    Ok(Endpoint::from_shared(identity_url.to_owned())
        .map_err(|_| AuthError::InvalidUrl(identity_url.to_owned()))?
        .connect_timeout(Duration::from_secs(3))
        .timeout(Duration::from_secs(5))
        .connect_lazy())
}
