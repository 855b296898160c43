//! Preprocessing against PIL: decoding of every colour type, error reporting, and the
//! centre-crop + bilinear resize and torchvision's short-side resize + crop compared with
//! arrays written by `scripts/pil_reference.py`.

mod common;

use std::path::{Path, PathBuf};

use image::{DynamicImage, GrayImage, ImageFormat, Luma, Rgb, RgbImage, Rgba, RgbaImage};
use mobilenet_wgpu::model::Normalization;
use mobilenet_wgpu::preprocess::{
    center_crop_resize, decode_image, load_image, preprocess, short_side_resize_crop,
};
use mobilenet_wgpu::Error;

fn repo_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// A fresh directory under the system temp dir, unique per test.
fn temp_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mobilenet-wgpu-{test}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

/// Reads a `(height, width, 3)` uint8 reference array.
fn read_reference(name: &str) -> (Vec<u64>, Vec<u8>) {
    let path = repo_path(&format!("tests/data/pil_reference/{name}.npy"));
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let npy = npyz::NpyFile::new(&bytes[..]).expect("valid .npy");
    let shape = npy.shape().to_vec();
    (shape, npy.into_vec::<u8>().expect("uint8 array"))
}

#[test]
fn center_crop_resize_matches_pil_bilinear() {
    for image in ["chelsea", "coffee"] {
        let img = load_image(&repo_path(&format!("samples/{image}.png"))).expect("sample decodes");
        for (width, height) in [(224, 224), (128, 128), (192, 128)] {
            let (shape, expected) = read_reference(&format!("{image}_{width}x{height}"));
            assert_eq!(shape, vec![height as u64, width as u64, 3]);
            let ours = center_crop_resize(&img, width, height);
            assert_eq!(ours.len(), expected.len());
            let mismatches: Vec<(usize, f32, u8)> = ours
                .iter()
                .zip(&expected)
                .enumerate()
                .filter(|(_, (a, b))| **a != f32::from(**b))
                .map(|(i, (a, b))| (i, *a, *b))
                .take(5)
                .collect();
            // Bit-exact: we reproduce Pillow's fixed-point two-pass resampler.
            assert!(
                mismatches.is_empty(),
                "{image} {width}x{height}: (index, ours, PIL) {mismatches:?}"
            );
        }
    }
}

/// Our values against PIL's bytes: the first few mismatches as (index, ours, PIL).
fn mismatches(ours: &[f32], expected: &[u8]) -> Vec<(usize, f32, u8)> {
    assert_eq!(ours.len(), expected.len());
    ours.iter()
        .zip(expected)
        .enumerate()
        .filter(|(_, (a, b))| **a != f32::from(**b))
        .map(|(i, (a, b))| (i, *a, *b))
        .take(5)
        .collect()
}

/// torchvision's transform (the short side to round(8/7 · crop), then a centre crop) on the
/// samples, and on a 3×1500 image whose resized form would be 256 × 128,000 pixels: only
/// the cropped window is resampled, to the same bytes.
#[test]
fn short_side_resize_crop_matches_pil() {
    let thin = RgbImage::from_fn(3, 1500, |x, y| {
        Rgb([0, 1, 2].map(|c| ((7 * x + 13 * y + 29 * c) % 256) as u8))
    });
    let samples = ["chelsea", "coffee"].map(|image| {
        let path = repo_path(&format!("samples/{image}.png"));
        (image, load_image(&path).expect("sample decodes"))
    });
    let sizes = [(224, 224), (192, 128)];
    let cases = samples
        .iter()
        .flat_map(|(image, img)| {
            sizes.map(|(w, h)| (format!("{image}_torchvision_{w}x{h}"), img, w, h))
        })
        .chain([("thin_torchvision_64x64".to_string(), &thin, 64, 64)]);
    for (name, img, width, height) in cases {
        let (shape, expected) = read_reference(&name);
        assert_eq!(shape, vec![height as u64, width as u64, 3]);
        let ours = short_side_resize_crop(img, width, height);
        let wrong = mismatches(&ours, &expected);
        assert!(wrong.is_empty(), "{name}: (index, ours, PIL) {wrong:?}");
    }
}

