//! What an uploaded file really is, and a clean copy of it.
//!
//! The type comes from the bytes, never from the client. Images are decoded
//! under limits set before decoding (so a small file declaring a huge image
//! is refused without allocating it), turned upright, and re-encoded: the
//! stored copy carries no EXIF or other metadata (GPS position, camera,
//! thumbnails). PDFs are only accepted as ID documents and stored as sent.

use std::io::Cursor;

use hms_domain::DocumentKind;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};

/// Bounds on what an image may cost to decode.
#[derive(Debug, Clone, Copy)]
pub struct ImageLimits {
    pub max_side: u32,
    pub max_pixels: u64,
    pub max_decode_bytes: u64,
}

/// The formats stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentType {
    Jpeg,
    Png,
    Pdf,
}

impl ContentType {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Jpeg => "image/jpeg",
            Self::Png => "image/png",
            Self::Pdf => "application/pdf",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [Self::Jpeg, Self::Png, Self::Pdf]
            .into_iter()
            .find(|t| t.as_str() == value)
    }
}

/// Why a file was refused. Never quotes the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SanitizeError {
    #[error("the file is empty")]
    Empty,
    #[error("the file is not {expected}")]
    WrongType { expected: &'static str },
    #[error("the image is larger than {max_side}×{max_side} pixels or {max_pixels} pixels in all")]
    TooLarge { max_side: u32, max_pixels: u64 },
    #[error("the image cannot be read: it is damaged or not what it claims to be")]
    Undecodable,
    #[error("the image could not be re-encoded")]
    Encode,
}

/// A file fit to store.
#[derive(Debug, Clone)]
pub struct Sanitized {
    pub content_type: ContentType,
    pub bytes: Vec<u8>,
}

fn accepted(kind: DocumentKind) -> (&'static [ContentType], &'static str) {
    match kind {
        DocumentKind::PassportPhoto | DocumentKind::Signature => (
            &[ContentType::Jpeg, ContentType::Png],
            "a JPEG or PNG image",
        ),
        DocumentKind::IdDocument => (
            &[ContentType::Jpeg, ContentType::Png, ContentType::Pdf],
            "a JPEG or PNG image or a PDF",
        ),
    }
}

/// Sniffs, checks and cleans an upload. CPU-bound: call it off the async
/// runtime.
pub fn sanitize(
    kind: DocumentKind,
    bytes: &[u8],
    limits: ImageLimits,
) -> Result<Sanitized, SanitizeError> {
    if bytes.is_empty() {
        return Err(SanitizeError::Empty);
    }
    let (allowed, expected) = accepted(kind);
    let sniffed = match infer::get(bytes).map(|t| t.mime_type()) {
        Some("image/jpeg") => Some(ContentType::Jpeg),
        Some("image/png") => Some(ContentType::Png),
        Some("application/pdf") => Some(ContentType::Pdf),
        _ => None,
    };
    let content_type = sniffed
        .filter(|t| allowed.contains(t))
        .ok_or(SanitizeError::WrongType { expected })?;
    let bytes = match content_type {
        ContentType::Jpeg => reencode(bytes, ImageFormat::Jpeg, limits)?,
        ContentType::Png => reencode(bytes, ImageFormat::Png, limits)?,
        ContentType::Pdf => check_pdf(bytes)?,
    };
    Ok(Sanitized {
        content_type,
        bytes,
    })
}

fn reencode(
    bytes: &[u8],
    format: ImageFormat,
    limits: ImageLimits,
) -> Result<Vec<u8>, SanitizeError> {
    let too_large = SanitizeError::TooLarge {
        max_side: limits.max_side,
        max_pixels: limits.max_pixels,
    };
    let mut decode_limits = Limits::default();
    decode_limits.max_image_width = Some(limits.max_side);
    decode_limits.max_image_height = Some(limits.max_side);
    decode_limits.max_alloc = Some(limits.max_decode_bytes);
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    reader.limits(decode_limits);
    let mut decoder = reader.into_decoder().map_err(|error| match error {
        image::ImageError::Limits(_) => too_large.clone(),
        _ => SanitizeError::Undecodable,
    })?;
    let (width, height) = decoder.dimensions();
    if u64::from(width) * u64::from(height) > limits.max_pixels {
        return Err(too_large);
    }
    let orientation = decoder
        .orientation()
        .map_err(|_| SanitizeError::Undecodable)?;
    let mut image = DynamicImage::from_decoder(decoder).map_err(|error| match error {
        image::ImageError::Limits(_) => too_large.clone(),
        _ => SanitizeError::Undecodable,
    })?;
    image.apply_orientation(orientation);

    let mut out = Cursor::new(Vec::new());
    match format {
        ImageFormat::Jpeg => {
            // JPEG has no alpha channel; flatten first.
            let rgb = DynamicImage::ImageRgb8(image.into_rgb8());
            rgb.write_with_encoder(image::codecs::jpeg::JpegEncoder::new_with_quality(
                &mut out, 90,
            ))
        }
        _ => image.write_with_encoder(image::codecs::png::PngEncoder::new(&mut out)),
    }
    .map_err(|_| SanitizeError::Encode)?;
    Ok(out.into_inner())
}

