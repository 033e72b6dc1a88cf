//! Who may do what in the media service.
//!
//! Purging belongs to the redaction service alone. Downloads hand out
//! decrypted documents, so they need an authenticated caller even before
//! users are identified. Uploads and listings accept any caller until
//! BankID and delegation arrive with the identity service; then they are
//! checked against the caller's grants for the order's company, downloads
//! against the back-office role. Bad credentials never get this far.

use hms_auth::Caller;
use tonic::Status;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Upload,
    List,
    Download,
    Purge,
}

pub fn authorize(caller: &Caller, action: Action) -> Result<(), Status> {
    let allowed = match action {
        Action::Upload | Action::List => true,
        Action::Download => matches!(caller, Caller::Service(_)),
        Action::Purge => caller.is_service("redaction"),
    };
    hms_grpc::status::permit(caller, allowed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anonymous_callers_download_nothing() {
        assert_eq!(
            authorize(&Caller::Anonymous, Action::Download).map_err(|s| s.code()),
            Err(tonic::Code::Unauthenticated)
        );
        assert!(authorize(&Caller::Service("gateway".into()), Action::Download).is_ok());
    }

    #[test]
    fn only_redaction_purges() {
        assert!(authorize(&Caller::Service("redaction".into()), Action::Purge).is_ok());
        assert_eq!(
            authorize(&Caller::Service("orders".into()), Action::Purge).map_err(|s| s.code()),
            Err(tonic::Code::PermissionDenied)
        );
        assert_eq!(
            authorize(&Caller::Anonymous, Action::Purge).map_err(|s| s.code()),
            Err(tonic::Code::Unauthenticated)
        );
    }
}
