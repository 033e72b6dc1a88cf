//! The rules of access, apart from where the facts come from: given what a
//! person holds on a company, may they do an action?

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{DateTime, Utc};
use hms_authz::Action;

/// What a person holds on one company (or, for platform actions, nothing
/// company-specific).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Holdings {
    /// Holds an ownership role in the register (daglig leder, styreleder,
    /// innehaver, partner).
    pub register_owner: bool,
    /// The union of the scopes of every active grant, a supplier's grant
    /// passed on counting only with the scopes both links hold.
    pub granted: BTreeSet<Action>,
    /// A case handler of the authority.
    pub back_office: bool,
}

/// The answer, with a reason for logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub allowed: bool,
    pub visible: bool,
    pub step_up_required: bool,
    /// The session is over: the caller is nobody now.
    pub session_ended: bool,
    pub reason: &'static str,
}

impl Verdict {
    /// No, and the company is not even shown.
    pub fn deny(reason: &'static str) -> Self {
        Self::refuse(false, reason)
    }

    /// No: the session this token belongs to has ended.
    pub fn session_ended() -> Self {
        Self {
            session_ended: true,
            ..Self::deny("session ended")
        }
    }

    fn refuse(visible: bool, reason: &'static str) -> Self {
        Self::answer(false, visible, reason)
    }

    fn answer(allowed: bool, visible: bool, reason: &'static str) -> Self {
        Self {
            allowed,
            visible,
            step_up_required: false,
            session_ended: false,
            reason,
        }
    }
}

impl Holdings {
    /// Whether the person has anything to do with the company at all.
    pub fn visible(&self) -> bool {
        self.register_owner || !self.granted.is_empty() || self.back_office
    }

    fn permits(&self, action: Action) -> Option<&'static str> {
        use Action::*;
        match action {
            CardsOrder | WorkersRead | ContactWrite | AccessManage => {
                if self.register_owner {
                    Some("register owner")
                } else if self.granted.contains(&action) {
                    Some("granted")
                } else if self.back_office && action == WorkersRead {
                    Some("back office")
                } else {
                    None
                }
            }
            CompanyRead => self.visible().then_some("has access to the company"),
            OrdersRead => {
                if self.register_owner {
                    Some("register owner")
                } else if self.granted.contains(&CardsOrder) || self.granted.contains(&WorkersRead)
                {
                    Some("granted")
                } else if self.back_office {
                    Some("back office")
                } else {
                    None
                }
            }
            CompanyRegister => self.register_owner.then_some("register owner"),
            CompaniesDecide | OrdersDecide | BackOfficeRead => {
                self.back_office.then_some("back office")
            }
        }
    }
}

/// Whether a person sees every grant on the company, not only their own:
/// those who manage its access, and the back office. Seeing is not acting:
/// no recent login is needed.
pub fn sees_every_grant(holdings: &Holdings) -> bool {
    holdings.register_owner
        || holdings.back_office
        || holdings.granted.contains(&Action::AccessManage)
}

/// Whether one grant's scopes alone allow `action`.
pub fn grant_permits(scopes: &[Action], action: Action) -> bool {
    Holdings {
        granted: scopes.iter().copied().collect(),
        ..Holdings::default()
    }
    .permits(action)
    .is_some()
}

/// May a person with `holdings`, logged in at `auth_time`, do `action` now?
pub fn decide(
    holdings: &Holdings,
    action: Action,
    auth_time: DateTime<Utc>,
    now: DateTime<Utc>,
    step_up_window: Duration,
) -> Verdict {
    let visible = holdings.visible();
    let Some(reason) = holdings.permits(action) else {
        return Verdict::refuse(
            visible,
            if visible {
                "no grant for this action"
            } else {
                "no access to this company"
            },
        );
    };
    if action.needs_recent_login() {
        let age = now.signed_duration_since(auth_time);
        let window = chrono::Duration::from_std(step_up_window).unwrap_or(chrono::Duration::MAX);
        if age > window {
            return Verdict {
                step_up_required: true,
                ..Verdict::refuse(visible, "login too old for a sensitive act")
            };
        }
    }
    Verdict::answer(true, visible, reason)
}

