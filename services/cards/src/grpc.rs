//! `CardService`: translates requests and answers; the lifecycle decides.

use std::time::Duration;

use hms_domain::{CardNumber, CompanyId, Reason};
use hms_grpc::client::ServiceChannel;
use hms_grpc::paging::{decode_token, encode_token, page_size};
use hms_grpc::status::{invalid_field, parse_id};
use hms_proto::ProtoEnum;
use hms_proto::cards::v1 as pb;
use hms_proto::orders::v1::ListSubjectWorkersRequest;
use hms_proto::orders::v1::order_internal_service_client::OrderInternalServiceClient;
use hms_proto::time::timestamp;
use tonic::{Request, Response, Status};

use crate::authz::Guard;
use crate::credentials::Credentials;
use crate::domain::{Card, CardStatus, Change, PrintState, RenewalKind};
use crate::error::CardsError;
use crate::lifecycle::Lifecycle;
use crate::storage::Store;

hms_proto::proto_enum!(CardStatus => pb::CardStatus { Active, Blocked, Deactivated, Expired });
hms_proto::proto_enum!(PrintState => pb::PrintState { Awaiting, HandedOver, NeedsPhoto });
hms_proto::proto_enum!(RenewalKind => pb::RenewalKind { Renewal, Replacement });

const DEFAULT_PAGE: u32 = 50;
const MAX_PAGE: u32 = 200;

pub struct CardApi {
    store: Store,
    orders: OrderInternalServiceClient<ServiceChannel>,
    lifecycle: Lifecycle,
    guard: Guard,
    credentials: Credentials,
    /// The least time a public check takes.
    lookup_floor: Duration,
}

impl CardApi {
    pub fn new(
        store: Store,
        orders: OrderInternalServiceClient<ServiceChannel>,
        lifecycle: Lifecycle,
        guard: Guard,
        credentials: Credentials,
        lookup_floor: Duration,
    ) -> Self {
        Self {
            store,
            orders,
            lifecycle,
            guard,
            credentials,
            lookup_floor,
        }
    }

    /// The card a request names, once the caller may change it.
    async fn changed<T>(
        &self,
        request: &Request<T>,
        number: &str,
        reason: &str,
        change: Change,
    ) -> Result<pb::Card, Status> {
        let number = card_number(number)?;
        let reason = Reason::parse(reason).map_err(|error| invalid_field("reason", error))?;
        let card = self.visible_card(&number).await?;
        let person = self
            .guard
            .manage(&hms_grpc::caller(request), card.company_id)
            .await?;
        let changed = self
            .lifecycle
            .change(&card, change, reason.as_str(), person.user_id)
            .await?;
        Ok(card_to_proto(changed))
    }

    /// A card by its number; a missing one is NOT_FOUND, as is one the
    /// caller may not see (checked by the caller of this).
    async fn visible_card(&self, number: &CardNumber) -> Result<Card, Status> {
        Ok(self.lifecycle.card(number).await?)
    }
}

fn card_number(text: &str) -> Result<CardNumber, Status> {
    CardNumber::parse(text).map_err(|error| invalid_field("card_number", error))
}

#[tonic::async_trait]
impl pb::card_service_server::CardService for CardApi {
    async fn list_my_cards(
        &self,
        request: Request<pb::ListMyCardsRequest>,
    ) -> Result<Response<pb::ListMyCardsResponse>, Status> {
        let caller = hms_grpc::caller(&request);
        let person = hms_authz::require_user(&caller)?;
        let Some(subject_key) = &person.subject_key else {
            return Ok(Response::new(pb::ListMyCardsResponse::default()));
        };
        let workers = self
            .orders
            .clone()
            .list_subject_workers(ListSubjectWorkersRequest {
                subject_key: subject_key.clone(),
            })
            .await
            .map_err(|status| CardsError::from_call("orders", &status))?
            .into_inner()
            .workers;
        let workers: Vec<uuid::Uuid> = workers
            .iter()
            .filter_map(|worker| uuid::Uuid::try_parse(&worker.worker_id).ok())
            .collect();
        let cards = self.store.of_workers(&workers).await?;
        Ok(Response::new(pb::ListMyCardsResponse {
            cards: cards.into_iter().map(card_to_proto).collect(),
        }))
    }

