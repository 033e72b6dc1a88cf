/// Why a question to the register got no usable answer.
///
/// The messages carry organisation numbers (public) at most, never a name or
/// a birth date from a response.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    /// The client could not be set up (a base URL that cannot be a base, a
    /// TLS set-up failure).
    #[error("register client set-up failed: {0}")]
    Config(String),
    /// No answer within the configured timeout.
    #[error("the register did not answer in time")]
    Timeout,
    /// The register could not be reached, or answered 5xx, 429 or 408: worth
    /// trying again later.
    #[error("the register is unavailable: {0}")]
    Unavailable(String),
    /// The register refused the request itself (a 4xx other than 404 and
    /// 410, such as 400 for a malformed number): retrying will not help.
    #[error("the register refused the request with HTTP status {0}")]
    Refused(u16),
    /// The answer is not in the format this client knows.
    #[error("the register's answer could not be understood: {0}")]
    Malformed(String),
}

impl RegisterError {
    /// Whether the same question may succeed later (a timeout, an outage),
    /// as opposed to an answer that will stay wrong.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Timeout | Self::Unavailable(_))
    }

    /// Describes a JSON error by its kind and position only: serde's own
    /// message may quote the offending value, which can be a name or a birth
    /// date.
    pub(crate) fn from_json(error: &serde_json::Error) -> Self {
        let kind = match error.classify() {
            serde_json::error::Category::Io => "I/O error",
            serde_json::error::Category::Syntax => "invalid JSON",
            serde_json::error::Category::Data => "unexpected JSON structure",
            serde_json::error::Category::Eof => "truncated JSON",
        };
        Self::Malformed(format!(
            "{kind} at line {} column {}",
            error.line(),
            error.column()
        ))
    }
}
