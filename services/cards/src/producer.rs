//! The card producer's print-job API (`POST /v1/print-jobs`, JSON, bearer
//! key). One job per approved order, sent with the order as its
//! `Idempotency-Key`: a job sent again after a crash or a lost answer is
//! the same job, printed once.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hms_config::ConfigError;
use hms_domain::OrderId;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use url::Url;

/// The producer and our key there, as checked at start-up.
#[derive(Clone)]
pub struct ProducerSettings {
    jobs_url: Url,
    api_key: SecretString,
}

impl ProducerSettings {
    pub fn parse(base: &str, api_key: SecretString) -> Result<Self, ConfigError> {
        // Photos and signatures travel in the job: never in the clear
        // beyond this machine.
        let base = hms_config::outside_party_url("HMS_PRINT_URL", base)?;
        let jobs_url = base
            .join("v1/print-jobs")
            .map_err(|e| ConfigError::invalid("HMS_PRINT_URL", e))?;
        Ok(Self { jobs_url, api_key })
    }
}

/// A print job: every card of one order.
#[derive(Serialize)]
pub struct PrintJob {
    pub reference: String,
    pub cards: Vec<PrintCard>,
}

/// What is printed on one card.
#[derive(Serialize)]
pub struct PrintCard {
    pub card_number: String,
    pub holder_name: String,
    pub employer_name: String,
    pub employer_org_number: String,
    pub card_type: &'static str,
    /// `YYYY-MM-DD`.
    pub valid_until: String,
    pub photo: Image,
    pub signature: Image,
}

/// An image, base64 in the JSON.
#[derive(Serialize)]
pub struct Image {
    content_type: String,
    data: String,
}

impl Image {
    pub fn new(content_type: String, bytes: &[u8]) -> Self {
        Self {
            content_type,
            data: STANDARD.encode(bytes),
        }
    }
}

/// What became of a job sent.
#[derive(Debug, PartialEq, Eq)]
pub enum Handover {
    /// The producer has it; its id for the job.
    Accepted { job_id: String },
    /// Not now: unreachable, busy, or our key refused (an operator fixes
    /// that); sent again later.
    NotNow(String),
    /// The producer will never take this job as it is.
    Refused(String),
}

#[derive(Deserialize)]
struct Accepted {
    id: String,
}

#[derive(Clone)]
pub struct Producer {
    http: reqwest::Client,
    settings: ProducerSettings,
}

impl Producer {
    pub fn new(settings: ProducerSettings, timeout: Duration) -> Result<Self, ConfigError> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| ConfigError::invalid("HMS_PRINT_URL", e))?;
        Ok(Self { http, settings })
    }

    /// Hands one order's print job to the producer.
    pub async fn submit(&self, order_id: OrderId, job: &PrintJob) -> Handover {
        let answer = self
            .http
            .post(self.settings.jobs_url.clone())
            .bearer_auth(self.settings.api_key.expose_secret())
            .header("Idempotency-Key", order_id.to_string())
            .json(job)
            .send()
            .await;
        let response = match answer {
            Ok(response) => response,
            Err(error) if error.is_timeout() => {
                return Handover::NotNow("card producer timeout".to_owned());
            }
            Err(_) => return Handover::NotNow("card producer unreachable".to_owned()),
        };
        let status = response.status();
        if status.is_success() {
            return match response.json::<Accepted>().await {
                Ok(accepted) => Handover::Accepted {
                    job_id: accepted.id,
                },
                // Taken, but the answer was cut: sent again, the same key
                // gets the same job and its id.
                Err(_) => Handover::NotNow("card producer answer unreadable".to_owned()),
            };
        }
        if matches!(status.as_u16(), 401 | 403) {
            tracing::error!(
                status = status.as_u16(),
                "the card producer refuses our key"
            );
        }
        if matches!(status.as_u16(), 401 | 403 | 408 | 409 | 429) || status.is_server_error() {
            Handover::NotNow(format!("card producer HTTP {}", status.as_u16()))
        } else {
            Handover::Refused(format!("card producer HTTP {}", status.as_u16()))
        }
    }
}
