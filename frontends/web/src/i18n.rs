//! Norwegian bokmål and English: the person's choice (`?lang=`, then kept
//! in a cookie), else what the browser asks for, else bokmål.

use axum::http::{HeaderMap, HeaderValue, header};
use minijinja::Value;
use minijinja::value::Serde;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Nb,
    En,
}

/// The cookie that keeps the person's choice of language.
const LANG_COOKIE: &str = "hms_lang";

impl Lang {
    pub const ALL: [Self; 2] = [Self::Nb, Self::En];

    pub const fn code(self) -> &'static str {
        match self {
            Self::Nb => "nb",
            Self::En => "en",
        }
    }

    pub fn parse(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|lang| lang.code() == code)
    }

    /// The language for this request, and the cookie to set when the
    /// person has just chosen one.
    pub fn of(headers: &HeaderMap, chosen: Option<&str>) -> (Self, Option<HeaderValue>) {
        if let Some(lang) = chosen.and_then(Self::parse) {
            let cookie = format!(
                "{LANG_COOKIE}={}; Path=/; Max-Age=31536000; SameSite=Lax; HttpOnly",
                lang.code()
            );
            return (lang, HeaderValue::from_str(&cookie).ok());
        }
        if let Some(lang) = crate::session::cookie(headers, LANG_COOKIE)
            .as_deref()
            .and_then(Self::parse)
        {
            return (lang, None);
        }
        (Self::from_accept_language(headers), None)
    }

    /// The first of the browser's languages we have; bokmål otherwise.
    fn from_accept_language(headers: &HeaderMap) -> Self {
        let Some(accepted) = headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|value| value.to_str().ok())
        else {
            return Self::Nb;
        };
        for tag in accepted.split(',') {
            let primary = tag
                .split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .split('-')
                .next()
                .unwrap_or_default()
                .to_ascii_lowercase();
            match primary.as_str() {
                "nb" | "no" | "nn" => return Self::Nb,
                "en" => return Self::En,
                _ => {}
            }
        }
        Self::Nb
    }
}

/// The texts of the pages, one catalogue per language, with the same keys
/// (a test holds them to it).
pub struct Catalogues {
    nb: Value,
    en: Value,
}

const NB: &str = include_str!("../messages/nb.json");
const EN: &str = include_str!("../messages/en.json");

impl Catalogues {
    pub fn load() -> Result<Self, serde_json::Error> {
        Ok(Self {
            nb: Value::from(Serde(serde_json::from_str::<serde_json::Value>(NB)?)),
            en: Value::from(Serde(serde_json::from_str::<serde_json::Value>(EN)?)),
        })
    }

    pub fn of(&self, lang: Lang) -> Value {
        match lang {
            Lang::Nb => self.nb.clone(),
            Lang::En => self.en.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn keys(catalogue: &str) -> Vec<String> {
        let parsed: BTreeMap<String, String> =
            serde_json::from_str(catalogue).expect("a flat catalogue of texts");
        parsed.into_keys().collect()
    }

    #[test]
    fn both_languages_have_every_text() {
        assert_eq!(keys(NB), keys(EN));
    }

    #[test]
    fn the_choice_wins_then_the_cookie_then_the_browser() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::ACCEPT_LANGUAGE,
            HeaderValue::from_static("de-DE,en;q=0.8,nb;q=0.5"),
        );
        assert_eq!(Lang::of(&headers, None).0, Lang::En);
        headers.insert(header::COOKIE, HeaderValue::from_static("hms_lang=nb"));
        assert_eq!(Lang::of(&headers, None).0, Lang::Nb);
        let (lang, cookie) = Lang::of(&headers, Some("en"));
        assert_eq!(lang, Lang::En);
        assert!(cookie.is_some());
        assert_eq!(Lang::of(&HeaderMap::new(), Some("xx")).0, Lang::Nb);
    }
}
