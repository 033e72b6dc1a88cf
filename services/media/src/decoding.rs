//! Uploads cost memory twice: the file, held while it streams in and waits,
//! and its decode, in proportion to its pixels (a small file can declare
//! many). So an upload first takes a place (`HMS_MEDIA_MAX_CONCURRENT_UPLOADS`,
//! each up to `HMS_MEDIA_MAX_UPLOAD_BYTES`), then a decoder (by default one
//! per core, each bounded by the decode limits). Either wait is bounded; an
//! upload that waits too long is told to come back (`UNAVAILABLE`, which
//! the gateway answers with `503` and `Retry-After`). Media's memory is
//! thus bounded by those settings, not by how many uploads arrive at once.

use std::sync::Arc;
use std::time::Duration;

use hms_domain::DocumentKind;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::MediaError;
use crate::sanitize::{SanitizeError, Sanitized, UploadLimits, sanitize};

#[derive(Clone)]
pub struct Decoders {
    places: Arc<Semaphore>,
    permits: Arc<Semaphore>,
    wait: Duration,
    limits: UploadLimits,
}

/// An upload's place in memory, held until it is stored or refused.
pub type Place = OwnedSemaphorePermit;

impl Decoders {
    pub fn new(uploads: usize, decoders: usize, wait: Duration, limits: UploadLimits) -> Self {
        Self {
            places: Arc::new(Semaphore::new(uploads.max(1))),
            permits: Arc::new(Semaphore::new(decoders.max(1))),
            wait,
            limits,
        }
    }

    /// A place for one more upload's bytes, once there is one.
    pub async fn admit(&self) -> Result<Place, MediaError> {
        tokio::time::timeout(self.wait, self.places.clone().acquire_owned())
            .await
            .map_err(|_| MediaError::Busy)?
            .map_err(|_| MediaError::Busy)
    }

    /// The help texts of the series [`sanitize`](Self::sanitize) records.
    pub fn describe_metrics() {
        metrics::describe_histogram!(
            "hms_media_upload_bytes",
            metrics::Unit::Bytes,
            "Size of uploaded documents as received, by kind"
        );
        metrics::describe_histogram!(
            "hms_media_sanitize_seconds",
            metrics::Unit::Seconds,
            "Time to decode and re-encode an upload, by kind and outcome (accepted, refused)"
        );
    }

    /// [`sanitize`] on a decoder of its own, once one is free.
    pub async fn sanitize(
        &self,
        kind: DocumentKind,
        bytes: Vec<u8>,
    ) -> Result<Sanitized, MediaError> {
        let permit = tokio::time::timeout(self.wait, self.permits.clone().acquire_owned())
            .await
            .map_err(|_| MediaError::Busy)?
            .map_err(|_| MediaError::Busy)?;
        let limits = self.limits;
        metrics::histogram!("hms_media_upload_bytes", "kind" => kind.as_str())
            .record(bytes.len() as f64);
        let started = std::time::Instant::now();
        let decoded = tokio::task::spawn_blocking(move || {
            let sanitized = sanitize(kind, &bytes, &limits);
            // The decoder is free only once its memory is.
            drop(bytes);
            drop(permit);
            sanitized
        })
        .await;
        // A decoder that panics on a hostile file refuses that file.
        let sanitized = decoded.unwrap_or(Err(SanitizeError::Undecodable));
        metrics::histogram!(
            "hms_media_sanitize_seconds",
            "kind" => kind.as_str(),
            "outcome" => if sanitized.is_ok() { "accepted" } else { "refused" },
        )
        .record(started.elapsed().as_secs_f64());
        Ok(sanitized?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sanitize::ImageLimits;
    use hms_test_support::fixtures;

    const LIMITS: ImageLimits = ImageLimits {
        max_side: 2_000,
        max_pixels: 1_000_000,
        max_decode_bytes: 16 * 1024 * 1024,
    };

    fn decoders(count: usize, wait: Duration) -> Decoders {
        Decoders::new(
            count,
            count,
            wait,
            UploadLimits {
                photo: LIMITS,
                id_document: LIMITS,
            },
        )
    }

    #[tokio::test]
    async fn an_upload_that_finds_every_decoder_busy_is_told_to_come_back() {
        let decoders = decoders(1, Duration::from_millis(50));
        let held = decoders
            .permits
            .clone()
            .acquire_owned()
            .await
            .expect("a permit");
        let busy = decoders
            .sanitize(DocumentKind::Signature, fixtures::png(10, 10))
            .await;
        assert!(matches!(busy, Err(MediaError::Busy)), "{busy:?}");
        drop(held);
        let decoded = decoders
            .sanitize(DocumentKind::Signature, fixtures::png(10, 10))
            .await
            .expect("a decoder is free again");
        assert_eq!(decoded.content_type, crate::sanitize::ContentType::Png);
    }

    #[tokio::test]
    async fn an_upload_waits_for_a_place_and_then_is_told_to_come_back() {
        let decoders = decoders(1, Duration::from_millis(50));
        let place = decoders.admit().await.expect("a place");
        assert!(matches!(decoders.admit().await, Err(MediaError::Busy)));
        drop(place);
        let _again = decoders.admit().await.expect("a place again");
    }

    #[tokio::test]
    async fn refusals_free_their_decoder() {
        let decoders = decoders(1, Duration::from_millis(200));
        for _ in 0..3 {
            let refused = decoders
                .sanitize(DocumentKind::Signature, b"not an image".to_vec())
                .await;
            assert!(
                matches!(refused, Err(MediaError::Rejected(_))),
                "{refused:?}"
            );
        }
        assert_eq!(decoders.permits.available_permits(), 1);
    }
}
