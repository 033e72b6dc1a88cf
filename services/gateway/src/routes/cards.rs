//! HMS cards: a company's cards, blocking a lost one and deactivating one
//! whose holder left, and the public check anyone may make without a
//! login.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use hms_proto::ProtoEnum;
use hms_proto::cards::v1 as pb;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::orders::CardType;
use super::{Answered, PageSize, Reason, non_empty, time};
use crate::auth::Person;
use crate::extract::{JsonBody, PathParams, QueryParams};
use crate::problem::{ApiError, Problem};
use crate::state::AppState;

/// Where a card stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CardStatus {
    /// Shown on a site, it counts.
    Active,
    /// Lost or stolen.
    Blocked,
    /// The employment ended.
    Deactivated,
    /// Past its end.
    Expired,
}

hms_proto::proto_enum!(CardStatus => pb::CardStatus { Active, Blocked, Deactivated, Expired });

/// Where the physical card is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PrintState {
    /// Waiting for the card producer to take it.
    Awaiting,
    /// The card producer has it.
    HandedOver,
    /// The photo was deleted before the producer took it: order a new card
    /// for the worker, with a new photo.
    NeedsPhoto,
}

hms_proto::proto_enum!(PrintState => pb::PrintState { Awaiting, HandedOver, NeedsPhoto });

/// One change of a card's status.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatusChange {
    pub status: CardStatus,
    pub at: Option<DateTime<Utc>>,
    /// Why, as given; absent for issue and expiry.
    pub reason: Option<String>,
    /// Who; absent for the platform itself.
    pub changed_by_user_id: Option<String>,
}

/// An HMS card.
#[derive(Debug, Serialize, ToSchema)]
pub struct Card {
    pub card_id: String,
    /// Ten digits, the last a check digit.
    #[schema(example = "1234567897")]
    pub card_number: String,
    pub company_id: String,
    pub order_id: String,
    pub worker_id: String,
    pub holder_name: String,
    pub employer_org_number: String,
    pub employer_name: String,
    pub card_type: CardType,
    pub issued_at: Option<DateTime<Utc>>,
    pub valid_until: Option<DateTime<Utc>>,
    pub status: CardStatus,
    pub print_state: PrintState,
    /// Every change of status, oldest first.
    pub history: Vec<StatusChange>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CardPage {
    pub cards: Vec<Card>,
    /// Pass as `page_token` for the next page; absent on the last.
    pub next_page_token: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CardQuery {
    /// Only cards in this status.
    pub status: Option<CardStatus>,
    /// At most this many: 1 to 500 (the service gives at most 200), 50
    /// when absent.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 500)]
    pub page_size: Option<PageSize>,
    pub page_token: Option<String>,
}

/// What anyone may learn of a card by its number.
#[derive(Debug, Serialize, ToSchema)]
pub struct CardCheck {
    /// Whether the card counts now.
    pub valid: bool,
    /// Absent when no card has this number.
    pub holder_name: Option<String>,
    pub employer_name: Option<String>,
    pub valid_until: Option<DateTime<Utc>>,
}

/// A company's cards, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/companies/{company_id}/cards",
    tag = "cards",
    params(("company_id" = uuid::Uuid, Path), CardQuery),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, body = CardPage),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    person: Person,
    PathParams(company_id): PathParams<String>,
    QueryParams(query): QueryParams<CardQuery>,
) -> Result<Json<CardPage>, ApiError> {
    let page = state
        .cards
        .clone()
        .list_cards(
            person.request(pb::ListCardsRequest {
                company_id,
                page_size: PageSize::requested(query.page_size),
                page_token: query.page_token.unwrap_or_default(),
                // Left out: any status.
                status: query
                    .status
                    .map_or(pb::CardStatus::Unspecified.into(), ProtoEnum::to_i32),
            }),
        )
        .await?
        .into_inner();
    Ok(Json(CardPage {
        cards: page
            .cards
            .into_iter()
            .map(card_from)
            .collect::<Result<_, _>>()?,
        next_page_token: non_empty(page.next_page_token),
    }))
}

/// One card, to its company's people and the back office.
#[utoipa::path(
    get,
    path = "/api/v1/cards/{card_number}",
    tag = "cards",
    params(("card_number" = String, Path, description = "Ten digits; spaces allowed")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, body = Card),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    person: Person,
    PathParams(card_number): PathParams<String>,
) -> Result<Json<Card>, ApiError> {
    let card = state
        .cards
        .clone()
        .get_card(person.request(pb::GetCardRequest { card_number }))
        .await?
        .into_inner()
        .card;
    card_from(card.ok_or_else(|| ApiError::bad_answer("a card"))?).map(Json)
}

/// Lost or stolen: the card stops counting at once. A replacement is a
/// new order for the worker.
#[utoipa::path(
    post,
    path = "/api/v1/cards/{card_number}/block",
    tag = "cards",
    params(("card_number" = String, Path)),
    request_body = Reason,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, body = Card),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The card no longer counts already", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn block(
    State(state): State<AppState>,
    person: Person,
    PathParams(card_number): PathParams<String>,
    JsonBody(reason): JsonBody<Reason>,
) -> Result<Json<Card>, ApiError> {
    let request = pb::BlockCardRequest {
        card_number,
        reason: reason.reason,
    };
    let mut cards = state.cards.clone();
    changed(
        cards
            .block_card(person.request(request))
            .await?
            .into_inner()
            .card,
    )
}