    async fn list_cards(
        &self,
        request: Request<pb::ListCardsRequest>,
    ) -> Result<Response<pb::ListCardsResponse>, Status> {
        let company = parse_id(
            "company_id",
            &request.get_ref().company_id,
            CompanyId::parse,
        )?;
        self.guard
            .read(&hms_grpc::caller(&request), company)
            .await?;
        let request = request.into_inner();
        let status = match request.status {
            0 => None,
            value => {
                Some(CardStatus::from_i32(value).map_err(|error| invalid_field("status", error))?)
            }
        };
        let after = decode_token(&request.page_token)?;
        let size = page_size(request.page_size, DEFAULT_PAGE, MAX_PAGE);
        let mut cards = self
            .store
            .list(company, status, after, i64::from(size) + 1)
            .await?;
        let more = cards.len() > size as usize;
        cards.truncate(size as usize);
        let next_page_token = match cards.last() {
            Some(last) if more => encode_token(last.issued_at, last.card_id.as_uuid()),
            _ => String::new(),
        };
        Ok(Response::new(pb::ListCardsResponse {
            cards: cards.into_iter().map(card_to_proto).collect(),
            next_page_token,
        }))
    }

    async fn get_card(
        &self,
        request: Request<pb::GetCardRequest>,
    ) -> Result<Response<pb::GetCardResponse>, Status> {
        let number = card_number(&request.get_ref().card_number)?;
        let card = self.visible_card(&number).await?;
        self.guard
            .read(&hms_grpc::caller(&request), card.company_id)
            .await?;
        Ok(Response::new(pb::GetCardResponse {
            card: Some(card_to_proto(card)),
        }))
    }

    async fn block_card(
        &self,
        request: Request<pb::BlockCardRequest>,
    ) -> Result<Response<pb::BlockCardResponse>, Status> {
        let (number, reason) = (
            request.get_ref().card_number.clone(),
            request.get_ref().reason.clone(),
        );
        let card = self
            .changed(&request, &number, &reason, Change::Block)
            .await?;
        Ok(Response::new(pb::BlockCardResponse { card: Some(card) }))
    }

    async fn deactivate_card(
        &self,
        request: Request<pb::DeactivateCardRequest>,
    ) -> Result<Response<pb::DeactivateCardResponse>, Status> {
        let (number, reason) = (
            request.get_ref().card_number.clone(),
            request.get_ref().reason.clone(),
        );
        let card = self
            .changed(&request, &number, &reason, Change::Deactivate)
            .await?;
        Ok(Response::new(pb::DeactivateCardResponse {
            card: Some(card),
        }))
    }

    async fn check_card(
        &self,
        request: Request<pb::CheckCardRequest>,
    ) -> Result<Response<pb::CheckCardResponse>, Status> {
        // A mistyped number is told at once: its check digit gives nothing
        // away about which cards exist.
        let number = card_number(&request.get_ref().card_number)?;
        let started = tokio::time::Instant::now();
        let found = self.store.by_number(&number).await?;
        // Found or not, the answer takes the same time.
        tokio::time::sleep_until(started + self.lookup_floor).await;
        let now = chrono::Utc::now();
        Ok(Response::new(match found {
            Some(card) => pb::CheckCardResponse {
                valid: card.counts_at(now),
                holder_name: card.holder_name.clone(),
                employer_name: card.employer_name.clone(),
                valid_until: Some(timestamp(card.valid_until)),
                status: shown_status(&card, now).to_i32(),
            },
            None => pb::CheckCardResponse::default(),
        }))
    }

