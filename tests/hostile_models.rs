//! Model files with absurd dimensions (`fuzz/corpus/*/hostile_*`, made by
//! `scripts/fuzz_seeds.py`): each is refused with a one-line error naming the file and the
//! problem, before anything of the size it claims is allocated.

use mobilenet_wgpu::import;
use std::path::Path;
use std::time::{Duration, Instant};

/// File (in `fuzz/corpus/tflite/` or `fuzz/corpus/onnx/`, prefixed `hostile_`) → what its
/// error must say.
const CASES: &[(&str, &str)] = &[
    (
        "channels_2_31.tflite",
        "1x1x2147483647 has more than 268435456 elements",
    ),
    (
        "channels_2_31.onnx",
        "2147483648x1x1 has more than 268435456 elements",
    ),
    ("zero_kernel.tflite", "should be a constant but has no data"),
    ("zero_kernel.onnx", "weights have 0 values"),
    ("negative_pad.tflite", "invalid padding -1"),
    (
        "negative_pads.onnx",
        "`pads` = [-1, -1, -1, -1] is not supported",
    ),
    ("zero_stride.tflite", "stride 0x0 is not supported"),
    ("zero_strides.onnx", "`strides` = [0, 0] is not supported"),
    (
        "weights_beyond_file.tflite",
        "has 8 bytes, expected 7077888",
    ),
    (
        "weights_beyond_file.onnx",
        "has 4 values for shape [1000000, 3, 3, 3]",
    ),
];

#[test]
fn absurd_dimensions_are_one_line_errors() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
    for (file, expected) in CASES {
        let format = file.rsplit('.').next().unwrap_or_default();
        let path = corpus.join(format).join(format!("hostile_{file}"));
        let start = Instant::now();
        let error = import::load(&path).expect_err(file).to_string();
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "{file} took {:?}",
            start.elapsed()
        );
        assert!(!error.contains('\n'), "{file}: {error}");
        assert!(
            error.contains(&path.display().to_string()),
            "{file}: {error}"
        );
        assert!(error.contains(expected), "{file}: {error}");
    }
    let hostile = ["tflite", "onnx"]
        .iter()
        .flat_map(|format| std::fs::read_dir(corpus.join(format)).unwrap())
        .filter(|entry| {
            let name = entry.as_ref().unwrap().file_name();
            name.to_string_lossy().starts_with("hostile_")
        })
        .count();
    assert_eq!(hostile, CASES.len(), "every hostile corpus file has a case");
}
