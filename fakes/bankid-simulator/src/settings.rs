//! How the provider is set up: issuer, the one registered client, which
//! claim carries the national id, and who can log in.

use std::fmt;
use std::time::Duration;

use url::Url;

use crate::persons::{self, PersonsError, TestPerson};

/// Levels of assurance, with ID-porten's names (eIDAS "high" and
/// "substantial"). ID-porten is how most Norwegian services meet BankID, it
/// puts the national id in `pid`, the simulator's default claim, and its
/// relying parties must check `acr` themselves, which is what the low-level
/// test person is for. BankID's own OIDC service spells these
/// `urn:bankid:bid;LOA=4` and friends; a persons file cannot use those, as
/// the provider announces only these two.
pub const ACR_HIGH: &str = "idporten-loa-high";
pub const ACR_SUBSTANTIAL: &str = "idporten-loa-substantial";
/// Lowest first, as in ID-porten's discovery document.
pub const SUPPORTED_ACR_VALUES: [&str; 2] = [ACR_SUBSTANTIAL, ACR_HIGH];

/// The `amr` of every login: ID-porten names the eID that was used.
pub const AMR: &str = "BankID";

/// Where the national identity number goes in the id_token and userinfo.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NationalIdClaim {
    /// ID-porten.
    #[default]
    Pid,
    /// Signicat and other brokers.
    Nin,
    /// BankID's own OIDC service.
    NninAltsub,
}

impl NationalIdClaim {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pid => "pid",
            Self::Nin => "nin",
            Self::NninAltsub => "nnin_altsub",
        }
    }
}

/// Everything the provider needs besides its signing key.
#[derive(Clone)]
pub struct Settings {
    /// The `iss` of every token, compared byte for byte by relying parties.
    /// A trailing `/` is dropped. Its path, if any, prefixes every endpoint.
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    /// Exact-match allow list (RFC 6749 §3.1.2.2: no prefix or pattern
    /// matching, which is how open redirectors happen).
    pub redirect_uris: Vec<String>,
    pub national_id_claim: NationalIdClaim,
    pub persons: Vec<TestPerson>,
    /// How long an authorization code may wait for the token request.
    pub code_lifetime: Duration,
    /// Lifetime of the access token and of the id_token.
    pub token_lifetime: Duration,
}

/// The secret stays out of debug output.
impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("redirect_uris", &self.redirect_uris)
            .field("national_id_claim", &self.national_id_claim)
            .field("persons", &self.persons.len())
            .field("code_lifetime", &self.code_lifetime)
            .field("token_lifetime", &self.token_lifetime)
            .finish_non_exhaustive()
    }
}

pub const DEFAULT_CLIENT_ID: &str = "hms-identity";
pub const DEFAULT_CLIENT_SECRET: &str = "dev-secret-change-me";
pub const DEFAULT_REDIRECT_URI: &str = "http://127.0.0.1:8080/api/v1/auth/callback";
/// RFC 6749 §4.1.2 recommends at most ten minutes; a minute is plenty for a
/// redirect and a back-channel call, and short enough to test expiry.
pub const DEFAULT_CODE_LIFETIME: Duration = Duration::from_secs(60);
pub const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(300);

impl Settings {
    /// The defaults the binary uses, for the given issuer.
    pub fn with_issuer(issuer: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            client_id: DEFAULT_CLIENT_ID.to_owned(),
            client_secret: DEFAULT_CLIENT_SECRET.to_owned(),
            redirect_uris: vec![DEFAULT_REDIRECT_URI.to_owned()],
            national_id_claim: NationalIdClaim::default(),
            persons: persons::builtin(),
            code_lifetime: DEFAULT_CODE_LIFETIME,
            token_lifetime: DEFAULT_TOKEN_LIFETIME,
        }
    }

    /// Checks the settings and normalises the issuer; returns the issuer's
    /// path prefix (empty for an issuer at the root).
    pub(crate) fn validate(&mut self) -> Result<String, SettingsError> {
        while self.issuer.ends_with('/') {
            self.issuer.pop();
        }
        let issuer = Url::parse(&self.issuer).map_err(|_| SettingsError::Issuer)?;
        let plain = matches!(issuer.scheme(), "http" | "https")
            && issuer.query().is_none()
            && issuer.fragment().is_none();
        if !plain {
            return Err(SettingsError::Issuer);
        }
        if self.client_id.is_empty() || self.client_secret.is_empty() {
            return Err(SettingsError::Client);
        }
        if self.redirect_uris.is_empty() {
            return Err(SettingsError::NoRedirectUri);
        }
        for uri in &self.redirect_uris {
            // RFC 6749 §3.1.2: absolute, and no fragment.
            let ok = Url::parse(uri).is_ok_and(|url| {
                matches!(url.scheme(), "http" | "https") && url.fragment().is_none()
            });
            if !ok {
                return Err(SettingsError::RedirectUri(uri.clone()));
            }
        }
        persons::validate(&self.persons)?;
        Ok(issuer.path().trim_end_matches('/').to_owned())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("the issuer must be an http(s) URL without query or fragment")]
    Issuer,
    #[error("client id and client secret must not be empty")]
    Client,
    #[error("at least one redirect URI is needed")]
    NoRedirectUri,
    #[error("redirect URI {0} must be an absolute http(s) URL without fragment")]
    RedirectUri(String),
    #[error(transparent)]
    Persons(#[from] PersonsError),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_issuer_is_normalised_and_its_path_becomes_the_prefix() {
        let mut settings = Settings::with_issuer("http://127.0.0.1:8090/");
        assert_eq!(settings.validate().expect("valid"), "");
        assert_eq!(settings.issuer, "http://127.0.0.1:8090");

        let mut settings = Settings::with_issuer("https://login.example/idporten/");
        assert_eq!(settings.validate().expect("valid"), "/idporten");
        assert_eq!(settings.issuer, "https://login.example/idporten");
    }

    #[test]
    fn bad_settings_are_refused() {
        let mut settings = Settings::with_issuer("ftp://x");
        assert!(matches!(settings.validate(), Err(SettingsError::Issuer)));

        let mut settings = Settings::with_issuer("http://x");
        settings.redirect_uris = vec!["http://rp.example/cb#frag".into()];
        assert!(matches!(
            settings.validate(),
            Err(SettingsError::RedirectUri(_))
        ));

        let mut settings = Settings::with_issuer("http://x");
        settings.client_secret.clear();
        assert!(matches!(settings.validate(), Err(SettingsError::Client)));
    }

    #[test]
    fn debug_hides_the_secret() {
        let settings = Settings::with_issuer("http://x");
        assert!(!format!("{settings:?}").contains(DEFAULT_CLIENT_SECRET));
    }
}
