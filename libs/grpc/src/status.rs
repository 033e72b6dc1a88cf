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

/// The metadata key that marks a refusal as "log in again": the act is
/// allowed, but only soon after a BankID login.
pub const LOGIN_REQUIRED_KEY: &str = "hms-login-required";

/// Allowed only with a recent BankID login: the caller's is too old. The
/// mark travels in the status's metadata, so a frontend can send the person
/// to BankID instead of showing a refusal.
pub fn login_required() -> Status {
    let mut metadata = tonic::metadata::MetadataMap::new();
    metadata.insert(
        LOGIN_REQUIRED_KEY,
        tonic::metadata::MetadataValue::from_static("true"),
    );
    Status::with_metadata(
        tonic::Code::PermissionDenied,
        "this needs a recent BankID login; log in again",
        metadata,
    )
}

/// Whether a refusal asks for a fresh login ([`login_required`]).
pub fn is_login_required(status: &Status) -> bool {
    status.code() == tonic::Code::PermissionDenied
        && status.metadata().contains_key(LOGIN_REQUIRED_KEY)
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

/// Parses a repeated id field of a batch call: 1 to `most` ids, each named
/// once in the result (the first time), in the order given.
pub fn parse_ids<T, E>(
    field: &str,
    values: &[String],
    most: usize,
    parse: impl Fn(&str) -> Result<T, E>,
) -> Result<Vec<T>, Status>
where
    T: PartialEq,
    E: std::fmt::Display,
{
    if values.is_empty() {
        return Err(missing_field(field));
    }
    if values.len() > most {
        return Err(invalid_field(field, format!("at most {most} at once")));
    }
    let mut ids: Vec<T> = Vec::with_capacity(values.len());
    for (index, value) in values.iter().enumerate() {
        let id = parse_id(&format!("{field}[{index}]"), value, &parse)?;
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn number(value: &str) -> Result<u32, std::num::ParseIntError> {
        value.parse()
    }

    #[test]
    fn batch_ids_are_parsed_once_each_in_order() {
        let given = ["3", "1", "3", "2"].map(str::to_owned);
        assert_eq!(
            parse_ids("ids", &given, 4, number).expect("parsed"),
            [3, 1, 2]
        );
    }

    #[test]
    fn a_batch_must_name_one_to_most_valid_ids() {
        let none = parse_ids("ids", &[], 4, number).expect_err("none");
        assert_eq!(none.message(), "ids: is required");
        let many = ["1", "2", "3"].map(str::to_owned);
        let too_many = parse_ids("ids", &many, 2, number).expect_err("too many");
        assert_eq!(too_many.message(), "ids: at most 2 at once");
        let bad = ["1", "x"].map(str::to_owned);
        let invalid = parse_ids("ids", &bad, 4, number).expect_err("invalid");
        assert_eq!(invalid.code(), tonic::Code::InvalidArgument);
        assert!(
            invalid.message().starts_with("ids[1]: "),
            "{}",
            invalid.message()
        );
    }
}
