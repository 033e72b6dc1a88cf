//! Small closed vocabularies shared across services, with the spelling they
//! have in databases and events.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown value")]
pub struct UnknownKind;

macro_rules! vocabulary {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($(#[$vdoc])* $variant),+
        }

        impl $name {
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text),+
                }
            }

            pub fn parse(value: &str) -> Result<Self, UnknownKind> {
                match value {
                    $($text => Ok(Self::$variant),)+
                    _ => Err(UnknownKind),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

vocabulary!(
    /// The trade a company's workers need cards for.
    Industry {
        Construction => "construction",
        Cleaning => "cleaning",
    }
);

vocabulary!(
    /// The language a company is written to in: Norwegian bokmål unless it
    /// asks for English.
    Language {
        Nb => "nb",
        En => "en",
    }
);

vocabulary!(
    /// Which HMS card a worker gets.
    CardType {
        Construction => "construction",
        Cleaning => "cleaning",
    }
);

impl Industry {
    /// The card a company of this trade orders for its workers.
    pub const fn card_type(self) -> CardType {
        match self {
            Self::Construction => CardType::Construction,
            Self::Cleaning => CardType::Cleaning,
        }
    }
}

vocabulary!(
    /// What a worker's document shows. Every worker needs one of each before
    /// an order can be submitted.
    DocumentKind {
        PassportPhoto => "passport_photo",
        IdDocument => "id_document",
        Signature => "signature",
    }
);

impl DocumentKind {
    /// How people call it, for error messages.
    pub const fn label(self) -> &'static str {
        match self {
            Self::PassportPhoto => "passport photo",
            Self::IdDocument => "ID document",
            Self::Signature => "signature",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_round_trips() {
        for kind in DocumentKind::ALL {
            assert_eq!(DocumentKind::parse(kind.as_str()), Ok(*kind));
        }
        assert_eq!(Industry::parse("farming"), Err(UnknownKind));
    }
}
