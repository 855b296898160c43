//! Image decoding and preprocessing.
//!
//! The reference predictions for the TFLite models were made with PIL:
//! `Image.open().convert('RGB')`, a centred square crop, then
//! `resize((W, H), Image.BILINEAR)`. To feed the models the same bytes, [`center_crop_resize`]
//! reproduces PIL's resampler exactly rather than using `image::imageops::resize`:
//!
//! * PIL's BILINEAR is a separable triangle filter whose support grows with the downscale factor
//!   (an antialiasing filter), with tap positions and bounds computed as in Pillow's
//!   `Resample.c` (`precompute_coeffs`).
//! * For 8-bit images Pillow turns the weights into 22-bit fixed point, runs the horizontal pass
//!   first, rounds that intermediate image to `u8`, then runs the vertical pass. We do the same,
//!   so the output equals PIL's byte for byte (checked against arrays made by
//!   `scripts/pil_reference.py`). A float resampler without that intermediate rounding, and
//!   `image::imageops::resize` with `FilterType::Triangle` (which matches the float one), differ
//!   from PIL by 1 on 13–18% of the values of the sample photos: enough to move uint8 outputs.
//!
//! Decoding converts every colour type to 8-bit RGB the way PIL's `convert('RGB')` does for
//! ordinary files: grayscale is replicated, palettes are expanded and alpha is dropped (not
//! composited). 16-bit images are scaled to 8 bits by the `image` crate (PIL keeps the high byte,
//! so such files may differ by 1). EXIF orientation is ignored, as PIL's `Image.open` does.
//! JPEG files are decoded by libjpeg-turbo, PIL's own decoder, so their pixels equal PIL's
//! (CMYK ones converted to RGB with PIL's formula).

mod jpeg;

use std::io::Cursor;
use std::ops::Range;
use std::path::Path;

use image::{DynamicImage, ImageDecoder, ImageReader, RgbImage};

use crate::model::{Model, Normalization, Resize};
use crate::{Error, Result};

/// Bits of fraction in Pillow's fixed-point resampling weights for 8-bit images
/// (`PRECISION_BITS = 32 - 8 - 2`).
pub(crate) const PRECISION_BITS: u32 = 22;

/// The most pixels an image may have to be decoded (Pillow's `MAX_IMAGE_PIXELS`): checked
/// on the header, before anything is allocated, so a small file claiming a huge image (a
/// decompression bomb) is refused at once.
pub const MAX_IMAGE_PIXELS: u64 = 89_478_485;

/// The largest image file read: a 16-bit RGBA PNG of [`MAX_IMAGE_PIXELS`] pixels stored
/// without compression fits, with room to spare.
pub const MAX_IMAGE_FILE_BYTES: u64 = 1 << 30;

/// Reads and decodes a JPEG, PNG or BMP file into 8-bit RGB. Only regular files are read:
/// a FIFO would block and a device such as `/dev/zero` never end.
pub fn load_image(path: &Path) -> Result<RgbImage> {
    let refuse = |reason: String| Error::Image {
        path: path.to_path_buf(),
        reason,
    };
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if !meta.is_file() {
        return Err(refuse("not a regular file".into()));
    }
    if meta.len() > MAX_IMAGE_FILE_BYTES {
        return Err(refuse(format!(
            "{} bytes, more than any image of at most {MAX_IMAGE_PIXELS} pixels needs",
            meta.len()
        )));
    }
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    decode_image(&bytes, &path.to_string_lossy())
}

/// Decodes an in-memory JPEG, PNG or BMP image into 8-bit RGB; `name` only labels errors.
/// JPEGs go through libjpeg-turbo, as in PIL.
pub fn decode_image(bytes: &[u8], name: &str) -> Result<RgbImage> {
    let image_error = |reason: String| Error::Image {
        path: name.into(),
        reason,
    };
    if jpeg::is_jpeg(bytes) {
        return jpeg::decode(bytes, check_size).map_err(image_error);
    }
    let reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| image_error(e.to_string()))?;
    if reader.format().is_none() {
        return Err(image_error(
            "not a PNG, JPEG or BMP image (unrecognised file contents)".into(),
        ));
    }
    let decoder = reader
        .into_decoder()
        .map_err(|e| image_error(e.to_string()))?;
    let (width, height) = decoder.dimensions();
    check_size(width.into(), height.into()).map_err(image_error)?;
    let decoded = DynamicImage::from_decoder(decoder).map_err(|e| image_error(e.to_string()))?;
    Ok(decoded.to_rgb8())
}

/// Refuses images of more than [`MAX_IMAGE_PIXELS`], from their header's size.
fn check_size(width: u64, height: u64) -> Result<(), String> {
    let pixels = width.saturating_mul(height);
    if pixels > MAX_IMAGE_PIXELS {
        return Err(format!(
            "{width}×{height} is {pixels} pixels, more than the {MAX_IMAGE_PIXELS} this decodes"
        ));
    }
    Ok(())
}

