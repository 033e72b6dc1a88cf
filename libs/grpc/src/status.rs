//! Building `tonic::Status` values that say what the client did wrong, and
//! nothing about our internals.

use tonic::Status;

/// A field the client sent is unusable. `field` is the path in the request
/// (`workers[1].national_id`); `problem` must not quote personal data.
pub fn invalid_field(field: &str, problem: impl std::fmt::Display) -> Status {
    Status::invalid_argument(format!("{field}: {problem}"))
}

/// A required field is missing.
pub fn missing_field(field: &str) -> Status {
    Status::invalid_argument(format!("{field}: is required"))
}

/// A protobuf enum field as its Rust twin: left out is "required", a
/// number the enum lacks "is not a known {known_as}".
pub fn enum_field<T: hms_proto::ProtoEnum>(
    field: &str,
    known_as: &str,
    value: i32,
) -> Result<T, Status> {
    T::from_i32(value).map_err(|error| match error {
        hms_proto::EnumError::Unspecified => missing_field(field),
        hms_proto::EnumError::Unknown => invalid_field(field, format!("is not a known {known_as}")),
    })
}

/// Something failed on our side. The cause is logged with an error id the
/// client can quote; the client sees only the id.
pub fn internal(error: impl std::fmt::Display) -> Status {
    let error_id = uuid::Uuid::new_v4();
    tracing::error!(%error_id, %error, "internal error");
    Status::internal(format!("internal error (id {error_id})"))
}

/// A failure of the service's own storage: `UNAVAILABLE` when the database
/// is out of reach for now (`unavailable`, from `hms_db::is_unavailable`),
/// else internal.
pub fn storage(unavailable: bool, error: impl std::fmt::Display) -> Status {
    if unavailable {
        self::unavailable("the database", error)
    } else {
        internal(error)
    }
}

/// A dependency is down or slow; the client may retry.
pub fn unavailable(what: &str, error: impl std::fmt::Display) -> Status {
    tracing::warn!(%error, dependency = what, "dependency unavailable");
    Status::unavailable(format!("{what} is unavailable; try again shortly"))
}

/// Whether a failed call to another service may succeed if tried again
/// later (the callee is down, slow or overloaded), as opposed to a refusal
/// or a bug.
pub fn is_transient(code: tonic::Code) -> bool {
    use tonic::Code::*;
    matches!(
        code,
        Unavailable | DeadlineExceeded | ResourceExhausted | Aborted | Cancelled
    )
}

/// The caller may not do this.
pub fn denied() -> Status {
    Status::permission_denied("not allowed")
}

/// Turns an authorization decision into a result: an anonymous caller is
/// told to identify itself, an identified one that it may not.
pub fn permit(caller: &hms_auth::Caller, allowed: bool) -> Result<(), Status> {
    if allowed {
        Ok(())
    } else if *caller == hms_auth::Caller::Anonymous {
        Err(Status::unauthenticated(
            "this call needs a service identity",
        ))
    } else {
        Err(denied())
    }
}

/// Parses a typed id from a request field.
pub fn parse_id<T, E>(
    field: &str,
    value: &str,
    parse: impl FnOnce(&str) -> Result<T, E>,
) -> Result<T, Status>
where
    E: std::fmt::Display,
{
    if value.trim().is_empty() {
        return Err(missing_field(field));
    }
    parse(value).map_err(|error| invalid_field(field, error))
}