/// Scopes as a request names them: known, grantable, at least one.
pub fn parse_scopes(values: &[String]) -> Result<BTreeSet<Action>, String> {
    if values.is_empty() {
        return Err("name at least one scope".to_owned());
    }
    values
        .iter()
        .map(|value| {
            Action::parse(value)
                .filter(|action| action.is_scope())
                .ok_or_else(|| {
                    format!(
                        "{value:?} is not a scope; use cards:order, workers:read, company:contact:write or access:manage"
                    )
                })
        })
        .collect()
}

/// How a grant made under another would reach beyond it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Widening {
    /// It names a scope the other does not hold.
    Scopes,
    /// It would last longer than the other.
    Time,
}

/// The end of a grant made under another (a supplier's grant passed on, or
/// a grant given by someone whose own right to grant is a grant): it holds
/// only scopes the other holds and ends no later; without an end of its own
/// it ends with the other.
pub fn bounded_by(
    parent_scopes: &[Action],
    parent_until: Option<DateTime<Utc>>,
    scopes: &BTreeSet<Action>,
    until: Option<DateTime<Utc>>,
) -> Result<Option<DateTime<Utc>>, Widening> {
    if scopes.iter().any(|scope| !parent_scopes.contains(scope)) {
        return Err(Widening::Scopes);
    }
    match (until, parent_until) {
        (Some(until), Some(limit)) if until > limit => Err(Widening::Time),
        (None, limit) => Ok(limit),
        (until, _) => Ok(until),
    }
}

/// The earlier of two ends, where none is never.
pub fn earlier_end(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// How a person came to act for a company.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessSource {
    /// An ownership role in the register.
    RegisterRole,
    /// A grant to the person.
    PersonGrant,
    /// A supplier's grant, passed on to the person.
    SupplierGrant,
}

/// Where a grant stands at `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantState {
    Pending,
    Active,
    Expired,
    Revoked,
}

