//! Issuing: an approved order becomes one card per worker, with the
//! employer as the company is registered. Asking again for the same order
//! issues nothing more. An approval whose event never arrived (parked
//! after its retries, lost with a stream) is found by the reconciler.

use std::collections::HashMap;
use std::time::Duration;

use futures::StreamExt;

use chrono::{DateTime, NaiveDate, Utc};
use hms_domain::{CardId, CardNumber, CardType, CompanyId, OrderId, WorkerId};
use hms_grpc::client::ServiceChannel;
use hms_proto::ProtoEnum;
use hms_proto::companies::v1 as companies_pb;
use hms_proto::companies::v1::company_service_client::CompanyServiceClient;
use hms_proto::events::v1 as events;
use hms_proto::orders::v1 as orders_pb;
use hms_proto::orders::v1::order_internal_service_client::OrderInternalServiceClient;
use hms_proto::time::timestamp;
use sqlx::{PgConnection, PgPool};
use tokio_util::sync::CancellationToken;

use crate::domain::valid_until;
use crate::error::CardsError;
use crate::storage::{NewCard, Store};

/// Tries at a free card number before giving up (with 900 million numbers
/// this never happens by chance).
const NUMBER_TRIES: usize = 8;
/// How many companies are asked about at once.
const ASKED_AT_ONCE: usize = 16;
/// The most orders one call to orders names (its limit).
const ORDERS_AT_ONCE: usize = 500;

#[derive(Clone)]
pub struct Issuer {
    orders: OrderInternalServiceClient<ServiceChannel>,
    companies: CompanyServiceClient<ServiceChannel>,
    validity_months: u32,
}

/// An approved order: whose it is and who is on it.
type Approved = (CompanyId, Vec<Holder>);

/// A worker to issue a card to.
struct Holder {
    worker_id: WorkerId,
    name: String,
    card_type: CardType,
    /// The last day of the employment, when the company stated it.
    employment_ends_on: Option<NaiveDate>,
}

/// A card on its way to being issued, before it has a number.
struct Issuing<'a> {
    card_id: CardId,
    order_id: OrderId,
    company_id: CompanyId,
    holder: &'a Holder,
    employer_org_number: &'a str,
    employer_name: &'a str,
    valid_until: DateTime<Utc>,
}

impl Issuing<'_> {
    fn new_card<'b>(
        &'b self,
        card_number: &'b CardNumber,
        issued_at: DateTime<Utc>,
    ) -> NewCard<'b> {
        NewCard {
            card_id: self.card_id,
            card_number,
            company_id: self.company_id,
            order_id: self.order_id,
            worker_id: self.holder.worker_id,
            holder_name: &self.holder.name,
            employer_org_number: self.employer_org_number,
            employer_name: self.employer_name,
            card_type: self.holder.card_type,
            issued_at,
            valid_until: self.valid_until,
        }
    }
}

impl Issuer {
    pub fn new(orders: ServiceChannel, companies: ServiceChannel, validity_months: u32) -> Self {
        Self {
            orders: OrderInternalServiceClient::new(orders),
            companies: CompanyServiceClient::new(companies),
            validity_months,
        }
    }

    /// Issues the cards of an approved order that it does not have yet, in
    /// `tx`, each with its `card_issued` event; how many.
    pub async fn issue(
        &self,
        tx: &mut PgConnection,
        order_id: OrderId,
    ) -> Result<usize, CardsError> {
        self.issue_many(tx, &[order_id]).await
    }

