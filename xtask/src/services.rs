//! The services `up` runs and `test` builds. Adding a service is one row in
//! [`SERVICES`] (plus, if it needs settings of its own, a small function).

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use anyhow::{Context, Result, bail};

use crate::postgres;

pub struct Service {
    /// `companies`: the package and binary are `hms-companies`, the
    /// database `hms_companies`.
    pub name: &'static str,
    /// Its gRPC port is the port base plus this.
    pub port_offset: u16,
    /// Settings only this service reads, beyond those all services get.
    pub extra_env: fn(&Deployment) -> Vec<(&'static str, String)>,
}

/// In start order: a service comes after those it calls at start-up.
pub const SERVICES: &[Service] = &[
    Service {
        name: "companies",
        port_offset: 0,
        extra_env: no_extra_env,
    },
    Service {
        name: "orders",
        port_offset: 1,
        extra_env: orders_env,
    },
    Service {
        name: "media",
        port_offset: 2,
        extra_env: media_env,
    },
    Service {
        name: "redaction",
        port_offset: 3,
        extra_env: redaction_env,
    },
];

fn no_extra_env(_: &Deployment) -> Vec<(&'static str, String)> {
    Vec::new()
}

fn orders_env(deployment: &Deployment) -> Vec<(&'static str, String)> {
    vec![
        ("HMS_MEDIA_URL", deployment.url_of("media")),
        // Development data uses Test-Norge/Tenor numbers, never real ones.
        ("HMS_ALLOW_SYNTHETIC_NATIONAL_IDS", "true".to_owned()),
    ]
}

fn media_env(deployment: &Deployment) -> Vec<(&'static str, String)> {
    vec![
        ("HMS_ORDERS_URL", deployment.url_of("orders")),
        (
            "HMS_MEDIA_STORE_URL",
            format!("file://{}", deployment.media_store.display()),
        ),
    ]
}

fn redaction_env(deployment: &Deployment) -> Vec<(&'static str, String)> {
    vec![
        ("HMS_ORDERS_URL", deployment.url_of("orders")),
        ("HMS_MEDIA_URL", deployment.url_of("media")),
    ]
}

impl Service {
    pub fn package(&self) -> String {
        format!("hms-{}", self.name)
    }

    pub fn database(&self) -> String {
        format!("hms_{}", self.name)
    }
}

/// `build --bins -p hms-companies -p …`: every service binary, and nothing
/// else, so `up` does not wait for test crates.
pub fn build_args() -> Vec<String> {
    let mut args = vec!["build".to_owned(), "--bins".to_owned()];
    for service in SERVICES {
        args.push("-p".to_owned());
        args.push(service.package());
    }
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
        let highest = SERVICES.iter().map(|service| service.port_offset).max();
        if port_base == 0 || highest.is_some_and(|offset| port_base.checked_add(offset).is_none()) {
            bail!(
                "HMS_DEV_PORT_BASE={port_base} leaves no room for {} ports",
                SERVICES.len()
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
        let port = self.port_base.saturating_add(service.port_offset);
        SocketAddr::from((Ipv4Addr::LOCALHOST, port))
    }

    /// `http://127.0.0.1:<port>` of the service called `name`.
    fn url_of(&self, name: &str) -> String {
        let service = SERVICES
            .iter()
            .find(|service| service.name == name)
            .expect("extra_env functions name services of the table (checked by a test)");
        format!("http://{}", self.addr(service))
    }

    /// Everything set for `service` on top of the inherited environment.
    pub fn env(&self, service: &Service) -> Result<Vec<(String, String)>> {
        let mut env = vec![
            ("HMS_GRPC_ADDR".to_owned(), self.addr(service).to_string()),
            (
                "HMS_DATABASE_URL".to_owned(),
                postgres::with_database(&self.database_url, &service.database())?,
            ),
            ("HMS_NATS_URL".to_owned(), self.nats_url.clone()),
            ("HMS_LOG_FORMAT".to_owned(), "text".to_owned()),
        ];
        env.extend(self.secrets.iter().cloned());
        env.extend(
            (service.extra_env)(self)
                .into_iter()
                .map(|(key, value)| (key.to_owned(), value)),
        );
        Ok(env)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment(port_base: u16) -> Result<Deployment> {
        Deployment::new(
            port_base,
            "postgres://postgres@127.0.0.1:5432/postgres".to_owned(),
            "nats://127.0.0.1:4222".to_owned(),
            PathBuf::from("/repo/.hms/media"),
            vec![("HMS_NATIONAL_ID_KEY".to_owned(), "a2V5".to_owned())],
        )
    }

    fn lookup<'a>(env: &'a [(String, String)], key: &str) -> Option<&'a str> {
        env.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    #[test]
    fn every_service_gets_its_port_database_and_secrets() -> Result<()> {
        let deployment = deployment(DEFAULT_PORT_BASE)?;
        for (index, service) in SERVICES.iter().enumerate() {
            // Also proves every extra_env names a real service.
            let env = deployment.env(service)?;
            let port = 50051 + u16::try_from(index)?;
            assert_eq!(
                lookup(&env, "HMS_GRPC_ADDR"),
                Some(format!("127.0.0.1:{port}").as_str())
            );
            let database = format!("postgres://postgres@127.0.0.1:5432/hms_{}", service.name);
            assert_eq!(lookup(&env, "HMS_DATABASE_URL"), Some(database.as_str()));
            assert_eq!(lookup(&env, "HMS_NATS_URL"), Some("nats://127.0.0.1:4222"));
            assert_eq!(lookup(&env, "HMS_LOG_FORMAT"), Some("text"));
            assert_eq!(lookup(&env, "HMS_NATIONAL_ID_KEY"), Some("a2V5"));
        }
        Ok(())
    }

    #[test]
    fn services_find_each_other() -> Result<()> {
        let deployment = deployment(6000)?;
        let orders = deployment.env(&SERVICES[1])?;
        assert_eq!(
            lookup(&orders, "HMS_MEDIA_URL"),
            Some("http://127.0.0.1:6002")
        );
        assert_eq!(
            lookup(&orders, "HMS_ALLOW_SYNTHETIC_NATIONAL_IDS"),
            Some("true")
        );
        let media = deployment.env(&SERVICES[2])?;
        assert_eq!(
            lookup(&media, "HMS_ORDERS_URL"),
            Some("http://127.0.0.1:6001")
        );
        assert_eq!(
            lookup(&media, "HMS_MEDIA_STORE_URL"),
            Some("file:///repo/.hms/media")
        );
        let redaction = deployment.env(&SERVICES[3])?;
        assert_eq!(
            lookup(&redaction, "HMS_ORDERS_URL"),
            Some("http://127.0.0.1:6001")
        );
        assert_eq!(
            lookup(&redaction, "HMS_MEDIA_URL"),
            Some("http://127.0.0.1:6002")
        );
        Ok(())
    }

    #[test]
    fn names_ports_and_build_arguments_are_consistent() {
        let mut offsets: Vec<u16> = SERVICES.iter().map(|s| s.port_offset).collect();
        offsets.sort_unstable();
        offsets.dedup();
        assert_eq!(offsets.len(), SERVICES.len(), "ports must differ");
        assert_eq!(
            build_args().join(" "),
            "build --bins -p hms-companies -p hms-orders -p hms-media -p hms-redaction"
        );
        assert!(deployment(65_534).is_err());
        assert!(deployment(0).is_err());
    }
}
