//! AES-256-GCM, the one way the platform encrypts data at rest.
//!
//! A [`SealingKey`] seals a plaintext into `nonce ‖ ciphertext ‖ tag` with a
//! fresh random nonce, bound to associated data (the id of the record it
//! belongs to, so a sealed value cannot be moved to another record). Media
//! gives every object its own [`DataKey`] and wraps that key with a master
//! key; destroying the wrapped key makes the object unreadable everywhere,
//! backups included.

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 12;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    #[error("key must be 32 bytes, base64-encoded")]
    KeyFormat,
    #[error("sealed value is damaged, or sealed with another key or for another record")]
    Open,
    #[error("encryption failed")]
    Seal,
}

/// An AES-256-GCM key.
#[derive(Clone)]
pub struct SealingKey {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealingKey(..)")
    }
}

impl SealingKey {
    /// A key from configuration: 32 bytes in standard base64.
    pub fn from_base64(secret: &SecretString) -> Result<Self, CryptoError> {
        let bytes = Zeroizing::new(
            BASE64
                .decode(secret.expose_secret().trim())
                .map_err(|_| CryptoError::KeyFormat)?,
        );
        Self::from_bytes(&bytes)
    }

    fn from_bytes(bytes: &[u8]) -> Result<Self, CryptoError> {
        if bytes.len() != KEY_LEN {
            return Err(CryptoError::KeyFormat);
        }
        Ok(Self {
            cipher: Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(bytes)),
        })
    }

    /// `nonce ‖ ciphertext ‖ tag`, bound to `associated_data`.
    pub fn seal(&self, plaintext: &[u8], associated_data: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let ciphertext = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad: associated_data,
                },
            )
            .map_err(|_| CryptoError::Seal)?;
        let mut sealed = Vec::with_capacity(NONCE_LEN + ciphertext.len());
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ciphertext);
        Ok(sealed)
    }

    /// The plaintext of a value [`seal`](Self::seal)ed with this key and the
    /// same associated data.
    pub fn open(
        &self,
        sealed: &[u8],
        associated_data: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        if sealed.len() < NONCE_LEN {
            return Err(CryptoError::Open);
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        self.cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: associated_data,
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| CryptoError::Open)
    }

    /// Seals a fresh data key for storage beside (never inside) the object it
    /// protects.
    pub fn wrap(&self, key: &DataKey, associated_data: &[u8]) -> Result<Vec<u8>, CryptoError> {
        self.seal(key.bytes.as_ref(), associated_data)
    }

    /// The data key a [`wrap`](Self::wrap) produced.
    pub fn unwrap_key(
        &self,
        wrapped: &[u8],
        associated_data: &[u8],
    ) -> Result<DataKey, CryptoError> {
        let bytes = self.open(wrapped, associated_data)?;
        let array: [u8; KEY_LEN] = bytes.as_slice().try_into().map_err(|_| CryptoError::Open)?;
        Ok(DataKey {
            bytes: Zeroizing::new(array),
        })
    }
}

/// A keyed fingerprint (HMAC-SHA-256) of values derived from personal data,
/// so that equal inputs can be recognised without storing anything a guess
/// could be checked against. A plain hash of a national identity number is
/// not enough: its few unknown digits are quickly guessed.
#[derive(Clone)]
pub struct FingerprintKey {
    key: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for FingerprintKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FingerprintKey(..)")
    }
}

impl FingerprintKey {
    /// A key for one purpose, derived from a configured secret (32 bytes,
    /// base64): the same secret gives unrelated keys for unrelated purposes.
    pub fn derive(secret: &SecretString, purpose: &str) -> Result<Self, CryptoError> {
        use hmac::Mac;
        let bytes = Zeroizing::new(
            BASE64
                .decode(secret.expose_secret().trim())
                .map_err(|_| CryptoError::KeyFormat)?,
        );
        if bytes.len() != KEY_LEN {
            return Err(CryptoError::KeyFormat);
        }
        let mut mac = <hmac::Hmac<sha2::Sha256> as Mac>::new_from_slice(&bytes)
            .map_err(|_| CryptoError::KeyFormat)?;
        mac.update(b"hms fingerprint key: ");
        mac.update(purpose.as_bytes());
        Ok(Self {
            key: Zeroizing::new(mac.finalize().into_bytes().to_vec()),
        })
    }

