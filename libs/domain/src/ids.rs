//! Identifiers of the platform's aggregates: UUIDs, typed so that an order id
//! can never be passed where a company id is expected.

use std::fmt;

use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("is not a valid id (expected a UUID)")]
pub struct IdError;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Uuid);

        impl $name {
            /// A new id; time-ordered (UUIDv7) so that indexes stay compact.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            pub fn parse(input: &str) -> Result<Self, IdError> {
                Uuid::try_parse(input.trim()).map(Self).map_err(|_| IdError)
            }

            pub const fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            pub const fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Uuid {
                id.0
            }
        }
    };
}

id_type!(
    /// A company registered on the platform (not its organisation number).
    CompanyId
);
id_type!(
    /// An order of cards.
    OrderId
);
id_type!(
    /// A worker on an order.
    WorkerId
);
id_type!(
    /// A stored document (photo, ID copy or signature).
    DocumentId
);
id_type!(
    /// An issued HMS card (not its printed number).
    CardId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_uuids() {
        let id = OrderId::new();
        assert_eq!(OrderId::parse(&id.to_string()), Ok(id));
        assert_eq!(CompanyId::parse("not-a-uuid"), Err(IdError));
        assert_eq!(CompanyId::parse(""), Err(IdError));
    }
}
