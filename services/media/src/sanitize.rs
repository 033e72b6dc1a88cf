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
    use image::{ImageEncoder, Rgb, RgbImage};

    const LIMITS: ImageLimits = ImageLimits {
        max_side: 4_000,
        max_pixels: 4_000_000,
        max_decode_bytes: 64 * 1024 * 1024,
    };

    fn jpeg(width: u32, height: u32) -> Vec<u8> {
        let image = RgbImage::from_fn(width, height, |x, y| {
            Rgb([(x % 256) as u8, (y % 256) as u8, 128])
        });
        let mut out = Cursor::new(Vec::new());
        DynamicImage::ImageRgb8(image)
            .write_to(&mut out, ImageFormat::Jpeg)
            .expect("encode");
        out.into_inner()
    }

    /// Puts an APP1 EXIF segment holding `marker` right after the JPEG's SOI.
    fn with_exif(jpeg: &[u8], marker: &[u8]) -> Vec<u8> {
        let mut payload = b"Exif\0\0MM\0*\0\0\0\x08".to_vec();
        payload.extend_from_slice(marker);
        let length = (payload.len() + 2) as u16;
        let mut out = jpeg[..2].to_vec();
        out.extend_from_slice(&[0xFF, 0xE1]);
        out.extend_from_slice(&length.to_be_bytes());
        out.extend_from_slice(&payload);
        out.extend_from_slice(&jpeg[2..]);
        out
    }

    /// A valid PNG header declaring `width`×`height`, with almost no data.
    fn png_declaring(width: u32, height: u32) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        image::codecs::png::PngEncoder::new(&mut out)
            .write_image(&[0, 0, 0], 1, 1, image::ExtendedColorType::Rgb8)
            .expect("encode");
        let mut bytes = out.into_inner();
        // IHDR's width and height sit at bytes 16..24; its CRC at 29..33.
        bytes[16..20].copy_from_slice(&width.to_be_bytes());
        bytes[20..24].copy_from_slice(&height.to_be_bytes());
        let crc = crc32(&bytes[12..29]);
        bytes[29..33].copy_from_slice(&crc.to_be_bytes());
        bytes
    }

    fn crc32(data: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for byte in data {
            crc ^= u32::from(*byte);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    #[test]
    fn photos_lose_their_exif() {
        let original = with_exif(&jpeg(64, 48), b"GPS 59.9139N 10.7522E");
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
            let bomb = png_declaring(width, height);
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
        let pdf = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n";
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
