//! Who may do what in the media service. Identity decides for people, on
//! the company of the order a document belongs to:
//!
//! | call             | action            | who else                  |
//! |------------------|-------------------|---------------------------|
//! | UploadDocument   | `cards:order`     |                           |
//! | ListDocuments    | `orders:read`     | orders (before a submit)  |
//! | DownloadDocument | `backoffice:read` |                           |
//! | PurgeOrderMedia  |                   | redaction, and only it    |
//! | GetPrintMaterial |                   | cards, and only it        |
//!
//! A person without access to the company gets NOT_FOUND, whether or not
//! the order or document exists.

use hms_auth::Caller;
use hms_layout::ServiceName;
use tonic::Status;

/// Services that list an order's documents without a person behind the
/// call: orders checks them before a submit.
pub fn lists_documents(caller: &Caller) -> bool {
    caller.is_service(ServiceName::Orders)
}

/// Purging belongs to the redaction service alone.
pub fn authorize_purge(caller: &Caller) -> Result<(), Status> {
    hms_grpc::status::permit(caller, caller.is_service(ServiceName::Redaction))
}

/// Print material goes to the cards service alone, which hands it to the
/// card producer.
pub fn authorize_print_material(caller: &Caller) -> Result<(), Status> {
    hms_grpc::status::permit(caller, caller.is_service(ServiceName::Cards))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_redaction_purges() {
        assert!(authorize_purge(&Caller::Service("redaction".into())).is_ok());
        assert_eq!(
            authorize_purge(&Caller::Service("orders".into())).map_err(|s| s.code()),
            Err(tonic::Code::PermissionDenied)
        );
        assert_eq!(
            authorize_purge(&Caller::Anonymous).map_err(|s| s.code()),
            Err(tonic::Code::Unauthenticated)
        );
    }

    #[test]
    fn only_cards_reads_print_material() {
        assert!(authorize_print_material(&Caller::Service("cards".into())).is_ok());
        for other in ["redaction", "gateway", "orders"] {
            assert_eq!(
                authorize_print_material(&Caller::Service(other.into())).map_err(|s| s.code()),
                Err(tonic::Code::PermissionDenied)
            );
        }
    }

    #[test]
    fn only_orders_lists_without_a_person() {
        assert!(lists_documents(&Caller::Service("orders".into())));
        assert!(!lists_documents(&Caller::Service("gateway".into())));
        assert!(!lists_documents(&Caller::Anonymous));
    }
}
