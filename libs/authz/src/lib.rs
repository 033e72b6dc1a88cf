//! The client side of identity's one decision point.
//!
//! Services ask [`Authorizer::require`] before they touch a company's data
//! for a person. Decisions are cached for a few seconds (`HMS_AUTHZ_CACHE_MS`),
//! which bounds how long a revoked grant keeps working anywhere, and keeps
//! identity out of the hot path of repeated calls.

mod action;

use std::sync::Arc;
use std::time::Duration;

use hms_auth::{Caller, UserCaller};
use hms_domain::{CompanyId, OrgNumber};
use hms_grpc::client::ServiceChannel;
use hms_proto::identity::v1 as pb;
use hms_proto::identity::v1::identity_service_client::IdentityServiceClient;
use serde::Deserialize;
use tonic::Status;
use uuid::Uuid;

pub use action::Action;

/// The person calling, or the platform's answer to anyone else: an
/// anonymous caller must log in; a service is not a person and is denied.
pub fn require_user(caller: &Caller) -> Result<&UserCaller, Status> {
    match caller {
        Caller::User(user) => Ok(user),
        Caller::Anonymous => Err(Status::unauthenticated("this call needs a login")),
        Caller::Service(_) => Err(hms_grpc::status::denied()),
    }
}

/// `HMS_AUTHZ_CACHE_MS`: how long a decision is reused.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct AuthzConfig {
    /// Zero: every decision is asked of identity.
    #[serde(
        rename = "authz_cache_ms",
        deserialize_with = "hms_config::duration::millis"
    )]
    pub cache: Duration,
}

impl Default for AuthzConfig {
    fn default() -> Self {
        Self {
            cache: Duration::from_secs(2),
        }
    }
}

/// What a decision is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Target {
    /// A registered company's data.
    Company(CompanyId),
    /// A company that is not registered yet (registering it).
    OrgNumber(OrgNumber),
    /// Nothing company-specific (the back office's queues).
    Platform,
}

/// Identity's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    /// Whether the person has any access to the company at all.
    pub visible: bool,
    /// Allowed only after a fresh login.
    pub step_up_required: bool,
    /// The person's session has ended: their token counts for nothing.
    pub session_ended: bool,
    /// Why, for logs; never shown to the person.
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    user: Uuid,
    session: Uuid,
    auth_time: i64,
    target: Target,
    action: Action,
}

/// Asks identity, with a short cache.
#[derive(Clone)]
pub struct Authorizer {
    client: IdentityServiceClient<ServiceChannel>,
    /// None when `HMS_AUTHZ_CACHE_MS` is 0: then every decision is asked.
    cache: Option<moka::future::Cache<Key, Decision>>,
}

impl Authorizer {
    pub fn new(identity: ServiceChannel, config: &AuthzConfig) -> Self {
        Self {
            client: IdentityServiceClient::new(identity),
            cache: (!config.cache.is_zero()).then(|| {
                moka::future::Cache::builder()
                    .max_capacity(100_000)
                    .time_to_live(config.cache)
                    .build()
            }),
        }
    }

    /// Identity's decision on `user` doing `action` on `target`.
    pub async fn decide(
        &self,
        user: &UserCaller,
        target: &Target,
        action: Action,
    ) -> Result<Decision, Status> {
        let Some(cache) = &self.cache else {
            return self.ask(user, target, action).await;
        };
        let key = Key {
            user: user.user_id,
            session: user.session_id,
            auth_time: user.auth_time.timestamp(),
            target: target.clone(),
            action,
        };
        // Concurrent misses for one key make one call.
        cache
            .try_get_with(key, self.ask(user, target, action))
            .await
            .map_err(|error: Arc<Status>| (*error).clone())
    }

    async fn ask(
        &self,
        user: &UserCaller,
        target: &Target,
        action: Action,
    ) -> Result<Decision, Status> {
        let (company_id, org_number) = match target {
            Target::Company(id) => (id.to_string(), String::new()),
            Target::OrgNumber(org) => (String::new(), org.to_string()),
            Target::Platform => (String::new(), String::new()),
        };
        let response = self
            .client
            .clone()
            .authorize(pb::AuthorizeRequest {
                subject: user.user_id.to_string(),
                session_id: user.session_id.to_string(),
                company_id,
                org_number,
                action: action.as_str().to_owned(),
            })
            .await
            .map_err(|status| {
                tracing::warn!(code = ?status.code(), "identity could not decide");
                Status::unavailable("cannot check access right now; try again shortly")
            })?
            .into_inner();
        Ok(Decision {
            allowed: response.allowed,
            visible: response.visible,
            step_up_required: response.step_up_required,
            session_ended: response.session_ended,
            reason: response.reason,
        })
    }

    /// Lets a person through, or says no the way the platform always does:
    /// an anonymous caller must log in; a person with no access to the
    /// company gets `not_found` (the company's data does not exist for
    /// them); a person with some access but not this one is denied.
    /// Services are not people and are denied: they have their own calls.
    pub async fn require(
        &self,
        caller: &Caller,
        target: Target,
        action: Action,
        not_found: impl FnOnce() -> Status,
    ) -> Result<UserCaller, Status> {
        let user = require_user(caller)?;
        let decision = self.decide(user, &target, action).await?;
        if decision.allowed {
            return Ok(user.clone());
        }
        tracing::info!(user = %user.user_id, action = action.as_str(), reason = %decision.reason, "denied");
        if decision.session_ended {
            Err(hms_auth::AuthError::InvalidToken.to_status())
        } else if !decision.visible {
            Err(not_found())
        } else if decision.step_up_required {
            Err(hms_grpc::status::login_required())
        } else {
            Err(hms_grpc::status::denied())
        }
    }

    /// [`require`](Self::require) on a registered company's data.
    pub async fn require_company(
        &self,
        caller: &Caller,
        company: CompanyId,
        action: Action,
        not_found: impl FnOnce() -> Status,
    ) -> Result<UserCaller, Status> {
        self.require(caller, Target::Company(company), action, not_found)
            .await
    }

    /// [`require`](Self::require) for the back office's platform-wide
    /// calls: there is no company to hide, so a refusal is a refusal.
    pub async fn require_platform(
        &self,
        caller: &Caller,
        action: Action,
    ) -> Result<UserCaller, Status> {
        self.require(caller, Target::Platform, action, hms_grpc::status::denied)
            .await
    }

    /// [`require`](Self::require), except that the named services pass
    /// too: calls that serve a person and, internally, another service
    /// (identity reading a company).
    pub async fn require_person_or(
        &self,
        services: &[&str],
        caller: &Caller,
        target: Target,
        action: Action,
        not_found: impl FnOnce() -> Status,
    ) -> Result<(), Status> {
        match caller {
            Caller::Service(name) if services.contains(&name.as_str()) => Ok(()),
            _ => self
                .require(caller, target, action, not_found)
                .await
                .map(drop),
        }
    }
}
