//! What operators watch: every service's Prometheus metrics, scraped from
//! its metrics port while an order goes through, and nothing personal in
//! them.

use std::collections::BTreeMap;

use hms_test_support::{ServiceName, TestEnv, eventually, fixtures};

use crate::common::*;

/// One scrape: each series (name and labels, as written) and its value.
struct Scrape {
    text: String,
    series: BTreeMap<String, f64>,
}

impl Scrape {
    async fn of(env: &TestEnv, service: ServiceName) -> Self {
        let response = reqwest::get(env.metrics_url(service))
            .await
            .unwrap_or_else(|error| panic!("scrape {service}: {error}"));
        assert!(response.status().is_success(), "{service}: {response:?}");
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        assert!(
            content_type.starts_with("text/plain; version=0.0.4"),
            "{service}: {content_type}"
        );
        let text = response.text().await.expect("the metrics text");
        let series = text
            .lines()
            .filter(|line| !line.starts_with('#') && !line.is_empty())
            .filter_map(|line| {
                let (series, value) = line.rsplit_once(' ')?;
                Some((series.to_owned(), value.parse().ok()?))
            })
            .collect();
        Self { text, series }
    }

    /// The sum over the series of `name` whose labels include every one of
    /// `labels` (`key="value"`); None if there is no such series.
    fn sum(&self, name: &str, labels: &[&str]) -> Option<f64> {
        let matching: Vec<f64> = self
            .series
            .iter()
            .filter(|(series, _)| {
                let (series_name, series_labels) =
                    series.split_once('{').unwrap_or((series.as_str(), ""));
                series_name == name && labels.iter().all(|label| series_labels.contains(label))
            })
            .map(|(_, value)| *value)
            .collect();
        (!matching.is_empty()).then(|| matching.iter().sum())
    }

