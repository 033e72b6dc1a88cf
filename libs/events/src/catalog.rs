//! Every event of the platform: its subject, its stream and its payload type.
//!
//! Subjects are `hms.<domain>.v1.<event>`; each producing domain has one
//! stream (`HMS_ORDERS` holds `hms.orders.>`). A non-empty [`Namespace`]
//! prefixes both (`t1.hms.orders.>` in stream `T1_HMS_ORDERS`).

use std::fmt;

use hms_proto::events::v1 as pb;

/// A producing domain, which owns one stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Domain {
    Identity,
    Companies,
    Orders,
    Redaction,
    Cards,
    /// The access log's records, which every service that processes
    /// personal data publishes: the one stream of many producers.
    Audit,
    /// Not a producer: where consumers park events they gave up on.
    Parked,
}

impl Domain {
    /// Every stream, the parking one included.
    pub const ALL: [Domain; 7] = [
        Self::Identity,
        Self::Companies,
        Self::Orders,
        Self::Redaction,
        Self::Cards,
        Self::Audit,
        Self::Parked,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Identity => "identity",
            Self::Companies => "companies",
            Self::Orders => "orders",
            Self::Redaction => "redaction",
            Self::Cards => "cards",
            Self::Audit => "audit",
            Self::Parked => "parked",
        }
    }
}

/// The kind of an event: where it is published.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EventType {
    pub domain: Domain,
    /// snake_case, e.g. `order_approved`.
    pub name: &'static str,
}

impl EventType {
    /// The subject without namespace: `hms.orders.v1.order_approved`.
    pub fn subject(&self) -> String {
        format!("hms.{}.v1.{}", self.domain.as_str(), self.name)
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "hms.{}.v1.{}", self.domain.as_str(), self.name)
    }
}

/// A protobuf payload bound to the one event type it is published as.
pub trait Event: prost::Message + Default + Clone + Send + Sync + 'static {
    const TYPE: EventType;
}

macro_rules! events {
    ($($message:ident => $domain:ident, $name:literal;)+) => {
        $(
            impl Event for pb::$message {
                const TYPE: EventType = EventType { domain: Domain::$domain, name: $name };
            }
        )+

        /// Every event type, for documentation and tests.
        pub const ALL: &[EventType] = &[
            $(EventType { domain: Domain::$domain, name: $name }),+
        ];
    };
}

events! {
    CompanyRegistered => Companies, "company_registered";
    CompanyApproved => Companies, "company_approved";
    CompanyRejected => Companies, "company_rejected";
    CompanySuspended => Companies, "company_suspended";
    ContactInfoChanged => Companies, "contact_info_changed";
    AgreementPublished => Companies, "agreement_published";
    AgreementAccepted => Companies, "agreement_accepted";
    AccessGranted => Identity, "access_granted";
    AccessRevoked => Identity, "access_revoked";
    OrderSubmitted => Orders, "order_submitted";
    OrderApproved => Orders, "order_approved";
    OrderRejected => Orders, "order_rejected";
    OrderReturnedForCorrection => Orders, "order_returned_for_correction";
    WorkerRemoved => Orders, "worker_removed";
    OrderClosed => Orders, "order_closed";
    OrderRedacted => Redaction, "order_redacted";
    CardIssued => Cards, "card_issued";
    CardBlocked => Cards, "card_blocked";
    CardDeactivated => Cards, "card_deactivated";
    CardExpired => Cards, "card_expired";
    CardExpiring => Cards, "card_expiring";
    PrintHandedOver => Cards, "print_handed_over";
    PrintAbandoned => Cards, "print_abandoned";
    AccessRecorded => Audit, "access_recorded";
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("HMS_NATS_NAMESPACE may hold only lowercase letters, digits and '_', at most 32")]
pub struct NamespaceError;

/// A prefix for subjects and stream names; empty in production.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Namespace {
    prefix: String,
}

impl Namespace {
    pub fn new(prefix: &str) -> Result<Self, NamespaceError> {
        let valid = prefix.len() <= 32
            && prefix
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !valid {
            return Err(NamespaceError);
        }
        Ok(Self {
            prefix: prefix.to_owned(),
        })
    }

    fn qualify(&self, subject: String) -> String {
        if self.prefix.is_empty() {
            subject
        } else {
            format!("{}.{subject}", self.prefix)
        }
    }

    /// Where events of this type are published.
    pub fn subject(&self, event: EventType) -> String {
        self.qualify(event.subject())
    }

    /// The subject a stored event type (`hms.orders.v1.order_approved`) is
    /// published on.
    pub fn subject_for(&self, event_type: &str) -> String {
        self.qualify(event_type.to_owned())
    }

    /// The subjects a domain's stream holds.
    pub fn stream_subjects(&self, domain: Domain) -> String {
        self.qualify(format!("hms.{}.>", domain.as_str()))
    }

    /// The stream a domain's events live in, e.g. `HMS_ORDERS`.
    pub fn stream_name(&self, domain: Domain) -> String {
        let base = format!("HMS_{}", domain.as_str().to_ascii_uppercase());
        if self.prefix.is_empty() {
            base
        } else {
            format!("{}_{base}", self.prefix.to_ascii_uppercase())
        }
    }

    /// Where a consumer parks the events it gave up on.
    pub fn parked_subject(&self, consumer: &str) -> String {
        self.qualify(format!("hms.parked.{consumer}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_and_streams_follow_the_convention() {
        let plain = Namespace::default();
        assert_eq!(
            plain.subject(pb::OrderApproved::TYPE),
            "hms.orders.v1.order_approved"
        );
        assert_eq!(plain.stream_name(Domain::Orders), "HMS_ORDERS");
        assert_eq!(plain.stream_subjects(Domain::Orders), "hms.orders.>");

        let test = Namespace::new("t_1a").expect("valid");
        assert_eq!(
            test.subject(pb::OrderRedacted::TYPE),
            "t_1a.hms.redaction.v1.order_redacted"
        );
        assert_eq!(test.stream_name(Domain::Parked), "T_1A_HMS_PARKED");
        assert_eq!(
            test.parked_subject("redaction-order_approved"),
            "t_1a.hms.parked.redaction-order_approved"
        );
    }

    #[test]
    fn every_subject_lies_in_its_domains_stream() {
        let namespace = Namespace::new("x").expect("valid");
        for event in ALL {
            let stream = namespace.stream_subjects(event.domain);
            assert!(
                namespace
                    .subject(*event)
                    .starts_with(stream.trim_end_matches('>'))
            );
        }
    }

    #[test]
    fn bad_namespaces_are_refused() {
        for bad in ["A", "a.b", "a b", "a>", &"a".repeat(33)] {
            assert_eq!(Namespace::new(bad), Err(NamespaceError), "{bad}");
        }
    }
}
