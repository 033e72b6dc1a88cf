//! Text messages over LINK Mobility's REST API (`POST /sms/send`, JSON,
//! basic authentication), one of the providers Norwegian public services
//! use. The delivery id travels as the provider's `refId`.

use std::time::Duration;

use hms_config::ConfigError;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use url::Url;
use uuid::Uuid;

use crate::domain::SendOutcome;

/// The provider and our account there, as checked at start-up.
#[derive(Clone)]
pub struct SmsSettings {
    send_url: Url,
    username: String,
    password: SecretString,
    platform_id: String,
    platform_partner_id: String,
    sender: String,
}

impl SmsSettings {
    pub fn parse(
        base: &str,
        username: String,
        password: SecretString,
        platform_id: String,
        platform_partner_id: String,
        sender: String,
    ) -> Result<Self, ConfigError> {
        // The password and the messages must not travel in the clear.
        let base = hms_config::outside_party_url("HMS_SMS_URL", base)?;
        let send_url = base
            .join("sms/send")
            .map_err(|e| ConfigError::invalid("HMS_SMS_URL", e))?;
        if sender.is_empty() || sender.chars().count() > 11 {
            return Err(ConfigError::invalid(
                "HMS_SMS_SENDER",
                "must be 1 to 11 characters",
            ));
        }
        Ok(Self {
            send_url,
            username,
            password,
            platform_id,
            platform_partner_id,
            sender,
        })
    }
}

/// The request LINK Mobility's `/sms/send` takes.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SendRequest<'a> {
    source: &'a str,
    #[serde(rename = "sourceTON")]
    source_ton: &'a str,
    destination: &'a str,
    user_data: &'a str,
    platform_id: &'a str,
    platform_partner_id: &'a str,
    ref_id: String,
    use_delivery_report: bool,
}

/// What it answers.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SendResponse {
    message_id: Option<String>,
    result_code: Option<i64>,
}

#[derive(Clone)]
pub struct SmsSender {
    http: reqwest::Client,
    settings: SmsSettings,
}

impl SmsSender {
    pub fn new(settings: SmsSettings, timeout: Duration) -> Result<Self, ConfigError> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| ConfigError::invalid("HMS_SMS_URL", e))?;
        Ok(Self { http, settings })
    }

    /// Hands one text message to the provider.
    pub async fn send(&self, delivery_id: Uuid, to: &str, text: &str) -> SendOutcome {
        let settings = &self.settings;
        let request = SendRequest {
            source: &settings.sender,
            source_ton: "ALPHANUMERIC",
            destination: to,
            user_data: text,
            platform_id: &settings.platform_id,
            platform_partner_id: &settings.platform_partner_id,
            ref_id: delivery_id.to_string(),
            use_delivery_report: false,
        };
        let answer = self
            .http
            .post(settings.send_url.clone())
            .basic_auth(&settings.username, Some(settings.password.expose_secret()))
            .json(&request)
            .send()
            .await;
        let response = match answer {
            Ok(response) => response,
            Err(error) if error.is_timeout() => {
                return SendOutcome::Transient("SMS provider timeout".to_owned());
            }
            Err(_) => return SendOutcome::Transient("SMS provider unreachable".to_owned()),
        };
        let status = response.status();
        let answer: Option<SendResponse> = response.json().await.ok();
        let code = answer
            .as_ref()
            .and_then(|answer| answer.result_code)
            .map(|code| format!(" resultCode {code}"))
            .unwrap_or_default();
        if status.is_success() {
            SendOutcome::Sent {
                reference: answer.and_then(|answer| answer.message_id),
            }
        } else if matches!(status.as_u16(), 401 | 403 | 429) || status.is_server_error() {
            // Refused credentials are our configuration, not the message:
            // tried again until an operator fixes them.
            if matches!(status.as_u16(), 401 | 403) {
                tracing::error!(
                    status = status.as_u16(),
                    "the SMS provider refuses our credentials"
                );
            }
            SendOutcome::Transient(format!("HTTP {}{code}", status.as_u16()))
        } else {
            SendOutcome::Permanent(format!("HTTP {}{code}", status.as_u16()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(base: &str) -> Result<SmsSettings, ConfigError> {
        SmsSettings::parse(
            base,
            "user".to_owned(),
            SecretString::from("password".to_owned()),
            "COMMON_API".to_owned(),
            String::new(),
            "HMS-kort".to_owned(),
        )
    }

    #[test]
    fn credentials_leave_this_machine_only_over_https() {
        assert!(parse("https://n-eu.linkmobility.io").is_ok());
        assert!(parse("http://127.0.0.1:8092").is_ok());
        assert!(parse("http://localhost:8092").is_ok());
        assert!(parse("http://n-eu.linkmobility.io").is_err());
        assert!(parse("ftp://127.0.0.1").is_err());
    }
}
