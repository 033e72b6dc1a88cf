//! Who may do what in the orders service.
//!
//! The internal calls belong to one service identity each. User-facing
//! actions accept any caller until users are identified (BankID and
//! delegation arrive with the identity service; then each is checked against
//! the caller's grants for the order's company, or the back-office role).
//! Bad credentials never get this far.

use hms_auth::Caller;
use tonic::Status;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    CreateOrder,
    AddWorker,
    ReadOrder,
    ListOrders,
    SubmitOrder,
    DecideOrder,
    /// media, before it accepts a document.
    ResolveUploadTarget,
    /// media, before it purges an order's documents.
    ReadOrderState,
    /// redaction, masking national identity numbers.
    MaskNationalIds,
    /// redaction's reconciler.
    ListAwaitingRedaction,
}

pub fn authorize(caller: &Caller, action: Action) -> Result<(), Status> {
    use Action::*;
    let allowed = match action {
        CreateOrder | AddWorker | ReadOrder | ListOrders | SubmitOrder | DecideOrder => true,
        ResolveUploadTarget | ReadOrderState => caller.is_service("media"),
        MaskNationalIds | ListAwaitingRedaction => caller.is_service("redaction"),
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
        let other = Caller::Service("companies".into());
        for (action, owner) in [
            (Action::ResolveUploadTarget, &media),
            (Action::MaskNationalIds, &redaction),
            (Action::ListAwaitingRedaction, &redaction),
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
    }
}
