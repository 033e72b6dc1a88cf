//! Email over SMTP (lettre): implicit TLS or STARTTLS to a real mail
//! server, plain text only to a development sink on this machine.

use std::net::IpAddr;
use std::time::Duration;

use hms_config::ConfigError;
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::{ExposeSecret, SecretString};
use url::Url;
use uuid::Uuid;

use crate::domain::SendOutcome;

/// How to reach the mail server, as checked at start-up.
#[derive(Clone)]
pub struct SmtpSettings {
    host: String,
    port: Option<u16>,
    security: Security,
    credentials: Option<(String, SecretString)>,
    from: Mailbox,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Security {
    /// `smtps://`: TLS from the first byte.
    ImplicitTls,
    /// `smtp://…?tls=required`: STARTTLS, refusing a server without it.
    StartTls,
    /// `smtp://` to this machine: a development sink, nothing leaves it.
    LoopbackPlain,
}

impl SmtpSettings {
    pub fn parse(
        url: &str,
        username: &str,
        password: SecretString,
        from: &str,
    ) -> Result<Self, ConfigError> {
        let invalid = |problem: &str| ConfigError::invalid("HMS_SMTP_URL", problem);
        let url = Url::parse(url).map_err(|_| invalid("is not a URL"))?;
        let host = url
            .host_str()
            .ok_or_else(|| invalid("names no host"))?
            .trim_matches(['[', ']'])
            .to_owned();
        let starttls = url
            .query_pairs()
            .any(|(key, value)| key == "tls" && value == "required");
        let security = match (url.scheme(), starttls) {
            ("smtps", _) => Security::ImplicitTls,
            ("smtp", true) => Security::StartTls,
            ("smtp", false) if is_loopback(&host) => Security::LoopbackPlain,
            ("smtp", false) => {
                return Err(invalid(
                    "plain SMTP only to this machine; use smtps:// or ?tls=required",
                ));
            }
            _ => return Err(invalid("must be smtp:// or smtps://")),
        };
        let from = from
            .parse::<Mailbox>()
            .map_err(|_| ConfigError::invalid("HMS_SMTP_FROM", "is not a mailbox"))?;
        let credentials = (!username.is_empty()).then(|| (username.to_owned(), password));
        Ok(Self {
            host,
            port: url.port(),
            security,
            credentials,
            from,
        })
    }
}

fn is_loopback(host: &str) -> bool {
    host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// An email ready to go.
pub struct Email<'a> {
    pub delivery_id: Uuid,
    pub to: &'a str,
    pub subject: &'a str,
    pub text: &'a str,
    pub html: &'a str,
}

#[derive(Clone)]
pub struct EmailSender {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl EmailSender {
    pub fn new(settings: &SmtpSettings, timeout: Duration) -> Result<Self, ConfigError> {
        let invalid =
            |error: lettre::transport::smtp::Error| ConfigError::invalid("HMS_SMTP_URL", error);
        let mut builder = match settings.security {
            Security::ImplicitTls => {
                AsyncSmtpTransport::<Tokio1Executor>::relay(&settings.host).map_err(invalid)?
            }
            Security::StartTls => {
                AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&settings.host)
                    .map_err(invalid)?
            }
            Security::LoopbackPlain => {
                AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&settings.host)
            }
        };
        if let Some(port) = settings.port {
            builder = builder.port(port);
        }
        if let Some((username, password)) = &settings.credentials {
            builder = builder.credentials(Credentials::new(
                username.clone(),
                password.expose_secret().to_owned(),
            ));
        }
        Ok(Self {
            transport: builder.timeout(Some(timeout)).build(),
            from: settings.from.clone(),
        })
    }

    /// Hands one email to the mail server. Its Message-ID is the delivery
    /// id, so a repeated send after a crash can be recognised downstream.
    pub async fn send(&self, email: Email<'_>) -> SendOutcome {
        let Ok(to) = email.to.parse::<Mailbox>() else {
            return SendOutcome::Permanent("not an email address".to_owned());
        };
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(email.subject)
            .message_id(Some(format!("<{}@hms-kort>", email.delivery_id)))
            .multipart(MultiPart::alternative_plain_html(
                email.text.to_owned(),
                email.html.to_owned(),
            ));
        let message = match message {
            Ok(message) => message,
            Err(_) => return SendOutcome::Permanent("the message cannot be built".to_owned()),
        };
        match self.transport.send(message).await {
            Ok(response) => SendOutcome::Sent {
                reference: Some(format!("SMTP {}", response.code())),
            },
            // Only the code is kept: a server's words may quote the address.
            Err(error) => match error.status() {
                Some(code) if error.is_permanent() => {
                    SendOutcome::Permanent(format!("SMTP {code}"))
                }
                Some(code) => SendOutcome::Transient(format!("SMTP {code}")),
                None if error.is_timeout() => SendOutcome::Transient("SMTP timeout".to_owned()),
                None if error.is_tls() => SendOutcome::Transient("SMTP TLS failure".to_owned()),
                None => SendOutcome::Transient("SMTP server unreachable".to_owned()),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(url: &str) -> Result<SmtpSettings, ConfigError> {
        SmtpSettings::parse(
            url,
            "",
            SecretString::from(String::new()),
            "HMS-kort <varsel@hms-kort.no>",
        )
    }

    #[test]
    fn mail_leaves_this_machine_only_encrypted() {
        assert_eq!(
            parse("smtps://smtp.example.no").map(|s| s.security).ok(),
            Some(Security::ImplicitTls)
        );
        assert_eq!(
            parse("smtp://smtp.example.no:587?tls=required")
                .map(|s| s.security)
                .ok(),
            Some(Security::StartTls)
        );
        assert_eq!(
            parse("smtp://127.0.0.1:2525").map(|s| s.security).ok(),
            Some(Security::LoopbackPlain)
        );
        assert!(parse("smtp://smtp.example.no:25").is_err());
        assert!(parse("http://smtp.example.no").is_err());
    }
}
