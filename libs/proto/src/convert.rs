//! Protobuf enums and their Rust twins, converted one way everywhere.
//!
//! Each twin pair is declared once with [`proto_enum!`](crate::proto_enum),
//! variant for variant, so that a value added to either side breaks the
//! build instead of going wrong quietly. Protobuf's `UNSPECIFIED` has no
//! twin: it is what a client sends when it leaves the field out.

use hms_domain::{CardType, DocumentKind, Industry, Language, NationalIdKind};

/// Why an `i32` from the wire is not a value of the enum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EnumError {
    /// `UNSPECIFIED` (0): the field was left out.
    #[error("is required")]
    Unspecified,
    /// A number the enum does not have (a newer peer, or garbage).
    #[error("is not a known value")]
    Unknown,
}

/// A Rust enum with a protobuf twin.
pub trait ProtoEnum: Sized + Copy {
    /// The generated protobuf enum.
    type Proto: Copy + Into<i32> + TryFrom<i32>;

    fn to_proto(self) -> Self::Proto;

    /// `None` for `UNSPECIFIED`.
    fn from_proto(value: Self::Proto) -> Option<Self>;

    /// The number a message field holds.
    fn to_i32(self) -> i32 {
        self.to_proto().into()
    }

    /// A message field's number, as the twin.
    fn from_i32(value: i32) -> Result<Self, EnumError> {
        let proto = Self::Proto::try_from(value).map_err(|_| EnumError::Unknown)?;
        Self::from_proto(proto).ok_or(EnumError::Unspecified)
    }
}

/// Declares `$rust` the twin of the protobuf enum `$proto`, variant for
/// variant (named alike on both sides).
#[macro_export]
macro_rules! proto_enum {
    ($rust:ty => $proto:ty { $($variant:ident),+ $(,)? }) => {
        const _: () = {
            type Rust = $rust;
            type Proto = $proto;

            impl $crate::convert::ProtoEnum for Rust {
                type Proto = Proto;

                fn to_proto(self) -> Proto {
                    match self {
                        $(Rust::$variant => Proto::$variant,)+
                    }
                }

                fn from_proto(value: Proto) -> Option<Self> {
                    match value {
                        $(Proto::$variant => Some(Rust::$variant),)+
                        #[allow(unreachable_patterns)]
                        _ => None,
                    }
                }
            }
        };
    };
}

proto_enum!(Industry => crate::companies::v1::Industry { Construction, Cleaning });
proto_enum!(Language => crate::companies::v1::Language { Nb, En });
proto_enum!(CardType => crate::orders::v1::CardType { Construction, Cleaning });
proto_enum!(NationalIdKind => crate::orders::v1::NationalIdKind { Fodselsnummer, DNumber, HNumber });
proto_enum!(DocumentKind => crate::media::v1::DocumentKind { PassportPhoto, IdDocument, Signature });

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::v1 as media;

    #[test]
    fn twins_convert_both_ways_and_unspecified_is_required() {
        for kind in DocumentKind::ALL {
            assert_eq!(DocumentKind::from_i32(kind.to_i32()), Ok(*kind));
        }
        assert_eq!(
            DocumentKind::from_i32(media::DocumentKind::Unspecified as i32),
            Err(EnumError::Unspecified)
        );
        assert_eq!(DocumentKind::from_i32(99), Err(EnumError::Unknown));
        assert_eq!(
            CardType::Cleaning.to_proto(),
            crate::orders::v1::CardType::Cleaning
        );
    }
}
