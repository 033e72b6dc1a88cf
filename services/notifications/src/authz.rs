//! Who may see which messages. Identity decides for people:
//!
//! | call                             | action            | target       |
//! |----------------------------------|-------------------|--------------|
//! | ListDeliveries for a company     | `company:read`    | the company  |
//! | ListDeliveries for all companies | `backoffice:read` | the platform |

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

    /// A company's messages: anyone with access to it, and the back
    /// office. Anyone else learns nothing, not even that it exists.
    pub async fn company(
        &self,
        caller: &hms_auth::Caller,
        company: CompanyId,
    ) -> Result<(), Status> {
        self.authorizer
            .require_company(caller, company, Action::CompanyRead, || {
                Status::not_found("company not found")
            })
            .await
            .map(drop)
    }

    /// Every company's messages: the back office.
    pub async fn back_office(&self, caller: &hms_auth::Caller) -> Result<(), Status> {
        self.authorizer
            .require_platform(caller, Action::BackOfficeRead)
            .await
            .map(drop)
    }
}
