//! `bench/gpu/run.sh`, the script that measures a lent GPU, run here on the test adapter
//! with small settings so that it is known to work before it meets a GPU.

mod common;

use std::process::Command;

#[test]
fn the_gpu_benchmark_script_writes_its_table() {
    if common::runtime().is_none() {
        return;
    }
    let root = env!("CARGO_MANIFEST_DIR");
    let out = std::env::temp_dir().join(format!("gpu-bench-{}", std::process::id()));
    let status = Command::new("bash")
        .arg(format!("{root}/bench/gpu/run.sh"))
        .arg(&out)
        .current_dir(root)
        .env("BIN", env!("CARGO_BIN_EXE_mobilenet-wgpu"))
        .env("ARCHS", "v3-small")
        .env("BATCHES", "2")
        .env("IN_FLIGHT", "1 2")
        .env("PRECISIONS", "f64 f32")
        .env("PROFILE_BATCHES", "1")
        .env("PROFILE_PRECISIONS", "f32")
        .env("PROFILE_ARCH", "v3-small")
        .env(
            "INT8_MODELS",
            format!("{root}/fuzz/corpus/tflite/v2_like_uint8.tflite"),
        )
        .env("INT8_BATCHES", "2")
        .env("RUNS", "2")
        .env("WARMUP", "1")
        .env("NODEVICE_SELECT", "1")
        .status()
        .expect("bash runs the script");
    assert!(status.success());
    let table = std::fs::read_to_string(out.join("gpu-benchmark.md")).expect("the table");
    let rows: Vec<&str> = table
        .lines()
        .filter(|l| l.starts_with("| v3-small"))
        .collect();
    assert_eq!(rows.len(), 4, "{table}");
    // The impossible configuration runs first; its rows still come after the header.
    let header = table.find("| model |").expect("a table header");
    assert!(
        rows.iter().all(|row| table.find(row) > Some(header)),
        "{table}"
    );
    let (failed, measured): (Vec<&str>, Vec<&str>) =
        rows.iter().partition(|row| row.contains("failed: "));
    // An impossible configuration is a row saying why, and the run went on.
    assert_eq!(failed.len(), 2, "{table}");
    assert!(failed.iter().all(|row| row.contains("f64")), "{table}");
    // f32 rows are measured, one and two in flight: 11 cells, a positive median.
    let mut in_flight = Vec::new();
    for row in &measured {
        let cells: Vec<&str> = row.trim_matches('|').split('|').map(str::trim).collect();
        assert_eq!(cells.len(), 11, "{row}");
        in_flight.push(cells[4]);
        let median: f64 = cells[6].parse().expect("median ms");
        assert!(median > 0.0, "{row}");
    }
    assert_eq!(in_flight, ["1", "2"], "{table}");
    // The quantized file's int8 rows, measured, after the built-in architecture's.
    let int8: Vec<&str> = table
        .lines()
        .filter(|l| l.starts_with("| v2_like_uint8 | int8 |"))
        .collect();
    assert_eq!(int8.len(), 2, "{table}");
    assert!(int8.iter().all(|row| !row.contains("failed")), "{table}");
    assert!(table.find(int8[0]) > table.find(rows[3]), "{table}");
    assert!(table.contains("Adapter: **"), "{table}");
    assert!(
        table.contains("## profile --arch v3-small --batch 1 --precision f32"),
        "{table}"
    );
    assert!(table.contains("kernel efficiency"), "{table}");
    std::fs::remove_dir_all(&out).ok();
}
