//! The platform's contracts, generated from `proto/` at build time: one
//! module per protobuf package, plus the descriptor set that gRPC reflection
//! serves, and conversions: between protobuf enums and their Rust twins
//! ([`convert`]) and between protobuf and Rust time ([`time`]).

pub mod companies {
    pub mod v1 {
        tonic::include_proto!("hms.companies.v1");
    }
}

pub mod orders {
    pub mod v1 {
        tonic::include_proto!("hms.orders.v1");
    }
}

pub mod media {
    pub mod v1 {
        tonic::include_proto!("hms.media.v1");
    }
}

pub mod redaction {
    pub mod v1 {
        tonic::include_proto!("hms.redaction.v1");
    }
}

pub mod identity {
    pub mod v1 {
        tonic::include_proto!("hms.identity.v1");
    }
}

pub mod notifications {
    pub mod v1 {
        tonic::include_proto!("hms.notifications.v1");
    }
}

pub mod audit {
    pub mod v1 {
        tonic::include_proto!("hms.audit.v1");
    }
}

pub mod cards {
    pub mod v1 {
        tonic::include_proto!("hms.cards.v1");
    }
}

pub mod events {
    pub mod v1 {
        tonic::include_proto!("hms.events.v1");
    }
}

pub mod convert;
pub mod time;

pub use convert::{EnumError, ProtoEnum};

/// Every file of `proto/` and its imports, encoded as a
/// `google.protobuf.FileDescriptorSet`, for gRPC reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/hms_descriptor.bin"));