    /// Issues the cards of approved orders that they do not have yet, in
    /// `tx`, each with its `card_issued` event; how many. Orders is asked
    /// once per 500 orders, each company once, and the cards, their events
    /// and print jobs are written a statement each. An order that is not
    /// approved fails the batch as `NotApproved` (rejected), one orders does
    /// not know as a failure that is retried.
    pub async fn issue_many(
        &self,
        tx: &mut PgConnection,
        order_ids: &[OrderId],
    ) -> Result<usize, CardsError> {
        // Two events may name one order; its cards are issued once.
        let mut distinct = order_ids.to_vec();
        distinct.sort_unstable();
        distinct.dedup();
        let mut approved = self.holders(&distinct).await?;
        let carded = Store::carded_workers(tx, &distinct).await?;
        let mut todo = Vec::with_capacity(distinct.len());
        for order_id in distinct {
            let (company_id, holders) =
                approved.remove(&order_id).ok_or(CardsError::Failed {
                    service: "orders",
                    code: tonic::Code::NotFound,
                    message: format!("does not know order {order_id}"),
                })??;
            let missing: Vec<Holder> = holders
                .into_iter()
                .filter(|holder| !carded.contains(&(order_id, holder.worker_id)))
                .collect();
            if !missing.is_empty() {
                todo.push((order_id, company_id, missing));
            }
        }
        if todo.is_empty() {
            return Ok(0);
        }
        let mut companies: Vec<CompanyId> =
            todo.iter().map(|(_, company_id, _)| *company_id).collect();
        companies.sort_unstable();
        companies.dedup();
        let employers: HashMap<CompanyId, (String, String)> = futures::stream::iter(companies)
            .map(|company_id| {
                let issuer = self.clone();
                async move { Ok((company_id, issuer.employer(company_id).await?)) }
            })
            .buffered(ASKED_AT_ONCE)
            .collect::<Vec<Result<_, CardsError>>>()
            .await
            .into_iter()
            .collect::<Result<_, _>>()?;
        let issued_at = Utc::now();
        let cards: Vec<Issuing<'_>> = todo
            .iter()
            .flat_map(|(order_id, company_id, missing)| {
                let (employer_org_number, employer_name) = &employers[company_id];
                missing.iter().map(move |holder| Issuing {
                    card_id: CardId::from_uuid(uuid::Uuid::now_v7()),
                    order_id: *order_id,
                    company_id: *company_id,
                    holder,
                    employer_org_number: employer_org_number.as_str(),
                    employer_name: employer_name.as_str(),
                    valid_until: valid_until(
                        issued_at,
                        self.validity_months,
                        holder.employment_ends_on,
                    ),
                })
            })
            .collect();
        let numbers = Self::insert_with_free_numbers(tx, &cards, issued_at).await?;
        let events: Vec<events::CardIssued> = cards
            .iter()
            .zip(&numbers)
            .map(|(card, number)| events::CardIssued {
                card_id: card.card_id.to_string(),
                card_number: number.to_string(),
                company_id: card.company_id.to_string(),
                order_id: card.order_id.to_string(),
                worker_id: card.holder.worker_id.to_string(),
                valid_until: Some(timestamp(card.valid_until)),
                occurred_at: Some(timestamp(issued_at)),
            })
            .collect();
        hms_events::enqueue_all(tx, &events).await?;
        let jobs: Vec<(OrderId, CompanyId)> = todo
            .iter()
            .map(|(order_id, company_id, _)| (*order_id, *company_id))
            .collect();
        Store::queue_prints(tx, &jobs).await?;
        for (order_id, _, missing) in &todo {
            tracing::info!(%order_id, issued = missing.len(), "cards issued");
        }
        Ok(cards.len())
    }

