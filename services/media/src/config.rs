use hms_config::{ConfigError, Sources};
use hms_runtime::CommonConfig;
use secrecy::SecretString;
use serde::Deserialize;

use crate::sanitize::ImageLimits;

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
    /// `HMS_MEDIA_MAX_IMAGE_PIXELS`: most pixels an image may declare.
    #[serde(default = "default_max_image_pixels")]
    pub media_max_image_pixels: u64,
    /// `HMS_MEDIA_MAX_DECODE_BYTES`: most memory one image decode may use.
    #[serde(default = "default_max_decode_bytes")]
    pub media_max_decode_bytes: u64,
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
    8_000
}

fn default_max_image_pixels() -> u64 {
    40_000_000
}

fn default_max_decode_bytes() -> u64 {
    256 * 1024 * 1024
}

impl MediaConfig {
    pub fn image_limits(&self) -> ImageLimits {
        ImageLimits {
            max_side: self.media_max_image_side,
            max_pixels: self.media_max_image_pixels,
            max_decode_bytes: self.media_max_decode_bytes,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub common: CommonConfig,
    pub media: MediaConfig,
}

impl Config {
    pub fn load() -> Result<Self, ConfigError> {
        let sources = Sources::new(&[
            ("grpc_addr", "0.0.0.0:50053"),
            (
                "database_url",
                "postgres://postgres@127.0.0.1:5432/hms_media",
            ),
            ("orders_url", "http://127.0.0.1:50052"),
            ("media_store_url", "file:///var/lib/hms/media"),
        ]);
        Ok(Self {
            common: CommonConfig::load(&sources)?,
            media: sources.get()?,
        })
    }
}