/// Centre-crops `img` to a square of side `min(w, h)` and resizes it to `width`×`height` with
/// PIL's BILINEAR filter. Returns `height * width * 3` pixel values in 0..=255, HWC order.
pub fn center_crop_resize(img: &RgbImage, width: usize, height: usize) -> Vec<f32> {
    let (crop, side) = center_square(img);
    let horizontal = resampling_taps(side, width);
    let vertical = resampling_taps(side, height);
    let rows_resized = resample_horizontal(&crop, side, side, &horizontal);
    let resized = resample_vertical(&rows_resized, width, &vertical);
    resized.into_iter().map(f32::from).collect()
}

/// Maps HWC pixel values (0..=255) to the model's input domain with `norm`, channel by channel.
pub fn to_input(pixels: &[f32], norm: &Normalization) -> Vec<f32> {
    pixels
        .iter()
        .enumerate()
        .map(|(i, &p)| norm.apply(i % 3, p))
        .collect()
}

/// Crop, resize and normalise one image: the NHWC float input (batch of one) of a model whose
/// input is `width`×`height` RGB.
pub fn preprocess(img: &RgbImage, width: usize, height: usize, norm: &Normalization) -> Vec<f32> {
    to_input(&center_crop_resize(img, width, height), norm)
}

/// One image as `model`'s graph input, with the model's resize geometry and normalisation.
pub fn preprocess_for(model: &Model, img: &RgbImage) -> Result<Vec<f32>> {
    check_rgb_input(model)?;
    let shape = model.graph.input_shape();
    let pixels = match model.resize {
        Resize::CenterSquare => center_crop_resize(img, shape.w, shape.h),
        Resize::ShortSideThenCrop => short_side_resize_crop(img, shape.w, shape.h),
    };
    Ok(to_input(&pixels, &model.normalization))
}

/// Photos give three values per pixel: a model whose input takes another number cannot be
/// fed them (each image would spill into the next one's input).
pub fn check_rgb_input(model: &Model) -> Result<()> {
    match model.graph.input_shape().c {
        3 => Ok(()),
        c => Err(Error::InvalidArgument(format!(
            "{} takes {c} values per pixel, not RGB photos; use `run` with an array",
            model.name
        ))),
    }
}

/// torchvision's evaluation transform with PIL images: `Resize(s)` (the short side to
/// `s = round(8/7 · max(width, height))`, 256 for 224, the long side `int(s · long / short)`)
/// with PIL's BILINEAR, then `CenterCrop` with offsets `round((size − crop) / 2)` (Python's
/// round, half to even). Returns `height * width * 3` values in 0..=255, HWC.
pub fn short_side_resize_crop(img: &RgbImage, width: usize, height: usize) -> Vec<f32> {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let short_target = (width.max(height) as f64 * 8.0 / 7.0).round() as usize;
    let (short, long) = (w.min(h).max(1), w.max(h));
    let long_target = short_target * long / short;
    let (new_w, new_h) = if w <= h {
        (short_target, long_target)
    } else {
        (long_target, short_target)
    };
    let offset = |size: usize, crop: usize| {
        ((size as f64 - crop as f64) / 2.0)
            .round_ties_even()
            .max(0.0) as usize
    };
    let (left, top) = (offset(new_w, width), offset(new_h, height));
    // Each output pixel depends only on its own taps, so resampling just the cropped window
    // (and only the source rows it reads) gives PIL's bytes without the whole resized
    // image, which a long thin photo would make gigabytes.
    let horizontal = resampling_window(w, new_w, left..left + width);
    let mut vertical = resampling_window(h, new_h, top..top + height);
    let first_row = vertical.iter().map(|t| t.first).min().unwrap_or(0);
    let end_row = vertical
        .iter()
        .map(|t| t.first + t.weights.len())
        .max()
        .unwrap_or(0);
    vertical.iter_mut().for_each(|t| t.first -= first_row);
    let rows = &img.as_raw()[first_row * w * 3..end_row * w * 3];
    let rows_resized = resample_horizontal(rows, w, end_row - first_row, &horizontal);
    let cropped = resample_vertical(&rows_resized, width, &vertical);
    cropped.into_iter().map(f32::from).collect()
}

/// The centred square crop as tightly packed RGB bytes, with its side length. The offsets
/// round down, like `(w - side) // 2` in the reference script.
fn center_square(img: &RgbImage) -> (Vec<u8>, usize) {
    let w = img.width() as usize;
    let (left, top, side) = center_square_region(w, img.height() as usize);
    let raw = img.as_raw();
    let crop = (top..top + side)
        .flat_map(|y| {
            let start = (y * w + left) * 3;
            raw[start..start + side * 3].iter().copied()
        })
        .collect();
    (crop, side)
}

/// The centred square crop of a `width`×`height` image as `(left, top, side)`; shared with
/// the GPU preprocessing so both paths crop the same pixels.
pub(crate) fn center_square_region(width: usize, height: usize) -> (usize, usize, usize) {
    let side = width.min(height);
    ((width - side) / 2, (height - side) / 2, side)
}

/// The source pixels and fixed-point weights that make up one output pixel along an axis.
pub(crate) struct Taps {
    pub first: usize,
    pub weights: Vec<i32>,
}

