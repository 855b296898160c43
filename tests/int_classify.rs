//! The whole pipeline in int8, file to probabilities: `classify --precision int8` on every
//! shared photo with every quantized shared model prints exactly what PIL + LiteRT's
//! reference kernels give (`../shared/expected/tflite_top5_builtin_ref.tsv`): the same five
//! classes in the same order, with the same probabilities (multiples of 1/256).

mod common;

use std::collections::BTreeMap;
use std::process::Command;

/// (class, probability) of the top 5 per (model, image file name), from the TSV.
type Top5 = BTreeMap<(String, String), Vec<(usize, f64)>>;

fn expected(shared: &std::path::Path) -> Top5 {
    let text = std::fs::read_to_string(shared.join("expected/tflite_top5_builtin_ref.tsv"))
        .expect("tflite_top5_builtin_ref.tsv");
    let mut top5 = Top5::new();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split('\t').collect();
        if f[0].ends_with("_float") {
            continue; // no integer form: int8 refuses float files
        }
        let entry = (f[3].parse().unwrap(), f[5].parse().unwrap());
        top5.entry((f[0].to_string(), f[1].to_string()))
            .or_default()
            .push(entry);
    }
    top5
}

/// The `--model` arguments of a model named as in the TSV (`a+b` chains two files).
fn model_args(name: &str) -> Vec<String> {
    let files = match name.split_once('+') {
        Some((first, second)) => {
            let prefix = first
                .rsplit_once("_embedding_extractor")
                .map_or(first, |p| p.0);
            vec![first.to_string(), format!("{prefix}_{second}")]
        }
        None => vec![name.to_string()],
    };
    files
        .into_iter()
        .flat_map(|f| ["--model".to_string(), f])
        .collect()
}

#[test]
fn classify_in_int8_prints_tflites_reference_top5_exactly() {
    let (Some(shared), Some(_)) = (common::shared_dir(), common::runtime()) else {
        return;
    };
    let expected = expected(&shared);
    let mut models: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (model, image) in expected.keys() {
        models.entry(model).or_default().push(image);
    }
    assert_eq!(models.len(), 10, "every quantized shared model");
    for (model, images) in models {
        let paths: Vec<String> = images
            .iter()
            .map(|i| shared.join("images").join(i).display().to_string())
            .collect();
        let output = Command::new(env!("CARGO_BIN_EXE_mobilenet-wgpu"))
            .args(["classify", "--precision", "int8", "--jsonl"])
            .args(model_args(model))
            .args(&paths)
            .env("MOBILENET_WGPU_MODELS", shared.join("models"))
            .output()
            .expect("runs");
        assert!(
            output.status.success(),
            "{model}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let lines = String::from_utf8(output.stdout).unwrap();
        let mut checked = 0;
        for line in lines.lines() {
            let json: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
            let Some(top) = json["top"].as_array() else {
                continue; // the summary line
            };
            let path = json["image"].as_str().unwrap();
            let image = path.rsplit('/').next().unwrap();
            let ours: Vec<(usize, f64)> = top
                .iter()
                .map(|c| {
                    (
                        c["index"].as_u64().unwrap() as usize,
                        c["probability"].as_f64().unwrap(),
                    )
                })
                .collect();
            let theirs = &expected[&(model.to_string(), image.to_string())];
            assert_eq!(&ours, theirs, "{model} on {image}");
            checked += 1;
        }
        assert_eq!(checked, images.len(), "{model}: every photo classified");
    }
}