/// A PDF must at least look like one from end to end.
fn check_pdf(bytes: &[u8]) -> Result<Vec<u8>, SanitizeError> {
    let tail = &bytes[bytes.len().saturating_sub(1024)..];
    let has_eof = tail.windows(5).any(|window| window == b"%%EOF");
    if !bytes.starts_with(b"%PDF-") || !has_eof {
        return Err(SanitizeError::WrongType {
            expected: "a complete PDF",
        });
    }
    Ok(bytes.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use hms_test_support::fixtures;
    use image::ImageEncoder;

    const LIMITS: ImageLimits = ImageLimits {
        max_side: 4_000,
        max_pixels: 4_000_000,
        max_decode_bytes: 64 * 1024 * 1024,
    };

    #[test]
    fn photos_lose_their_exif() {
        let original = fixtures::jpeg_with_exif(64, 48, b"GPS 59.9139N 10.7522E");
        assert!(original.windows(4).any(|w| w == b"Exif"));
        let clean = sanitize(DocumentKind::PassportPhoto, &original, LIMITS).expect("accepted");
        assert_eq!(clean.content_type, ContentType::Jpeg);
        assert!(!clean.bytes.windows(4).any(|w| w == b"Exif"));
        assert!(!clean.bytes.windows(3).any(|w| w == b"GPS"));
        let decoded = image::load_from_memory(&clean.bytes).expect("still an image");
        assert_eq!((decoded.width(), decoded.height()), (64, 48));
    }

    #[test]
    fn a_small_file_declaring_a_huge_image_is_refused() {
        for (width, height) in [(100_000, 100_000), (4_000, 4_000), (10, 1_000_000)] {
            let bomb = fixtures::png_declaring(width, height);
            assert!(bomb.len() < 100);
            assert!(
                matches!(
                    sanitize(DocumentKind::Signature, &bomb, LIMITS),
                    Err(SanitizeError::TooLarge { .. })
                ),
                "{width}×{height}"
            );
        }
    }

    #[test]
    fn bytes_that_are_not_an_image_are_refused() {
        for bytes in [
            &b"hello, this is text"[..],
            b"GIF89a\x01\x00\x01\x00",
            b"\x89PNG\r\n\x1a\nbroken",
        ] {
            assert!(sanitize(DocumentKind::PassportPhoto, bytes, LIMITS).is_err());
        }
        assert_eq!(
            sanitize(DocumentKind::PassportPhoto, b"", LIMITS).err(),
            Some(SanitizeError::Empty)
        );
    }

    #[test]
    fn pdfs_only_as_id_documents() {
        let pdf = fixtures::pdf();
        let pdf = pdf.as_slice();
        let stored = sanitize(DocumentKind::IdDocument, pdf, LIMITS).expect("accepted");
        assert_eq!(stored.content_type, ContentType::Pdf);
        assert!(matches!(
            sanitize(DocumentKind::PassportPhoto, pdf, LIMITS),
            Err(SanitizeError::WrongType { .. })
        ));
        assert!(sanitize(DocumentKind::IdDocument, b"%PDF-1.4 truncated", LIMITS).is_err());
    }

    #[test]
    fn pngs_stay_pngs() {
        let mut out = Cursor::new(Vec::new());
        image::codecs::png::PngEncoder::new(&mut out)
            .write_image(&[255u8; 4 * 4 * 4], 4, 4, image::ExtendedColorType::Rgba8)
            .expect("encode");
        let clean = sanitize(DocumentKind::Signature, &out.into_inner(), LIMITS).expect("accepted");
        assert_eq!(clean.content_type, ContentType::Png);
    }
}