pub fn grant_state(
    valid_from: DateTime<Utc>,
    valid_until: Option<DateTime<Utc>>,
    revoked_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> GrantState {
    if revoked_at.is_some() {
        GrantState::Revoked
    } else if valid_until.is_some_and(|until| until <= now) {
        GrantState::Expired
    } else if valid_from > now {
        GrantState::Pending
    } else {
        GrantState::Active
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WINDOW: Duration = Duration::from_secs(900);

    fn holdings(owner: bool, granted: &[Action], back_office: bool) -> Holdings {
        Holdings {
            register_owner: owner,
            granted: granted.iter().copied().collect(),
            back_office,
        }
    }

    #[test]
    fn strangers_see_nothing_and_owners_everything_of_their_company() {
        let now = Utc::now();
        let stranger = Holdings::default();
        for action in Action::ALL {
            let verdict = decide(&stranger, action, now, now, WINDOW);
            assert!(!verdict.allowed && !verdict.visible, "{action:?}");
        }
        let owner = holdings(true, &[], false);
        for action in Action::ALL {
            let verdict = decide(&owner, action, now, now, WINDOW);
            let back_office_only = matches!(
                action,
                Action::CompaniesDecide | Action::OrdersDecide | Action::BackOfficeRead
            );
            assert_eq!(verdict.allowed, !back_office_only, "{action:?}");
            assert!(verdict.visible);
        }
    }

    #[test]
    fn a_grant_allows_its_scopes_and_what_follows_from_them_only() {
        let now = Utc::now();
        let orderer = holdings(false, &[Action::CardsOrder], false);
        let allowed = |action| decide(&orderer, action, now, now, WINDOW).allowed;
        assert!(allowed(Action::CardsOrder));
        assert!(allowed(Action::OrdersRead));
        assert!(allowed(Action::CompanyRead));
        assert!(!allowed(Action::ContactWrite));
        assert!(!allowed(Action::AccessManage));
        assert!(!allowed(Action::WorkersRead));
        assert!(!allowed(Action::CompanyRegister));
        assert!(!allowed(Action::OrdersDecide));
        let denied = decide(&orderer, Action::ContactWrite, now, now, WINDOW);
        assert!(denied.visible && !denied.step_up_required);
    }

    #[test]
    fn sensitive_acts_need_a_recent_login() {
        let now = Utc::now();
        let owner = holdings(true, &[], false);
        let old_login = now - chrono::Duration::seconds(901);
        for action in [Action::ContactWrite, Action::AccessManage] {
            let verdict = decide(&owner, action, old_login, now, WINDOW);
            assert!(!verdict.allowed && verdict.step_up_required, "{action:?}");
            assert!(decide(&owner, action, now, now, WINDOW).allowed);
        }
        assert!(decide(&owner, Action::CardsOrder, old_login, now, WINDOW).allowed);
    }

    #[test]
    fn the_back_office_decides_and_reads_but_does_not_act_for_companies() {
        let now = Utc::now();
        let case_handler = holdings(false, &[], true);
        let allowed = |action| decide(&case_handler, action, now, now, WINDOW).allowed;
        for action in [
            Action::CompaniesDecide,
            Action::OrdersDecide,
            Action::BackOfficeRead,
            Action::CompanyRead,
            Action::OrdersRead,
            Action::WorkersRead,
        ] {
            assert!(allowed(action), "{action:?}");
        }
        for action in [
            Action::CardsOrder,
            Action::ContactWrite,
            Action::AccessManage,
            Action::CompanyRegister,
        ] {
            assert!(!allowed(action), "{action:?}");
        }
    }

    #[test]
    fn scopes_must_be_known_and_grantable() {
        assert!(parse_scopes(&["cards:order".into()]).is_ok());
        assert!(parse_scopes(&[]).is_err());
        assert!(parse_scopes(&["orders:decide".into()]).is_err());
        assert!(parse_scopes(&["everything".into()]).is_err());
    }

    #[test]
    fn a_grant_made_under_another_never_reaches_beyond_it() {
        use Action::*;
        let now = Utc::now();
        let hour = chrono::Duration::hours(1);
        let held = [CardsOrder, WorkersRead, AccessManage];
        let asked = |scopes: &[Action]| scopes.iter().copied().collect::<BTreeSet<_>>();

        assert_eq!(
            bounded_by(&held, Some(now + hour), &asked(&[CardsOrder]), None),
            Ok(Some(now + hour)),
            "without an end of its own it ends with the other"
        );
        assert_eq!(
            bounded_by(&held, Some(now + hour), &asked(&[WorkersRead]), Some(now)),
            Ok(Some(now))
        );
        assert_eq!(
            bounded_by(&held, Some(now), &asked(&[CardsOrder]), Some(now + hour)),
            Err(Widening::Time)
        );
        assert_eq!(
            bounded_by(&held, None, &asked(&[CardsOrder]), Some(now + hour)),
            Ok(Some(now + hour))
        );
        assert_eq!(
            bounded_by(&held, None, &asked(&[CardsOrder]), None),
            Ok(None)
        );
        assert_eq!(
            bounded_by(&held, None, &asked(&[CardsOrder, ContactWrite]), None),
            Err(Widening::Scopes)
        );
    }

    #[test]
    fn grant_states_follow_time_and_revocation() {
        let now = Utc::now();
        let hour = chrono::Duration::hours(1);
        assert_eq!(grant_state(now - hour, None, None, now), GrantState::Active);
        assert_eq!(
            grant_state(now + hour, None, None, now),
            GrantState::Pending
        );
        assert_eq!(
            grant_state(now - hour, Some(now), None, now),
            GrantState::Expired
        );
        assert_eq!(
            grant_state(now - hour, None, Some(now), now),
            GrantState::Revoked
        );
    }
}
