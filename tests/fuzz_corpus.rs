//! Replays the committed fuzz corpus (`fuzz/corpus/<target>/`) through the same checks the
//! fuzz targets run, on the stable toolchain: every input that once found a crash, and the
//! seeds, must keep passing. Fuzzing itself: `cargo +nightly fuzz run <target>` (RELIABILITY.md).

#[path = "../fuzz/src/lib.rs"]
mod checks;

use std::path::Path;

fn replay(target: &str, check: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        let outcome = std::panic::catch_unwind(|| check(&bytes));
        assert!(outcome.is_ok(), "{} fails its fuzz check", path.display());
        count += 1;
    }
    assert!(
        count >= 3,
        "{target}: only {count} corpus files in {}",
        dir.display()
    );
}

#[test]
fn tflite_corpus() {
    replay("tflite", checks::tflite);
}

#[test]
fn onnx_corpus() {
    replay("onnx", checks::onnx);
}

#[test]
fn image_corpus() {
    replay("image", checks::image);
}

#[test]
fn npy_corpus() {
    replay("npy", checks::npy);
}
