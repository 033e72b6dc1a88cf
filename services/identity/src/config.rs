use std::collections::HashMap;
use std::time::Duration;

use hms_config::{ConfigError, Sources};
use openidconnect::{ClientId, IssuerUrl, RedirectUrl};

use crate::login::OidcSettings;
use hms_crypto::{FingerprintKey, SealingKey};
use hms_domain::{Fodselsnummer, NationalIdPolicy};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// The identity service's own settings.
#[derive(Debug, Clone, Deserialize)]
pub struct IdentityConfig {
    /// `HMS_IDENTITY_KEY`: AES-256 key (base64) sealing the token signing
    /// keys and PKCE verifiers at rest, and keying the fingerprints of
    /// national identity numbers.
    pub identity_key: SecretString,
    /// `HMS_OIDC_ISSUER_URL`: the BankID broker's issuer (discovery).
    pub oidc_issuer_url: String,
    /// `HMS_OIDC_CLIENT_ID`.
    pub oidc_client_id: String,
    /// `HMS_OIDC_CLIENT_SECRET`.
    pub oidc_client_secret: SecretString,
    /// `HMS_OIDC_REDIRECT_URI`: where BankID sends the browser back (the
    /// gateway's callback), registered with the broker exactly so.
    pub oidc_redirect_uri: String,
    /// `HMS_OIDC_NATIONAL_ID_CLAIM`: `pid`, `nin` or `nnin_altsub`, by broker.
    #[serde(default = "default_national_id_claim")]
    pub oidc_national_id_claim: String,
    /// `HMS_OIDC_ACCEPTED_ACR`: comma-separated `acr` values good enough to
    /// log in (the minimum level and those above it).
    #[serde(default = "default_accepted_acr")]
    pub oidc_accepted_acr: String,
    /// `HMS_ALLOW_SYNTHETIC_NATIONAL_IDS`: accept Test-Norge/Tenor numbers.
    #[serde(default)]
    pub allow_synthetic_national_ids: bool,
    /// `HMS_ACCESS_TOKEN_SECS`: lifetime of access tokens.
    #[serde(default = "default_access_token_secs")]
    pub access_token_secs: u64,
    /// `HMS_SESSION_SECS`: how long a login lasts (refresh tokens).
    #[serde(default = "default_session_secs")]
    pub session_secs: u64,
    /// `HMS_STEP_UP_SECS`: how recent a login must be for granting access
    /// or changing contact details.
    #[serde(default = "default_step_up_secs")]
    pub step_up_secs: u64,
    /// `HMS_SIGNING_KEY_ROTATION_SECS`: a signing key signs for this long,
    /// then the next takes over; the next is published this long before
    /// it signs.
    #[serde(default = "default_rotation_secs")]
    pub signing_key_rotation_secs: u64,
    /// `HMS_SERVICE_CLIENTS`: `name:sha256hex` pairs, comma-separated: the
    /// services that may get service tokens and the SHA-256 of their
    /// secrets.
    pub service_clients: SecretString,
    /// `HMS_BACK_OFFICE_NATIONAL_IDS`: comma-separated national identity
    /// numbers of the authority's case handlers.
    #[serde(default = "empty_secret", deserialize_with = "national_ids")]
    pub back_office_national_ids: SecretString,
    /// `HMS_REGISTER_URL`: the Central Coordinating Register's open API.
    #[serde(default = "default_register_url")]
    pub register_url: String,
    /// `HMS_REGISTER_CACHE_SECS`: how long register roles are reused.
    #[serde(default = "default_register_cache_secs")]
    pub register_cache_secs: u64,
    /// `HMS_COMPANIES_URL`: where the companies service answers.
    pub companies_url: String,
    /// `HMS_ENDED_GRANT_RETENTION_SECS`: how long a revoked or expired
    /// grant stays in the access list after its end, then it is deleted.
    #[serde(default = "default_ended_grant_retention_secs")]
    pub ended_grant_retention_secs: u64,
    /// `HMS_REFRESH_REUSE_GRACE_SECS`: a refresh token presented again
    /// within this time of its exchange is refused; later, it ends the
    /// session (it was stolen). The grace lets two tabs refresh at once and
    /// a client retry after a lost answer.
    #[serde(default = "default_refresh_reuse_grace_secs")]
    pub refresh_reuse_grace_secs: u64,
    /// `HMS_HOUSEKEEPING_INTERVAL_SECS`: how often ended grants and
    /// sessions are pruned.
    #[serde(default = "default_housekeeping_interval_secs")]
    pub housekeeping_interval_secs: u64,
}

