//! Configuration the same way in every binary: the service's defaults, then
//! an optional TOML file named by `HMS_CONFIG_FILE`, then `HMS_*` environment
//! variables (`HMS_DATABASE_URL` sets `database_url`). Each library reads its
//! own section type from the same sources, so a setting is declared once.

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use hms_layout::{DEV_PORT_BASE, ServiceName};
use serde::de::DeserializeOwned;

/// Durations as settings give them: whole seconds, milliseconds or hours,
/// named by the suffix of the setting (`HMS_REQUEST_TIMEOUT_SECS`). Used as
/// `#[serde(rename = "request_timeout_secs", deserialize_with =
/// "hms_config::duration::seconds")]` on a `Duration` field, so the code
/// gets a `Duration` and the setting keeps its name.
pub mod duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    pub fn seconds<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        u64::deserialize(deserializer).map(Duration::from_secs)
    }

    pub fn millis<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        u64::deserialize(deserializer).map(Duration::from_millis)
    }

    pub fn hours<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        u64::deserialize(deserializer).map(|hours| Duration::from_secs(hours.saturating_mul(3600)))
    }

    /// Days, fractions allowed (`0.5` is twelve hours): retention periods
    /// are stated in days, and a test shortens them to seconds.
    pub fn days<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        let days = f64::deserialize(deserializer)?;
        if !(0.0..=36_500.0).contains(&days) {
            return Err(serde::de::Error::custom(
                "must be a number of days from 0 to 36500",
            ));
        }
        Ok(Duration::from_secs_f64(days * 86_400.0))
    }
}

/// A setting could not be read. Names the setting, never a secret's value.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(String);

impl ConfigError {
    /// A setting that was read but makes no sense.
    pub fn invalid(setting: &str, problem: impl std::fmt::Display) -> Self {
        Self(format!("{setting}: {problem}"))
    }
}

/// The address of an outside party (an SMS provider, the card producer)
/// that we send personal data or credentials to: `https`, or plain `http`
/// only to this machine (a development fake).
pub fn outside_party_url(setting: &str, value: &str) -> Result<url::Url, ConfigError> {
    let url = url::Url::parse(value).map_err(|e| ConfigError::invalid(setting, e))?;
    let loopback = match url.host() {
        Some(url::Host::Domain(name)) => name == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    match url.scheme() {
        "https" => Ok(url),
        "http" if loopback => Ok(url),
        _ => Err(ConfigError::invalid(
            setting,
            "must be https (http only to this machine)",
        )),
    }
}

/// All sources of configuration for one binary.
#[derive(Debug, Clone)]
pub struct Sources {
    figment: Figment,
}

impl Sources {
    /// The sources of `service`: defaults from the system's layout (its
    /// port, database, and where the services it calls answer on one
    /// machine) and its own (`own`), then `HMS_CONFIG_FILE`, then the
    /// environment.
    pub fn for_service(service: ServiceName, own: &[(&str, &str)]) -> Self {
        let mut defaults = vec![
            (
                "grpc_addr".to_owned(),
                format!("0.0.0.0:{}", service.port(DEV_PORT_BASE)),
            ),
            (
                "metrics_addr".to_owned(),
                format!("0.0.0.0:{}", service.metrics_port(DEV_PORT_BASE)),
            ),
        ];
        if let Some(database) = service.database() {
            defaults.push((
                "database_url".to_owned(),
                format!("postgres://postgres@127.0.0.1:5432/{database}"),
            ));
        }
        for callee in service.callees() {
            defaults.push((
                format!("{callee}_url"),
                format!("http://127.0.0.1:{}", callee.port(DEV_PORT_BASE)),
            ));
        }
        defaults.extend(
            own.iter()
                .map(|(key, value)| ((*key).to_owned(), (*value).to_owned())),
        );
        Self::new(&defaults)
    }

    /// Defaults (`("grpc_addr", "0.0.0.0:50052")`), then `HMS_CONFIG_FILE`,
    /// then the environment.
    pub fn new<K: AsRef<str>, V: AsRef<str>>(defaults: &[(K, V)]) -> Self {
        let mut figment = Figment::new();
        for (key, value) in defaults {
            figment = figment.merge(Serialized::default(key.as_ref(), value.as_ref()));
        }
        if let Ok(file) = std::env::var("HMS_CONFIG_FILE") {
            figment = figment.merge(Toml::file_exact(file));
        }
        Self {
            figment: figment.merge(Env::prefixed("HMS_").ignore(&["CONFIG_FILE"])),
        }
    }

    /// One section of the configuration.
    pub fn get<T: DeserializeOwned>(&self) -> Result<T, ConfigError> {
        self.figment.extract().map_err(|error| {
            // figment's messages name the key and what was expected; for a
            // string field they may quote the value, so we keep only the
            // kind and the key.
            let keys: Vec<String> = error
                .clone()
                .into_iter()
                .map(|e| {
                    let path = if e.path.is_empty() {
                        String::from("(root)")
                    } else {
                        format!("HMS_{}", e.path.join("_").to_ascii_uppercase())
                    };
                    match e.kind {
                        figment::error::Kind::MissingField(field) => {
                            format!("HMS_{} is required", field.to_ascii_uppercase())
                        }
                        figment::error::Kind::InvalidType(_, expected) => {
                            format!("{path} must be {expected}")
                        }
                        figment::error::Kind::InvalidValue(_, expected) => {
                            format!("{path} must be {expected}")
                        }
                        figment::error::Kind::UnknownVariant(_, expected) => {
                            format!("{path} must be one of {expected:?}")
                        }
                        other => format!("{path}: {other}"),
                    }
                })
                .collect();
            ConfigError(keys.join("; "))
        })
    }
}

/// The `HMS_*` names of the settings a configuration section reads, taken
/// from its `Deserialize` implementation (so documentation can be checked
/// against the code).
pub fn setting_names<T: DeserializeOwned>() -> Vec<String> {
    let mut recorder = FieldRecorder::default();
    let _ = T::deserialize(&mut recorder);
    recorder
        .fields
        .iter()
        .map(|field| format!("HMS_{}", field.to_ascii_uppercase()))
        .collect()
}

/// A deserializer that only notes which fields a struct asks for.
#[derive(Default)]
struct FieldRecorder {
    fields: Vec<&'static str>,
}

#[derive(Debug)]
struct Recorded;

impl std::fmt::Display for Recorded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("fields recorded")
    }
}

