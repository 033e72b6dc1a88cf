//! Who may do what in the companies service. Identity decides for people:
//!
//! | call                                   | action                  | target                   |
//! |----------------------------------------|-------------------------|--------------------------|
//! | RegisterCompany                        | `company:register`      | the organisation number  |
//! | GetCompany, ListContactHistory         | `company:read`          | the company              |
//! | GetAgreement                           | `company:read`          | the company              |
//! | UpdateContactInfo                      | `company:contact:write` | the company              |
//! | AcceptAgreement                        | `access:manage`         | the company              |
//! | ListCompanies                          | `backoffice:read`       | the platform             |
//! | Approve-, Reject-, SuspendCompany      | `companies:decide`      | the company              |
//! | PublishAgreement                       | `companies:decide`      | the platform             |
//!
//! Identity itself reads companies to learn their organisation numbers, and
//! notifications to learn a company whose registration it missed.

use hms_auth::UserCaller;
use hms_authz::{Action, Authorizer, Target};
use hms_domain::{CompanyId, OrgNumber};
use tonic::Status;

use crate::error::CompanyError;

/// Services that may read a company (`GetCompany`, nothing else) without
/// a person behind the call: identity learns organisation numbers so,
/// notifications learns a company it has not heard of yet, and cards the
/// employer a card shows.
const COMPANY_READERS: &[&str] = &["identity", "notifications", "cards"];

#[derive(Clone)]
pub struct Guard {
    authorizer: Authorizer,
}

impl Guard {
    pub fn new(authorizer: Authorizer) -> Self {
        Self { authorizer }
    }

    /// Lets a person do `action` on a registered company; one without
    /// access to it learns nothing, not even that it exists.
    pub async fn company(
        &self,
        caller: &hms_auth::Caller,
        company: CompanyId,
        action: Action,
    ) -> Result<UserCaller, Status> {
        self.authorizer
            .require_company(caller, company, action, hidden)
            .await
    }

    /// Reading a company: the company's people, the back office, identity
    /// and notifications.
    pub async fn read(&self, caller: &hms_auth::Caller, company: CompanyId) -> Result<(), Status> {
        self.authorizer
            .require_person_or(
                COMPANY_READERS,
                caller,
                Target::Company(company),
                Action::CompanyRead,
                hidden,
            )
            .await
    }

    /// Only the company's owners in the register may register it.
    pub async fn register(
        &self,
        caller: &hms_auth::Caller,
        org_number: &OrgNumber,
    ) -> Result<(), Status> {
        self.authorizer
            .require(
                caller,
                Target::OrgNumber(org_number.clone()),
                Action::CompanyRegister,
                || {
                    Status::permission_denied(
                        "only the company's owners in the register may register it",
                    )
                },
            )
            .await
            .map(drop)
    }

    /// The back office publishes the agreement every company accepts.
    pub async fn publish_agreement(&self, caller: &hms_auth::Caller) -> Result<UserCaller, Status> {
        self.authorizer
            .require_platform(caller, Action::CompaniesDecide)
            .await
    }

    /// The back office's view across companies.
    pub async fn back_office(&self, caller: &hms_auth::Caller) -> Result<(), Status> {
        self.authorizer
            .require_platform(caller, Action::BackOfficeRead)
            .await
            .map(drop)
    }
}

/// What someone without access is told: what a missing company gets.
fn hidden() -> Status {
    CompanyError::NotFound.into()
}
