/// What a person may be allowed to do. The first four are the scopes a
/// company grants; the rest follow from them, from register roles or from
/// the back-office role (identity holds those rules).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    /// Order cards: create orders, add workers, upload their documents, submit.
    CardsOrder,
    /// See the company's workers and their documents' state.
    WorkersRead,
    /// Change the company's contact details (needs a recent login).
    ContactWrite,
    /// Grant and revoke access (needs a recent login).
    AccessManage,
    /// See the company itself; anyone with any access may.
    CompanyRead,
    /// See orders; `cards:order` or `workers:read` allow it.
    OrdersRead,
    /// Register a company: only its owners in the register.
    CompanyRegister,
    /// Back office: approve, reject or suspend companies.
    CompaniesDecide,
    /// Back office: approve or reject orders.
    OrdersDecide,
    /// Back office: see every company's data and the queues.
    BackOfficeRead,
}

impl Action {
    pub const ALL: [Action; 10] = [
        Self::CardsOrder,
        Self::WorkersRead,
        Self::ContactWrite,
        Self::AccessManage,
        Self::CompanyRead,
        Self::OrdersRead,
        Self::CompanyRegister,
        Self::CompaniesDecide,
        Self::OrdersDecide,
        Self::BackOfficeRead,
    ];

    /// Scopes a company can grant.
    pub const SCOPES: [Action; 4] = [
        Self::CardsOrder,
        Self::WorkersRead,
        Self::ContactWrite,
        Self::AccessManage,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::CardsOrder => "cards:order",
            Self::WorkersRead => "workers:read",
            Self::ContactWrite => "company:contact:write",
            Self::AccessManage => "access:manage",
            Self::CompanyRead => "company:read",
            Self::OrdersRead => "orders:read",
            Self::CompanyRegister => "company:register",
            Self::CompaniesDecide => "companies:decide",
            Self::OrdersDecide => "orders:decide",
            Self::BackOfficeRead => "backoffice:read",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|action| action.as_str() == value)
    }

    /// Whether a company can grant this.
    pub fn is_scope(self) -> bool {
        Self::SCOPES.contains(&self)
    }

    /// Sensitive acts that need a recent login.
    pub fn needs_recent_login(self) -> bool {
        matches!(self, Self::ContactWrite | Self::AccessManage)
    }

    /// Never part of a supplier's grant: a supplier must not redirect the
    /// authorities' letters or hand out the company's access.
    pub fn withheld_from_suppliers(self) -> bool {
        matches!(self, Self::ContactWrite | Self::AccessManage)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for action in Action::ALL {
            assert_eq!(Action::parse(action.as_str()), Some(action));
        }
        assert_eq!(Action::parse("cards:everything"), None);
        assert!(Action::SCOPES.iter().all(|scope| scope.is_scope()));
        assert!(!Action::CompaniesDecide.is_scope());
    }
}