/// A 1×2,000,000 photo under torchvision's transform: resized whole it would be 256 × 512
/// million pixels (393 GB, which aborted the process before 2026-12-07); only the crop is
/// resampled, to the photo's flat colour.
#[test]
fn a_long_thin_photo_is_not_resized_whole() {
    let img = RgbImage::from_pixel(1, 2_000_000, Rgb([10, 200, 90]));
    let ours = short_side_resize_crop(&img, 224, 224);
    assert_eq!(ours.len(), 224 * 224 * 3);
    assert!(ours.chunks(3).all(|p| p == [10.0, 200.0, 90.0]));
}

#[test]
fn upscaling_small_images_stays_in_range_and_keeps_flat_colour() {
    let img = RgbImage::from_pixel(10, 6, Rgb([200, 100, 3]));
    let out = center_crop_resize(&img, 32, 32);
    assert_eq!(out.len(), 32 * 32 * 3);
    for pixel in out.chunks(3) {
        assert_eq!(pixel, [200.0, 100.0, 3.0]);
    }
}

#[test]
fn preprocess_applies_normalisation() {
    let img = RgbImage::from_pixel(8, 8, Rgb([255, 0, 128]));
    let out = preprocess(&img, 4, 4, &Normalization::symmetric());
    assert_eq!(out.len(), 4 * 4 * 3);
    for pixel in out.chunks(3) {
        assert_eq!(pixel, [1.0, -1.0, 0.5 / 127.5]);
    }
}

fn encode(image: &DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut bytes = std::io::Cursor::new(Vec::new());
    image.write_to(&mut bytes, format).expect("encode");
    bytes.into_inner()
}

#[test]
fn grayscale_is_replicated_to_rgb() {
    let gray = GrayImage::from_fn(3, 2, |x, y| Luma([(x * 50 + y * 7) as u8]));
    let path = temp_dir("gray").join("gray.png");
    std::fs::write(
        &path,
        encode(&DynamicImage::ImageLuma8(gray.clone()), ImageFormat::Png),
    )
    .expect("write png");
    let rgb = load_image(&path).expect("grayscale decodes");
    for (x, y, pixel) in rgb.enumerate_pixels() {
        let v = gray.get_pixel(x, y)[0];
        assert_eq!(pixel.0, [v, v, v]);
    }
    std::fs::remove_file(&path).ok();
}

#[test]
fn alpha_is_dropped_not_composited() {
    let rgba = RgbaImage::from_fn(2, 2, |x, y| {
        Rgba([10 + x as u8, 20 + y as u8, 30, (x * 100) as u8])
    });
    let bytes = encode(&DynamicImage::ImageRgba8(rgba.clone()), ImageFormat::Png);
    let rgb = decode_image(&bytes, "rgba.png").expect("rgba decodes");
    for (x, y, pixel) in rgb.enumerate_pixels() {
        let source = rgba.get_pixel(x, y);
        assert_eq!(pixel.0, [source[0], source[1], source[2]]);
    }
}

/// A 2×1 indexed-colour PNG (palette: red, blue; pixels: 1, 0) built by hand, since the
/// `image` crate does not write palette PNGs.
fn palette_png() -> Vec<u8> {
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    chunk(&mut png, b"IHDR", &[0, 0, 0, 2, 0, 0, 0, 1, 8, 3, 0, 0, 0]);
    chunk(&mut png, b"PLTE", &[255, 0, 0, 0, 0, 255]);
    // zlib stream with one stored block holding the scanline [filter 0, 1, 0].
    let scanline = [0u8, 1, 0];
    let mut idat = vec![0x78, 0x01, 0x01, 3, 0, 0xfc, 0xff];
    idat.extend_from_slice(&scanline);
    idat.extend_from_slice(&adler32(&scanline).to_be_bytes());
    chunk(&mut png, b"IDAT", &idat);
    chunk(&mut png, b"IEND", &[]);
    png
}

