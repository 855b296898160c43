//! `mobilenet-wgpu profile` end to end on a small model: the table, the trace and the
//! chart agree with the plan that `info --json` describes.
//!
//! Needs a GPU adapter (lavapipe will do, run with `NODEVICE_SELECT=1`); without one the
//! tests print a note and pass, unless `CI=true`, where a missing adapter is a failure.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value;

const MODEL: [&str; 4] = ["--arch", "v2", "--resolution", "96"];

/// Runs the CLI with `args`; `None` when no adapter is available outside CI.
fn run(args: &[&str]) -> Option<Value> {
    let output = Command::new(env!("CARGO_BIN_EXE_mobilenet-wgpu"))
        .args(args)
        .env("NODEVICE_SELECT", "1")
        .output()
        .expect("the binary starts");
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() && stderr.contains("no GPU adapter") {
        let in_ci = std::env::var("CI").is_ok_and(|v| v == "true");
        assert!(!in_ci, "no GPU adapter in CI: {stderr}");
        eprintln!("note: skipping, no GPU adapter: {stderr}");
        return None;
    }
    assert!(output.status.success(), "{args:?} failed: {stderr}");
    Some(serde_json::from_slice(&output.stdout).expect("stdout is one JSON object"))
}

/// `info --json` of the test model.
fn info() -> &'static Value {
    static INFO: OnceLock<Value> = OnceLock::new();
    INFO.get_or_init(|| {
        let args = [&["info", "--json"][..], &MODEL].concat();
        run(&args).expect("info needs no GPU")
    })
}

/// One profile run writing all outputs: the `--json` report, the trace and the SVG.
struct Profiled {
    report: Value,
    trace: Value,
    svg: String,
}

/// Profiles once for all tests; `None` without an adapter.
fn profiled() -> Option<&'static Profiled> {
    static PROFILED: OnceLock<Option<Profiled>> = OnceLock::new();
    PROFILED
        .get_or_init(|| {
            let dir = scratch_dir("gpu-timestamps");
            let trace = dir.join("trace.json");
            let svg = dir.join("layers.svg");
            let utf8 = "temp paths are UTF-8";
            let (trace_arg, svg_arg) = (trace.to_str().expect(utf8), svg.to_str().expect(utf8));
            let args = [
                &["profile", "--json", "--runs", "2"][..],
                &MODEL,
                &["--trace", trace_arg, "--svg", svg_arg],
            ]
            .concat();
            let report = run(&args)?;
            let trace_text = std::fs::read_to_string(&trace).expect("trace written");
            Some(Profiled {
                report,
                trace: serde_json::from_str(&trace_text).expect("trace is valid JSON"),
                svg: std::fs::read_to_string(&svg).expect("chart written"),
            })
        })
        .as_ref()
}

fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "mobilenet-wgpu-profile-{}-{name}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn step_names(info: &Value) -> Vec<&str> {
    info["steps"]
        .as_array()
        .expect("info lists the plan's steps")
        .iter()
        .map(|s| s["name"].as_str().expect("step name"))
        .collect()
}

#[test]
fn trace_has_one_gpu_event_per_dispatch_in_time_order() {
    let Some(profiled) = profiled() else { return };
    let events = profiled.trace["traceEvents"]
        .as_array()
        .expect("traceEvents");
    let gpu_pid = events
        .iter()
        .find(|e| {
            e["ph"] == "M"
                && e["name"] == "process_name"
                && e["args"]["name"]
                    .as_str()
                    .is_some_and(|n| n.starts_with("GPU"))
        })
        .map(|e| e["pid"].clone())
        .expect("a named GPU track");
    let gpu: Vec<&Value> = events
        .iter()
        .filter(|e| e["ph"] == "X" && e["pid"] == gpu_pid)
        .collect();
    let names: Vec<&str> = gpu.iter().filter_map(|e| e["name"].as_str()).collect();
    assert_eq!(
        names,
        step_names(info()),
        "one GPU event per plan step, in order"
    );
    assert_eq!(gpu.len() as u64, info()["dispatches"].as_u64().unwrap());
    let starts: Vec<f64> = gpu.iter().map(|e| e["ts"].as_f64().unwrap()).collect();
    assert!(
        starts.windows(2).all(|w| w[0] <= w[1]),
        "GPU events out of order: {starts:?}"
    );
    assert!(gpu.iter().all(|e| e["dur"].as_f64().unwrap() >= 0.0));
    let cpu = events
        .iter()
        .filter(|e| e["ph"] == "X" && e["pid"] != gpu_pid);
    let cpu_names: Vec<&str> = cpu.filter_map(|e| e["name"].as_str()).collect();
    assert!(
        cpu_names.contains(&"upload input") && cpu_names.contains(&"submit"),
        "{cpu_names:?}"
    );
}

