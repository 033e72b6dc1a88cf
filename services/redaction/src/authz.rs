//! Who may do what in the redaction service. Identity decides for people:
//!
//! | call           | action          | target                      |
//! |----------------|-----------------|-----------------------------|
//! | GetReceipt     | `orders:read`   | the order's company, or the worker it is about |
//! | GetReceiptKeys | none: anyone    | –                           |
//! | RedactOrder    | `orders:decide` | the platform (back office)  |
//!
//! A manual redaction cannot harm an order in progress: orders refuses to
//! mask an undecided order, and nothing is destroyed before that.

use hms_auth::Caller;
use hms_authz::{Action, Authorizer};
use hms_domain::CompanyId;
use tonic::Status;

use crate::error::RedactionError;

#[derive(Clone)]
pub struct Guard {
    authorizer: Authorizer,
}

impl Guard {
    pub fn new(authorizer: Authorizer) -> Self {
        Self { authorizer }
    }

    /// The company's people and the back office read its receipts; anyone
    /// else is told there is none.
    pub async fn read_receipt(&self, caller: &Caller, company: CompanyId) -> Result<(), Status> {
        self.authorizer
            .require_company(caller, company, Action::OrdersRead, || {
                RedactionError::NoReceipt.into()
            })
            .await
            .map(drop)
    }

    /// The back office redacts by hand.
    pub async fn redact(&self, caller: &Caller) -> Result<String, Status> {
        self.authorizer
            .require_platform(caller, Action::OrdersDecide)
            .await
            .map(|user| user.audit_name())
    }
}