/// Appends a PNG chunk: length, type, data, CRC.
fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let body: Vec<u8> = kind.iter().chain(data).copied().collect();
    out.extend_from_slice(&body);
    out.extend_from_slice(&crc32(&body).to_be_bytes());
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn adler32(data: &[u8]) -> u32 {
    let (a, b) = data.iter().fold((1u32, 0u32), |(a, b), &x| {
        let a = (a + u32::from(x)) % 65521;
        (a, (b + a) % 65521)
    });
    (b << 16) | a
}

/// A 69-byte PNG whose header claims 60000×60000 RGB pixels (10.8 GB decoded).
fn bomb_png() -> Vec<u8> {
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let side = 60_000u32.to_be_bytes();
    let ihdr: Vec<u8> = side
        .iter()
        .chain(&side)
        .chain(&[8, 2, 0, 0, 0])
        .copied()
        .collect();
    chunk(&mut png, b"IHDR", &ihdr);
    chunk(
        &mut png,
        b"IDAT",
        &[0x78, 0x01, 0x01, 1, 0, 0xfe, 0xff, 0, 0, 1, 0, 1],
    );
    chunk(&mut png, b"IEND", &[]);
    png
}

#[test]
fn a_decompression_bomb_is_refused_from_its_header() {
    let start = std::time::Instant::now();
    let err = decode_image(&bomb_png(), "bomb.png").expect_err("too many pixels");
    assert!(start.elapsed() < std::time::Duration::from_secs(1));
    let message = err.to_string();
    assert!(
        matches!(err, Error::Image { .. }) && message.contains("60000×60000"),
        "{message}"
    );
    // The same hand-built PNG at a sane size still decodes.
    assert!(decode_image(&palette_png(), "small.png").is_ok());
}

#[test]
fn sixteen_bit_and_extreme_aspect_ratios_decode() {
    let wide = RgbImage::from_fn(3000, 2, |x, _| Rgb([(x % 256) as u8, 7, 9]));
    let decoded = decode_image(
        &encode(&DynamicImage::ImageRgb8(wide), ImageFormat::Png),
        "wide",
    )
    .expect("3000x2 decodes");
    assert_eq!(decoded.dimensions(), (3000, 2));
    let pixels = center_crop_resize(&decoded, 224, 224);
    assert_eq!(pixels.len(), 224 * 224 * 3);
    let deep = image::ImageBuffer::<Rgb<u16>, _>::from_pixel(3, 2, Rgb([65535u16, 32896, 0]));
    let png = encode(&DynamicImage::ImageRgb16(deep), ImageFormat::Png);
    let decoded = decode_image(&png, "deep.png").expect("16-bit decodes");
    assert_eq!(decoded.get_pixel(2, 1).0, [255, 128, 0]);
}

#[test]
fn palette_is_expanded() {
    let rgb = decode_image(&palette_png(), "palette.png").expect("palette png decodes");
    assert_eq!(rgb.dimensions(), (2, 1));
    assert_eq!(rgb.get_pixel(0, 0).0, [0, 0, 255]);
    assert_eq!(rgb.get_pixel(1, 0).0, [255, 0, 0]);
}

#[test]
fn bmp_and_jpeg_decode() {
    let img = DynamicImage::ImageRgb8(RgbImage::from_pixel(16, 16, Rgb([90, 160, 30])));
    let bmp = decode_image(&encode(&img, ImageFormat::Bmp), "x.bmp").expect("bmp decodes");
    assert_eq!(bmp.get_pixel(3, 3).0, [90, 160, 30]);
    let jpeg = decode_image(&encode(&img, ImageFormat::Jpeg), "x.jpg").expect("jpeg decodes");
    let close = jpeg
        .get_pixel(8, 8)
        .0
        .iter()
        .zip([90u8, 160, 30])
        .all(|(a, b)| a.abs_diff(b) <= 3);
    assert!(close, "flat JPEG decoded as {:?}", jpeg.get_pixel(8, 8));
}