    /// Inserts the cards, each with a free number, drawing again for those
    /// whose number was taken; the numbers, in the order of `cards`.
    async fn insert_with_free_numbers(
        tx: &mut PgConnection,
        cards: &[Issuing<'_>],
        issued_at: DateTime<Utc>,
    ) -> Result<Vec<CardNumber>, CardsError> {
        // The first digit is never 0, so the number reads the same wherever
        // leading zeros are dropped.
        let draw = || CardNumber::from_body(rand::random_range(100_000_000..1_000_000_000));
        let mut numbers: Vec<CardNumber> = cards.iter().map(|_| draw()).collect();
        let mut unnumbered: Vec<usize> = (0..cards.len()).collect();
        for _ in 0..NUMBER_TRIES {
            let attempt: Vec<NewCard<'_>> = unnumbered
                .iter()
                .map(|&index| cards[index].new_card(&numbers[index], issued_at))
                .collect();
            let issued = Store::issue_all(tx, &attempt).await?;
            unnumbered.retain(|&index| !issued.contains(&cards[index].card_id));
            if unnumbered.is_empty() {
                return Ok(numbers);
            }
            for &index in &unnumbered {
                numbers[index] = draw();
            }
        }
        Err(CardsError::NumbersExhausted)
    }

    /// Each of the orders orders knows: its company and workers if it is
    /// approved, `NotApproved` if not.
    async fn holders(
        &self,
        order_ids: &[OrderId],
    ) -> Result<HashMap<OrderId, Result<Approved, CardsError>>, CardsError> {
        let corrupt = |what: &str| CardsError::Failed {
            service: "orders",
            code: tonic::Code::Internal,
            message: format!("answered {what}"),
        };
        let mut approved = HashMap::with_capacity(order_ids.len());
        for chunk in order_ids.chunks(ORDERS_AT_ONCE) {
            let answered = self
                .orders
                .clone()
                .list_approved_workers(orders_pb::ListApprovedWorkersRequest {
                    order_ids: chunk.iter().map(ToString::to_string).collect(),
                })
                .await
                .map_err(|status| CardsError::from_call("orders", &status))?
                .into_inner();
            for order in answered.orders {
                let order_id =
                    OrderId::parse(&order.order_id).map_err(|_| corrupt("no order id"))?;
                let company_id =
                    CompanyId::parse(&order.company_id).map_err(|_| corrupt("no company id"))?;
                let holders = order
                    .workers
                    .into_iter()
                    .map(|worker| {
                        Ok(Holder {
                            worker_id: WorkerId::parse(&worker.worker_id)
                                .map_err(|_| corrupt("no worker id"))?,
                            card_type: CardType::from_i32(worker.card_type)
                                .map_err(|_| corrupt("no card type"))?,
                            employment_ends_on: match worker.employment_ends_on.as_str() {
                                "" => None,
                                day => Some(
                                    NaiveDate::parse_from_str(day, "%Y-%m-%d")
                                        .map_err(|_| corrupt("no date for the employment's end"))?,
                                ),
                            },
                            name: worker.name,
                        })
                    })
                    .collect::<Result<_, CardsError>>()?;
                approved.insert(order_id, Ok((company_id, holders)));
            }
            for order in answered.not_approved {
                let order_id = OrderId::parse(&order).map_err(|_| corrupt("no order id"))?;
                approved.insert(order_id, Err(CardsError::NotApproved));
            }
        }
        Ok(approved)
    }

    /// The employer as the card shows it: organisation number and name.
    async fn employer(&self, company_id: CompanyId) -> Result<(String, String), CardsError> {
        let company = self
            .companies
            .clone()
            .get_company(companies_pb::GetCompanyRequest {
                company_id: company_id.to_string(),
            })
            .await
            .map_err(|status| CardsError::from_call("companies", &status))?
            .into_inner()
            .company
            .ok_or_else(|| CardsError::Failed {
                service: "companies",
                code: tonic::Code::Internal,
                message: "answered no company".to_owned(),
            })?;
        Ok((company.org_number, company.name))
    }

    /// Issues the cards of every order approved more than `delay` ago, since
    /// the last round, that has none: approvals whose event was missed.
    /// Returns how many cards it issued.
    pub async fn reconcile(&self, pool: &PgPool, delay: Duration) -> Result<usize, CardsError> {
        let covered: DateTime<Utc> =
            sqlx::query_scalar("SELECT covered_until FROM issuing_watermark")
                .fetch_one(pool)
                .await?;
        let until = Utc::now() - delay;
        if until <= covered {
            return Ok(0);
        }
        let mut issued = 0;
        let mut page_token = String::new();
        loop {
            let page = self
                .orders
                .clone()
                .list_approved_orders(orders_pb::ListApprovedOrdersRequest {
                    decided_from: Some(timestamp(covered)),
                    decided_before: Some(timestamp(until)),
                    page_token: page_token.clone(),
                    page_size: 200,
                })
                .await
                .map_err(|status| CardsError::from_call("orders", &status))?
                .into_inner();
            let approved = page
                .order_ids
                .iter()
                .map(|order| OrderId::parse(order).map(|id| id.as_uuid()))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|_| CardsError::Failed {
                    service: "orders",
                    code: tonic::Code::Internal,
                    message: "answered an order id that is not one".to_owned(),
                })?;
            // One look per page at which of them already have cards.
            let carded: Vec<uuid::Uuid> =
                sqlx::query_scalar("SELECT DISTINCT order_id FROM cards WHERE order_id = ANY($1)")
                    .bind(&approved)
                    .fetch_all(pool)
                    .await?;
            for order in approved.into_iter().filter(|order| !carded.contains(order)) {
                let order_id = OrderId::from_uuid(order);
                let mut tx = pool.begin().await?;
                let count = self.issue(&mut tx, order_id).await?;
                tx.commit().await?;
                if count > 0 {
                    tracing::warn!(%order_id, count, "issued the cards of an approval whose event was missed");
                }
                issued += count;
            }
            if page.next_page_token.is_empty() {
                break;
            }
            page_token = page.next_page_token;
        }
        sqlx::query("UPDATE issuing_watermark SET covered_until = $1")
            .bind(until)
            .execute(pool)
            .await?;
        Ok(issued)
    }

    /// Reconciles every `interval` until `shutdown`.
    pub async fn reconcile_forever(
        self,
        pool: PgPool,
        interval: Duration,
        delay: Duration,
        shutdown: CancellationToken,
    ) {
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(interval) => {}
            }
            if let Err(error) = self.reconcile(&pool, delay).await {
                tracing::warn!(%error, "could not look for missed approvals; will try again");
            }
        }
    }
}
