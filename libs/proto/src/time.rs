//! `google.protobuf.Timestamp` ⇄ `chrono::DateTime<Utc>`.

use chrono::{DateTime, Utc};
pub use prost_types::Timestamp;

/// The protobuf form of an instant.
pub fn timestamp(at: DateTime<Utc>) -> Timestamp {
    Timestamp {
        seconds: at.timestamp(),
        // Always below 10^9, so it fits.
        nanos: at.timestamp_subsec_nanos() as i32,
    }
}

/// The protobuf form of an optional instant.
pub fn timestamp_opt(at: Option<DateTime<Utc>>) -> Option<Timestamp> {
    at.map(timestamp)
}

/// The instant a protobuf timestamp names, or `None` if it is out of range.
pub fn from_timestamp(ts: &Timestamp) -> Option<DateTime<Utc>> {
    let nanos = u32::try_from(ts.nanos).ok()?;
    DateTime::from_timestamp(ts.seconds, nanos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_with_nanoseconds() {
        let at = DateTime::from_timestamp(1_790_000_000, 123_456_789).expect("valid instant");
        assert_eq!(from_timestamp(&timestamp(at)), Some(at));
    }

    #[test]
    fn refuses_negative_nanos() {
        let ts = Timestamp {
            seconds: 1,
            nanos: -1,
        };
        assert_eq!(from_timestamp(&ts), None);
    }
}
