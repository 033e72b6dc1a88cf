//! The NetworkPolicies in `k8s/base/network-policies.yaml`, written from
//! the layout: each service takes calls only from the services that call
//! it (and the gateway from the ingress), and reaches only its callees,
//! PostgreSQL, NATS, the trace collector, DNS and the outside parties it
//! talks to. `cargo xtask network-policies` writes the file; a test fails
//! when it no longer matches the layout.

use std::fmt::Write;

use anyhow::{Context, Result};
use hms_layout::{DEV_PORT_BASE, KUBERNETES_METRICS_PORT, SERVICES, ServiceName};

use crate::repo::Repo;

pub const POLICIES_FILE: &str = "k8s/base/network-policies.yaml";

/// The gateway's HTTP port, where the ingress sends browsers and clients.
const GATEWAY_HTTP_PORT: u16 = 8080;
/// The web front end's HTTP port (k8s/base/web.yaml), where the ingress
/// sends every path but `/api`.
const WEB_HTTP_PORT: u16 = 8090;

/// The namespace Prometheus scrapes from. An operator whose Prometheus
/// lives elsewhere patches the policies' namespace selector in an overlay.
const MONITORING_NAMESPACE: &str = "monitoring";

/// Ports every service reaches wherever they are (the platform may run
/// PostgreSQL, NATS and the collector outside the cluster): PostgreSQL,
/// NATS and OTLP/gRPC.
const INFRASTRUCTURE_PORTS: [u16; 3] = [5432, 4222, 4317];

/// Who talks to the world outside, and on which ports: identity to the
/// BankID broker and the register, orders to Folkeregisteret and
/// Aa-registeret, media to S3, notifications to the mail server and the SMS
/// provider, cards to the card producer.
fn outside_ports(service: ServiceName) -> &'static [u16] {
    match service {
        ServiceName::Identity | ServiceName::Orders | ServiceName::Media | ServiceName::Cards => {
            &[443]
        }
        ServiceName::Notifications => &[443, 465, 587],
        ServiceName::Companies
        | ServiceName::Redaction
        | ServiceName::Audit
        | ServiceName::Gateway => &[],
    }
}

fn selector(service: ServiceName) -> String {
    format!(
        "app.kubernetes.io/name: {}\n      app.kubernetes.io/part-of: hms",
        service.as_str()
    )
}

/// The file's content.
pub fn render() -> String {
    let mut out = String::from(
        "# Written by `cargo xtask network-policies` from libs/layout; edit the layout,\n\
         # not this file (a test compares them). Nothing reaches a pod or leaves it\n\
         # unless a policy below allows it.\n\
         apiVersion: networking.k8s.io/v1\n\
         kind: NetworkPolicy\n\
         metadata:\n  name: hms-default-deny\n  labels:\n    app.kubernetes.io/part-of: hms\n\
         spec:\n  podSelector:\n    matchLabels:\n      app.kubernetes.io/part-of: hms\n\
         \x20 policyTypes: [Ingress, Egress]\n",
    );
    for spec in SERVICES {
        let service = spec.name;
        let callers: Vec<ServiceName> = SERVICES
            .iter()
            .map(|caller| caller.name)
            .filter(|caller| caller.callees().contains(&service))
            .collect();
        let _ = write!(
            out,
            "---\n# {name}: called by {callers}; calls {callees}.\n\
             apiVersion: networking.k8s.io/v1\n\
             kind: NetworkPolicy\n\
             metadata:\n  name: {name}\n  labels:\n    app.kubernetes.io/part-of: hms\n\
             spec:\n  podSelector:\n    matchLabels:\n      {selector}\n\
             \x20 policyTypes: [Ingress, Egress]\n  ingress:\n",
            name = service.as_str(),
            callers = list(&callers),
            callees = list(&service.callees()),
            selector = selector(service),
        );
        if service == ServiceName::Gateway {
            let _ = write!(
                out,
                "    # From the ingress controller, wherever it runs.\n\
                 \x20   - ports:\n        - port: {GATEWAY_HTTP_PORT}\n          protocol: TCP\n"
            );
        }
        for caller in &callers {
            let _ = write!(
                out,
                "    - from:\n        - podSelector:\n            matchLabels:\n\
                 \x20             app.kubernetes.io/name: {caller}\n\
                 \x20             app.kubernetes.io/part-of: hms\n\
                 \x20     ports:\n        - port: {port}\n          protocol: TCP\n",
                caller = caller.as_str(),
                port = service.port(DEV_PORT_BASE),
            );
        }
        let _ = write!(
            out,
            "    # Prometheus, on the metrics port only.\n\
             \x20   - from:\n        - namespaceSelector:\n            matchLabels:\n\
             \x20             kubernetes.io/metadata.name: {MONITORING_NAMESPACE}\n\
             \x20     ports:\n        - port: {KUBERNETES_METRICS_PORT}\n          protocol: TCP\n"
        );
        out.push_str(
            "  egress:\n    # DNS.\n    - ports:\n        - port: 53\n          protocol: UDP\n\
             \x20       - port: 53\n          protocol: TCP\n",
        );
        for callee in service.callees() {
            let _ = write!(
                out,
                "    - to:\n        - podSelector:\n            matchLabels:\n\
                 \x20             app.kubernetes.io/name: {callee}\n\
                 \x20             app.kubernetes.io/part-of: hms\n\
                 \x20     ports:\n        - port: {port}\n          protocol: TCP\n",
                callee = callee.as_str(),
                port = callee.port(DEV_PORT_BASE),
            );
        }
        out.push_str("    # PostgreSQL, NATS, the OTLP collector.\n    - ports:\n");
        for port in INFRASTRUCTURE_PORTS {
            let _ = writeln!(out, "        - port: {port}\n          protocol: TCP");
        }
        let outside = outside_ports(service);
        if !outside.is_empty() {
            out.push_str("    # Outside parties.\n    - ports:\n");
            for port in outside {
                let _ = writeln!(out, "        - port: {port}\n          protocol: TCP");
            }
        }
    }
    out.push_str(&web_policy());
    out
}