/// The holder's employment ended: the card stops counting.
#[utoipa::path(
    post,
    path = "/api/v1/cards/{card_number}/deactivate",
    tag = "cards",
    params(("card_number" = String, Path)),
    request_body = Reason,
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, body = Card),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The card no longer counts already", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn deactivate(
    State(state): State<AppState>,
    person: Person,
    PathParams(card_number): PathParams<String>,
    JsonBody(reason): JsonBody<Reason>,
) -> Result<Json<Card>, ApiError> {
    let request = pb::DeactivateCardRequest {
        card_number,
        reason: reason.reason,
    };
    let mut cards = state.cards.clone();
    changed(
        cards
            .deactivate_card(person.request(request))
            .await?
            .into_inner()
            .card,
    )
}

/// The card a change answered with.
/// Why a new card for the holder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RenewalKind {
    /// The card ends within six months, or has ended.
    Renewal,
    /// The card was blocked: lost or stolen.
    Replacement,
}

hms_proto::proto_enum!(RenewalKind => pb::RenewalKind { Renewal, Replacement });

/// The worker of the new order, as far as the card knows them.
#[derive(Debug, Serialize, ToSchema)]
pub struct RenewalWorker {
    pub name: String,
    pub card_type: CardType,
}

/// What a new order for a card's holder starts from. Post it to
/// `/api/v1/companies/{company_id}/orders` with the worker's national
/// identity number and phone added, then upload a new photo, ID copy and
/// signature: the card keeps none of them.
#[derive(Debug, Serialize, ToSchema)]
pub struct Renewal {
    pub company_id: String,
    pub kind: RenewalKind,
    pub renews_card_number: String,
    /// The old card's end.
    pub valid_until: Option<DateTime<Utc>>,
    pub worker: RenewalWorker,
}

/// A new order for the card's holder, pre-filled: a renewal from six
/// months before the card's end, or a replacement of a blocked card.
#[utoipa::path(
    get,
    path = "/api/v1/cards/{card_number}/renewal",
    tag = "cards",
    params(("card_number" = String, Path, description = "Ten digits; spaces allowed")),
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, body = Renewal),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Too early to renew, or the holder's employment ended", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn renewal(
    State(state): State<AppState>,
    person: Person,
    PathParams(card_number): PathParams<String>,
) -> Result<Json<Renewal>, ApiError> {
    let answer = state
        .cards
        .clone()
        .get_renewal(person.request(pb::GetRenewalRequest { card_number }))
        .await?
        .into_inner();
    Ok(Json(Renewal {
        company_id: answer.company_id,
        kind: RenewalKind::answered(answer.kind)?,
        renews_card_number: answer.renews_card_number,
        valid_until: time(answer.valid_until.as_ref()),
        worker: RenewalWorker {
            name: answer.holder_name,
            card_type: CardType::answered(answer.card_type)?,
        },
    }))
}

fn changed(card: Option<pb::Card>) -> Result<Json<Card>, ApiError> {
    card_from(card.ok_or_else(|| ApiError::bad_answer("a card"))?).map(Json)
}

/// Anyone, without a login: does this card count now, whose is it and
/// until when. Nothing else about the holder. The answer takes as long
/// whether or not the number exists; a mistyped number (its check digit
/// is wrong) is told at once.
#[utoipa::path(
    get,
    path = "/api/v1/public/cards/{card_number}",
    tag = "cards",
    params(("card_number" = String, Path, description = "Ten digits; spaces allowed")),
    responses(
        (status = 200, body = CardCheck),
    )
)]
pub async fn check(
    State(state): State<AppState>,
    PathParams(card_number): PathParams<String>,
) -> Result<Json<CardCheck>, ApiError> {
    let checked = state
        .cards
        .clone()
        .check_card(pb::CheckCardRequest { card_number })
        .await?
        .into_inner();
    Ok(Json(CardCheck {
        valid: checked.valid,
        holder_name: non_empty(checked.holder_name),
        employer_name: non_empty(checked.employer_name),
        valid_until: time(checked.valid_until.as_ref()),
    }))
}

pub(crate) fn card_from(card: pb::Card) -> Result<Card, ApiError> {
    Ok(Card {
        card_type: CardType::answered(card.card_type)?,
        status: CardStatus::answered(card.status)?,
        print_state: PrintState::answered(card.print_state)?,
        issued_at: time(card.issued_at.as_ref()),
        valid_until: time(card.valid_until.as_ref()),
        history: card
            .history
            .into_iter()
            .map(|change| {
                Ok(StatusChange {
                    status: CardStatus::answered(change.status)?,
                    at: time(change.at.as_ref()),
                    reason: non_empty(change.reason),
                    changed_by_user_id: non_empty(change.changed_by_user_id),
                })
            })
            .collect::<Result<_, ApiError>>()?,
        card_id: card.card_id,
        card_number: card.card_number,
        company_id: card.company_id,
        order_id: card.order_id,
        worker_id: card.worker_id,
        holder_name: card.holder_name,
        employer_org_number: card.employer_org_number,
        employer_name: card.employer_name,
    })
}
