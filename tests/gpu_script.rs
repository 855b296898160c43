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
        .env("PRECISIONS", "f32 f64")
        .env("PROFILE_BATCHES", "1")
        .env("PROFILE_ARCH", "v3-small")
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
    // f32 rows are measured, one and two in flight: 11 cells, a positive median.
    for (row, in_flight) in rows[..2].iter().zip(["1", "2"]) {
        let cells: Vec<&str> = row.trim_matches('|').split('|').map(str::trim).collect();
        assert_eq!(cells.len(), 11, "{row}");
        assert_eq!(cells[4], in_flight, "{row}");
        let median: f64 = cells[6].parse().expect("median ms");
        assert!(median > 0.0, "{row}");
    }
    // An impossible configuration is a row saying why, and the run went on.
    assert!(
        rows[2].contains("failed: ") && rows[2].contains("f64"),
        "{}",
        rows[2]
    );
    assert!(table.contains("Adapter: **"), "{table}");
    assert!(
        table.contains("## profile --arch v3-small --batch 1"),
        "{table}"
    );
    assert!(table.contains("kernel efficiency"), "{table}");
    std::fs::remove_dir_all(&out).ok();
}
