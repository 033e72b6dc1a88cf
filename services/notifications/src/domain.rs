//! What a notification is and how its sending goes: channels, statuses,
//! what a provider's answer means, and when a failed send is tried again.

use std::time::Duration;

use hms_domain::Language;
use uuid::Uuid;

use crate::config::RetryPolicy;

/// How a message travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Channel {
    Email,
    Sms,
}

impl Channel {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Sms => "sms",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [Self::Email, Self::Sms]
            .into_iter()
            .find(|channel| channel.as_str() == value)
    }
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStatus {
    /// Not accepted by the provider yet (perhaps tried, and to be tried
    /// again).
    Pending,
    /// The provider accepted it.
    Sent,
    /// Given up: refused for good, or too many attempts.
    Failed,
}

impl DeliveryStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Sent => "sent",
            Self::Failed => "failed",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [Self::Pending, Self::Sent, Self::Failed]
            .into_iter()
            .find(|status| status.as_str() == value)
    }
}

/// Who a message goes to, on one channel.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Recipient {
    pub channel: Channel,
    /// An email address or a phone number (E.164).
    pub address: String,
    pub language: Language,
    /// The company it is sent to, under which the message is kept: the
    /// company the notice is about, or a supplier told of it.
    pub company_id: Uuid,
}

/// What a provider's answer to one send means. The reasons name codes and
/// kinds, never an address or the message: they are stored and shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendOutcome {
    /// Accepted; the provider's reference for it, if it gave one.
    Sent { reference: Option<String> },
    /// May work later: the provider is down, slow or busy.
    Transient(String),
    /// Will never work as it is: refused for good.
    Permanent(String),
}

/// What to do after an attempt that did not send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Try again after this long.
    RetryIn(Duration),
    /// Give up: the delivery has failed, for this reason.
    GiveUp(String),
}

impl RetryPolicy {
    /// After attempt number `attempts` failed with `outcome`: given up
    /// when the failure is for good or the attempts are spent, else tried
    /// again after the backoff's wait (`jitter` is 0 to 1).
    pub fn after(&self, attempts: u32, outcome: &SendOutcome, jitter: f64) -> Next {
        match outcome {
            SendOutcome::Permanent(reason) => Next::GiveUp(reason.clone()),
            SendOutcome::Transient(_) if attempts >= self.max_attempts => {
                Next::GiveUp(format!("no success after {attempts} attempts"))
            }
            SendOutcome::Transient(_) | SendOutcome::Sent { .. } => {
                Next::RetryIn(self.backoff.wait(attempts, jitter))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: RetryPolicy = RetryPolicy {
        backoff: hms_db::work::Backoff {
            base: Duration::from_secs(2),
            max: Duration::from_secs(60),
        },
        max_attempts: 5,
    };

    #[test]
    fn transient_failures_wait_longer_each_time_up_to_the_maximum() {
        let busy = SendOutcome::Transient("SMTP 451".to_owned());
        let waits: Vec<Next> = (1..=4).map(|n| POLICY.after(n, &busy, 0.0)).collect();
        assert_eq!(
            waits,
            [2, 4, 8, 16].map(|s| Next::RetryIn(Duration::from_secs(s)))
        );
        let capped = RetryPolicy {
            max_attempts: 50,
            ..POLICY
        };
        assert_eq!(
            capped.after(30, &busy, 0.0),
            Next::RetryIn(Duration::from_secs(60))
        );
        // Jitter shortens the wait by at most a fifth.
        assert_eq!(
            POLICY.after(1, &busy, 1.0),
            Next::RetryIn(Duration::from_millis(1600))
        );
    }

    #[test]
    fn a_permanent_refusal_or_too_many_attempts_give_up() {
        let refused = SendOutcome::Permanent("SMTP 550".to_owned());
        assert_eq!(
            POLICY.after(1, &refused, 0.5),
            Next::GiveUp("SMTP 550".to_owned())
        );
        let busy = SendOutcome::Transient("HTTP 503".to_owned());
        assert!(matches!(POLICY.after(5, &busy, 0.5), Next::GiveUp(_)));
    }
}
