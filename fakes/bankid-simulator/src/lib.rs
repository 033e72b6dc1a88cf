//! An OpenID Connect provider that stands in for BankID, as relying parties
//! meet it through ID-porten or a broker (Signicat, Criipto), in development
//! and tests.
//!
//! It speaks the real protocol: discovery, a JWKS, the authorization code
//! flow with PKCE (S256 only, as ID-porten requires), client authentication
//! by `client_secret_basic` or `client_secret_post`, RS256-signed id_tokens,
//! and userinfo. Only the login itself is simulated: instead of BankID, the
//! user picks one of the synthetic [`persons`], or a test names one in
//! `login_hint` and is logged in without a page.
//!
//! | endpoint | |
//! |---|---|
//! | `GET /.well-known/openid-configuration` | discovery |
//! | `GET /jwks` | the signing key |
//! | `GET /authorize` | checks the request; `login_hint` = a test person's national id logs in at once, otherwise the person chooser |
//! | `POST /authorize` | the chooser's answer |
//! | `POST /token` | code + verifier → access_token, id_token |
//! | `GET`/`POST /userinfo` | the person's claims for a bearer access token |
//!
//! The id_token carries `iss`, `sub` (a hash, never the national id), `aud`,
//! `iat`, `exp`, `auth_time`, `nonce`, `acr` (ID-porten's
//! `idporten-loa-high` or `idporten-loa-substantial`, see [`settings`]),
//! `amr: ["BankID"]`, `at_hash`, the national id under `pid`, `nin` or
//! `nnin_altsub`, and `name`, `given_name`, `family_name`, `birthdate`.
//!
//! No national id, code or token is ever written to the log.

mod authorize;
pub mod keys;
mod pages;
mod params;
pub mod persons;
mod provider;
pub mod settings;
mod token;

pub use keys::{KeyError, SigningKey};
pub use persons::TestPerson;
pub use provider::{Provider, router, serve};
pub use settings::{NationalIdClaim, Settings, SettingsError};
