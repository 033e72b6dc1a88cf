use hms_auth::TokenVerifier;
use hms_grpc::client::ServiceChannel;
use hms_proto::audit::v1::audit_service_client::AuditServiceClient;
use hms_proto::cards::v1::card_service_client::CardServiceClient;
use hms_proto::companies::v1::company_service_client::CompanyServiceClient;
use hms_proto::identity::v1::identity_service_client::IdentityServiceClient;
use hms_proto::media::v1::media_service_client::MediaServiceClient;
use hms_proto::notifications::v1::notification_service_client::NotificationServiceClient;
use hms_proto::orders::v1::order_service_client::OrderServiceClient;
use hms_proto::redaction::v1::redaction_service_client::RedactionServiceClient;

use crate::auth::CookieJar;
use crate::limits::Limits;

/// What every handler may use: the token verifier and a client per
/// service. Clients are cheap to clone; each call forwards the person's
/// token, or carries the gateway's own where no person is involved yet
/// (logging in).
#[derive(Clone)]
pub struct AppState {
    pub verifier: TokenVerifier,
    pub identity: IdentityServiceClient<ServiceChannel>,
    pub companies: CompanyServiceClient<ServiceChannel>,
    pub orders: OrderServiceClient<ServiceChannel>,
    pub media: MediaServiceClient<ServiceChannel>,
    pub notifications: NotificationServiceClient<ServiceChannel>,
    pub cards: CardServiceClient<ServiceChannel>,
    pub redaction: RedactionServiceClient<ServiceChannel>,
    pub audit: AuditServiceClient<ServiceChannel>,
    /// The largest document accepted, counted while it streams.
    pub max_upload_bytes: u64,
    pub cookies: CookieJar,
    pub limits: Limits,
    pub after_login_url: String,
    /// Web origins whose pages may make changes with the session cookie
    /// (`HMS_CORS_ORIGINS`).
    pub browser_origins: std::sync::Arc<[http::HeaderValue]>,
}