#[test]
fn corrupt_png_is_an_image_error_naming_the_file() {
    let img = DynamicImage::ImageRgb8(RgbImage::from_pixel(8, 8, Rgb([1, 2, 3])));
    let mut bytes = encode(&img, ImageFormat::Png);
    bytes.truncate(bytes.len() / 2);
    let path = temp_dir("corrupt").join("broken.png");
    std::fs::write(&path, &bytes).expect("write");
    match load_image(&path) {
        Err(Error::Image {
            path: reported,
            reason,
        }) => {
            assert_eq!(reported, path);
            assert!(!reason.is_empty());
        }
        other => panic!("expected Error::Image, got {other:?}"),
    }
    std::fs::remove_file(&path).ok();
}

#[test]
fn non_image_is_rejected_with_a_clear_reason() {
    let err = decode_image(b"hello, this is plain text", "notes.txt").expect_err("not an image");
    let message = err.to_string();
    assert!(
        message.contains("notes.txt") && message.contains("not a PNG, JPEG or BMP"),
        "{message}"
    );
}

#[test]
fn missing_file_is_an_io_error_with_its_path() {
    let path = temp_dir("missing").join("does-not-exist.png");
    match load_image(&path) {
        Err(Error::Io { path: reported, .. }) => assert_eq!(reported, path),
        other => panic!("expected Error::Io, got {other:?}"),
    }
}

/// SHA-256 of `bytes`, in hex.
fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Every JPEG in `../shared/images` and in the fuzz corpus (baseline, progressive,
/// grayscale, CMYK) decodes to exactly PIL's pixels (`scripts/pil_reference.py` recorded
/// their SHA-256): libjpeg-turbo with PIL's settings.
#[test]
fn jpegs_decode_to_pils_pixels_byte_for_byte() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let table = std::fs::read_to_string(root.join("tests/data/pil_reference/jpeg_decoded.tsv"))
        .expect("the PIL reference table");
    let shared = common::shared_dir();
    let mut checked = 0;
    for line in table.lines().skip(1) {
        let fields: Vec<&str> = line.split('\t').collect();
        let [file, width, height, digest] = fields[..] else {
            panic!("bad line {line:?}");
        };
        let path = match &shared {
            Some(shared) if shared.join("images").join(file).is_file() => {
                shared.join("images").join(file)
            }
            _ => root.join("fuzz/corpus/image").join(file),
        };
        if !path.is_file() {
            continue; // a shared photo without ../shared (shared_dir said so)
        }
        let image = load_image(&path).expect("decodes");
        assert_eq!(
            (image.width().to_string(), image.height().to_string()),
            (width.to_string(), height.to_string()),
            "{file}"
        );
        assert_eq!(
            sha256(image.as_raw()),
            digest,
            "{file}: pixels differ from PIL's"
        );
        checked += 1;
    }
    let expected = if shared.is_some() { 7 } else { 4 };
    assert_eq!(checked, expected, "JPEGs compared");
}

/// A JPEG cut anywhere (before its frame header, in its header, in its data) is a one-line
/// error naming the file and saying what is wrong.
#[test]
fn truncated_jpegs_are_clear_errors() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/image/progressive.jpg");
    let bytes = std::fs::read(path).expect("corpus JPEG");
    for len in [3, 20, 150, bytes.len() / 2, bytes.len() - 2] {
        let error = decode_image(&bytes[..len], "cut.jpg")
            .expect_err("truncated")
            .to_string();
        assert!(!error.contains('\n'), "{len}: {error}");
        assert!(error.starts_with("image `cut.jpg`: "), "{len}: {error}");
        assert!(!error.contains("overflowed"), "{len}: {error}");
    }
}