/// The web front end is no service of the layout: it speaks only HTTP, to
/// the gateway, like any frontend outside the cluster.
fn web_policy() -> String {
    format!(
        "---\n# web: the web front end; from the ingress; calls the gateway's REST API.\n\
         apiVersion: networking.k8s.io/v1\n\
         kind: NetworkPolicy\n\
         metadata:\n  name: web\n  labels:\n    app.kubernetes.io/part-of: hms\n\
         spec:\n  podSelector:\n    matchLabels:\n      app.kubernetes.io/name: web\n\
         \x20     app.kubernetes.io/part-of: hms\n\
         \x20 policyTypes: [Ingress, Egress]\n  ingress:\n\
         \x20   # From the ingress controller, wherever it runs.\n\
         \x20   - ports:\n        - port: {WEB_HTTP_PORT}\n          protocol: TCP\n\
         \x20 egress:\n    # DNS.\n    - ports:\n        - port: 53\n          protocol: UDP\n\
         \x20       - port: 53\n          protocol: TCP\n\
         \x20   - to:\n        - podSelector:\n            matchLabels:\n\
         \x20             app.kubernetes.io/name: gateway\n\
         \x20             app.kubernetes.io/part-of: hms\n\
         \x20     ports:\n        - port: {GATEWAY_HTTP_PORT}\n          protocol: TCP\n\
         \x20   # The OTLP collector.\n    - ports:\n        - port: 4317\n          protocol: TCP\n"
    )
}

fn list(services: &[ServiceName]) -> String {
    if services.is_empty() {
        return "nobody".to_owned();
    }
    services
        .iter()
        .map(|service| service.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Writes the policies file.
pub fn write(repo: &Repo) -> Result<()> {
    let path = repo.root().join(POLICIES_FILE);
    std::fs::write(&path, render()).with_context(|| format!("cannot write {}", path.display()))?;
    println!("wrote {POLICIES_FILE}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_network_policies_follow_the_layout() {
        let committed = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("..")
                .join(POLICIES_FILE),
        )
        .expect("the policies file");
        assert!(
            committed == render(),
            "{POLICIES_FILE} is out of date: run `cargo xtask network-policies`"
        );
    }

    #[test]
    fn only_callers_reach_a_service_and_only_the_gateway_takes_the_ingress() {
        let policies = render();
        let orders = policies
            .split("---\n")
            .find(|policy| policy.contains("metadata:\n  name: orders\n"))
            .expect("a policy for orders");
        // Media, redaction, cards and the gateway call orders; companies
        // does not.
        for caller in ["media", "redaction", "cards", "gateway"] {
            assert!(
                orders.contains(&format!("app.kubernetes.io/name: {caller}\n")),
                "{caller}"
            );
        }
        assert!(!orders.contains("app.kubernetes.io/name: companies\n"));
        assert!(!orders.contains(&format!("port: {GATEWAY_HTTP_PORT}\n")));
        // The gateway takes it from the ingress, and the web front end
        // reaches it there; no one else.
        assert_eq!(
            policies
                .matches(&format!("port: {GATEWAY_HTTP_PORT}\n"))
                .count(),
            2
        );
        let web = policies
            .split("---\n")
            .find(|policy| policy.contains("metadata:\n  name: web\n"))
            .expect("a policy for the web front end");
        assert!(web.contains(&format!("port: {GATEWAY_HTTP_PORT}\n")));
        assert!(!web.contains("port: 5432\n"), "no database for the web");
    }

    #[test]
    fn prometheus_reaches_every_service_on_the_metrics_port_only() {
        let policies = render();
        for spec in SERVICES {
            let name = spec.name.as_str();
            let policy = policies
                .split("---\n")
                .find(|policy| policy.contains(&format!("metadata:\n  name: {name}\n")))
                .unwrap_or_else(|| panic!("a policy for {name}"));
            let ingress = policy.split("  egress:").next().unwrap_or_default();
            let from_monitoring = ingress
                .split("    - from:")
                .find(|rule| rule.contains(MONITORING_NAMESPACE))
                .unwrap_or_else(|| panic!("{name} lets Prometheus in"));
            let ports: Vec<&str> = from_monitoring
                .lines()
                .filter(|line| line.trim_start().starts_with("- port:"))
                .collect();
            assert_eq!(ports.len(), 1, "{name}: {from_monitoring}");
            assert!(
                ports[0].ends_with(&format!(" {KUBERNETES_METRICS_PORT}")),
                "{name}"
            );
        }
    }
}
