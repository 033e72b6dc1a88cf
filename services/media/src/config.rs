use hms_config::{ConfigError, Sources};
use secrecy::SecretString;
use serde::Deserialize;

use std::time::Duration;

use hms_crypto::SealingKey;

use crate::sanitize::{ImageLimits, UploadLimits};
use crate::vault::StoreLocation;

/// The media service's own settings.
#[derive(Debug, Clone, Deserialize)]
pub struct MediaConfig {
    /// `HMS_MEDIA_MASTER_KEY`: AES-256 key (base64) that wraps every
    /// object's own key.
    pub media_master_key: SecretString,
    /// `HMS_MEDIA_MASTER_KEY_ID`: recorded with each wrapped key, for
    /// rotation.
    #[serde(default = "default_master_key_id")]
    pub media_master_key_id: String,
    /// `HMS_MEDIA_STORE_URL`: `file:///path` for a local directory, or
    /// `s3://bucket/prefix` (credentials and endpoint from `AWS_*`).
    pub media_store_url: String,
    /// `HMS_MEDIA_MAX_UPLOAD_BYTES`: larger uploads are refused while they
    /// stream in.
    #[serde(default = "default_max_upload_bytes")]
    pub media_max_upload_bytes: u64,
    /// `HMS_MEDIA_MAX_IMAGE_SIDE`: widest or tallest image accepted, in pixels.
    #[serde(default = "default_max_image_side")]
    pub media_max_image_side: u32,
    /// `HMS_MEDIA_MAX_IMAGE_PIXELS`: most pixels a copy of an ID document
    /// may declare.
    #[serde(default = "default_max_image_pixels")]
    pub media_max_image_pixels: u64,
    /// `HMS_MEDIA_MAX_PHOTO_PIXELS`: most pixels a passport photo or a
    /// signature may declare (a 12-megapixel phone photo is 4032×3024).
    #[serde(default = "default_max_photo_pixels")]
    pub media_max_photo_pixels: u64,
    /// `HMS_MEDIA_MAX_DECODE_BYTES`: most memory one image decode may use.
    #[serde(default = "default_max_decode_bytes")]
    pub media_max_decode_bytes: u64,
    /// `HMS_MEDIA_DECODE_CONCURRENCY`: images decoded at once; 0 for one
    /// per core. Memory use is bounded by this times the decode limits.
    #[serde(default)]
    pub media_decode_concurrency: usize,
    /// `HMS_MEDIA_MAX_CONCURRENT_UPLOADS`: uploads held in memory at once
    /// (streaming in, waiting for or in a decoder); each up to
    /// `HMS_MEDIA_MAX_UPLOAD_BYTES`.
    #[serde(default = "default_max_concurrent_uploads")]
    pub media_max_concurrent_uploads: usize,
    /// `HMS_MEDIA_DECODE_WAIT_SECS`: how long an upload waits for a place,
    /// and then for a free decoder, before it is answered `UNAVAILABLE` (to
    /// try again).
    #[serde(
        rename = "media_decode_wait_secs",
        default = "default_decode_wait",
        deserialize_with = "hms_config::duration::seconds"
    )]
    pub media_decode_wait: Duration,
    /// `HMS_ORDERS_URL`: where the orders service answers.
    pub orders_url: String,
}

fn default_master_key_id() -> String {
    "1".to_owned()
}

fn default_max_upload_bytes() -> u64 {
    10 * 1024 * 1024
}

fn default_max_image_side() -> u32 {
    6_000
}

fn default_max_image_pixels() -> u64 {
    24_000_000
}

fn default_max_photo_pixels() -> u64 {
    12_600_000
}

fn default_max_decode_bytes() -> u64 {
    128 * 1024 * 1024
}

fn default_max_concurrent_uploads() -> usize {
    16
}

fn default_decode_wait() -> Duration {
    Duration::from_secs(20)
}

/// The media service's settings in the form it uses them, checked when
/// they are loaded.
pub struct Settings {
    /// Wraps every object's own key.
    pub master_key: SealingKey,
    pub master_key_id: String,
    pub store: StoreLocation,
    pub max_upload_bytes: u64,
    pub upload_limits: UploadLimits,
    pub max_concurrent_uploads: usize,
    /// Images decoded at once.
    pub decoders: usize,
    pub decode_wait: Duration,
    pub orders_url: String,
}

impl MediaConfig {
    fn settings(self) -> Result<Settings, ConfigError> {
        let limits = |max_pixels| ImageLimits {
            max_side: self.media_max_image_side,
            max_pixels,
            max_decode_bytes: self.media_max_decode_bytes,
        };
        Ok(Settings {
            master_key: SealingKey::from_base64(&self.media_master_key)
                .map_err(|e| ConfigError::invalid("HMS_MEDIA_MASTER_KEY", e))?,
            master_key_id: self.media_master_key_id,
            store: StoreLocation::parse(&self.media_store_url)
                .map_err(|e| ConfigError::invalid("HMS_MEDIA_STORE_URL", e))?,
            max_upload_bytes: self.media_max_upload_bytes,
            upload_limits: UploadLimits {
                photo: limits(self.media_max_photo_pixels.min(self.media_max_image_pixels)),
                id_document: limits(self.media_max_image_pixels),
            },
            max_concurrent_uploads: self.media_max_concurrent_uploads.max(1),
            decoders: match self.media_decode_concurrency {
                0 => std::thread::available_parallelism().map_or(1, usize::from),
                count => count,
            },
            decode_wait: self.media_decode_wait,
            orders_url: self.orders_url,
        })
    }
}

/// Reads the service's own settings.
pub fn load(sources: &Sources) -> Result<Settings, ConfigError> {
    sources.get::<MediaConfig>()?.settings()
}