fn default_ended_grant_retention_secs() -> u64 {
    90 * 24 * 3600
}
fn default_refresh_reuse_grace_secs() -> u64 {
    15
}
fn default_housekeeping_interval_secs() -> u64 {
    3600
}

fn default_national_id_claim() -> String {
    "pid".to_owned()
}
fn default_accepted_acr() -> String {
    "idporten-loa-high".to_owned()
}
fn default_access_token_secs() -> u64 {
    300
}
fn default_session_secs() -> u64 {
    8 * 3600
}
fn default_step_up_secs() -> u64 {
    900
}
fn default_rotation_secs() -> u64 {
    30 * 24 * 3600
}
/// One number alone arrives from the environment as an integer, without
/// its leading zero; national identity numbers always have 11 digits.
fn national_ids<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<SecretString, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Value {
        Text(String),
        Number(u64),
    }
    Ok(SecretString::from(
        match Value::deserialize(deserializer)? {
            Value::Text(text) => text,
            Value::Number(number) => format!("{number:011}"),
        },
    ))
}

fn empty_secret() -> SecretString {
    SecretString::from(String::new())
}
fn default_register_url() -> String {
    "https://data.brreg.no".to_owned()
}
fn default_register_cache_secs() -> u64 {
    3600
}

/// The settings in the form the service uses them.
#[derive(Clone)]
pub struct Settings {
    pub sealing: SealingKey,
    pub person_keys: FingerprintKey,
    /// Keys the subject keys other services match workers' records by.
    pub subject_keys: FingerprintKey,
    pub national_id_policy: NationalIdPolicy,
    pub accepted_acr: Vec<String>,
    pub access_token_ttl: Duration,
    pub session_ttl: Duration,
    pub step_up_window: Duration,
    pub rotation: Duration,
    /// Service name → SHA-256 of its secret.
    pub service_clients: HashMap<String, [u8; 32]>,
    /// Fingerprints of the case handlers' national identity numbers.
    pub back_office: Vec<Vec<u8>>,
    pub register_cache: Duration,
    pub ended_grant_retention: Duration,
    pub housekeeping_interval: Duration,
    pub refresh_reuse_grace: Duration,
    pub oidc: OidcSettings,
    /// The Central Coordinating Register's open API.
    pub register_url: url::Url,
    pub companies_url: String,
}

