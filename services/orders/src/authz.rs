//! Who may do what in the orders service. Identity decides for people, on
//! the order's company:
//!
//! | call                                   | action          | target            |
//! |----------------------------------------|-----------------|-------------------|
//! | CreateOrder, AddWorker, RemoveWorker, SubmitOrder | `cards:order` | the company |
//! | GetOrder, ListOrders (one company)     | `orders:read`   | the company       |
//! | ListOrders (every company)             | `backoffice:read` | the platform    |
//! | ApproveOrder, RejectOrder, ReturnOrderForCorrection | `orders:decide` | the company |
//!
//! A person without access to the company gets NOT_FOUND, whether or not
//! the order exists. The internal calls belong to one service identity each.

use hms_access_log::Purpose;
use hms_auth::{Caller, UserCaller};
use hms_authz::Authorizer;
use hms_domain::{CompanyId, OrderId};
use hms_layout::ServiceName;
use tonic::Status;

use crate::error::OrderError;
use crate::storage::Store;

/// Checks people against identity's decision for the order's company.
#[derive(Clone)]
pub struct Guard {
    authorizer: Authorizer,
    store: Store,
}

impl Guard {
    pub fn new(authorizer: Authorizer, store: Store) -> Self {
        Self { authorizer, store }
    }

    /// Lets `caller` do `action` on an order; returns who acted.
    pub async fn order(
        &self,
        caller: &Caller,
        order_id: OrderId,
        action: hms_authz::Action,
    ) -> Result<UserCaller, Status> {
        hms_authz::require_user(caller)?;
        let (company_id, _) = self.store.state(order_id).await?;
        self.order_of(caller, company_id, action).await
    }

    /// [`order`](Self::order) for an order the handler has loaded anyway.
    pub async fn order_of(
        &self,
        caller: &Caller,
        company_id: CompanyId,
        action: hms_authz::Action,
    ) -> Result<UserCaller, Status> {
        self.authorizer
            .require_company(caller, company_id, action, || OrderError::NotFound.into())
            .await
    }

    /// Lets `caller` do `action` on a company's orders.
    pub async fn company(
        &self,
        caller: &Caller,
        company_id: CompanyId,
        action: hms_authz::Action,
    ) -> Result<UserCaller, Status> {
        self.authorizer
            .require_company(caller, company_id, action, || {
                Status::not_found("company not found")
            })
            .await
    }

    /// The back office's view across companies.
    /// Why a person reads an order, for the access log: the back office
    /// reviews, the company's people order.
    pub async fn purpose_of_reading(&self, person: &UserCaller) -> Purpose {
        match self
            .authorizer
            .decide(
                person,
                &hms_authz::Target::Platform,
                hms_authz::Action::BackOfficeRead,
            )
            .await
        {
            Ok(decision) if decision.allowed => Purpose::CaseReview,
            _ => Purpose::Ordering,
        }
    }

    pub async fn back_office(&self, caller: &Caller) -> Result<(), Status> {
        self.authorizer
            .require_platform(caller, hms_authz::Action::BackOfficeRead)
            .await
            .map(drop)
    }
}

/// The internal calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// media, before it accepts a document.
    ResolveUploadTarget,
    /// media, before it purges an order's documents.
    ReadOrderState,
    /// redaction, masking national identity numbers.
    MaskNationalIds,
    /// redaction's reconciler.
    ListAwaitingRedaction,
    /// cards, issuing an approved order's cards.
    ListApprovedWorkers,
    /// cards, finding approvals it missed.
    ListApprovedOrders,
    /// audit, redaction and cards, for a person asking about themselves.
    ListSubjectWorkers,
}

pub fn authorize(caller: &Caller, action: Action) -> Result<(), Status> {
    use Action::*;
    let allowed = match action {
        ResolveUploadTarget | ReadOrderState => caller.is_service(ServiceName::Media),
        MaskNationalIds | ListAwaitingRedaction => caller.is_service(ServiceName::Redaction),
        ListApprovedWorkers | ListApprovedOrders => caller.is_service(ServiceName::Cards),
        ListSubjectWorkers => [
            ServiceName::Audit,
            ServiceName::Redaction,
            ServiceName::Cards,
        ]
        .into_iter()
        .any(|service| caller.is_service(service)),
    };
    hms_grpc::status::permit(caller, allowed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_calls_belong_to_one_service_each() {
        let media = Caller::Service("media".into());
        let redaction = Caller::Service("redaction".into());
        let cards = Caller::Service("cards".into());
        let other = Caller::Service("companies".into());
        for (action, owner) in [
            (Action::ResolveUploadTarget, &media),
            (Action::MaskNationalIds, &redaction),
            (Action::ListAwaitingRedaction, &redaction),
            (Action::ListApprovedWorkers, &cards),
            (Action::ListApprovedOrders, &cards),
        ] {
            assert!(authorize(owner, action).is_ok(), "{action:?}");
            assert_eq!(
                authorize(&other, action).map_err(|s| s.code()),
                Err(tonic::Code::PermissionDenied)
            );
            assert_eq!(
                authorize(&Caller::Anonymous, action).map_err(|s| s.code()),
                Err(tonic::Code::Unauthenticated)
            );
        }
        assert!(authorize(&media, Action::MaskNationalIds).is_err());
        for asker in ["audit", "redaction", "cards"] {
            assert!(authorize(&Caller::Service(asker.into()), Action::ListSubjectWorkers).is_ok());
        }
        assert!(authorize(&media, Action::ListSubjectWorkers).is_err());
    }
}
