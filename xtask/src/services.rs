//! The services `up` runs and `test` builds. Their names, ports, databases
//! and who calls whom come from the system's layout (`hms_layout`); here
//! is only what development adds: the secrets each reads and settings of
//! its own. The development fakes they talk to are in [`FAKES`].

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256};

use hms_layout::ServiceName;

use crate::{postgres, secrets};

pub struct Service {
    pub name: ServiceName,
    /// Secrets from `.hms/dev-secrets.env` it reads. Its own service secret
    /// (`HMS_SERVICE_SECRET_<NAME>`) comes as `HMS_SERVICE_SECRET` when it
    /// is an identity client.
    pub secrets: &'static [&'static str],
    /// Settings only this service reads, beyond those all services get and
    /// the addresses of the services it calls.
    pub extra_env: fn(&Deployment) -> Result<Env>,
}

/// `(KEY, value)` settings.
pub type Env = Vec<(&'static str, String)>;

/// In the layout's start order (a test holds them to it).
pub const SERVICES: &[Service] = &[
    Service {
        name: ServiceName::Identity,
        secrets: &["HMS_IDENTITY_KEY", "HMS_OIDC_CLIENT_SECRET"],
        extra_env: identity_env,
    },
    Service {
        name: ServiceName::Companies,
        secrets: &[],
        extra_env: no_extra_env,
    },
    Service {
        name: ServiceName::Audit,
        secrets: &["HMS_AUDIT_KEY"],
        extra_env: no_extra_env,
    },
    Service {
        name: ServiceName::Orders,
        secrets: &["HMS_NATIONAL_ID_KEY"],
        extra_env: orders_env,
    },
    Service {
        name: ServiceName::Media,
        secrets: &["HMS_MEDIA_MASTER_KEY"],
        extra_env: media_env,
    },
    Service {
        name: ServiceName::Redaction,
        secrets: &["HMS_REDACTION_KEY"],
        extra_env: no_extra_env,
    },
    Service {
        name: ServiceName::Cards,
        secrets: &["HMS_PRINT_API_KEY", "HMS_CARDS_KEY"],
        extra_env: cards_env,
    },
    Service {
        name: ServiceName::Notifications,
        secrets: &[],
        extra_env: notifications_env,
    },
    Service {
        name: ServiceName::Gateway,
        secrets: &[],
        extra_env: gateway_env,
    },
];

/// Who may get tokens from the identity service: each has a secret of its
/// own in `.hms/dev-secrets.env`.
pub fn service_clients() -> impl Iterator<Item = ServiceName> {
    ServiceName::ALL
        .into_iter()
        .filter(|service| service.is_identity_client())
}

/// The client the identity service is at the BankID simulator.
pub const OIDC_CLIENT_ID: &str = "hms-identity";
/// Where the gateway's REST API listens in development.
pub const GATEWAY_HTTP_ADDR: &str = "127.0.0.1:8080";
/// Where the web front end (`hms-web`) listens in development.
pub const WEB_HTTP_ADDR: &str = "127.0.0.1:8090";
/// The web front end's package and binary.
pub const WEB_PACKAGE: &str = "hms-web";
/// The gateway's login callback, where the simulator sends browsers back.
pub const OIDC_REDIRECT_URI: &str = "http://127.0.0.1:8080/api/v1/auth/callback";
/// Siri Saksbehandler, a synthetic test person of the BankID simulator.
const BACK_OFFICE_NATIONAL_IDS: &str = "30899040437";

/// Where the back office's messages go in development (the mail sink).
pub const DEV_BACK_OFFICE_EMAIL: &str = "kontroll@hms-kort.localhost";

/// A development-only stand-in for an outside system, started before the
/// services.
pub struct Fake {
    /// The package, and the binary it builds.
    pub name: &'static str,
    pub binary: &'static str,
    /// Its HTTP port is the port base plus this.
    pub port_offset: u16,
}

pub const BANKID_SIMULATOR: Fake = Fake {
    name: "bankid-simulator",
    binary: "bankid-simulator",
    port_offset: 100,
};

pub const REGISTER_FAKE: Fake = Fake {
    name: "brreg-fake",
    binary: "brreg-fake",
    port_offset: 101,
};

pub const SMS_FAKE: Fake = Fake {
    name: "sms-fake",
    binary: "sms-fake",
    port_offset: 102,
};

pub const CARD_PRODUCER_FAKE: Fake = Fake {
    name: "card-producer-fake",
    binary: "card-producer-fake",
    port_offset: 104,
};

/// Folkeregisteret and Aa-registeret, for orders' register checks.
pub const REGISTERS_FAKE: Fake = Fake {
    name: "registers-fake",
    binary: "registers-fake",
    port_offset: 105,
};

pub const FAKES: &[Fake] = &[
    BANKID_SIMULATOR,
    REGISTER_FAKE,
    SMS_FAKE,
    CARD_PRODUCER_FAKE,
    REGISTERS_FAKE,
];

/// The development SMTP server (aiosmtpd, from PyPI) listens on the port
/// base plus this.
pub const MAIL_SINK_PORT_OFFSET: u16 = 103;

fn no_extra_env(_: &Deployment) -> Result<Env> {
    Ok(Vec::new())
}

fn identity_env(deployment: &Deployment) -> Result<Env> {
    let mut clients = Vec::new();
    for name in service_clients() {
        let secret = deployment.secret(&secrets::service_secret(name.as_str()))?;
        let hash: String = Sha256::digest(secret.as_bytes())
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect();
        clients.push(format!("{name}:{hash}"));
    }
    Ok(vec![
        ("HMS_SERVICE_CLIENTS", clients.join(",")),
        (
            "HMS_OIDC_ISSUER_URL",
            deployment.fake_url(&BANKID_SIMULATOR),
        ),
        ("HMS_OIDC_CLIENT_ID", OIDC_CLIENT_ID.to_owned()),
        ("HMS_OIDC_REDIRECT_URI", OIDC_REDIRECT_URI.to_owned()),
        ("HMS_REGISTER_URL", deployment.fake_url(&REGISTER_FAKE)),
        // Development data uses Test-Norge/Tenor numbers, never real ones.
        ("HMS_ALLOW_SYNTHETIC_NATIONAL_IDS", "true".to_owned()),
        (
            "HMS_BACK_OFFICE_NATIONAL_IDS",
            BACK_OFFICE_NATIONAL_IDS.to_owned(),
        ),
    ])
}

fn orders_env(deployment: &Deployment) -> Result<Env> {
    Ok(vec![
        // Development data uses Test-Norge/Tenor numbers, never real ones.
        ("HMS_ALLOW_SYNTHETIC_NATIONAL_IDS", "true".to_owned()),
        (
            "HMS_FOLKEREGISTERET_URL",
            deployment.fake_url(&REGISTERS_FAKE),
        ),
        ("HMS_AAREG_URL", deployment.fake_url(&REGISTERS_FAKE)),
    ])
}

fn media_env(deployment: &Deployment) -> Result<Env> {
    Ok(vec![(
        "HMS_MEDIA_STORE_URL",
        format!("file://{}", deployment.media_store.display()),
    )])
}

fn notifications_env(deployment: &Deployment) -> Result<Env> {
    Ok(vec![
        // Plain SMTP to the development server on this machine, which
        // keeps every message; production is TLS to a real one.
        (
            "HMS_SMTP_URL",
            format!("smtp://{}", deployment.mail_sink_addr()),
        ),
        ("HMS_SMS_URL", deployment.fake_url(&SMS_FAKE)),
        ("HMS_PUBLIC_URL", format!("http://{GATEWAY_HTTP_ADDR}")),
        (
            "HMS_NOTIFY_BACKOFFICE_EMAIL",
            DEV_BACK_OFFICE_EMAIL.to_owned(),
        ),
    ])
}

fn cards_env(deployment: &Deployment) -> Result<Env> {
    Ok(vec![
        ("HMS_PRINT_URL", deployment.fake_url(&CARD_PRODUCER_FAKE)),
        // Credentials name the status list where the gateway serves it.
        ("HMS_PUBLIC_URL", format!("http://{GATEWAY_HTTP_ADDR}")),
    ])
}

fn gateway_env(_: &Deployment) -> Result<Env> {
    Ok(vec![
        ("HMS_HTTP_ADDR", GATEWAY_HTTP_ADDR.to_owned()),
        // Plain HTTP on the developer's machine; production is HTTPS only.
        ("HMS_COOKIE_SECURE", "false".to_owned()),
        // After a browser login, the web front end.
        (
            "HMS_AFTER_LOGIN_URL",
            format!("http://{WEB_HTTP_ADDR}/logged-in"),
        ),
    ])
}

/// The web front end: its pages over the gateway's public API, on a port
/// of the same host (browsers share cookies across a host's ports).
pub fn web_env() -> Env {
    vec![
        ("HMS_WEB_ADDR", WEB_HTTP_ADDR.to_owned()),
        ("HMS_WEB_API_URL", format!("http://{GATEWAY_HTTP_ADDR}")),
        (
            "HMS_WEB_BROWSER_API_URL",
            format!("http://{GATEWAY_HTTP_ADDR}"),
        ),
        ("HMS_COOKIE_SECURE", "false".to_owned()),
    ]
}

impl Service {
    pub fn package(&self) -> String {
        self.name.package()
    }

    /// Its database, if it keeps data.
    pub fn database(&self) -> Option<String> {
        self.name.database()
    }

    pub fn port_offset(&self) -> u16 {
        self.name.spec().port_offset
    }
}

/// `build --bins -p hms-identity -p …`: every service and fake binary, and
/// nothing else, so `up` does not wait for test crates.
pub fn build_args() -> Vec<String> {
    let mut args = vec!["build".to_owned(), "--bins".to_owned()];
    for service in SERVICES {
        args.push("-p".to_owned());
        args.push(service.package());
    }
    for fake in FAKES {
        args.push("-p".to_owned());
        args.push(fake.name.to_owned());
    }
    args.push("-p".to_owned());
    args.push(WEB_PACKAGE.to_owned());
    args
}

pub const DEFAULT_PORT_BASE: u16 = 50051;

/// `HMS_DEV_PORT_BASE`, so two checkouts can run side by side.
pub fn port_base_from_env() -> Result<u16> {
    match std::env::var("HMS_DEV_PORT_BASE") {
        Ok(text) if !text.trim().is_empty() => text
            .trim()
            .parse()
            .with_context(|| format!("HMS_DEV_PORT_BASE={text:?} is not a port number")),
        _ => Ok(DEFAULT_PORT_BASE),
    }
}

/// What the running services share: where they listen and what they use.
pub struct Deployment {
    port_base: u16,
    /// The administrative PostgreSQL URL; each service gets its own database.
    pub database_url: String,
    pub nats_url: String,
    /// Folder for the media store (`file://`), absolute.
    pub media_store: PathBuf,
    /// `KEY=VALUE` from `.hms/dev-secrets.env`.
    pub secrets: Vec<(String, String)>,
}

impl Deployment {
    pub fn new(
        port_base: u16,
        database_url: String,
        nats_url: String,
        media_store: PathBuf,
        secrets: Vec<(String, String)>,
    ) -> Result<Self> {
        let highest = SERVICES
            .iter()
            .map(|service| service.port_offset() + hms_layout::METRICS_PORT_DISTANCE)
            .chain(FAKES.iter().map(|fake| fake.port_offset))
            .chain([MAIL_SINK_PORT_OFFSET])
            .max();
        if port_base == 0 || highest.is_some_and(|offset| port_base.checked_add(offset).is_none()) {
            bail!(
                "HMS_DEV_PORT_BASE={port_base} leaves no room for the ports up to +{}",
                highest.unwrap_or(0)
            );
        }
        Ok(Self {
            port_base,
            database_url,
            nats_url,
            media_store,
            secrets,
        })
    }

    pub fn addr(&self, service: &Service) -> SocketAddr {
        // `new` checked that this does not overflow.
        let port = self.port_base.saturating_add(service.port_offset());
        SocketAddr::from((Ipv4Addr::LOCALHOST, port))
    }

    /// Where `service` answers `GET /metrics`.
    pub fn metrics_addr(&self, service: &Service) -> SocketAddr {
        // `new` checked that this does not overflow.
        let port = service.name.metrics_port(self.port_base);
        SocketAddr::from((Ipv4Addr::LOCALHOST, port))
    }

    pub fn fake_addr(&self, fake: &Fake) -> SocketAddr {
        // `new` checked that this does not overflow.
        let port = self.port_base.saturating_add(fake.port_offset);
        SocketAddr::from((Ipv4Addr::LOCALHOST, port))
    }

    /// Where the development SMTP server listens.
    pub fn mail_sink_addr(&self) -> SocketAddr {
        // `new` checked that this does not overflow.
        let port = self.port_base.saturating_add(MAIL_SINK_PORT_OFFSET);
        SocketAddr::from((Ipv4Addr::LOCALHOST, port))
    }

    /// `http://127.0.0.1:<port>` of the fake.
    pub fn fake_url(&self, fake: &Fake) -> String {
        format!("http://{}", self.fake_addr(fake))
    }

    /// `http://127.0.0.1:<port>` of `service`.
    fn url_of(&self, service: ServiceName) -> String {
        let port = self.port_base.saturating_add(service.spec().port_offset);
        format!("http://{}", SocketAddr::from((Ipv4Addr::LOCALHOST, port)))
    }

    /// The secret `key` from `.hms/dev-secrets.env`.
    pub fn secret(&self, key: &str) -> Result<&str> {
        self.secrets
            .iter()
            .find(|(known, _)| known == key)
            .map(|(_, value)| value.as_str())
            .with_context(|| format!("{key} is missing from the development secrets"))
    }

    /// Everything set for `service` on top of the inherited environment:
    /// of the secrets, only those it needs.
    pub fn env(&self, service: &Service) -> Result<Vec<(String, String)>> {
        let mut env = vec![
            ("HMS_GRPC_ADDR".to_owned(), self.addr(service).to_string()),
            (
                "HMS_METRICS_ADDR".to_owned(),
                self.metrics_addr(service).to_string(),
            ),
            ("HMS_NATS_URL".to_owned(), self.nats_url.clone()),
            ("HMS_LOG_FORMAT".to_owned(), "text".to_owned()),
            (
                ServiceName::Identity.url_setting(),
                self.url_of(ServiceName::Identity),
            ),
        ];
        if let Some(database) = service.database() {
            env.push((
                "HMS_DATABASE_URL".to_owned(),
                postgres::with_database(&self.database_url, &database)?,
            ));
        }
        for callee in service.name.callees() {
            env.push((callee.url_setting(), self.url_of(callee)));
        }
        for key in service.secrets {
            env.push(((*key).to_owned(), self.secret(key)?.to_owned()));
        }
        if service.name.is_identity_client() {
            let own = self.secret(&secrets::service_secret(service.name.as_str()))?;
            env.push(("HMS_SERVICE_SECRET".to_owned(), own.to_owned()));
        }
        env.extend(
            (service.extra_env)(self)?
                .into_iter()
                .map(|(key, value)| (key.to_owned(), value)),
        );
        Ok(env)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every secret of the file, with its name as its value.
    fn deployment(port_base: u16) -> Result<Deployment> {
        Deployment::new(
            port_base,
            "postgres://postgres@127.0.0.1:5432/postgres".to_owned(),
            "nats://127.0.0.1:4222".to_owned(),
            PathBuf::from("/repo/.hms/media"),
            secrets::SECRETS
                .iter()
                .map(|(key, _)| ((*key).to_owned(), format!("value-of-{key}")))
                .collect(),
        )
    }

    fn lookup<'a>(env: &'a [(String, String)], key: &str) -> Option<&'a str> {
        env.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    fn service(name: &str) -> &'static Service {
        SERVICES
            .iter()
            .find(|service| service.name.as_str() == name)
            .expect("a service of the table")
    }

    #[test]
    fn every_service_gets_its_port_database_and_identity() -> Result<()> {
        let deployment = deployment(DEFAULT_PORT_BASE)?;
        let names: Vec<ServiceName> = SERVICES.iter().map(|service| service.name).collect();
        assert_eq!(
            names,
            ServiceName::ALL,
            "every service, in the layout's order"
        );
        for service in SERVICES {
            let env = deployment.env(service)?;
            let port = 50051 + service.port_offset();
            assert_eq!(
                lookup(&env, "HMS_GRPC_ADDR"),
                Some(format!("127.0.0.1:{port}").as_str())
            );
            let database = service
                .database()
                .map(|name| format!("postgres://postgres@127.0.0.1:5432/{name}"));
            assert_eq!(
                lookup(&env, "HMS_DATABASE_URL"),
                database.as_deref(),
                "{}",
                service.name
            );
            assert_eq!(lookup(&env, "HMS_NATS_URL"), Some("nats://127.0.0.1:4222"));
            assert_eq!(lookup(&env, "HMS_LOG_FORMAT"), Some("text"));
            assert_eq!(
                lookup(&env, "HMS_IDENTITY_URL"),
                Some("http://127.0.0.1:50055")
            );
        }
        assert_eq!(SERVICES[0].name, ServiceName::Identity, "started first");
        Ok(())
    }

    #[test]
    fn each_service_gets_only_its_own_secrets() -> Result<()> {
        let deployment = deployment(DEFAULT_PORT_BASE)?;
        let needs: &[(&str, &[&str])] = &[
            ("identity", &["HMS_IDENTITY_KEY", "HMS_OIDC_CLIENT_SECRET"]),
            ("companies", &[]),
            ("audit", &["HMS_AUDIT_KEY"]),
            ("orders", &["HMS_NATIONAL_ID_KEY"]),
            ("media", &["HMS_MEDIA_MASTER_KEY"]),
            ("redaction", &["HMS_REDACTION_KEY"]),
            ("cards", &["HMS_PRINT_API_KEY", "HMS_CARDS_KEY"]),
            ("notifications", &[]),
            ("gateway", &[]),
        ];
        assert_eq!(needs.len(), SERVICES.len());
        for (name, wanted) in needs {
            let env = deployment.env(service(name))?;
            for (key, _) in secrets::SECRETS {
                let expected = wanted.contains(key).then(|| format!("value-of-{key}"));
                assert_eq!(
                    lookup(&env, key).map(str::to_owned),
                    expected,
                    "{key} for {name}"
                );
            }
            let own = (*name != "identity")
                .then(|| format!("value-of-HMS_SERVICE_SECRET_{}", name.to_uppercase()));
            assert_eq!(
                lookup(&env, "HMS_SERVICE_SECRET").map(str::to_owned),
                own,
                "{name}"
            );
        }
        Ok(())
    }

    #[test]
    fn identity_knows_its_clients_and_the_fakes() -> Result<()> {
        let deployment = deployment(6000)?;
        let env = deployment.env(service("identity"))?;
        assert_eq!(lookup(&env, "HMS_GRPC_ADDR"), Some("127.0.0.1:6004"));
        let clients = lookup(&env, "HMS_SERVICE_CLIENTS").context("clients")?;
        let clients: Vec<(&str, &str)> = clients
            .split(',')
            .map(|entry| entry.split_once(':').context("name:hash"))
            .collect::<Result<_>>()?;
        let names: Vec<&str> = clients.iter().map(|(name, _)| *name).collect();
        let expected: Vec<&str> = service_clients().map(ServiceName::as_str).collect();
        assert_eq!(names, expected);
        // sha256("value-of-HMS_SERVICE_SECRET_COMPANIES")
        let expected: String = Sha256::digest(b"value-of-HMS_SERVICE_SECRET_COMPANIES")
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect();
        assert_eq!(clients[0].1, expected);
        assert!(
            clients
                .iter()
                .all(|(_, hash)| hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()))
        );
        for (key, value) in [
            ("HMS_COMPANIES_URL", "http://127.0.0.1:6000"),
            ("HMS_OIDC_ISSUER_URL", "http://127.0.0.1:6100"),
            ("HMS_REGISTER_URL", "http://127.0.0.1:6101"),
            ("HMS_OIDC_CLIENT_ID", "hms-identity"),
            (
                "HMS_OIDC_REDIRECT_URI",
                "http://127.0.0.1:8080/api/v1/auth/callback",
            ),
            ("HMS_ALLOW_SYNTHETIC_NATIONAL_IDS", "true"),
            ("HMS_BACK_OFFICE_NATIONAL_IDS", "30899040437"),
        ] {
            assert_eq!(lookup(&env, key), Some(value), "{key}");
        }
        Ok(())
    }

    #[test]
    fn every_client_has_a_generated_secret() {
        for name in service_clients() {
            let key = secrets::service_secret(name.as_str());
            assert!(
                secrets::SECRETS.iter().any(|(known, _)| *known == key),
                "{key}"
            );
        }
    }

    #[test]
    fn a_missing_secret_is_an_error() -> Result<()> {
        let mut deployment = deployment(DEFAULT_PORT_BASE)?;
        deployment
            .secrets
            .retain(|(key, _)| key != "HMS_SERVICE_SECRET_ORDERS");
        assert!(deployment.env(service("orders")).is_err());
        assert!(deployment.env(service("identity")).is_err());
        assert!(deployment.env(service("companies")).is_ok());
        Ok(())
    }

    #[test]
    fn services_find_each_other() -> Result<()> {
        let deployment = deployment(6000)?;
        let orders = deployment.env(service("orders"))?;
        assert_eq!(
            lookup(&orders, "HMS_MEDIA_URL"),
            Some("http://127.0.0.1:6002")
        );
        assert_eq!(
            lookup(&orders, "HMS_ALLOW_SYNTHETIC_NATIONAL_IDS"),
            Some("true")
        );
        let media = deployment.env(service("media"))?;
        assert_eq!(
            lookup(&media, "HMS_ORDERS_URL"),
            Some("http://127.0.0.1:6001")
        );
        assert_eq!(
            lookup(&media, "HMS_MEDIA_STORE_URL"),
            Some("file:///repo/.hms/media")
        );
        let redaction = deployment.env(service("redaction"))?;
        assert_eq!(
            lookup(&redaction, "HMS_ORDERS_URL"),
            Some("http://127.0.0.1:6001")
        );
        let notifications = deployment.env(service("notifications"))?;
        assert_eq!(
            lookup(&notifications, "HMS_SMTP_URL"),
            Some("smtp://127.0.0.1:6103")
        );
        assert_eq!(
            lookup(&notifications, "HMS_SMS_URL"),
            Some("http://127.0.0.1:6102")
        );
        let gateway = deployment.env(service("gateway"))?;
        assert_eq!(
            lookup(&gateway, "HMS_NOTIFICATIONS_URL"),
            Some("http://127.0.0.1:6006")
        );
        assert_eq!(
            lookup(&redaction, "HMS_MEDIA_URL"),
            Some("http://127.0.0.1:6002")
        );
        Ok(())
    }

    #[test]
    fn names_ports_and_build_arguments_are_consistent() -> Result<()> {
        let mut offsets: Vec<u16> = SERVICES
            .iter()
            .map(Service::port_offset)
            .chain(FAKES.iter().map(|f| f.port_offset))
            .collect();
        offsets.sort_unstable();
        offsets.dedup();
        assert_eq!(
            offsets.len(),
            SERVICES.len() + FAKES.len(),
            "ports must differ"
        );
        assert_eq!(
            build_args().join(" "),
            "build --bins -p hms-identity -p hms-companies -p hms-audit -p hms-orders -p hms-media \
             -p hms-redaction -p hms-cards -p hms-notifications -p hms-gateway \
             -p bankid-simulator -p brreg-fake -p sms-fake -p card-producer-fake \
             -p registers-fake -p hms-web"
        );
        let deployment = deployment(DEFAULT_PORT_BASE)?;
        assert_eq!(
            deployment.fake_addr(&BANKID_SIMULATOR).to_string(),
            "127.0.0.1:50151"
        );
        assert_eq!(
            deployment.fake_addr(&REGISTER_FAKE).to_string(),
            "127.0.0.1:50152"
        );
        assert_eq!(
            deployment.fake_addr(&SMS_FAKE).to_string(),
            "127.0.0.1:50153"
        );
        assert_eq!(deployment.mail_sink_addr().to_string(), "127.0.0.1:50154");
        assert_eq!(
            deployment.fake_addr(&CARD_PRODUCER_FAKE).to_string(),
            "127.0.0.1:50155"
        );
        let audit = SERVICES
            .iter()
            .find(|service| service.name == ServiceName::Audit)
            .expect("audit");
        assert_eq!(
            deployment.metrics_addr(audit).to_string(),
            "127.0.0.1:50259"
        );
        // The highest port is audit's metrics port, base + 208.
        assert!(self::deployment(65_327).is_ok());
        assert!(self::deployment(65_328).is_err());
        assert!(self::deployment(0).is_err());
        Ok(())
    }
}
