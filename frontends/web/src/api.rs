//! The gateway's public REST API, as this front end uses it: the same
//! `/api/v1` any other frontend calls, with the person's access token as a
//! bearer token. Only the fields the pages show are read; the API may
//! grow without breaking them.

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// What went wrong asking the gateway, in the terms a page needs.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No session, or one that has ended: log in again.
    #[error("not logged in")]
    Unauthenticated,
    #[error("not found")]
    NotFound,
    /// The person may not do this.
    #[error("forbidden")]
    Forbidden,
    /// Allowed only soon after a BankID login; this one is too old.
    #[error("log in again")]
    LoginRequired,
    /// The API refused the request; its problem's `detail`, which never
    /// holds personal data.
    #[error("refused: {0}")]
    Refused(String),
    #[error("the platform is unavailable")]
    Unavailable,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Me {
    pub user_id: String,
    pub name: String,
    pub back_office: bool,
    pub companies: Vec<CompanyAccess>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct CompanyAccess {
    pub company_id: String,
    pub org_number: String,
    pub scopes: Vec<String>,
    pub source: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct CardCheck {
    pub valid: bool,
    pub holder_name: Option<String>,
    pub employer_name: Option<String>,
    pub valid_until: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct MyData {
    pub records: Vec<MyRecord>,
    pub cards: Vec<Card>,
    pub receipts: Vec<Receipt>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct MyRecord {
    pub order_id: String,
    pub worker_id: String,
    pub company_name: Option<String>,
    pub company_org_number: Option<String>,
    pub order_status: String,
    pub closed_because: Option<String>,
    pub card_type: String,
    pub ordered_at: Option<DateTime<Utc>>,
    pub decided_at: Option<DateTime<Utc>>,
    pub name: Option<String>,
    pub phone_held: bool,
    pub national_id_masked: String,
    pub national_id_held: bool,
    pub national_id_masked_at: Option<DateTime<Utc>>,
    pub register_findings_held: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Card {
    pub card_number: String,
    #[serde(default)]
    pub card_id: String,
    pub holder_name: String,
    pub employer_name: String,
    pub card_type: String,
    pub issued_at: Option<DateTime<Utc>>,
    pub valid_until: Option<DateTime<Utc>>,
    pub status: String,
    pub print_state: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Receipt {
    pub order_id: String,
    pub cause: Option<String>,
    pub workers_masked: u32,
    pub documents_deleted: u32,
    pub keys_destroyed: u32,
    pub completed_at: Option<DateTime<Utc>>,
    pub signed: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct AccessLog {
    pub entries: Vec<AccessEntry>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct AccessEntry {
    #[serde(default)]
    pub seq: u64,
    pub action: String,
    pub purpose: String,
    pub actor: String,
    pub order_id: Option<String>,
    pub occurred_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Company {
    pub company_id: String,
    pub org_number: String,
    pub name: String,
    pub contact: Contact,
    pub industry: String,
    pub status: String,
    pub registered_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Contact {
    pub email: String,
    pub phone: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ContactChange {
    pub old_contact: Contact,
    pub new_contact: Contact,
    pub changed_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct CompanyAgreement {
    pub current: Agreement,
    pub current_accepted: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Agreement {
    pub version: u32,
    pub text: String,
    pub published_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct OrderPage {
    pub orders: Vec<Order>,
    /// Where the next page starts; absent on the last.
    #[serde(default)]
    pub next_page_token: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Order {
    pub order_id: String,
    pub company_id: String,
    pub status: String,
    pub workers: Vec<Worker>,
    pub created_at: Option<DateTime<Utc>>,
    pub submitted_at: Option<DateTime<Utc>>,
    pub decided_at: Option<DateTime<Utc>>,
    pub rejection_reason: Option<String>,
    pub reviews: Vec<DocumentReview>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Worker {
    pub worker_id: String,
    pub name: Option<String>,
    pub national_id_masked: String,
    pub card_type: String,
    pub register_check: Option<RegisterCheck>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct RegisterCheck {
    pub state: String,
    pub person: Option<String>,
    pub name_matches: Option<bool>,
    pub employment: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct DocumentReview {
    pub document_id: String,
    pub worker_id: String,
    pub kind: String,
    pub decision: String,
    pub reason: Option<String>,
    pub note: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Document {
    pub document_id: String,
    pub worker_id: String,
    pub kind: String,
    pub content_type: String,
    pub uploaded_at: Option<DateTime<Utc>>,
}

/// A worker to order a card for, as typed.
// Not Debug: it holds a national identity number.
#[derive(Serialize)]
pub struct NewWorker {
    pub name: String,
    pub national_id: String,
    pub phone: String,
    pub card_type: String,
}

/// A document the back office sends back, and why.
#[derive(Debug, Serialize)]
pub struct DocumentRejection {
    pub document_id: String,
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct AccessList {
    pub owners: Vec<Owner>,
    pub grants: Vec<Grant>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Owner {
    pub name: String,
    pub role: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Grant {
    pub grant_id: String,
    /// `{"type": "person", "label": …}` or `{"type": "supplier", "name": …,
    /// "org_number": …}`, as the API tags it.
    pub grantee: Option<serde_json::Value>,
    pub scopes: Vec<String>,
    pub state: String,
    pub granted_by_name: String,
    pub granted_at: Option<DateTime<Utc>>,
    pub processor_agreement: Option<ProcessorAgreement>,
    /// For a grant a supplier passed on: the supplier's grant.
    #[serde(default)]
    pub parent_grant_id: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct SupplierGrants {
    pub grants: Vec<SupplierGrant>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct SupplierGrant {
    pub company_org_number: String,
    pub company_name: String,
    pub grant: Grant,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ProcessorAgreement {
    pub reference: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct CardPage {
    pub cards: Vec<Card>,
    #[serde(default)]
    pub next_page_token: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct NotificationPage {
    pub notifications: Vec<Notification>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Notification {
    pub kind: String,
    pub channel: String,
    pub recipient: String,
    pub subject: Option<String>,
    pub status: String,
    pub created_at: Option<DateTime<Utc>>,
    pub sent_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct CompanyAccessLog {
    pub entries: Vec<AccessEntry>,
    pub checkpoint: Option<Checkpoint>,
    #[serde(default)]
    pub next_page_token: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Checkpoint {
    pub seq: u64,
    pub head_hash: String,
    pub signed_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct CompanyPage {
    pub companies: Vec<Company>,
}

/// A stored document's bytes, for the back office to look at.
pub struct DocumentFile {
    pub content_type: String,
    pub bytes: bytes::Bytes,
}

/// New tokens from a refresh.
// Not Debug: it holds tokens.
#[derive(Deserialize)]
pub struct Tokens {
    pub access_token: String,
    pub refresh_token: String,
    pub session_expires_at: Option<DateTime<Utc>>,
}

/// An RFC 9457 problem, as far as a page shows it.
#[derive(Deserialize)]
struct Problem {
    #[serde(rename = "type")]
    kind: Option<String>,
    detail: Option<String>,
    title: Option<String>,
}

#[derive(Clone)]
pub struct Api {
    http: reqwest::Client,
    base: url::Url,
}

impl Api {
    pub fn new(base: url::Url) -> Result<Self, reqwest::Error> {
        // The gateway may be behind TLS; ring is the provider of the tree.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()?;
        Ok(Self { http, base })
    }

    /// `segments` become the path after `/api/v1/`, each percent-encoded,
    /// so what a person types cannot step to another route.
    fn url(&self, segments: &[&str]) -> url::Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(["api", "v1"]).extend(segments);
        }
        url
    }

    async fn get<T: DeserializeOwned>(
        &self,
        token: Option<&str>,
        segments: &[&str],
    ) -> Result<T, ApiError> {
        let mut request = self.http.get(self.url(segments));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        answer(request.send().await).await
    }

    /// One page of a list; `page` is the token the previous page ended with.
    async fn get_page<T: DeserializeOwned>(
        &self,
        token: &str,
        segments: &[&str],
        page: Option<&str>,
    ) -> Result<T, ApiError> {
        let mut url = self.url(segments);
        if let Some(page) = page.filter(|page| !page.is_empty()) {
            url.query_pairs_mut().append_pair("page_token", page);
        }
        answer(self.http.get(url).bearer_auth(token).send().await).await
    }

    pub async fn me(&self, token: &str) -> Result<Me, ApiError> {
        self.get(Some(token), &["me"]).await
    }

    pub async fn my_records(&self, token: &str) -> Result<MyData, ApiError> {
        self.get(Some(token), &["me", "records"]).await
    }

    pub async fn my_access_log(&self, token: &str) -> Result<AccessLog, ApiError> {
        self.get(Some(token), &["me", "access-log"]).await
    }

    pub async fn company(&self, token: &str, company_id: &str) -> Result<Company, ApiError> {
        self.get(Some(token), &["companies", company_id]).await
    }

    pub async fn contact_history(
        &self,
        token: &str,
        company_id: &str,
    ) -> Result<Vec<ContactChange>, ApiError> {
        self.get(
            Some(token),
            &["companies", company_id, "contact", "history"],
        )
        .await
    }

    pub async fn agreement(
        &self,
        token: &str,
        company_id: &str,
    ) -> Result<CompanyAgreement, ApiError> {
        self.get(Some(token), &["companies", company_id, "agreement"])
            .await
    }

    pub async fn change_contact(
        &self,
        token: &str,
        company_id: &str,
        contact: &Contact,
    ) -> Result<Company, ApiError> {
        let request = self
            .http
            .put(self.url(&["companies", company_id, "contact"]))
            .bearer_auth(token)
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(serde_json::to_vec(contact).unwrap_or_default());
        answer(request.send().await).await
    }

    /// A change on the person's behalf: `body` as JSON, or raw `bytes`.
    async fn send<T: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        token: &str,
        segments: &[&str],
        body: Body,
    ) -> Result<T, ApiError> {
        let mut request = self
            .http
            .request(method, self.url(segments))
            .bearer_auth(token);
        request = match body {
            Body::Empty => request,
            Body::Json(json) => request
                .header(http::header::CONTENT_TYPE, "application/json")
                .body(json.to_string()),
            Body::File(bytes) => request
                .header(http::header::CONTENT_TYPE, "application/octet-stream")
                .body(bytes),
            Body::Idempotent(key, json) => request
                .header("idempotency-key", key)
                .header(http::header::CONTENT_TYPE, "application/json")
                .body(json.to_string()),
        };
        answer(request.send().await).await
    }

    pub async fn company_orders(
        &self,
        token: &str,
        company_id: &str,
        page: Option<&str>,
    ) -> Result<OrderPage, ApiError> {
        self.get_page(token, &["companies", company_id, "orders"], page)
            .await
    }

    /// Creates an order; the same `key` again returns the same order, so a
    /// form sent twice orders once.
    pub async fn create_order(
        &self,
        token: &str,
        company_id: &str,
        key: &str,
        worker: &NewWorker,
    ) -> Result<Order, ApiError> {
        let body = serde_json::json!({ "workers": [worker] });
        self.send(
            reqwest::Method::POST,
            token,
            &["companies", company_id, "orders"],
            Body::Idempotent(key.to_owned(), body),
        )
        .await
    }

    pub async fn order(&self, token: &str, order_id: &str) -> Result<Order, ApiError> {
        self.get(Some(token), &["orders", order_id]).await
    }

    pub async fn documents(&self, token: &str, order_id: &str) -> Result<Vec<Document>, ApiError> {
        self.get(Some(token), &["orders", order_id, "documents"])
            .await
    }

    pub async fn upload(
        &self,
        token: &str,
        order_id: &str,
        worker_id: &str,
        kind: &str,
        file: bytes::Bytes,
    ) -> Result<Document, ApiError> {
        self.send(
            reqwest::Method::PUT,
            token,
            &["orders", order_id, "workers", worker_id, "documents", kind],
            Body::File(file),
        )
        .await
    }

    pub async fn add_worker(
        &self,
        token: &str,
        order_id: &str,
        worker: &NewWorker,
    ) -> Result<(), ApiError> {
        self.send::<serde_json::Value>(
            reqwest::Method::POST,
            token,
            &["orders", order_id, "workers"],
            Body::Json(serde_json::to_value(worker).unwrap_or_default()),
        )
        .await
        .map(drop)
    }

    pub async fn remove_worker(
        &self,
        token: &str,
        order_id: &str,
        worker_id: &str,
    ) -> Result<(), ApiError> {
        self.send::<serde_json::Value>(
            reqwest::Method::DELETE,
            token,
            &["orders", order_id, "workers", worker_id],
            Body::Empty,
        )
        .await
        .map(drop)
    }

    /// The order's signed deletion receipt, once it is redacted.
    pub async fn receipt(&self, token: &str, order_id: &str) -> Result<Receipt, ApiError> {
        self.get(Some(token), &["orders", order_id, "receipt"])
            .await
    }

    pub async fn submit(&self, token: &str, order_id: &str) -> Result<Order, ApiError> {
        self.send(
            reqwest::Method::POST,
            token,
            &["orders", order_id, "submit"],
            Body::Empty,
        )
        .await
    }

    /// The back office's queue: orders waiting for a decision.
    pub async fn review_queue(&self, token: &str) -> Result<OrderPage, ApiError> {
        let mut url = self.url(&["backoffice", "orders"]);
        url.query_pairs_mut().append_pair("status", "submitted");
        answer(self.http.get(url).bearer_auth(token).send().await).await
    }

    pub async fn approve(&self, token: &str, order_id: &str) -> Result<Order, ApiError> {
        self.send(
            reqwest::Method::POST,
            token,
            &["backoffice", "orders", order_id, "approve"],
            Body::Empty,
        )
        .await
    }

    pub async fn return_for_correction(
        &self,
        token: &str,
        order_id: &str,
        rejections: &[DocumentRejection],
    ) -> Result<Order, ApiError> {
        self.send(
            reqwest::Method::POST,
            token,
            &["backoffice", "orders", order_id, "return"],
            Body::Json(serde_json::json!({ "rejections": rejections })),
        )
        .await
    }

    /// A stored document, for the back office.
    pub async fn document(&self, token: &str, document_id: &str) -> Result<DocumentFile, ApiError> {
        let response = self
            .http
            .get(self.url(&["documents", document_id]))
            .bearer_auth(token)
            .send()
            .await
            .map_err(|_| ApiError::Unavailable)?;
        if !response.status().is_success() {
            return Err(refusal(response).await);
        }
        let content_type = response
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("application/octet-stream")
            .to_owned();
        let bytes = response.bytes().await.map_err(|_| ApiError::Unavailable)?;
        Ok(DocumentFile {
            content_type,
            bytes,
        })
    }

    pub async fn access(&self, token: &str, company_id: &str) -> Result<AccessList, ApiError> {
        self.get(Some(token), &["companies", company_id, "access"])
            .await
    }

    /// Gives a grant, as the API's `NewGrant` (built by the form's handler).
    pub async fn grant(
        &self,
        token: &str,
        company_id: &str,
        grant: serde_json::Value,
    ) -> Result<Grant, ApiError> {
        self.send(
            reqwest::Method::POST,
            token,
            &["companies", company_id, "access"],
            Body::Json(grant),
        )
        .await
    }

    /// What a supplier has been given, for its access managers.
    pub async fn supplier_grants(
        &self,
        token: &str,
        org_number: &str,
    ) -> Result<SupplierGrants, ApiError> {
        self.get(Some(token), &["suppliers", org_number, "grants"])
            .await
    }

    /// A supplier's manager passes the supplier's grant on to one of its
    /// staff, as the API's `NewDelegation` (built by the form).
    pub async fn delegate(
        &self,
        token: &str,
        grant_id: &str,
        delegation: serde_json::Value,
    ) -> Result<(), ApiError> {
        self.send::<serde_json::Value>(
            reqwest::Method::POST,
            token,
            &["grants", grant_id, "delegations"],
            Body::Json(delegation),
        )
        .await
        .map(drop)
    }

    pub async fn revoke(&self, token: &str, grant_id: &str) -> Result<(), ApiError> {
        let response = self
            .http
            .delete(self.url(&["grants", grant_id]))
            .bearer_auth(token)
            .send()
            .await
            .map_err(|_| ApiError::Unavailable)?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(refusal(response).await)
        }
    }

    pub async fn accept_agreement(
        &self,
        token: &str,
        company_id: &str,
        version: u32,
    ) -> Result<(), ApiError> {
        self.send::<serde_json::Value>(
            reqwest::Method::POST,
            token,
            &["companies", company_id, "agreement", "acceptances"],
            Body::Json(serde_json::json!({ "version": version })),
        )
        .await
        .map(drop)
    }

    pub async fn company_cards(
        &self,
        token: &str,
        company_id: &str,
        page: Option<&str>,
    ) -> Result<CardPage, ApiError> {
        self.get_page(token, &["companies", company_id, "cards"], page)
            .await
    }

    /// `action` is `block` or `deactivate`.
    pub async fn change_card(
        &self,
        token: &str,
        card_number: &str,
        action: &str,
        reason: &str,
    ) -> Result<(), ApiError> {
        self.send::<serde_json::Value>(
            reqwest::Method::POST,
            token,
            &["cards", card_number, action],
            Body::Json(serde_json::json!({ "reason": reason })),
        )
        .await
        .map(drop)
    }

    pub async fn notifications(
        &self,
        token: &str,
        company_id: &str,
    ) -> Result<NotificationPage, ApiError> {
        self.get(Some(token), &["companies", company_id, "notifications"])
            .await
    }

    pub async fn company_access_log(
        &self,
        token: &str,
        company_id: &str,
        page: Option<&str>,
    ) -> Result<CompanyAccessLog, ApiError> {
        self.get_page(token, &["companies", company_id, "access-log"], page)
            .await
    }

    /// Registers a company, as the API's `NewCompany` (built by the form).
    pub async fn register_company(
        &self,
        token: &str,
        company: serde_json::Value,
    ) -> Result<Company, ApiError> {
        self.send(
            reqwest::Method::POST,
            token,
            &["companies"],
            Body::Json(company),
        )
        .await
    }

    /// The back office's queue of companies waiting for approval.
    pub async fn pending_companies(&self, token: &str) -> Result<CompanyPage, ApiError> {
        let mut url = self.url(&["backoffice", "companies"]);
        url.query_pairs_mut().append_pair("status", "pending");
        answer(self.http.get(url).bearer_auth(token).send().await).await
    }

    /// `decision` is `approve` or `reject` (with `reason`).
    pub async fn decide_company(
        &self,
        token: &str,
        company_id: &str,
        decision: &str,
        reason: &str,
    ) -> Result<Company, ApiError> {
        let body = if decision == "reject" {
            Body::Json(serde_json::json!({ "reason": reason }))
        } else {
            Body::Empty
        };
        self.send(
            reqwest::Method::POST,
            token,
            &["backoffice", "companies", company_id, decision],
            body,
        )
        .await
    }

    pub async fn check_card(&self, number: &str) -> Result<CardCheck, ApiError> {
        self.get(None, &["public", "cards", number]).await
    }

    /// New tokens for a refresh token (used up by this).
    pub async fn refresh(&self, refresh_token: &str) -> Result<Tokens, ApiError> {
        let body = serde_json::json!({ "refresh_token": refresh_token });
        let request = self
            .http
            .post(self.url(&["auth", "refresh"]))
            .body(body.to_string());
        answer(
            request
                .header(http::header::CONTENT_TYPE, "application/json")
                .send()
                .await,
        )
        .await
    }

    /// Ends the session the access token belongs to.
    pub async fn logout(&self, token: &str) -> Result<(), ApiError> {
        let response = self
            .http
            .post(self.url(&["auth", "logout"]))
            .bearer_auth(token)
            .send()
            .await;
        match response {
            Ok(response) if response.status() == StatusCode::NO_CONTENT => Ok(()),
            Ok(response) => Err(refusal(response).await),
            Err(_) => Err(ApiError::Unavailable),
        }
    }
}

/// What a change sends.
enum Body {
    Empty,
    Json(serde_json::Value),
    File(bytes::Bytes),
    /// JSON, with an `Idempotency-Key`.
    Idempotent(String, serde_json::Value),
}

async fn answer<T: DeserializeOwned>(
    response: Result<reqwest::Response, reqwest::Error>,
) -> Result<T, ApiError> {
    let response = response.map_err(|error| {
        tracing::warn!(error = %error, "the gateway did not answer");
        ApiError::Unavailable
    })?;
    if !response.status().is_success() {
        return Err(refusal(response).await);
    }
    let body = response.bytes().await.map_err(|_| ApiError::Unavailable)?;
    serde_json::from_slice(&body).map_err(|error| {
        // The API and this front end disagree: a bug, not the person's.
        tracing::error!(error = %error, "an answer of the API could not be read");
        ApiError::Unavailable
    })
}

async fn refusal(response: reqwest::Response) -> ApiError {
    match response.status() {
        StatusCode::UNAUTHORIZED => ApiError::Unauthenticated,
        StatusCode::NOT_FOUND => ApiError::NotFound,
        status if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS => {
            ApiError::Unavailable
        }
        status => {
            let problem: Option<Problem> = response
                .bytes()
                .await
                .ok()
                .and_then(|body| serde_json::from_slice(&body).ok());
            let kind = problem
                .as_ref()
                .and_then(|problem| problem.kind.as_deref())
                .unwrap_or_default();
            if kind.ends_with("/login-required") {
                ApiError::LoginRequired
            } else if status == StatusCode::FORBIDDEN {
                ApiError::Forbidden
            } else {
                ApiError::Refused(
                    problem
                        .and_then(|problem| problem.detail.or(problem.title))
                        .unwrap_or_default(),
                )
            }
        }
    }
}
