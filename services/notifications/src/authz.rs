//! Who may see which messages. Identity decides for people:
//!
//! | call                             | action            | target       |
//! |----------------------------------|-------------------|--------------|
//! | ListDeliveries for a company     | `company:read`    | the company  |
//! | ListDeliveries for all companies | `backoffice:read` | the platform |
//!
//! Messages about access (who was given it, passed it on, lost it) are
//! shown only to those who see every grant on the company in identity:
//! those who may manage its access, and the back office. Everyone else with
//! access sees the company's other messages.

use hms_authz::{Action, Authorizer, Target};
use hms_domain::CompanyId;
use tonic::Status;

/// The kinds of message only those who see every grant see.
pub const ACCESS_KINDS: &[&str] = &["access_granted", "access_revoked", "access_expiring"];

/// Which of a company's messages a person sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visibility {
    All,
    AllButAccess,
}

impl Visibility {
    /// The kinds left out.
    pub fn hidden(self) -> &'static [&'static str] {
        match self {
            Self::All => &[],
            Self::AllButAccess => ACCESS_KINDS,
        }
    }
}

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
    ) -> Result<Visibility, Status> {
        let person = self
            .authorizer
            .require_company(caller, company, Action::CompanyRead, || {
                Status::not_found("company not found")
            })
            .await?;
        let manages = self
            .authorizer
            .decide(&person, &Target::Company(company), Action::AccessManage)
            .await?;
        // Managing needs a fresh login; seeing does not.
        if manages.allowed || manages.step_up_required {
            return Ok(Visibility::All);
        }
        let back_office = self
            .authorizer
            .decide(&person, &Target::Platform, Action::BackOfficeRead)
            .await?;
        Ok(if back_office.allowed {
            Visibility::All
        } else {
            Visibility::AllButAccess
        })
    }

    /// Every company's messages: the back office.
    pub async fn back_office(&self, caller: &hms_auth::Caller) -> Result<(), Status> {
        self.authorizer
            .require_platform(caller, Action::BackOfficeRead)
            .await
            .map(drop)
    }
}