impl std::error::Error for Recorded {}

impl serde::de::Error for Recorded {
    fn custom<T: std::fmt::Display>(_: T) -> Self {
        Recorded
    }
}

impl<'de> serde::Deserializer<'de> for &mut FieldRecorder {
    type Error = Recorded;

    fn deserialize_any<V: serde::de::Visitor<'de>>(self, _: V) -> Result<V::Value, Recorded> {
        Err(Recorded)
    }

    fn deserialize_struct<V: serde::de::Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Recorded> {
        self.fields.extend_from_slice(fields);
        Err(Recorded)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map enum identifier ignored_any
    }
}

#[cfg(test)]
// figment's `Jail` closures return its (large) error type.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    struct Section {
        grpc_addr: std::net::SocketAddr,
        #[serde(default)]
        flag: bool,
        #[serde(rename = "grace_secs", default, deserialize_with = "duration::seconds")]
        grace: std::time::Duration,
    }

    #[test]
    fn outside_parties_are_reached_over_https_or_on_this_machine() {
        for ok in [
            "https://n-eu.linkmobility.io",
            "http://127.0.0.1:8092",
            "http://localhost:1",
            "http://[::1]:2",
        ] {
            assert!(outside_party_url("HMS_X_URL", ok).is_ok(), "{ok}");
        }
        for refused in [
            "http://n-eu.linkmobility.io",
            "ftp://127.0.0.1",
            "not a url",
        ] {
            let error = outside_party_url("HMS_X_URL", refused).expect_err(refused);
            assert!(error.to_string().contains("HMS_X_URL"));
        }
    }

    #[test]
    fn defaults_then_environment() {
        figment::Jail::expect_with(|jail| {
            let sources = Sources::new(&[("grpc_addr", "127.0.0.1:1")]);
            let section: Section = sources.get().expect("defaults suffice");
            assert_eq!(section.grpc_addr.port(), 1);
            assert!(!section.flag);

            jail.set_env("HMS_GRPC_ADDR", "127.0.0.1:2");
            jail.set_env("HMS_FLAG", "true");
            jail.set_env("HMS_GRACE_SECS", "7");
            let section: Section = Sources::new(&[("grpc_addr", "127.0.0.1:1")])
                .get()
                .expect("env");
            assert_eq!(section.grpc_addr.port(), 2);
            assert!(section.flag);
            assert_eq!(section.grace, std::time::Duration::from_secs(7));
            Ok(())
        });
    }

    #[derive(Debug, Deserialize)]
    struct Calls {
        grpc_addr: std::net::SocketAddr,
        database_url: String,
        identity_url: String,
        orders_url: String,
        media_url: String,
    }

    #[test]
    fn a_services_defaults_come_from_the_layout() {
        figment::Jail::expect_with(|_| {
            let redaction: Calls = Sources::for_service(ServiceName::Redaction, &[])
                .get()
                .expect("defaults suffice");
            assert_eq!(redaction.grpc_addr.port(), 50054);
            assert!(redaction.database_url.ends_with("/hms_redaction"));
            assert_eq!(redaction.identity_url, "http://127.0.0.1:50055");
            assert_eq!(redaction.orders_url, "http://127.0.0.1:50052");
            assert_eq!(redaction.media_url, "http://127.0.0.1:50053");
            Ok(())
        });
    }

    #[test]
    fn setting_names_come_from_the_fields() {
        assert_eq!(
            setting_names::<Section>(),
            ["HMS_GRPC_ADDR", "HMS_FLAG", "HMS_GRACE_SECS"]
        );
    }

    #[derive(Debug, serde::Deserialize)]
    struct Retention {
        #[serde(deserialize_with = "super::duration::days")]
        draft_retention_days: std::time::Duration,
    }

    #[test]
    fn retention_is_read_in_days_fractions_allowed() {
        let read = |value: &'static str| {
            let mut outcome = None;
            figment::Jail::expect_with(|jail| {
                jail.set_env("HMS_DRAFT_RETENTION_DAYS", value);
                outcome = Some(
                    Sources::new::<&str, &str>(&[])
                        .get::<Retention>()
                        .map(|read| read.draft_retention_days)
                        .map_err(|error| error.to_string()),
                );
                Ok(())
            });
            outcome.expect("read")
        };
        assert_eq!(read("30"), Ok(std::time::Duration::from_secs(30 * 86_400)));
        assert_eq!(read("0.5"), Ok(std::time::Duration::from_secs(43_200)));
        for nonsense in ["-1", "40000", "soon"] {
            let error = read(nonsense).expect_err(nonsense);
            assert!(error.contains("HMS_DRAFT_RETENTION_DAYS"), "{error}");
        }
    }

    #[test]
    fn errors_name_the_setting_not_the_value() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("HMS_GRPC_ADDR", "secret-looking-value");
            let error = Sources::new::<&str, &str>(&[])
                .get::<Section>()
                .expect_err("invalid");
            let text = error.to_string();
            assert!(text.contains("HMS_GRPC_ADDR"), "{text}");
            assert!(!text.contains("secret-looking-value"), "{text}");
            Ok(())
        });
    }
}
