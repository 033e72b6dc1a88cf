//! Client for the open API of Enhetsregisteret, the Central Coordinating
//! Register for Legal Entities kept by Brønnøysundregistrene
//! (`https://data.brreg.no/enhetsregisteret/api`).
//!
//! The platform asks the register two things about a company:
//!
//! - [`RegisterClient::unit`]: does it exist, what is it called, is it
//!   bankrupt, being wound up, or deleted?
//! - [`RegisterClient::roles`]: who holds its registered roles (daglig leder,
//!   styreleder, innehaver …)? [`PersonMatch`] then answers whether the
//!   person who just logged in with BankID is one of the people who may act
//!   for the company on the register's authority.
//!
//! The open API gives a role holder's birth date and name, never the
//! fødselsnummer, so matching is by birth date and name; see [`PersonMatch`]
//! for the exact rule.
//!
//! Personal data (names, birth dates) never goes into a log line or an error
//! message, and [`RoleHolder`]'s `Debug` hides it, so that logging a role by
//! accident leaks nothing either.

mod client;
mod error;
mod model;
mod names;
mod wire;

pub use client::RegisterClient;
pub use error::RegisterError;
pub use model::{Address, OrganisationForm, Role, RoleHolder, RoleKind, Unit};
pub use names::PersonMatch;

/// The production register.
pub const PRODUCTION_BASE_URL: &str = "https://data.brreg.no";
