//! This service's tokens for calling other services.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use hms_proto::identity::v1::IssueServiceTokenRequest;
use hms_proto::identity::v1::identity_service_client::IdentityServiceClient;
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Mutex;
use tonic::transport::Channel;

use crate::AuthError;
use crate::keys::plain_channel;

/// A token is renewed when it has less than this left.
const RENEW_BEFORE_EXPIRY: Duration = Duration::seconds(60);

pub type TokenFuture<'a> = Pin<Box<dyn Future<Output = Result<String, AuthError>> + Send + 'a>>;

/// Gives a bearer token that identifies this service to `audience`.
pub trait TokenSource: Send + Sync {
    fn token<'a>(&'a self, audience: &'a str) -> TokenFuture<'a>;
}

/// A token and when it expires, per callee.
type CachedToken = (String, DateTime<Utc>);

/// Service tokens from identity (client credentials), cached per callee
/// until shortly before they expire.
#[derive(Clone)]
pub struct ServiceCredentials {
    service: String,
    secret: SecretString,
    client: IdentityServiceClient<Channel>,
    cache: Arc<Mutex<HashMap<String, CachedToken>>>,
}

impl std::fmt::Debug for ServiceCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceCredentials")
            .field("service", &self.service)
            .finish_non_exhaustive()
    }
}

impl ServiceCredentials {
    pub fn new(service: &str, identity_url: &str, secret: SecretString) -> Result<Self, AuthError> {
        Ok(Self {
            service: service.to_owned(),
            secret,
            client: IdentityServiceClient::new(plain_channel(identity_url)?),
            cache: Arc::new(Mutex::new(HashMap::new())),
        })
    }

    async fn fetch(&self, audience: &str) -> Result<(String, DateTime<Utc>), AuthError> {
        let response = self
            .client
            .clone()
            .issue_service_token(IssueServiceTokenRequest {
                service: self.service.clone(),
                secret: self.secret.expose_secret().to_owned(),
                audience: audience.to_owned(),
            })
            .await
            .map_err(|status| {
                if hms_status_is_refusal(status.code()) {
                    tracing::error!(code = ?status.code(), audience, "identity refused our service credentials");
                    AuthError::CredentialsRefused
                } else {
                    tracing::warn!(code = ?status.code(), audience, "cannot get a service token");
                    AuthError::IdentityUnavailable
                }
            })?
            .into_inner();
        let expires_at = response
            .expires_at
            .and_then(|at| DateTime::<Utc>::from_timestamp(at.seconds, 0))
            .ok_or(AuthError::IdentityUnavailable)?;
        Ok((response.access_token, expires_at))
    }
}

fn hms_status_is_refusal(code: tonic::Code) -> bool {
    matches!(
        code,
        tonic::Code::Unauthenticated | tonic::Code::PermissionDenied | tonic::Code::InvalidArgument
    )
}

impl TokenSource for ServiceCredentials {
    fn token<'a>(&'a self, audience: &'a str) -> TokenFuture<'a> {
        Box::pin(async move {
            // One fetch per callee at a time; everyone else waits for it.
            let mut cache = self.cache.lock().await;
            if let Some((token, expires_at)) = cache.get(audience)
                && *expires_at - Utc::now() > RENEW_BEFORE_EXPIRY
            {
                return Ok(token.clone());
            }
            let (token, expires_at) = self.fetch(audience).await?;
            cache.insert(audience.to_owned(), (token.clone(), expires_at));
            Ok(token)
        })
    }
}
