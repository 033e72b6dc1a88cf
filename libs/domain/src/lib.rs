//! Domain types shared by the services, parsed once at the edge so that
//! handlers and storage only ever see valid values.
//!
//! Nothing here prints a fødselsnummer: [`Fodselsnummer`] has no `Display`,
//! its `Debug` shows the masked form, and its errors never quote the input.

mod card_number;
mod contact;
mod ids;
mod kinds;
mod money;
mod national_id;
mod org_number;
mod text;

pub use card_number::{CardNumber, CardNumberError};
pub use contact::{ContactError, EmailAddress, PhoneNumber};
pub use ids::{CardId, CompanyId, DocumentId, IdError, OrderId, WorkerId};
pub use kinds::{CardType, DocumentKind, Industry, Language, UnknownKind};
pub use money::{Money, MoneyError, Price, PriceList, VatRate};
pub use national_id::{
    Fodselsnummer, MaskedNationalId, NationalIdError, NationalIdKind, NationalIdPolicy,
};
pub use org_number::{OrgNumber, OrgNumberError};
pub use text::{CompanyName, PersonName, Reason, TextError};
