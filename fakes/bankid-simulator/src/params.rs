//! OAuth request parameters, from a query string or a form body.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

/// Parameters by name. OAuth forbids repeating a parameter (RFC 6749 §3.1,
/// §3.2), so repeats are remembered instead of silently keeping one value;
/// and a parameter sent without a value counts as absent.
#[derive(Debug, Default)]
pub(crate) struct Params {
    values: HashMap<String, String>,
    repeated: Vec<String>,
}

impl Params {
    /// Parses `application/x-www-form-urlencoded` text (query strings use
    /// the same encoding).
    pub(crate) fn parse(input: &[u8]) -> Self {
        let mut params = Self::default();
        for (name, value) in url::form_urlencoded::parse(input) {
            if value.is_empty() {
                continue;
            }
            match params.values.entry(name.into_owned()) {
                Entry::Occupied(entry) => params.repeated.push(entry.key().clone()),
                Entry::Vacant(entry) => {
                    entry.insert(value.into_owned());
                }
            }
        }
        params
    }

    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    pub(crate) fn is_repeated(&self, name: &str) -> bool {
        self.repeated.iter().any(|repeated| repeated == name)
    }

    pub(crate) fn has_repeats(&self) -> bool {
        !self.repeated.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::Params;

    #[test]
    fn values_are_decoded_empty_ones_dropped_and_repeats_noted() {
        let params = Params::parse(b"scope=openid+profile&state=a%26b&nonce=&scope=x");
        assert_eq!(params.get("scope"), Some("openid profile"));
        assert_eq!(params.get("state"), Some("a&b"));
        assert_eq!(params.get("nonce"), None);
        assert!(params.is_repeated("scope"));
        assert!(!params.is_repeated("state"));
        assert!(params.has_repeats());
    }
}
