//! The system's layout, written down once: which services there are, where
//! each listens by default, whether it keeps a database, and which others
//! it calls. Service defaults, `cargo xtask`, the test environment and the
//! services' own checks of who is calling all build from [`SERVICES`], so
//! adding a service or a call between two is one edit here.

use std::fmt;

/// A service of the platform, by the name it goes by everywhere: its
/// identity towards the others (token subject and audience), its binary
/// (`hms-<name>`), its database (`hms_<name>`), its settings
/// (`HMS_<NAME>_URL`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ServiceName {
    Identity,
    Companies,
    Orders,
    Media,
    Redaction,
    /// The REST API for frontends; its gRPC port answers health checks only.
    Gateway,
    /// Emails and text messages about what happened to a company.
    Notifications,
    /// The HMS cards themselves: issued, blocked, deactivated, checked.
    Cards,
    /// The access log: who processed whose personal data, hash-chained.
    Audit,
}

/// What the layout says of one service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServiceSpec {
    pub name: ServiceName,
    /// Its gRPC port is a base ([`DEV_PORT_BASE`] by default) plus this.
    pub port_offset: u16,
    /// Keeps a database of its own (`hms_<name>`).
    pub keeps_data: bool,
    /// The services it calls over gRPC. Every service but identity also
    /// calls identity (keys, tokens, decisions), which is not listed.
    pub calls: &'static [ServiceName],
}

use ServiceName::*;

/// Every service, in start order: each after those it calls at start-up.
pub const SERVICES: [ServiceSpec; 9] = [
    ServiceSpec {
        name: Identity,
        port_offset: 4,
        keeps_data: true,
        calls: &[Companies],
    },
    ServiceSpec {
        name: Companies,
        port_offset: 0,
        keeps_data: true,
        calls: &[],
    },
    ServiceSpec {
        name: Audit,
        port_offset: 8,
        keeps_data: true,
        calls: &[Orders],
    },
    ServiceSpec {
        name: Orders,
        port_offset: 1,
        keeps_data: true,
        calls: &[Media],
    },
    ServiceSpec {
        name: Media,
        port_offset: 2,
        keeps_data: true,
        calls: &[Orders],
    },
    ServiceSpec {
        name: Redaction,
        port_offset: 3,
        keeps_data: true,
        calls: &[Orders, Media],
    },
    ServiceSpec {
        name: Cards,
        port_offset: 7,
        keeps_data: true,
        calls: &[Orders, Companies, Media],
    },
    ServiceSpec {
        name: Notifications,
        port_offset: 6,
        keeps_data: true,
        calls: &[Companies],
    },
    ServiceSpec {
        name: Gateway,
        port_offset: 5,
        keeps_data: false,
        calls: &[
            Identity,
            Companies,
            Orders,
            Media,
            Redaction,
            Notifications,
            Cards,
            Audit,
        ],
    },
];

/// The first gRPC port in development: services listen at this plus their
/// offset unless told otherwise.
pub const DEV_PORT_BASE: u16 = 50051;

/// In development a service's metrics port is its gRPC port plus this (the
/// fakes take +100 to +104).
pub const METRICS_PORT_DISTANCE: u16 = 200;

/// In Kubernetes every pod's metrics port (`HMS_METRICS_ADDR` in
/// `k8s/base/config.env`): OpenTelemetry's Prometheus port.
pub const KUBERNETES_METRICS_PORT: u16 = 9464;

impl ServiceName {
    /// Every service, in start order.
    pub const ALL: [Self; 9] = [
        Identity,
        Companies,
        Audit,
        Orders,
        Media,
        Redaction,
        Cards,
        Notifications,
        Gateway,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Identity => "identity",
            Companies => "companies",
            Orders => "orders",
            Media => "media",
            Redaction => "redaction",
            Gateway => "gateway",
            Notifications => "notifications",
            Cards => "cards",
            Audit => "audit",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|service| service.as_str() == name)
    }

    pub fn spec(self) -> &'static ServiceSpec {
        match SERVICES.iter().find(|spec| spec.name == self) {
            Some(spec) => spec,
            // Every name has a row; a test below holds the table to it.
            None => unreachable!("a service without a row in SERVICES"),
        }
    }

    /// `hms-<name>`: the package and its binary.
    pub fn package(self) -> String {
        format!("hms-{}", self.as_str())
    }

    /// `hms_<name>`, for a service that keeps data.
    pub fn database(self) -> Option<String> {
        self.spec()
            .keeps_data
            .then(|| format!("hms_{}", self.as_str()))
    }

    /// The setting through which a caller finds this service:
    /// `HMS_ORDERS_URL`.
    pub fn url_setting(self) -> String {
        format!("HMS_{}_URL", self.as_str().to_ascii_uppercase())
    }

    /// Its gRPC port when services listen from `base`.
    pub fn port(self, base: u16) -> u16 {
        base + self.spec().port_offset
    }

    /// Its metrics port when gRPC ports start at `base`.
    pub fn metrics_port(self, base: u16) -> u16 {
        self.port(base) + METRICS_PORT_DISTANCE
    }

    /// The services it calls, identity included for all but identity.
    pub fn callees(self) -> Vec<ServiceName> {
        let mut callees = Vec::new();
        if self != Identity {
            callees.push(Identity);
        }
        callees.extend(
            self.spec()
                .calls
                .iter()
                .filter(|callee| **callee != Identity),
        );
        callees
    }

    /// Gets service tokens from identity with a secret of its own: every
    /// service but the token issuer itself.
    pub fn is_identity_client(self) -> bool {
        self != Identity
    }
}

impl fmt::Display for ServiceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_service_has_one_row_and_a_port_of_its_own() {
        for service in ServiceName::ALL {
            assert_eq!(
                SERVICES.iter().filter(|spec| spec.name == service).count(),
                1,
                "{service}"
            );
            assert_eq!(ServiceName::parse(service.as_str()), Some(service));
        }
        let mut ports: Vec<u16> = SERVICES.iter().map(|spec| spec.port_offset).collect();
        ports.sort_unstable();
        ports.dedup();
        assert_eq!(ports.len(), SERVICES.len());
    }

    #[test]
    fn a_service_starts_after_those_it_calls_at_start_up() {
        // Identity asks companies only later (per company), and the
        // others ask identity at start-up: identity comes first.
        assert_eq!(SERVICES[0].name, Identity);
        let order: Vec<ServiceName> = SERVICES.iter().map(|spec| spec.name).collect();
        assert_eq!(order, ServiceName::ALL);
    }

    #[test]
    fn names_make_settings_packages_and_databases() {
        assert_eq!(Orders.url_setting(), "HMS_ORDERS_URL");
        assert_eq!(Media.package(), "hms-media");
        assert_eq!(Redaction.database().as_deref(), Some("hms_redaction"));
        assert_eq!(Gateway.database(), None);
        assert_eq!(Redaction.callees(), [Identity, Orders, Media]);
        assert_eq!(Identity.callees(), [Companies]);
        assert_eq!(Companies.port(DEV_PORT_BASE), 50051);
        assert_eq!(Identity.port(DEV_PORT_BASE), 50055);
        assert_eq!(Identity.metrics_port(DEV_PORT_BASE), 50255);
    }
}