    /// The fingerprint of a sequence of fields; each is length-prefixed, so
    /// `["ab", "c"]` and `["a", "bc"]` differ.
    pub fn fingerprint<'a>(&self, fields: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
        use hmac::Mac;
        let Ok(mut mac) = <hmac::Hmac<sha2::Sha256> as Mac>::new_from_slice(&self.key) else {
            // HMAC takes keys of any length; this cannot happen.
            return Vec::new();
        };
        for field in fields {
            mac.update(&(field.len() as u64).to_be_bytes());
            mac.update(field);
        }
        mac.finalize().into_bytes().to_vec()
    }
}

/// A random key for one object; zeroed when dropped.
pub struct DataKey {
    bytes: Zeroizing<[u8; KEY_LEN]>,
}

impl DataKey {
    pub fn generate() -> Self {
        let key = Aes256Gcm::generate_key(&mut OsRng);
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        bytes.copy_from_slice(&key);
        Self { bytes }
    }

    pub fn sealing_key(&self) -> SealingKey {
        SealingKey {
            cipher: Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(self.bytes.as_ref())),
        }
    }
}

/// A fresh random key in the form [`SealingKey::from_base64`] reads, for
/// development set-ups and tests.
pub fn generate_key_base64() -> String {
    let key = Aes256Gcm::generate_key(&mut OsRng);
    BASE64.encode(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SealingKey {
        SealingKey::from_base64(&SecretString::from(generate_key_base64())).expect("valid key")
    }

    #[test]
    fn seals_and_opens() {
        let key = key();
        let sealed = key.seal(b"01019012345", b"worker-1").expect("seal");
        assert!(!sealed.windows(11).any(|w| w == b"01019012345"));
        assert_eq!(
            key.open(&sealed, b"worker-1").expect("open").as_slice(),
            b"01019012345"
        );
    }

    #[test]
    fn refuses_other_records_keys_and_damage() {
        let key = key();
        let sealed = key.seal(b"secret", b"a").expect("seal");
        assert_eq!(key.open(&sealed, b"b").map(|_| ()), Err(CryptoError::Open));
        assert_eq!(
            self::key().open(&sealed, b"a").map(|_| ()),
            Err(CryptoError::Open)
        );
        let mut damaged = sealed.clone();
        let last = damaged.len() - 1;
        damaged[last] ^= 1;
        assert_eq!(key.open(&damaged, b"a").map(|_| ()), Err(CryptoError::Open));
        assert_eq!(
            key.open(&sealed[..5], b"a").map(|_| ()),
            Err(CryptoError::Open)
        );
    }

    #[test]
    fn the_same_plaintext_seals_differently_each_time() {
        let key = key();
        assert_ne!(
            key.seal(b"x", b"").expect("seal"),
            key.seal(b"x", b"").expect("seal")
        );
    }

    #[test]
    fn wrapped_data_keys_open_their_objects_only_with_the_master_key() {
        let master = key();
        let data_key = DataKey::generate();
        let blob = data_key
            .sealing_key()
            .seal(b"photo bytes", b"doc-1")
            .expect("seal");
        let wrapped = master.wrap(&data_key, b"doc-1").expect("wrap");
        let unwrapped = master.unwrap_key(&wrapped, b"doc-1").expect("unwrap");
        assert_eq!(
            unwrapped
                .sealing_key()
                .open(&blob, b"doc-1")
                .expect("open")
                .as_slice(),
            b"photo bytes"
        );
        assert!(self::key().unwrap_key(&wrapped, b"doc-1").is_err());
    }

    #[test]
    fn fingerprints_need_the_key_and_separate_fields() {
        let secret = SecretString::from(generate_key_base64());
        let key = FingerprintKey::derive(&secret, "orders").expect("key");
        let same = FingerprintKey::derive(&secret, "orders").expect("key");
        let other_purpose = FingerprintKey::derive(&secret, "media").expect("key");
        let other_secret =
            FingerprintKey::derive(&SecretString::from(generate_key_base64()), "orders")
                .expect("key");
        let fields: [&[u8]; 2] = [b"ab", b"c"];
        let print = key.fingerprint(fields);
        assert_eq!(print.len(), 32);
        assert_eq!(print, same.fingerprint(fields));
        assert_ne!(print, other_purpose.fingerprint(fields));
        assert_ne!(print, other_secret.fingerprint(fields));
        let shifted: [&[u8]; 2] = [b"a", b"bc"];
        assert_ne!(print, key.fingerprint(shifted));
    }

    #[test]
    fn bad_keys_are_refused() {
        for bad in ["", "not base64!", "c2hvcnQ="] {
            assert_eq!(
                SealingKey::from_base64(&SecretString::from(bad.to_owned())).map(|_| ()),
                Err(CryptoError::KeyFormat)
            );
        }
    }
}
