//! JPEG decoding with libjpeg-turbo (built from source by `turbojpeg-sys`): the decoder PIL
//! and TensorFlow use, at its defaults (accurate integer IDCT, smooth "fancy" upsampling),
//! so the decoded pixels equal PIL's byte for byte and a near-tie photo classifies as it
//! does in Python.

use image::RgbImage;
use turbojpeg::{Colorspace, Decompressor, PixelFormat};

/// Scans a progressive file may have: libjpeg-turbo's advice for untrusted input (every
/// scan passes over the whole image, so thousands of tiny scans make a CPU bomb).
const MAX_SCANS: u32 = 500;

/// Whether `bytes` start like a JPEG file (start-of-image marker, then another marker).
pub(super) fn is_jpeg(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0xFF, 0xD8, 0xFF])
}

/// Decodes a JPEG into RGB, refusing more pixels than `check_size` allows from the header
/// alone. CMYK and YCCK files are converted like PIL's `convert("RGB")`.
pub(super) fn decode(
    bytes: &[u8],
    check_size: impl Fn(u64, u64) -> Result<(), String>,
) -> Result<RgbImage, String> {
    let turbo = |e: turbojpeg::Error| e.to_string();
    let mut decompressor = Decompressor::new().map_err(turbo)?;
    let header = decompressor.read_header(bytes).map_err(|e| match e {
        // The crate's report when the file ends (or breaks) before the frame header.
        turbojpeg::Error::IntegerOverflow(_) => {
            "the JPEG header is incomplete (a truncated or corrupt file)".to_string()
        }
        other => turbo(other),
    })?;
    let (width, height) = (header.width, header.height);
    check_size(width as u64, height as u64)?;
    let too_large = || format!("{width}×{height} is too large for one image buffer");
    let size = (
        u32::try_from(width).map_err(|_| too_large())?,
        u32::try_from(height).map_err(|_| too_large())?,
    );
    let format = match header.colorspace {
        Colorspace::CMYK | Colorspace::YCCK => PixelFormat::CMYK,
        _ => PixelFormat::RGB,
    };
    let mut pixels = vec![0; width * height * format.size()];
    decompressor.set_scan_limit(MAX_SCANS).map_err(turbo)?;
    let output = turbojpeg::Image {
        pixels: pixels.as_mut_slice(),
        width,
        pitch: width * format.size(),
        height,
        format,
    };
    decompressor.decompress(bytes, output).map_err(turbo)?;
    if format == PixelFormat::CMYK {
        pixels = pixels.chunks_exact(4).flat_map(cmyk_to_rgb).collect();
    }
    RgbImage::from_raw(size.0, size.1, pixels).ok_or_else(too_large)
}

/// One pixel of a CMYK JPEG as PIL converts it: its decoder assumes Adobe's inverted
/// values (raw mode `CMYK;I`), and `convert("RGB")` computes each channel as
/// `(255 − K) − C·(255 − K)/255` with its rounded division by 255.
fn cmyk_to_rgb(stored: &[u8]) -> [u8; 3] {
    let k = 255 - u32::from(stored[3]);
    let ink = |value: u8| {
        let product = (255 - u32::from(value)) * (255 - k) + 128;
        let scaled = ((product >> 8) + product) >> 8;
        ((255 - k).saturating_sub(scaled)) as u8
    };
    [ink(stored[0]), ink(stored[1]), ink(stored[2])]
}
