//! Who may do what in the audit service. Identity decides for people:
//!
//! | call              | action         | target              |
//! |-------------------|----------------|---------------------|
//! | ListAccessLog     | `orders:read`  | the company         |
//! | GetCheckpointKeys | none: anyone   | –                   |
//!
//! The log names the people who acted and the workers (by id) whose data
//! it was, so it is for those who see the company's orders and the back
//! office; nobody writes to it through an API, only through events.

use hms_auth::Caller;
use hms_authz::{Action, Authorizer};
use hms_domain::CompanyId;
use tonic::Status;

#[derive(Clone)]
pub struct Guard {
    authorizer: Authorizer,
}

impl Guard {
    pub fn new(authorizer: Authorizer) -> Self {
        Self { authorizer }
    }

    /// The company's people who read its orders, and the back office;
    /// anyone else is told there is no such company.
    pub async fn read_log(&self, caller: &Caller, company: CompanyId) -> Result<(), Status> {
        self.authorizer
            .require_company(caller, company, Action::OrdersRead, || {
                Status::not_found("company not found")
            })
            .await
            .map(drop)
    }
}
