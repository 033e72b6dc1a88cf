use std::time::Duration;

use hms_domain::OrgNumber;
use reqwest::StatusCode;
use url::Url;

use crate::error::RegisterError;
use crate::model::{Role, Unit, flatten_roles};
use crate::wire;

/// The media types that pin the register's format versions: without them
/// the register answers with whatever version is newest, and a new major
/// version could break parsing without warning.
const UNIT_MEDIA_TYPE: &str = "application/vnd.brreg.enhetsregisteret.enhet.v2+json";
const ROLES_MEDIA_TYPE: &str = "application/vnd.brreg.enhetsregisteret.rolle.v1+json";

/// Asks the open Enhetsregisteret API about units and their roles.
///
/// Cheap to clone: clones share one connection pool.
#[derive(Debug, Clone)]
pub struct RegisterClient {
    http: reqwest::Client,
    /// Always ends with `/`, so that joining keeps any path prefix.
    base: Url,
}

impl RegisterClient {
    /// `base_url` is the register's host, `https://data.brreg.no` in
    /// production ([`crate::PRODUCTION_BASE_URL`]); the client adds
    /// `/enhetsregisteret/api/…`. `timeout` bounds each request as a whole.
    pub fn new(base_url: Url, timeout: Duration) -> Result<Self, RegisterError> {
        if base_url.cannot_be_a_base() {
            return Err(RegisterError::Config(format!(
                "{base_url} cannot be a base URL"
            )));
        }
        let mut base = base_url;
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        // reqwest is built without a default TLS provider; ring is the one
        // the rest of the workspace uses. Installing twice is harmless (the
        // second call reports that one is already installed).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .user_agent(concat!("hms-kort/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|error| RegisterError::Config(error.to_string()))?;
        Ok(Self { http, base })
    }

    /// The unit with this number; `None` when the register does not know it
    /// (404) or has removed it (410, which is how it answers for a deleted
    /// unit).
    pub async fn unit(&self, org: &OrgNumber) -> Result<Option<Unit>, RegisterError> {
        let path = format!("enhetsregisteret/api/enheter/{org}");
        let Some(body) = self.get(&path, UNIT_MEDIA_TYPE, org).await? else {
            return Ok(None);
        };
        let enhet: wire::Enhet =
            serde_json::from_slice(&body).map_err(|error| RegisterError::from_json(&error))?;
        let unit = Unit::try_from(enhet)?;
        if unit.org_number != *org {
            return Err(RegisterError::Malformed(format!(
                "asked for {org}, the register answered with {}",
                unit.org_number
            )));
        }
        Ok(Some(unit))
    }

    /// The unit's roles, flattened out of their role groups. An unknown or
    /// removed unit (404, 410) has no roles.
    pub async fn roles(&self, org: &OrgNumber) -> Result<Vec<Role>, RegisterError> {
        let path = format!("enhetsregisteret/api/enheter/{org}/roller");
        let Some(body) = self.get(&path, ROLES_MEDIA_TYPE, org).await? else {
            return Ok(Vec::new());
        };
        let roller: wire::Roller =
            serde_json::from_slice(&body).map_err(|error| RegisterError::from_json(&error))?;
        Ok(flatten_roles(roller))
    }

    /// GETs `path` below the base URL: the body of a 200, `None` for 404 and
    /// 410, an error otherwise.
    async fn get(
        &self,
        path: &str,
        accept: &str,
        org: &OrgNumber,
    ) -> Result<Option<Vec<u8>>, RegisterError> {
        let url = self
            .base
            .join(path)
            .map_err(|error| RegisterError::Config(error.to_string()))?;
        let response = self
            .http
            .get(url)
            .header(reqwest::header::ACCEPT, accept)
            .send()
            .await
            .map_err(transport_error)?;
        let status = response.status();
        tracing::debug!(%org, status = status.as_u16(), "register answered");
        match status {
            StatusCode::OK => {}
            StatusCode::NOT_FOUND | StatusCode::GONE => return Ok(None),
            StatusCode::REQUEST_TIMEOUT | StatusCode::TOO_MANY_REQUESTS => {
                return Err(RegisterError::Unavailable(format!("HTTP {status}")));
            }
            status if status.is_server_error() => {
                return Err(RegisterError::Unavailable(format!("HTTP {status}")));
            }
            status => return Err(RegisterError::Refused(status.as_u16())),
        }
        let body = response.bytes().await.map_err(transport_error)?;
        Ok(Some(body.to_vec()))
    }
}

/// Sorts a failed exchange into timeout or unavailable. The message keeps
/// the causes (they name hosts and organisation numbers, nothing personal).
fn transport_error(error: reqwest::Error) -> RegisterError {
    if error.is_timeout() {
        return RegisterError::Timeout;
    }
    if error.is_decode() {
        return RegisterError::Malformed(error.to_string());
    }
    let mut reason = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        reason.push_str(": ");
        reason.push_str(&cause.to_string());
        source = cause.source();
    }
    RegisterError::Unavailable(reason)
}
