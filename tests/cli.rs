//! The `classify` and `run` commands end to end, through the built binary, and their
//! errors on bad input.

mod common;

use std::path::Path;
use std::process::{Command, Output};

fn cli(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mobilenet-wgpu"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NODEVICE_SELECT", "1")
        .env("MOBILENET_WGPU_OFFLINE", "1")
        .output()
        .expect("the binary runs")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn classify_json_names_a_cat_for_chelsea() {
    for precision in ["f32", "f16"] {
        classify_samples(precision);
    }
}

fn classify_samples(precision: &str) {
    let (Some(_), Some(shared)) = (common::runtime(), common::shared_dir()) else {
        return;
    };
    let models = shared.join("models");
    let output = Command::new(env!("CARGO_BIN_EXE_mobilenet-wgpu"))
        .args(["classify", "--json", "--top", "3", "--batch", "2"])
        .args(["--precision", precision])
        .args([
            "samples/chelsea.png",
            "samples/coffee.png",
            "samples/chelsea.png",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NODEVICE_SELECT", "1")
        .env("MOBILENET_WGPU_MODELS", &models)
        .output()
        .expect("the binary runs");
    assert!(output.status.success(), "{}", stderr(&output));
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    let top1: Vec<(&str, u64)> = lines
        .iter()
        .map(|l| {
            (
                l["top"][0]["label"].as_str().unwrap_or(""),
                l["top"][0]["index"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    // The interpreter's top-1 for these photos (../shared/expected/tflite_top5.tsv).
    assert_eq!(
        top1,
        [("tiger cat", 283), ("espresso", 968), ("tiger cat", 283)]
    );
    assert!(lines
        .iter()
        .all(|l| l["top"].as_array().map(Vec::len) == Some(3)));
    assert!(lines
        .iter()
        .all(|l| l["inference_ms"].as_f64().is_some_and(|t| t > 0.0)));
}

#[test]
fn run_writes_logits_for_any_batch() {
    if common::runtime().is_none() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("mobilenet-wgpu-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let (input, output) = (dir.join("in.npy"), dir.join("out.npy"));
    let values = vec![0.25f32; 3 * 64 * 64 * 3];
    write_npy(&input, &[3, 64, 64, 3], &values);
    let args = [
        "run",
        "--arch",
        "v3-small",
        "--resolution",
        "64",
        "--logits",
        "--input-npy",
    ];
    let run = || {
        let paths = [
            input.to_str().unwrap(),
            "--output-npy",
            output.to_str().unwrap(),
        ];
        cli(&[&args[..], &paths[..]].concat())
    };
    let result = run();
    assert!(result.status.success(), "{}", stderr(&result));
    let bytes = std::fs::read(&output).expect("output written");
    let npy = npyz::NpyFile::new(&bytes[..]).expect("a .npy file");
    assert_eq!(npy.shape(), &[3, 1000]);
    let logits = npy.into_vec::<f32>().expect("float32");
    // Same input three times: same logits, and logits are not probabilities.
    assert_eq!(logits[..1000], logits[2000..]);
    assert!((logits.iter().take(1000).sum::<f32>() - 1.0).abs() > 1e-3);

    write_npy(&input, &[1, 32, 32, 3], &values[..32 * 32 * 3]);
    let result = run();
    assert!(!result.status.success());
    assert!(
        stderr(&result).contains("expects [N, 64, 64, 3]"),
        "{}",
        stderr(&result)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_input_gives_a_clear_error_and_a_failure_exit() {
    let cases: [(&[&str], &str); 7] = [
        (
            &["classify", "--arch", "v2", "no-such-photo.png"],
            "no-such-photo.png",
        ),
        (
            // Eight values per pixel: RGB photos would spill into each other's inputs.
            &[
                "classify",
                "--model",
                "fuzz/corpus/tflite/regression-mixed-type-residual",
                "samples/chelsea.png",
            ],
            "takes 8 values per pixel",
        ),
        (
            &["classify", "--arch", "v2", "README.md"],
            "not a PNG, JPEG or BMP",
        ),
        (&["info", "--arch", "v2", "--alpha", "0"], "alpha"),
        (
            &["info", "--model", "no_such_model_name"],
            "no_such_model_name",
        ),
        (
            &["--backend", "foo", "verify", "--arch", "v2"],
            "unknown backend `foo`",
        ),
        (
            &["info", "--arch", "v2", "--precision", "f64"],
            "unknown precision `f64`",
        ),
    ];
    for (args, expected) in cases {
        let output = cli(args);
        assert!(!output.status.success(), "{args:?} succeeded");
        assert!(
            stderr(&output).contains(expected),
            "{args:?}: {}",
            stderr(&output)
        );
        assert!(!stderr(&output).contains("panicked"), "{args:?} panicked");
    }
}

/// A batch whose input alone no GPU buffer holds is refused before its random input is
/// made (a million V2 inputs would be 600 GB of host memory).
#[test]
fn verify_and_profile_refuse_a_batch_no_buffer_holds() {
    if common::runtime().is_none() {
        return;
    }
    for command in ["verify", "profile"] {
        let output = cli(&[command, "--arch", "v2", "--batch", "1000000"]);
        assert_eq!(output.status.code(), Some(1), "{command}");
        let message = stderr(&output);
        assert!(
            message.contains("more than one GPU buffer holds"),
            "{message}"
        );
    }
}

/// A FIFO and a link to `/dev/zero` with image names are failures of their own: the run
/// neither blocks on the first nor reads the second forever.
#[cfg(unix)]
#[test]
fn classify_refuses_files_that_are_not_regular() {
    if common::runtime().is_none() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("classify-special-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("folder");
    let made = Command::new("mkfifo").arg(dir.join("fifo.png")).status();
    if !made.is_ok_and(|s| s.success()) {
        return;
    }
    std::os::unix::fs::symlink("/dev/zero", dir.join("zero.jpg")).expect("link");
    let output = cli(&[
        "classify",
        "--arch",
        "v3-small",
        "--resolution",
        "96",
        "--jsonl",
    ]
    .into_iter()
    .chain([dir.to_str().expect("a UTF-8 temp path")])
    .collect::<Vec<_>>());
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(output.status.code(), Some(1));
    let lines = String::from_utf8_lossy(&output.stdout).to_string();
    assert_eq!(lines.matches("not a regular file").count(), 2, "{lines}");
}

fn write_npy(path: &Path, shape: &[u64], values: &[f32]) {
    use npyz::WriterBuilder;
    let file = std::fs::File::create(path).expect("create .npy");
    let mut writer = npyz::WriteOptions::new()
        .default_dtype()
        .shape(shape)
        .writer(file)
        .begin_nd()
        .expect("npy header");
    writer.extend(values.iter().copied()).expect("npy data");
    writer.finish().expect("npy finish");
}

#[test]
fn classify_walks_a_folder_and_reports_bad_files_without_stopping() {
    if common::runtime().is_none() {
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = std::env::temp_dir().join(format!("classify-folder-{}", std::process::id()));
    let nested = dir.join("a").join("b");
    std::fs::create_dir_all(&nested).expect("folders");
    std::fs::copy(root.join("samples/chelsea.png"), dir.join("chelsea.png")).expect("copy");
    std::fs::copy(root.join("samples/coffee.png"), nested.join("coffee.PNG")).expect("copy");
    std::fs::write(dir.join("a/broken.jpg"), b"not a jpeg").expect("write");
    std::fs::write(dir.join("notes.txt"), b"skipped: not an image name").expect("write");
    let output = cli(&[
        "classify",
        "--arch",
        "v3-small",
        "--resolution",
        "96",
        "--jsonl",
        "--batch",
        "2",
        "--top",
        "2",
        &dir.display().to_string(),
    ]);
    std::fs::remove_dir_all(&dir).ok();
    // One bad file makes the exit status a failure, after every other file was classified.
    assert!(!output.status.success());
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    let names: Vec<&str> = lines.iter().map(|l| l["image"].as_str().unwrap()).collect();
    assert_eq!(names.len(), 3, "{names:?}");
    assert!(
        names[0].ends_with("a/b/coffee.PNG"),
        "sorted walk: {names:?}"
    );
    assert!(names[1].ends_with("a/broken.jpg"), "{names:?}");
    assert!(names[2].ends_with("chelsea.png"), "{names:?}");
    assert_eq!(lines[0]["top"].as_array().map(Vec::len), Some(2));
    assert!(lines[1]["error"]
        .as_str()
        .unwrap()
        .contains("not a PNG, JPEG or BMP"));
    assert_eq!(lines[2]["top"].as_array().map(Vec::len), Some(2));
    let summary = stderr(&output);
    assert!(summary.contains("2 of 3 images classified"), "{summary}");
    assert!(summary.contains("1 failed"), "{summary}");
    // The summary says why, once per file, even though the JSON lines said it too.
    let reasons: Vec<&str> = summary
        .lines()
        .filter(|l| l.starts_with("error: "))
        .collect();
    assert_eq!(reasons.len(), 1, "{summary}");
    assert!(reasons[0].contains("a/broken.jpg") && reasons[0].contains("not a PNG, JPEG or BMP"));
    assert_eq!(
        reasons[0].matches("broken.jpg").count(),
        1,
        "the path once: {summary}"
    );
}
