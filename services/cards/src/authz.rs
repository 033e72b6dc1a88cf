//! Who may do what with cards. Identity decides for people, on the card's
//! company:
//!
//! | call                        | action                             | target       |
//! |-----------------------------|------------------------------------|--------------|
//! | ListCards, GetCard,         | `orders:read`                      | the company  |
//! | GetCardCredential           |                                    |              |
//! | BlockCard, DeactivateCard,  | `cards:order`, or `orders:decide`  | the company  |
//! | GetRenewal                  |                                    |              |
//! | CheckCard, GetCredentialKeys| none: anyone, without a login      | –            |
//! | GetStatusList               |                                    |              |
//!
//! A person without access to the company gets NOT_FOUND, whether or not
//! the card exists.

use hms_auth::{Caller, UserCaller};
use hms_authz::{Action, Authorizer, Target, require_user};
use hms_domain::CompanyId;
use tonic::Status;

use crate::error::CardsError;

#[derive(Clone)]
pub struct Guard {
    authorizer: Authorizer,
}

impl Guard {
    pub fn new(authorizer: Authorizer) -> Self {
        Self { authorizer }
    }

    /// Seeing a company's cards: anyone who may see its orders (the
    /// holders are its workers), and the back office.
    pub async fn read(&self, caller: &Caller, company: CompanyId) -> Result<UserCaller, Status> {
        self.authorizer
            .require_company(caller, company, Action::OrdersRead, hidden)
            .await
    }

    /// Blocking or deactivating: the company's people who order cards, or
    /// the back office.
    pub async fn manage(&self, caller: &Caller, company: CompanyId) -> Result<UserCaller, Status> {
        let person = require_user(caller)?;
        let target = Target::Company(company);
        let orders = self
            .authorizer
            .decide(person, &target, Action::CardsOrder)
            .await?;
        if orders.allowed {
            return Ok(person.clone());
        }
        let decides = self
            .authorizer
            .decide(person, &target, Action::OrdersDecide)
            .await?;
        if decides.allowed {
            return Ok(person.clone());
        }
        if orders.session_ended {
            Err(hms_auth::AuthError::InvalidToken.to_status())
        } else if !orders.visible && !decides.visible {
            Err(hidden())
        } else {
            Err(hms_grpc::status::denied())
        }
    }
}

/// What someone without access is told: what a missing card gets.
fn hidden() -> Status {
    CardsError::NotFound.into()
}