impl IdentityConfig {
    fn settings(self) -> Result<Settings, ConfigError> {
        let sealing = SealingKey::from_base64(&self.identity_key)
            .map_err(|e| ConfigError::invalid("HMS_IDENTITY_KEY", e))?;
        let person_keys = FingerprintKey::derive(&self.identity_key, "person")
            .map_err(|e| ConfigError::invalid("HMS_IDENTITY_KEY", e))?;
        let subject_keys = FingerprintKey::derive(&self.identity_key, "subject")
            .map_err(|e| ConfigError::invalid("HMS_IDENTITY_KEY", e))?;
        let national_id_policy = NationalIdPolicy {
            allow_synthetic: self.allow_synthetic_national_ids,
        };
        let back_office = split_list(self.back_office_national_ids.expose_secret())
            .map(|number| {
                Fodselsnummer::parse(number, national_id_policy)
                    .map(|fnr| person_key(&person_keys, &fnr))
                    // Never echo the number itself.
                    .map_err(|_| {
                        ConfigError::invalid(
                            "HMS_BACK_OFFICE_NATIONAL_IDS",
                            "holds a value that is not a valid national identity number",
                        )
                    })
            })
            .collect::<Result<_, _>>()?;
        let service_clients = split_list(self.service_clients.expose_secret())
            .map(parse_service_client)
            .collect::<Result<_, _>>()?;
        if !matches!(
            self.oidc_national_id_claim.as_str(),
            "pid" | "nin" | "nnin_altsub"
        ) {
            return Err(ConfigError::invalid(
                "HMS_OIDC_NATIONAL_ID_CLAIM",
                "must be pid, nin or nnin_altsub",
            ));
        }
        let accepted_acr: Vec<String> = split_list(&self.oidc_accepted_acr)
            .map(str::to_owned)
            .collect();
        if accepted_acr.is_empty() {
            return Err(ConfigError::invalid(
                "HMS_OIDC_ACCEPTED_ACR",
                "must name at least one acr value",
            ));
        }
        if self.access_token_secs == 0 || self.access_token_secs > 3600 {
            return Err(ConfigError::invalid(
                "HMS_ACCESS_TOKEN_SECS",
                "must be between 1 and 3600",
            ));
        }
        // A retention beyond any date would make "ended before now minus
        // the retention" meaningless.
        if self.ended_grant_retention_secs > 100 * 365 * 24 * 3600 {
            return Err(ConfigError::invalid(
                "HMS_ENDED_GRANT_RETENTION_SECS",
                "must be at most 100 years",
            ));
        }
        // The next key is published a rotation ahead, which must exceed how
        // often a verifier may refetch the keys (5 s), with room to spare.
        if self.signing_key_rotation_secs < 20 {
            return Err(ConfigError::invalid(
                "HMS_SIGNING_KEY_ROTATION_SECS",
                "must be at least 20",
            ));
        }
        let oidc = OidcSettings {
            issuer: IssuerUrl::new(self.oidc_issuer_url.clone())
                .map_err(|e| ConfigError::invalid("HMS_OIDC_ISSUER_URL", e))?,
            client_id: ClientId::new(self.oidc_client_id.clone()),
            client_secret: self.oidc_client_secret.clone(),
            redirect: RedirectUrl::new(self.oidc_redirect_uri.clone())
                .map_err(|e| ConfigError::invalid("HMS_OIDC_REDIRECT_URI", e))?,
            national_id_claim: self.oidc_national_id_claim.clone(),
            accepted_acr: accepted_acr.clone(),
        };
        Ok(Settings {
            oidc,
            register_url: url::Url::parse(&self.register_url)
                .map_err(|e| ConfigError::invalid("HMS_REGISTER_URL", e))?,
            companies_url: self.companies_url.clone(),
            sealing,
            person_keys,
            subject_keys,
            national_id_policy,
            accepted_acr,
            access_token_ttl: Duration::from_secs(self.access_token_secs),
            session_ttl: Duration::from_secs(self.session_secs),
            step_up_window: Duration::from_secs(self.step_up_secs),
            rotation: Duration::from_secs(self.signing_key_rotation_secs),
            service_clients,
            back_office,
            register_cache: Duration::from_secs(self.register_cache_secs),
            ended_grant_retention: Duration::from_secs(self.ended_grant_retention_secs),
            housekeeping_interval: Duration::from_secs(self.housekeeping_interval_secs.max(1)),
            refresh_reuse_grace: Duration::from_secs(self.refresh_reuse_grace_secs),
        })
    }
}

/// The fingerprint a person is recognised by, from their number.
pub fn person_key(keys: &FingerprintKey, fnr: &Fodselsnummer) -> Vec<u8> {
    keys.fingerprint([fnr.expose().as_bytes()])
}

/// The key other services find a person's records as a worker by: a keyed
/// fingerprint of identity's own fingerprint, so that it joins nothing in
/// identity's tables and nothing without identity's key.
pub fn subject_key(keys: &FingerprintKey, person_key: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(keys.fingerprint([person_key]))
}

fn split_list(value: &str) -> impl Iterator<Item = &str> {
    value
        .split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
}

fn parse_service_client(entry: &str) -> Result<(String, [u8; 32]), ConfigError> {
    let invalid = || {
        ConfigError::invalid(
            "HMS_SERVICE_CLIENTS",
            "entries must be name:sha256-hex (64 hex digits)",
        )
    };
    let (name, hash) = entry.split_once(':').ok_or_else(invalid)?;
    let bytes = (0..hash.len())
        .step_by(2)
        .map(|i| {
            hash.get(i..i + 2)
                .and_then(|pair| u8::from_str_radix(pair, 16).ok())
        })
        .collect::<Option<Vec<u8>>>()
        .ok_or_else(invalid)?;
    let hash: [u8; 32] = bytes.try_into().map_err(|_| invalid())?;
    if name.is_empty() {
        return Err(invalid());
    }
    Ok((name.to_owned(), hash))
}

/// Reads the service's own settings.
pub fn load(sources: &Sources) -> Result<Settings, ConfigError> {
    sources.get::<IdentityConfig>()?.settings()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_clients_are_name_and_sha256() {
        let hash = "ab".repeat(32);
        let (name, parsed) = parse_service_client(&format!("orders:{hash}")).expect("valid");
        assert_eq!(name, "orders");
        assert_eq!(parsed, [0xab; 32]);
        assert!(parse_service_client("orders").is_err());
        assert!(parse_service_client(&format!("orders:{}", "ab".repeat(31))).is_err());
        assert!(parse_service_client(&format!(":{hash}")).is_err());
        assert!(parse_service_client(&format!("orders:{}", "zz".repeat(32))).is_err());
    }
}
