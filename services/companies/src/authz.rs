//! Who may do what in the companies service.
//!
//! Users are not identified yet: BankID login and delegation arrive with the
//! identity service, and then each action here is checked against the
//! caller's grants for the company (or the back-office role). Until then the
//! actions accept any caller that is not presenting bad credentials (those
//! are refused before a handler runs).

use hms_auth::Caller;
use tonic::Status;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Register,
    Read,
    List,
    Decide,
}

pub fn authorize(caller: &Caller, action: Action) -> Result<(), Status> {
    match (caller, action) {
        (
            Caller::Anonymous | Caller::Service(_) | Caller::User(_),
            Action::Register | Action::Read | Action::List | Action::Decide,
        ) => Ok(()),
    }
}
