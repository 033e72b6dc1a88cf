//! What an uploaded file really is, and a clean copy of it.
//!
//! The type comes from the bytes, never from the client. Images are decoded
//! under limits set before decoding (so a small file declaring a huge image
//! is refused without allocating it), turned upright, and re-encoded: the
//! stored copy carries no EXIF or other metadata (GPS position, camera,
//! thumbnails), and nothing of the original file but its pixels.
//!
//! Only JPEG and PNG images are accepted, ID copies included. A PDF can
//! carry JavaScript, actions, forms, embedded files and metadata, and be
//! an HTML page at the same time; the back office would open it in a
//! viewer. Re-writing PDFs safely would take a PDF renderer in this
//! service; a photo or scan of the ID document is what the back office
//! needs to see.

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

/// The bounds for each kind of document: a passport photo or a signature
/// needs far fewer pixels than a legible copy of an ID document.
#[derive(Debug, Clone, Copy)]
pub struct UploadLimits {
    /// Passport photos and signatures.
    pub photo: ImageLimits,
    /// Copies of ID documents.
    pub id_document: ImageLimits,
}

impl UploadLimits {
    pub const fn for_kind(&self, kind: DocumentKind) -> ImageLimits {
        match kind {
            DocumentKind::PassportPhoto | DocumentKind::Signature => self.photo,
            DocumentKind::IdDocument => self.id_document,
        }
    }
}

/// The formats stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentType {
    Jpeg,
    Png,
    /// Stored by earlier versions, which took PDFs as ID copies; still
    /// listed and downloaded until those orders are purged.
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

/// What every kind of document must be.
const EXPECTED: &str = "a JPEG or PNG image";

/// Sniffs, checks and cleans an upload. CPU-bound: call it off the async
/// runtime, and no more at once than there are cores ([`crate::decoding`]).
pub fn sanitize(
    kind: DocumentKind,
    bytes: &[u8],
    limits: &UploadLimits,
) -> Result<Sanitized, SanitizeError> {
    if bytes.is_empty() {
        return Err(SanitizeError::Empty);
    }
    let limits = limits.for_kind(kind);
    let (content_type, format) = match infer::get(bytes).map(|t| t.mime_type()) {
        Some("image/jpeg") => (ContentType::Jpeg, ImageFormat::Jpeg),
        Some("image/png") => (ContentType::Png, ImageFormat::Png),
        _ => return Err(SanitizeError::WrongType { expected: EXPECTED }),
    };
    let bytes = reencode(bytes, format, limits)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use hms_test_support::fixtures;
    use image::ImageEncoder;

    const LIMITS: UploadLimits = UploadLimits {
        photo: ImageLimits {
            max_side: 4_000,
            max_pixels: 4_000_000,
            max_decode_bytes: 64 * 1024 * 1024,
        },
        id_document: ImageLimits {
            max_side: 6_000,
            max_pixels: 16_000_000,
            max_decode_bytes: 128 * 1024 * 1024,
        },
    };

    #[test]
    fn photos_lose_their_exif() {
        let original = fixtures::jpeg_with_exif(64, 48, b"GPS 59.9139N 10.7522E");
        assert!(original.windows(4).any(|w| w == b"Exif"));
        let clean = sanitize(DocumentKind::PassportPhoto, &original, &LIMITS).expect("accepted");
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
                    sanitize(DocumentKind::Signature, &bomb, &LIMITS),
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
            assert!(sanitize(DocumentKind::PassportPhoto, bytes, &LIMITS).is_err());
        }
        assert_eq!(
            sanitize(DocumentKind::PassportPhoto, b"", &LIMITS).err(),
            Some(SanitizeError::Empty)
        );
    }

    #[test]
    fn pdfs_are_refused_even_as_id_documents() {
        let polyglot = b"%PDF-1.4\n<html><script>alert(1)</script></html>\n\
            1 0 obj << /Type /Catalog /OpenAction << /S /JavaScript /JS (app.alert(1)) >> >> endobj\n\
            trailer << /Root 1 0 R /Info << /Author (01019012345) >> >>\n%%EOF\n";
        for kind in [
            DocumentKind::IdDocument,
            DocumentKind::PassportPhoto,
            DocumentKind::Signature,
        ] {
            for pdf in [fixtures::pdf(), polyglot.to_vec()] {
                assert_eq!(
                    sanitize(kind, &pdf, &LIMITS).err(),
                    Some(SanitizeError::WrongType { expected: EXPECTED }),
                    "{kind:?}"
                );
            }
        }
    }

    #[test]
    fn an_id_copy_may_have_more_pixels_than_a_photo() {
        let scan = fixtures::png(3_000, 2_000);
        let refused = sanitize(DocumentKind::PassportPhoto, &scan, &LIMITS);
        assert!(
            matches!(
                refused,
                Err(SanitizeError::TooLarge {
                    max_pixels: 4_000_000,
                    ..
                })
            ),
            "{refused:?}"
        );
        let stored = sanitize(DocumentKind::IdDocument, &scan, &LIMITS).expect("a legible scan");
        assert_eq!(stored.content_type, ContentType::Png);
    }

    #[test]
    fn pngs_stay_pngs() {
        let mut out = Cursor::new(Vec::new());
        image::codecs::png::PngEncoder::new(&mut out)
            .write_image(&[255u8; 4 * 4 * 4], 4, 4, image::ExtendedColorType::Rgba8)
            .expect("encode");
        let clean =
            sanitize(DocumentKind::Signature, &out.into_inner(), &LIMITS).expect("accepted");
        assert_eq!(clean.content_type, ContentType::Png);
    }
}
