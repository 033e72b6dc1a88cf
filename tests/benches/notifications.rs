//! Notifications: messages per second from event to the SMTP server's
//! acceptance, and the latency from an event's publication to its email's
//! acceptance at a steady rate. Run with `cargo xtask bench`.
//!
//! Events are published straight to JetStream (as the companies service's
//! relay would), each a rejection of the company with its own reason, so
//! every email can be matched to the event that made it. The SMTP server is
//! the real one the tests use (aiosmtpd, writing a Maildir); an email counts
//! as accepted when its file appears, watched every 2 ms.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use hms_events::Event;
use hms_proto::companies::v1::company_service_client::CompanyServiceClient;
use hms_proto::events::v1 as events;
use hms_test_support::fakes::persons;
use hms_test_support::latency::Latencies;
use hms_test_support::{MailSink, ServiceName, TestEnv, fixtures};
use prost::Message;

/// Events published at once for the throughput figure.
const BURST: usize = 1000;
/// The steady rate, and for how long.
const RATE_PER_SECOND: u64 = 20;
const STEADY: Duration = Duration::from_secs(15);

#[tokio::main]
async fn main() {
    let mut env = TestEnv::new();
    env.set("HMS_DATABASE_MAX_CONNECTIONS", "10");
    env.set("HMS_LOG_FILTER", "warn");
    env.start(ServiceName::Companies).await;
    env.start(ServiceName::Notifications).await;

    let token = env.access_token(persons::KARI_NORDMANN).await;
    let company =
        CompanyServiceClient::new(env.channel_with_token(ServiceName::Companies, &token).await)
            .register_company(fixtures::nordmann_bygg())
            .await
            .expect("the owner registers the company")
            .into_inner()
            .company
            .expect("a company");
    let publisher = Publisher::new(&env, company.company_id).await;
    // Notifications knows the company once a first message goes out.
    publisher.publish("warm-up").await;
    let mut watcher = Watcher::default();
    watcher.wait_for(env.mail(), 1).await;

    println!("notifications: from a published event to the SMTP server's acceptance");
    println!(
        "{:<34} {:>9} {:>12} {:>10} {:>10} {:>10}",
        "", "messages", "per second", "p50", "p99", "max"
    );

    // Throughput: a burst, all published before the first is counted.
    let started = Instant::now();
    let mut published = HashMap::new();
    for n in 0..BURST {
        let reason = format!("burst-{n}");
        published.insert(reason.clone(), Instant::now());
        publisher.publish(&reason).await;
    }
    let arrivals = watcher.wait_for(env.mail(), BURST).await;
    let samples = waits(&published, &arrivals);
    print_row(
        &format!("burst of {BURST}"),
        Latencies::of(samples, started.elapsed()),
    );

    // Latency at a steady rate, well below the throughput.
    let count = (RATE_PER_SECOND * STEADY.as_secs()) as usize;
    let interval = Duration::from_secs(1) / RATE_PER_SECOND as u32;
    let started = Instant::now();
    let mut published = HashMap::new();
    let mut ticks = tokio::time::interval(interval);
    let mut arrivals = HashMap::new();
    for n in 0..count {
        ticks.tick().await;
        let reason = format!("steady-{n}");
        published.insert(reason.clone(), Instant::now());
        publisher.publish(&reason).await;
        arrivals.extend(watcher.poll(env.mail()));
    }
    arrivals.extend(watcher.wait_for(env.mail(), count - arrivals.len()).await);
    let samples = waits(&published, &arrivals);
    print_row(
        &format!("steady {RATE_PER_SECOND}/s for {} s", STEADY.as_secs()),
        Latencies::of(samples, started.elapsed()),
    );
}

fn print_row(name: &str, figures: Latencies) {
    println!(
        "{name:<34} {:>9} {:>12.0} {:>10.1?} {:>10.1?} {:>10.1?}",
        figures.count, figures.per_second, figures.p50, figures.p99, figures.max
    );
}

fn waits(
    published: &HashMap<String, Instant>,
    arrived: &HashMap<String, Instant>,
) -> Vec<Duration> {
    published
        .iter()
        .map(|(reason, at)| {
            let arrived = arrived
                .get(reason)
                .unwrap_or_else(|| panic!("no email for {reason}"));
            arrived.saturating_duration_since(*at)
        })
        .collect()
}

/// Publishes rejections of one company, as its relay would.
struct Publisher {
    jetstream: async_nats::jetstream::Context,
    subject: String,
    company_id: String,
}

impl Publisher {
    async fn new(env: &TestEnv, company_id: String) -> Self {
        Self {
            jetstream: env.jetstream().await,
            subject: env.subject(events::CompanyRejected::TYPE),
            company_id,
        }
    }

    async fn publish(&self, reason: &str) {
        let event = events::CompanyRejected {
            company_id: self.company_id.clone(),
            reason: reason.to_owned(),
            version: 2,
            occurred_at: Some(hms_proto::time::timestamp(chrono::Utc::now())),
        };
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(
            hms_events::headers::MESSAGE_ID,
            uuid::Uuid::now_v7().to_string().as_str(),
        );
        self.jetstream
            .publish_with_headers(self.subject.clone(), headers, event.encode_to_vec().into())
            .await
            .expect("publish")
            .await
            .expect("acknowledged");
    }
}

/// Watches the Maildir, noting when each rejection's email appeared.
#[derive(Default)]
struct Watcher {
    seen: HashSet<std::path::PathBuf>,
}

impl Watcher {
    /// The emails that arrived since the last look, by their reason.
    fn poll(&mut self, mail: &MailSink) -> HashMap<String, Instant> {
        let now = Instant::now();
        mail.arrived(&mut self.seen)
            .into_iter()
            .filter_map(|mail| reason(&mail.text).map(|reason| (reason, now)))
            .collect()
    }

    async fn wait_for(&mut self, mail: &MailSink, count: usize) -> HashMap<String, Instant> {
        let deadline = Instant::now() + Duration::from_secs(600);
        let mut arrived = HashMap::new();
        while arrived.len() < count {
            assert!(
                Instant::now() < deadline,
                "{} of {count} emails",
                arrived.len()
            );
            arrived.extend(self.poll(mail));
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        arrived
    }
}

/// The reason a rejection's email quotes.
fn reason(text: &str) -> Option<String> {
    text.split_whitespace()
        .find(|word| {
            word.starts_with("burst-") || word.starts_with("steady-") || *word == "warm-up"
        })
        .map(|word| {
            word.trim_matches(|c: char| !c.is_alphanumeric() && c != '-')
                .to_owned()
        })
}