/// Pillow's `precompute_coeffs` for the bilinear (triangle, support 1) filter followed by
/// `normalize_coeffs_8bpc`: one [`Taps`] per output position. The GPU preprocessing uploads
/// these same weights, so both paths resample identically.
pub(crate) fn resampling_taps(in_size: usize, out_size: usize) -> Vec<Taps> {
    resampling_window(in_size, out_size, 0..out_size)
}

/// [`resampling_taps`] of the output positions in `window` only.
fn resampling_window(in_size: usize, out_size: usize, window: Range<usize>) -> Vec<Taps> {
    let scale = in_size as f64 / out_size as f64;
    let filter_scale = scale.max(1.0);
    let support = filter_scale;
    window
        .map(|out| {
            let center = (out as f64 + 0.5) * scale;
            // `as usize` truncates toward zero and saturates negatives at 0, like Pillow's
            // `(int)` cast followed by its clamp to 0.
            let first = (center - support + 0.5) as usize;
            let end = ((center + support + 0.5) as usize).min(in_size);
            let raw: Vec<f64> = (first..end)
                .map(|x| triangle((x as f64 - center + 0.5) / filter_scale))
                .collect();
            let total: f64 = raw.iter().sum();
            let weights = raw
                .iter()
                .map(|w| to_fixed_point(if total == 0.0 { *w } else { w / total }))
                .collect();
            Taps { first, weights }
        })
        .collect()
}

/// The bilinear kernel: 1 − |x| inside (−1, 1).
fn triangle(x: f64) -> f64 {
    (1.0 - x.abs()).max(0.0)
}

/// Rounds a weight to Pillow's fixed point, half away from zero.
fn to_fixed_point(weight: f64) -> i32 {
    let scaled = weight * f64::from(1u32 << PRECISION_BITS);
    (if scaled < 0.0 {
        scaled - 0.5
    } else {
        scaled + 0.5
    }) as i32
}

/// The horizontal pass: each of the `rows` rows of an RGB image `in_width` pixels wide becomes
/// `taps.len()` pixels wide, rounded to `u8` as Pillow does between its two passes.
fn resample_horizontal(src: &[u8], in_width: usize, rows: usize, taps: &[Taps]) -> Vec<u8> {
    let mut out = Vec::with_capacity(rows * taps.len() * 3);
    for y in 0..rows {
        for tap in taps {
            for c in 0..3 {
                out.push(weighted_sum(tap, |x| src[(y * in_width + x) * 3 + c]));
            }
        }
    }
    out
}

/// The vertical pass: an RGB image `width` pixels wide becomes `taps.len()` rows high.
fn resample_vertical(src: &[u8], width: usize, taps: &[Taps]) -> Vec<u8> {
    let mut out = Vec::with_capacity(taps.len() * width * 3);
    for tap in taps {
        for x in 0..width {
            for c in 0..3 {
                out.push(weighted_sum(tap, |y| src[(y * width + x) * 3 + c]));
            }
        }
    }
    out
}

/// Σ weight·pixel in fixed point with Pillow's rounding and clamping (`clip8`).
fn weighted_sum(tap: &Taps, pixel_at: impl Fn(usize) -> u8) -> u8 {
    let half = 1i64 << (PRECISION_BITS - 1);
    let sum = tap.weights.iter().enumerate().fold(half, |acc, (i, &w)| {
        acc + i64::from(pixel_at(tap.first + i)) * i64::from(w)
    });
    (sum >> PRECISION_BITS).clamp(0, 255) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn taps_sum_to_one_in_fixed_point() {
        for (input, output) in [(300, 224), (451, 128), (100, 224), (7, 3)] {
            for tap in resampling_taps(input, output) {
                let total: i32 = tap.weights.iter().sum();
                assert!((total - (1 << PRECISION_BITS)).abs() <= tap.weights.len() as i32);
                assert!(tap.first + tap.weights.len() <= input);
            }
        }
    }

    #[test]
    fn same_size_resize_is_identity() {
        let img = RgbImage::from_fn(5, 5, |x, y| image::Rgb([x as u8 * 40, y as u8 * 50, 7]));
        let out = center_crop_resize(&img, 5, 5);
        let expected: Vec<f32> = img.as_raw().iter().map(|&v| f32::from(v)).collect();
        assert_eq!(out, expected);
    }

    #[test]
    fn crop_takes_the_centre_rounding_down() {
        // 4 wide, 2 high: side 2, left = 1 → columns 1 and 2.
        let img = RgbImage::from_fn(4, 2, |x, _| image::Rgb([x as u8, 0, 0]));
        let (crop, side) = center_square(&img);
        assert_eq!(side, 2);
        assert_eq!(
            crop.chunks(3).map(|p| p[0]).collect::<Vec<_>>(),
            vec![1, 2, 1, 2]
        );
    }

    #[test]
    fn to_input_normalises_per_channel() {
        let norm = Normalization {
            mean: [10.0, 20.0, 30.0],
            std: [2.0, 4.0, 5.0],
        };
        let out = to_input(&[12.0, 28.0, 40.0, 10.0, 20.0, 30.0], &norm);
        assert_eq!(out, vec![1.0, 2.0, 2.0, 0.0, 0.0, 0.0]);
    }
}