    fn value(&self, name: &str, labels: &[&str]) -> f64 {
        self.sum(name, labels).unwrap_or(0.0)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_service_is_scraped_and_its_series_move_when_an_order_is_redacted() {
    let mut env = TestEnv::new();
    env.start_all().await;
    let mut clients = Clients::connect(&env).await;
    let company_id = approved_company(&env, &mut clients).await;
    let national_ids = vec![fixtures::fodselsnummer()];
    let order = create_order(&mut clients, &company_id, &national_ids).await;

    let mut before = BTreeMap::new();
    for service in ServiceName::ALL {
        before.insert(service, Scrape::of(&env, service).await);
    }
    // Every one that publishes events reports its outbox from the start.
    for (service, scrape) in &before {
        let publishes = [
            ServiceName::Identity,
            ServiceName::Companies,
            ServiceName::Orders,
            ServiceName::Redaction,
            ServiceName::Cards,
        ];
        if publishes.contains(service) {
            assert!(
                scrape.sum("hms_outbox_pending", &[]).is_some(),
                "{service} reports its outbox:\n{}",
                scrape.text
            );
        }
    }
    for consumer in ["redaction-order_approved", "cards-order_approved"] {
        let service =
            ServiceName::parse(consumer.split('-').next().unwrap_or_default()).expect("a service");
        let label = format!("consumer=\"{consumer}\"");
        let scrape = &before[&service];
        assert!(
            scrape.sum("hms_events_pending", &[&label]).is_some()
                && scrape
                    .sum("hms_events_total", &[&label, "outcome=\"parked\""])
                    .is_some(),
            "{consumer}:\n{}",
            scrape.text
        );
    }

    upload_all_documents(&mut clients, &order).await;
    clients
        .owner
        .orders
        .submit_order(hms_proto::orders::v1::SubmitOrderRequest {
            order_id: order.order_id.clone(),
        })
        .await
        .expect("submit the order");
    approve(&mut clients, &order.order_id).await;
    receipt(&mut clients, &order.order_id, SOON).await;
    let gateway = reqwest::get(format!(
        "{}/api/v1/public/cards/0000000000",
        env.gateway_url()
    ))
    .await
    .expect("ask the gateway");
    // An unknown card is answered "not valid", like any other.
    assert!(gateway.status().is_success(), "{gateway:?}");

    // What moved, service by service: (service, series, labels, at least).
    let approve_ok = [
        "grpc_service=\"hms.orders.v1.OrderService\"",
        "grpc_method=\"ApproveOrder\"",
        "grpc_code=\"OK\"",
    ];
    let expected: Vec<(ServiceName, &str, Vec<&str>, f64)> = vec![
        (
            ServiceName::Orders,
            "grpc_server_handled_total",
            approve_ok.to_vec(),
            1.0,
        ),
        (
            ServiceName::Orders,
            "grpc_server_handling_seconds_count",
            approve_ok[..2].to_vec(),
            1.0,
        ),
        (
            ServiceName::Orders,
            "grpc_server_handled_total",
            vec!["grpc_method=\"MaskNationalIds\"", "grpc_code=\"OK\""],
            1.0,
        ),
        (
            ServiceName::Orders,
            "hms_outbox_published_total",
            vec![],
            2.0,
        ),
        (
            ServiceName::Media,
            "hms_media_upload_bytes_count",
            vec!["kind=\"passport_photo\""],
            1.0,
        ),
        (
            ServiceName::Media,
            "hms_media_sanitize_seconds_count",
            vec!["outcome=\"accepted\""],
            3.0,
        ),
        (
            ServiceName::Media,
            "grpc_server_handled_total",
            vec!["grpc_method=\"PurgeOrderMedia\"", "grpc_code=\"OK\""],
            1.0,
        ),
        (
            ServiceName::Redaction,
            "hms_events_total",
            vec![
                "consumer=\"redaction-order_approved\"",
                "outcome=\"handled\"",
            ],
            1.0,
        ),
        (
            ServiceName::Redaction,
            "hms_event_lag_seconds_count",
            vec!["consumer=\"redaction-print_handed_over\""],
            1.0,
        ),
        (
            ServiceName::Redaction,
            "hms_redaction_lag_seconds_count",
            vec!["stage=\"masked\""],
            1.0,
        ),
        (
            ServiceName::Redaction,
            "hms_redaction_lag_seconds_count",
            vec!["stage=\"redacted\""],
            1.0,
        ),
        (
            ServiceName::Cards,
            "hms_events_total",
            vec!["consumer=\"cards-order_approved\"", "outcome=\"handled\""],
            1.0,
        ),
        (
            ServiceName::Cards,
            "hms_print_seconds_count",
            vec!["outcome=\"handed_over\""],
            1.0,
        ),
        (
            ServiceName::Audit,
            "hms_events_total",
            vec!["consumer=\"audit-access_recorded\"", "outcome=\"handled\""],
            1.0,
        ),
        (
            ServiceName::Notifications,
            "hms_notification_deliveries_total",
            vec!["outcome=\"sent\""],
            1.0,
        ),
        (
            ServiceName::Gateway,
            "http_server_requests_total",
            vec![
                "route=\"/api/v1/public/cards/{card_number}\"",
                "method=\"GET\"",
            ],
            1.0,
        ),
        (
            ServiceName::Identity,
            "grpc_server_handled_total",
            vec!["grpc_code=\"OK\""],
            1.0,
        ),
        (
            ServiceName::Companies,
            "grpc_server_handled_total",
            vec!["grpc_code=\"OK\""],
            1.0,
        ),
    ];
    let mut after = BTreeMap::new();
    for (service, name, labels, at_least) in &expected {
        let was = before[service].value(name, labels);
        let scrape = eventually(
            &format!("{name}{labels:?} of {service} to grow by {at_least}"),
            SOON,
            || async {
                let scrape = Scrape::of(&env, *service).await;
                (scrape.value(name, labels) - was >= *at_least).then_some(scrape)
            },
        )
        .await;
        after.insert(*service, scrape);
    }

    // Each series says what it is.
    for (service, series) in [
        (ServiceName::Orders, "grpc_server_handled_total"),
        (ServiceName::Redaction, "hms_events_total"),
        (ServiceName::Redaction, "hms_redaction_lag_seconds"),
        (ServiceName::Media, "hms_media_upload_bytes"),
        (ServiceName::Cards, "hms_print_seconds"),
        (
            ServiceName::Notifications,
            "hms_notification_deliveries_total",
        ),
        (ServiceName::Gateway, "http_server_requests_total"),
    ] {
        assert!(
            after[&service].text.contains(&format!("# HELP {series} ")),
            "{service} describes {series}"
        );
    }

    // The dashboard and the alerting rules ask only for series some
    // service has.
    let exposed: std::collections::BTreeSet<&str> = after
        .values()
        .flat_map(|scrape| scrape.series.keys())
        .map(|series| series.split('{').next().unwrap_or_default())
        .collect();
    for wanted in dashboard_series() {
        assert!(
            exposed.contains(wanted.as_str()),
            "the dashboard or an alert asks for {wanted}, which no service exposes"
        );
    }

    // Every series names the service it comes from.
    assert_eq!(after.len(), ServiceName::ALL.len());
    for (service, scrape) in &after {
        let named = format!("service=\"{service}\"");
        assert!(
            scrape.series.keys().all(|series| series.contains(&named)),
            "{service}:\n{}",
            scrape.text
        );
    }

    // No person, company or order in any label: no UUID, no run of 11
    // digits, none of the worker's number. (Values may have many digits.)
    let uuid = |text: &str| {
        text.split(|c: char| !(c.is_ascii_hexdigit() || c == '-'))
            .any(|word| word.len() == 36 && word.matches('-').count() == 4)
    };
    for (service, scrape) in before.iter().chain(&after) {
        let labels = scrape
            .text
            .lines()
            .filter_map(|line| {
                line.split_once('{')
                    .and_then(|(_, rest)| rest.rsplit_once('}'))
            })
            .map(|(labels, _)| labels);
        for line in labels {
            assert!(!uuid(line), "{service} names an id: {line}");
            assert!(
                !line
                    .split(|c: char| !c.is_ascii_digit())
                    .any(|digits| digits.len() == 11),
                "{service} holds an 11-digit number: {line}"
            );
            assert!(
                !line.contains(&company_id)
                    && !line.contains(&order.order_id)
                    && !line.contains(&national_ids[0]),
                "{service}: {line}"
            );
        }
    }
}

/// The series the Grafana dashboard's queries and the alerting rules name.
fn dashboard_series() -> Vec<String> {
    let monitoring =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../k8s/components/monitoring");
    let dashboard: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(monitoring.join("grafana-dashboard.json")).expect("the dashboard"),
    )
    .expect("the dashboard is JSON");
    let mut exprs: Vec<String> = Vec::new();
    for panel in dashboard["panels"].as_array().expect("panels") {
        for target in panel["targets"].as_array().into_iter().flatten() {
            exprs.push(target["expr"].as_str().expect("a query").to_owned());
        }
    }
    let rules = std::fs::read_to_string(monitoring.join("alert-rules.yaml")).expect("the rules");
    let alerts = rules.matches("- alert: ").count();
    exprs.extend(
        rules
            .lines()
            .filter_map(|line| line.trim().strip_prefix("expr: "))
            .map(str::to_owned),
    );
    assert!(alerts >= 5 && exprs.len() >= 10 + alerts, "{exprs:?}");
    let mut series = Vec::new();
    for expr in exprs {
        // A series is a word of ours before `{`, `[` or `)`; the gRPC
        // labels share the series' prefix.
        let labels = ["grpc_service", "grpc_method", "grpc_code"];
        let mut word = String::new();
        for c in expr.chars() {
            if c.is_ascii_alphanumeric() || c == '_' || c == ':' {
                word.push(c);
                continue;
            }
            let is_series = matches!(c, '{' | '[' | ')')
                && !labels.contains(&word.as_str())
                && ["hms_", "grpc_", "http_"]
                    .iter()
                    .any(|prefix| word.starts_with(prefix));
            if is_series && !series.contains(&word) {
                series.push(word.clone());
            }
            word.clear();
        }
    }
    assert!(series.len() >= 10, "{series:?}");
    series
}