    async fn get_card_credential(
        &self,
        request: Request<pb::GetCardCredentialRequest>,
    ) -> Result<Response<pb::GetCardCredentialResponse>, Status> {
        let number = card_number(&request.get_ref().card_number)?;
        let card = self.visible_card(&number).await?;
        self.guard
            .read(&hms_grpc::caller(&request), card.company_id)
            .await?;
        // A card that no longer counts gets no credential: one made now
        // would only be refused by the status list.
        if !card.counts_at(chrono::Utc::now()) {
            return Err(crate::error::CardsError::Transition("the card no longer counts").into());
        }
        Ok(Response::new(pb::GetCardCredentialResponse {
            payload: self.credentials.credential(&card).await?,
            valid_until: Some(timestamp(card.valid_until)),
        }))
    }

    async fn get_credential_keys(
        &self,
        _request: Request<pb::GetCredentialKeysRequest>,
    ) -> Result<Response<pb::GetCredentialKeysResponse>, Status> {
        let keys = self.credentials.key_set().await?;
        Ok(Response::new(pb::GetCredentialKeysResponse {
            key_set_json: keys.to_json(),
            expires_at: Some(timestamp(keys.expires_at())),
        }))
    }

    async fn get_status_list(
        &self,
        _request: Request<pb::GetStatusListRequest>,
    ) -> Result<Response<pb::GetStatusListResponse>, Status> {
        Ok(Response::new(pb::GetStatusListResponse {
            token: self.credentials.status_list().await?,
            ttl_seconds: u32::try_from(self.credentials.list_ttl().as_secs()).unwrap_or(u32::MAX),
        }))
    }

    async fn get_renewal(
        &self,
        request: Request<pb::GetRenewalRequest>,
    ) -> Result<Response<pb::GetRenewalResponse>, Status> {
        let number = card_number(&request.get_ref().card_number)?;
        let card = self.visible_card(&number).await?;
        self.guard
            .manage(&hms_grpc::caller(&request), card.company_id)
            .await?;
        let kind = card
            .renewal_at(chrono::Utc::now())
            .map_err(crate::error::CardsError::from)?;
        Ok(Response::new(pb::GetRenewalResponse {
            company_id: card.company_id.to_string(),
            holder_name: card.holder_name,
            card_type: card.card_type.to_i32(),
            renews_card_number: card.card_number.to_string(),
            kind: kind.to_i32(),
            valid_until: Some(timestamp(card.valid_until)),
        }))
    }
}

/// An active card past its end is expired, even before the check that
/// records it has run.
fn shown_status(card: &Card, now: chrono::DateTime<chrono::Utc>) -> CardStatus {
    if card.status == CardStatus::Active && now >= card.valid_until {
        CardStatus::Expired
    } else {
        card.status
    }
}

fn card_to_proto(card: Card) -> pb::Card {
    let status = shown_status(&card, chrono::Utc::now());
    pb::Card {
        card_id: card.card_id.to_string(),
        card_number: card.card_number.to_string(),
        company_id: card.company_id.to_string(),
        order_id: card.order_id.to_string(),
        worker_id: card.worker_id.to_string(),
        holder_name: card.holder_name,
        employer_org_number: card.employer_org_number,
        employer_name: card.employer_name,
        card_type: card.card_type.to_i32(),
        issued_at: Some(timestamp(card.issued_at)),
        valid_until: Some(timestamp(card.valid_until)),
        status: status.to_i32(),
        print_state: card.print_state.to_i32(),
        history: card
            .history
            .into_iter()
            .map(|change| pb::StatusChange {
                status: change.status.to_i32(),
                at: Some(timestamp(change.at)),
                reason: change.reason,
                changed_by_user_id: change
                    .changed_by
                    .map(|id| id.to_string())
                    .unwrap_or_default(),
            })
            .collect(),
    }
}
