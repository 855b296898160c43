//! Replays the committed fuzz corpus (`fuzz/corpus/<target>/`) through the same checks the
//! fuzz targets run, on the stable toolchain: every input that once found a crash, and the
//! seeds, must keep passing. Fuzzing itself: `cargo +nightly fuzz run <target>` (RELIABILITY.md).

#[path = "../fuzz/src/lib.rs"]
mod checks;
mod common;

use mobilenet_wgpu::{Error, Precision};
use std::path::{Path, PathBuf};

fn corpus(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target)
}

fn replay(target: &str, check: fn(&[u8])) {
    let dir = corpus(target);
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

/// The folders the GPU replays read: the committed corpus of `targets`, or the one folder
/// `FUZZ_GPU_CORPUS` names (e.g. what a fuzzing run found, `fuzz/work/tflite`).
fn gpu_corpus(targets: &[&str]) -> Vec<PathBuf> {
    match std::env::var_os("FUZZ_GPU_CORPUS") {
        Some(dir) => vec![dir.into()],
        None => targets.iter().map(|target| corpus(target)).collect(),
    }
}

/// Every model of the corpus the importers accept also runs on the GPU, in both kernel
/// families, without a panic, and agrees with the CPU reference wherever the CPU's values
/// are finite (mutated weights can overflow); `FUZZ_GPU_CORPUS` (see `gpu_corpus`).
#[test]
fn accepted_models_run_on_the_gpu_like_the_cpu_reference() {
    use mobilenet_wgpu::plan::{KernelChoice, KernelFamily, Plan};
    use mobilenet_wgpu::verify::{random_input, verify_graph};
    let Some(runtime) = common::runtime() else {
        return;
    };
    let (mut ran, mut compared) = (0, 0);
    for dir in gpu_corpus(&["tflite", "onnx"]) {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let bytes = std::fs::read(&path).unwrap();
            let Ok(model) = mobilenet_wgpu::import::parse(&bytes, "corpus") else {
                continue;
            };
            let graph = &model.graph;
            if !checks::small_enough_for_the_cpu(graph) {
                continue;
            }
            let input = random_input(graph, 1, 3);
            let ctx = runtime.context();
            for (kernels, family) in [
                (KernelChoice::CpuAdapter, KernelFamily::CpuAdapter),
                (KernelChoice::Gpu, KernelFamily::Gpu),
            ] {
                ran += 1;
                let report = match verify_graph(ctx, graph, 1, &input, Precision::F32, kernels) {
                    Ok(report) => report,
                    // A model beyond this adapter's limits is refused, not failed; so is
                    // one the planner refuses (a fuzzer's model that computes nothing),
                    // whose one-line error the fuzz checks assert.
                    Err(Error::DeviceLimit(_)) => continue,
                    Err(_) if Plan::build_for(graph, 1, Precision::F32, family).is_err() => {
                        continue
                    }
                    Err(e) => panic!("{} ({kernels:?}): {e}", path.display()),
                };
                let finite = mobilenet_wgpu::cpu::run(graph, &input, 1)
                    .unwrap()
                    .iter()
                    .all(|t| t.iter().all(|v| v.is_finite()));
                if finite {
                    compared += 1;
                    assert!(
                        report.passed,
                        "{} ({kernels:?}): {report:?}",
                        path.display()
                    );
                }
            }
        }
    }
    eprintln!("{ran} GPU runs, {compared} compared with the CPU reference");
    assert!(compared >= 4, "only {compared} corpus models were compared");
}

/// Every corpus model with an integer form runs in int8 on the GPU, with either kernel
/// family, exactly like the integer CPU reference; the others are refused with an error,
/// not a panic (`gpu_corpus`).
#[test]
fn accepted_quantized_models_run_in_int8_like_the_integer_reference() {
    use mobilenet_wgpu::plan::{KernelChoice, KernelFamily, Plan};
    use mobilenet_wgpu::verify::{random_input, verify_graph};
    let Some(runtime) = common::runtime() else {
        return;
    };
    let mut compared = 0;
    let files = gpu_corpus(&["tflite"])
        .into_iter()
        .flat_map(|dir| std::fs::read_dir(dir).unwrap());
    for entry in files {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        let Ok(model) = mobilenet_wgpu::import::parse(&bytes, "corpus") else {
            continue;
        };
        let graph = &model.graph;
        if !checks::small_enough_for_the_cpu(graph) {
            continue;
        }
        let input = random_input(graph, 2, 3);
        let ctx = runtime.context();
        for (choice, family) in [
            (KernelChoice::CpuAdapter, KernelFamily::CpuAdapter),
            (KernelChoice::Gpu, KernelFamily::Gpu),
        ] {
            match verify_graph(ctx, graph, 2, &input, Precision::Int8, choice) {
                Ok(report) => {
                    compared += 1;
                    assert!(report.passed, "{} ({choice:?}): {report:?}", path.display());
                }
                Err(Error::DeviceLimit(_)) => {}
                // Float files are refused up front; a quantized one must run unless the
                // planner refuses it (a fuzzer's file with a float layer, or one computing
                // nothing).
                Err(e) => assert!(
                    mobilenet_wgpu::quant::lower::input_grid(graph).is_err()
                        || Plan::build_for(graph, 2, Precision::Int8, family).is_err(),
                    "{} ({choice:?}): {e}",
                    path.display()
                ),
            }
        }
    }
    eprintln!("{compared} int8 runs of quantized corpus models compared");
    assert!(compared >= 1, "no quantized corpus model ran in int8");
}
