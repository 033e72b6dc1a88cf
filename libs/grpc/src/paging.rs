//! Keyset pagination: a page token names the last row of the previous page
//! by its timestamp and id, so pages stay stable while rows are added.

use chrono::{DateTime, Utc};
use tonic::Status;
use uuid::Uuid;

/// The page size to use for a requested one: `default` for 0, at most `max`.
pub fn page_size(requested: u32, default: u32, max: u32) -> u32 {
    match requested {
        0 => default,
        n => n.min(max),
    }
}

/// A token for the page after the row (`at`, `id`).
pub fn encode_token(at: DateTime<Utc>, id: Uuid) -> String {
    format!("{}.{}", at.timestamp_micros(), id.simple())
}

/// The row a page token names; `None` for the first page.
pub fn decode_token(token: &str) -> Result<Option<(DateTime<Utc>, Uuid)>, Status> {
    if token.is_empty() {
        return Ok(None);
    }
    let invalid = || Status::invalid_argument("page_token: is not a token this service issued");
    let (micros, id) = token.split_once('.').ok_or_else(invalid)?;
    let micros: i64 = micros.parse().map_err(|_| invalid())?;
    // Tokens we issue name rows written by the platform, so anything
    // outside 2000–2999 is made up (and PostgreSQL would refuse some of it).
    if !(946_684_800_000_000..32_503_680_000_000_000).contains(&micros) {
        return Err(invalid());
    }
    let at = DateTime::from_timestamp_micros(micros).ok_or_else(invalid)?;
    let id = Uuid::try_parse(id).map_err(|_| invalid())?;
    Ok(Some((at, id)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_garbage_is_refused() {
        let at = DateTime::from_timestamp_micros(1_790_000_000_123_456).expect("valid");
        let id = Uuid::now_v7();
        assert_eq!(
            decode_token(&encode_token(at, id)).ok(),
            Some(Some((at, id)))
        );
        assert_eq!(decode_token("").ok(), Some(None));
        let far_past = format!("-8000000000000000000.{}", id.simple());
        for bad in [
            "x",
            "1.2",
            "abc.0195",
            "9999999999999999999.0",
            far_past.as_str(),
        ] {
            assert_eq!(
                decode_token(bad).map_err(|s| s.code()).err(),
                Some(tonic::Code::InvalidArgument),
                "{bad}"
            );
        }
        assert_eq!(page_size(0, 50, 500), 50);
        assert_eq!(page_size(10_000, 50, 500), 500);
    }
}
