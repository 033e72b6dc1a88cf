//! The access-log checkpoint: the head of one company's hash chain, as the
//! platform saw it at a moment.

use serde::{Deserialize, Serialize};

use crate::jws::Statement;

/// Signed by the audit service periodically for each company whose log
/// grew: whoever keeps one can later show that the log up to `seq` is the
/// one the platform had then, in the spirit of a transparency log's signed
/// tree head.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessLogCheckpoint {
    /// Who attests it.
    pub iss: String,
    /// When it was signed (seconds since the epoch).
    pub iat: i64,
    pub company_id: String,
    /// The number of entries in the company's chain.
    pub seq: u64,
    /// SHA-256 (hex) of entry `seq`, which covers every entry before it.
    pub head_hash: String,
}

impl Statement for AccessLogCheckpoint {
    const TYPE: &'static str = "hms-access-log-checkpoint+jwt";
}
