//! Authorization decisions per second, and their latency, through the
//! client library services use (`hms_authz::Authorizer`): with its cache as
//! configured by default, and with no cache, where every decision is a call
//! to identity. Run with `cargo xtask bench`.
//!
//! The caller is a person's real token, verified the way every service
//! verifies it; the decision is `cards:order` on a registered company whose
//! owner the register fake names, so identity does its real work (session,
//! company, register roles, grants) on every uncached call.

use std::sync::Arc;
use std::time::{Duration, Instant};

use hms_auth::{Caller, IdentityKeys, KeySource, ServiceCredentials, TokenSource, TokenVerifier};
use hms_authz::{Action, Authorizer, AuthzConfig, Target};
use hms_domain::CompanyId;
use hms_proto::companies::v1::company_service_client::CompanyServiceClient;
use hms_test_support::fakes::persons;
use hms_test_support::latency::Latencies;
use hms_test_support::{ServiceName, TestEnv, fixtures};

/// Concurrent callers, like the request handlers of one service.
const CONCURRENCY: usize = 16;

#[tokio::main]
async fn main() {
    let mut env = TestEnv::new();
    // The services' own pool size, not the small pools that let many
    // tests share one PostgreSQL.
    env.set("HMS_DATABASE_MAX_CONNECTIONS", "10");
    // Logging every request would measure the terminal, not the decision.
    env.set("HMS_LOG_FILTER", "warn");
    env.start(ServiceName::Companies).await;

    let token = env.access_token(persons::KARI_NORDMANN).await;
    let company =
        CompanyServiceClient::new(env.channel_with_token(ServiceName::Companies, &token).await)
            .register_company(fixtures::nordmann_bygg())
            .await
            .expect("the owner registers the company")
            .into_inner()
            .company
            .expect("a company");
    let target = Target::Company(CompanyId::parse(&company.company_id).expect("a company id"));

    let identity_url = env.url(ServiceName::Identity);
    let keys: Arc<dyn KeySource> =
        Arc::new(IdentityKeys::new(&identity_url).expect("identity's keys"));
    let caller = TokenVerifier::new("orders", keys)
        .verify(&token)
        .await
        .expect("the person's token verifies");
    let tokens: Arc<dyn TokenSource> = Arc::new(
        ServiceCredentials::new("orders", &identity_url, env.service_secret("orders").into())
            .expect("service credentials"),
    );
    let channel =
        hms_grpc::client::connect(&identity_url, hms_layout::ServiceName::Identity, tokens)
            .expect("a channel to identity");

    println!(
        "authorization decisions through hms_authz::Authorizer ({CONCURRENCY} concurrent callers)"
    );
    println!(
        "{:<28} {:>10} {:>12} {:>10} {:>10} {:>10}",
        "", "decisions", "per second", "p50", "p99", "max"
    );
    let cached = Authorizer::new(channel.clone(), &AuthzConfig::default());
    run(
        "cached (2 s, the default)",
        &cached,
        &caller,
        &target,
        Duration::from_secs(5),
    )
    .await;
    let uncached = Authorizer::new(
        channel,
        &AuthzConfig {
            cache: std::time::Duration::ZERO,
        },
    );
    run(
        "uncached (identity each time)",
        &uncached,
        &caller,
        &target,
        Duration::from_secs(10),
    )
    .await;
}

/// Decides as fast as `CONCURRENCY` callers can for `length`, then prints
/// the figures.
async fn run(
    label: &str,
    authorizer: &Authorizer,
    caller: &Caller,
    target: &Target,
    length: Duration,
) {
    // Warm up connections, keys and the cache.
    for _ in 0..50 {
        decide(authorizer, caller, target).await;
    }
    let started = Instant::now();
    let workers: Vec<_> = (0..CONCURRENCY)
        .map(|_| {
            let authorizer = authorizer.clone();
            let caller = caller.clone();
            let target = target.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                while started.elapsed() < length {
                    let begun = Instant::now();
                    decide(&authorizer, &caller, &target).await;
                    latencies.push(begun.elapsed());
                    // A cache hit never waits, so it never lets the other
                    // callers run; real handlers await I/O around it.
                    tokio::task::yield_now().await;
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for worker in workers {
        latencies.extend(worker.await.expect("a worker"));
    }
    let figures = Latencies::of(latencies, started.elapsed());
    println!(
        "{label:<28} {:>10} {:>12.0} {:>10} {:>10} {:>10}",
        figures.count,
        figures.per_second,
        format!("{:.1?}", figures.p50),
        format!("{:.1?}", figures.p99),
        format!("{:.1?}", figures.max),
    );
}

async fn decide(authorizer: &Authorizer, caller: &Caller, target: &Target) {
    let user = hms_authz::require_user(caller).expect("a person");
    let decision = authorizer
        .decide(user, target, Action::CardsOrder)
        .await
        .expect("identity decides");
    assert!(decision.allowed, "the owner may order cards");
}
