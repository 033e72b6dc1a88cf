//! Rate limits: per client address, on every request, stricter on the
//! routes that start or complete a BankID login (each writes a pending
//! login or spends one), and per person, once their token is checked. Each allows a
//! small burst at once and then its rate: a quota of a minute is not
//! spent in the first second. Over the limit is a `429` problem with
//! `Retry-After`.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, NotUntil, RateLimiter};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::config::RateLimits;
use crate::problem::{ApiError, ProblemKind};

#[derive(Clone)]
pub struct Limits {
    clients: Arc<DefaultKeyedRateLimiter<IpAddr>>,
    /// Logins started or completed, per client address. Refreshing and
    /// logging out are not among them: a whole office behind one address
    /// refreshes every few minutes, and a refused logout is worse than none.
    logins: Arc<DefaultKeyedRateLimiter<IpAddr>>,
    people: Arc<DefaultKeyedRateLimiter<Uuid>>,
    /// Set behind a proxy: the header whose last address is the client's.
    client_ip_header: Option<HeaderName>,
}

/// A refusal with the time until the next request may pass.
pub struct Limited(Duration);

impl Limited {
    /// How long until the limiter lets the next request through.
    fn until(not_until: NotUntil<<DefaultClock as Clock>::Instant>) -> Self {
        Self(not_until.wait_time_from(DefaultClock::default().now()))
    }
}

impl IntoResponse for Limited {
    fn into_response(self) -> Response {
        let seconds = self.0.as_secs().max(1);
        let mut response = ApiError::new(
            ProblemKind::RateLimited,
            format!("too many requests; try again in {seconds} s"),
        )
        .into_response();
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        response
    }
}

impl Limits {
    pub fn new(limits: &RateLimits) -> Self {
        Self {
            clients: Arc::new(RateLimiter::keyed(limits.per_client)),
            logins: Arc::new(RateLimiter::keyed(limits.logins_per_client)),
            people: Arc::new(RateLimiter::keyed(limits.per_person)),
            client_ip_header: limits.client_ip_header.clone(),
        }
    }

    /// One more request by this person.
    pub fn person(&self, user: Uuid) -> Result<(), Limited> {
        self.people.check_key(&user).map_err(Limited::until)
    }

    fn client(&self, headers: &HeaderMap, peer: SocketAddr) -> IpAddr {
        let address = self
            .client_ip_header
            .as_ref()
            // The proxy appends the address it saw, on the last line and at
            // its end: the one entry a client cannot forge.
            .and_then(|name| headers.get_all(name).iter().next_back())
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.rsplit(',').next())
            .and_then(|last| last.trim().parse().ok())
            .unwrap_or_else(|| peer.ip());
        match address {
            // One client usually holds a whole /64; counting each address
            // would give it endless allowances.
            IpAddr::V6(v6) => {
                let segments = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(
                    segments[0],
                    segments[1],
                    segments[2],
                    segments[3],
                    0,
                    0,
                    0,
                    0,
                ))
            }
            v4 => v4,
        }
    }

    /// Forgets clients and people idle long enough to have their whole
    /// allowance again, so memory stays bounded.
    pub async fn sweep(self, shutdown: CancellationToken) {
        let mut every = tokio::time::interval(Duration::from_secs(60));
        loop {
            tokio::select! {
                _ = every.tick() => {
                    self.clients.retain_recent();
                    self.clients.shrink_to_fit();
                    self.logins.retain_recent();
                    self.logins.shrink_to_fit();
                    self.people.retain_recent();
                    self.people.shrink_to_fit();
                }
                () = shutdown.cancelled() => return,
            }
        }
    }
}

/// The routes that start or complete a BankID login.
const LOGIN_ROUTES: [&str; 3] = [
    "/api/v1/auth/login",
    "/api/v1/auth/token",
    "/api/v1/auth/callback",
];

/// The per-client limits, for every request.
pub async fn per_client(
    State(limits): State<Limits>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
    next: Next,
) -> Response {
    let client = limits.client(request.headers(), peer);
    let mut allowed = limits.clients.check_key(&client);
    if allowed.is_ok() && LOGIN_ROUTES.contains(&request.uri().path()) {
        allowed = limits.logins.check_key(&client);
    }
    match allowed.map_err(Limited::until) {
        Ok(()) => next.run(request).await,
        Err(limited) => limited.into_response(),
    }
}