#[test]
fn layer_macs_sum_to_the_model_total_and_times_to_the_total() {
    let Some(profiled) = profiled() else { return };
    let report = &profiled.report;
    let layers = report["layers"].as_array().expect("layers");
    let macs: u64 = layers.iter().map(|l| l["macs"].as_u64().unwrap()).sum();
    assert_eq!(macs, info()["macs"].as_u64().unwrap());
    assert_eq!(report["total_macs"].as_u64(), Some(macs));
    assert_eq!(report["dispatches"], info()["dispatches"]);
    let times: f64 = layers.iter().map(|l| l["gpu_us"].as_f64().unwrap()).sum();
    let total = report["total_gpu_us"].as_f64().unwrap();
    assert!(
        total > 0.0 && (times - total).abs() <= 1e-6 * total,
        "{times} vs {total}"
    );
    let shares: f64 = layers.iter().map(|l| l["share"].as_f64().unwrap()).sum();
    assert!((shares - 1.0).abs() < 1e-9, "shares add up to {shares}");
}

#[test]
fn every_layer_names_its_shader_and_moves_bytes() {
    let Some(profiled) = profiled() else { return };
    for layer in profiled.report["layers"].as_array().unwrap() {
        let shader = layer["shader"].as_str().unwrap();
        assert!(shader.ends_with(".wgsl"), "{layer}");
        assert!(layer["workgroup_size"][0].as_u64().unwrap() > 0, "{layer}");
        assert!(layer["bytes_read"].as_u64().unwrap() > 0, "{layer}");
        assert!(layer["bytes_written"].as_u64().unwrap() > 0, "{layer}");
    }
    let top = profiled.report["kernels"].as_array().unwrap();
    assert!(!top.is_empty());
    let times: Vec<f64> = top.iter().map(|k| k["gpu_us"].as_f64().unwrap()).collect();
    assert!(
        times.windows(2).all(|w| w[0] >= w[1]),
        "slowest first: {times:?}"
    );
}

#[test]
fn timestamp_source_follows_the_device_features() {
    let Some(profiled) = profiled() else { return };
    let report = &profiled.report;
    let has_timestamps = report["device_features"]
        .as_str()
        .unwrap()
        .contains("TIMESTAMP_QUERY");
    let expected = if has_timestamps {
        "gpu-timestamps"
    } else {
        "wall-clock-per-dispatch"
    };
    assert_eq!(report["timestamp_source"], expected);
    assert!(!report["adapter"].as_str().unwrap().is_empty());
}

#[test]
fn svg_chart_is_well_formed_and_names_the_adapter() {
    let Some(profiled) = profiled() else { return };
    let doc = roxmltree::Document::parse(&profiled.svg).expect("the chart is well-formed XML");
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    let text: String = doc
        .descendants()
        .filter(|n| n.is_text())
        .filter_map(|n| n.text())
        .collect();
    let adapter = profiled.report["adapter"].as_str().unwrap();
    assert!(text.contains(adapter), "title names {adapter}");
    assert!(text.contains("block_1_expand"), "layers are labelled");
    let rects = doc.descendants().filter(|n| n.has_tag_name("rect")).count();
    let dispatches = info()["dispatches"].as_u64().unwrap() as usize;
    assert!(rects >= dispatches, "{rects} rects for {dispatches} bars");
}

#[test]
fn wall_clock_fallback_times_every_dispatch() {
    let args = [
        &["profile", "--json", "--runs", "1", "--wall-clock"][..],
        &MODEL,
    ]
    .concat();
    let Some(report) = run(&args) else { return };
    assert_eq!(report["timestamp_source"], "wall-clock-per-dispatch");
    let layers = report["layers"].as_array().unwrap();
    assert_eq!(layers.len() as u64, info()["dispatches"].as_u64().unwrap());
    assert!(layers.iter().all(|l| l["gpu_us"].as_f64().unwrap() > 0.0));
}

#[test]
fn zero_runs_is_a_usage_error() {
    let output = Command::new(env!("CARGO_BIN_EXE_mobilenet-wgpu"))
        .args([&["profile", "--runs", "0"][..], &MODEL].concat())
        .output()
        .expect("the binary starts");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("--runs"));
}

#[test]
fn kernels_are_rated_against_the_reference_gemm() {
    let Some(profiled) = profiled() else { return };
    let reference = &profiled.report["reference"];
    assert_eq!(
        reference["kernel"], "pointwise.wgsl:pointwise",
        "{reference}"
    );
    let reference_gflops = reference["gflops"].as_f64().unwrap();
    assert!(reference_gflops > 0.0, "{reference}");
    for kernel in profiled.report["kernels"].as_array().unwrap() {
        let of_reference = kernel["of_reference"].as_f64().unwrap();
        let gflops = kernel["gflops"].as_f64().unwrap();
        assert!(
            (of_reference * reference_gflops - gflops).abs() <= 1e-9 * gflops.max(1.0),
            "{kernel}"
        );
    }
}
