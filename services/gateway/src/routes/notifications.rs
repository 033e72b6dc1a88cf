//! The messages sent to companies by email and SMS, and how their sending
//! went.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use hms_proto::ProtoEnum;
use hms_proto::notifications::v1 as pb;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{Answered, PageSize, non_empty, time};
use crate::auth::Person;
use crate::extract::{PathParams, QueryParams};
use crate::problem::{ApiError, Problem};
use crate::state::AppState;

/// How a message travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Email,
    Sms,
}

hms_proto::proto_enum!(Channel => pb::Channel { Email, Sms });

/// Whether a message reached its provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Not accepted by the provider yet; tried again until it is, or until
    /// it is given up.
    Pending,
    /// The provider accepted it.
    Sent,
    /// Given up: refused for good, or too many attempts.
    Failed,
}

hms_proto::proto_enum!(DeliveryStatus => pb::DeliveryStatus { Pending, Sent, Failed });

/// One message to one recipient on one channel.
#[derive(Debug, Serialize, ToSchema)]
pub struct Notification {
    pub notification_id: String,
    pub company_id: String,
    /// What it tells, for example `contact_changed` or `order_submitted`.
    #[schema(example = "contact_changed")]
    pub kind: String,
    pub channel: Channel,
    /// The email address or phone number it goes to.
    pub recipient: String,
    /// `nb` or `en`.
    pub language: String,
    /// The email's subject; absent for a text message.
    pub subject: Option<String>,
    /// The message's text.
    pub body: String,
    pub status: DeliveryStatus,
    /// Sends tried so far.
    pub attempts: u32,
    /// Why the last send did not succeed: the provider's code.
    pub last_error: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
    pub sent_at: Option<DateTime<Utc>>,
    /// The event it was made from.
    pub event_id: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationPage {
    pub notifications: Vec<Notification>,
    /// Pass as `page_token` for the next page; absent on the last.
    pub next_page_token: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NotificationQuery {
    /// Only messages in this status.
    pub status: Option<DeliveryStatus>,
    /// At most this many: 1 to 500 (the service gives at most 200), 50
    /// when absent.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 500)]
    pub page_size: Option<PageSize>,
    pub page_token: Option<String>,
}

/// The messages sent to a company, newest first: to anyone with access to
/// it, and the back office.
#[utoipa::path(
    get,
    path = "/api/v1/companies/{company_id}/notifications",
    tag = "companies",
    params(("company_id" = uuid::Uuid, Path), NotificationQuery),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, body = NotificationPage),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    person: Person,
    PathParams(company_id): PathParams<String>,
    QueryParams(query): QueryParams<NotificationQuery>,
) -> Result<Json<NotificationPage>, ApiError> {
    list_notifications(&state, &person, company_id, query)
        .await
        .map(Json)
}

/// Back office: the messages sent to every company, newest first; those
/// that could not be sent are `status=failed`.
#[utoipa::path(
    get,
    path = "/api/v1/backoffice/notifications",
    tag = "back office",
    params(NotificationQuery),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, body = NotificationPage),
    )
)]
pub async fn all(
    State(state): State<AppState>,
    person: Person,
    QueryParams(query): QueryParams<NotificationQuery>,
) -> Result<Json<NotificationPage>, ApiError> {
    list_notifications(&state, &person, String::new(), query)
        .await
        .map(Json)
}

async fn list_notifications(
    state: &AppState,
    person: &Person,
    company_id: String,
    query: NotificationQuery,
) -> Result<NotificationPage, ApiError> {
    let page = state
        .notifications
        .clone()
        .list_deliveries(
            person.request(pb::ListDeliveriesRequest {
                company_id,
                page_size: PageSize::requested(query.page_size),
                page_token: query.page_token.unwrap_or_default(),
                // Left out: any status.
                status: query
                    .status
                    .map_or(pb::DeliveryStatus::Unspecified.into(), ProtoEnum::to_i32),
            }),
        )
        .await?
        .into_inner();
    Ok(NotificationPage {
        notifications: page
            .deliveries
            .into_iter()
            .map(notification_from)
            .collect::<Result<_, _>>()?,
        next_page_token: non_empty(page.next_page_token),
    })
}

fn notification_from(delivery: pb::Delivery) -> Result<Notification, ApiError> {
    Ok(Notification {
        channel: Channel::answered(delivery.channel)?,
        status: DeliveryStatus::answered(delivery.status)?,
        created_at: time(delivery.created_at.as_ref()),
        sent_at: time(delivery.sent_at.as_ref()),
        notification_id: delivery.delivery_id,
        company_id: delivery.company_id,
        kind: delivery.template,
        recipient: delivery.recipient,
        language: delivery.language,
        subject: non_empty(delivery.subject),
        body: delivery.body,
        attempts: delivery.attempts,
        last_error: non_empty(delivery.last_error),
        event_id: delivery.event_id,
    })
}
