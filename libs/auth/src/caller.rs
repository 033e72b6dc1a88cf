use chrono::{DateTime, Utc};
use uuid::Uuid;

/// Who made a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// No credentials were presented.
    Anonymous,
    /// Another service of the platform, by name (`redaction`, `media`, …).
    Service(String),
    /// A person logged in with BankID.
    User(UserCaller),
}

/// A person, as their access token describes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserCaller {
    pub user_id: Uuid,
    pub session_id: Uuid,
    /// When they last authenticated with BankID.
    pub auth_time: DateTime<Utc>,
    /// Their subject key: what records about them as a worker carry.
    pub subject_key: Option<String>,
}

impl Caller {
    /// Whether this is the named service.
    pub fn is_service(&self, name: hms_layout::ServiceName) -> bool {
        matches!(self, Self::Service(service) if service == name.as_str())
    }

    /// The person, if a person is calling.
    pub fn user(&self) -> Option<&UserCaller> {
        match self {
            Self::User(user) => Some(user),
            _ => None,
        }
    }

    /// How logs and audit records name the caller: never personal data.
    pub fn audit_name(&self) -> String {
        match self {
            Self::Anonymous => "anonymous".to_owned(),
            Self::Service(name) => format!("service:{name}"),
            Self::User(user) => user.audit_name(),
        }
    }
}

impl UserCaller {
    /// How logs and audit records name the person: by user id only.
    pub fn audit_name(&self) -> String {
        format!("user:{}", self.user_id)
    }
}
