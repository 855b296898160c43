//! The CLI's own output streams: a reader that goes away early (`| head`) and an
//! unwritable standard output, and the documented exit codes (0, 1, 2).

use std::process::{Command, Stdio};

fn command(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mobilenet-wgpu"));
    command
        .args(args)
        .env("NODEVICE_SELECT", "1")
        .env("MOBILENET_WGPU_OFFLINE", "1");
    command
}

/// `info` into a pipe whose reader is already closed: a quiet success, no panic.
#[test]
fn a_closed_stdout_ends_the_run_quietly() {
    for json in [true, false] {
        let (reader, writer) = std::io::pipe().expect("a pipe");
        drop(reader);
        let mut args = vec!["info", "--arch", "v2"];
        if json {
            args.push("--json");
        }
        let output = command(&args)
            .stdout(writer)
            .stderr(Stdio::piped())
            .output()
            .expect("the binary runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(output.status.success(), "{:?}: {stderr}", output.status);
    }
}

#[cfg(target_os = "linux")]
#[test]
fn an_unwritable_stdout_is_a_one_line_error() {
    let full = std::fs::File::create("/dev/full").expect("/dev/full");
    let output = command(&["info", "--arch", "v3-small"])
        .stdout(full)
        .output()
        .expect("the binary runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("error: standard output"), "{stderr}");
}

#[test]
fn usage_errors_exit_with_2_and_bad_input_with_1() {
    let usage = command(&["info", "--no-such-flag"]).output().expect("runs");
    assert_eq!(usage.status.code(), Some(2));
    let missing = command(&["info", "--model", "/no/such/model.tflite"])
        .output()
        .expect("runs");
    assert_eq!(missing.status.code(), Some(1));
    let help = command(&["--help"]).output().expect("runs");
    assert_eq!(help.status.code(), Some(0));
}

/// `info --json` counts each tensor's bytes at the plan's storage precision, as the slots
/// are sized: V2's first convolution writes 112×112×32 values, two bytes each in f16.
#[test]
fn info_counts_tensor_bytes_at_the_storage_precision() {
    for (precision, bytes) in [("f32", 4), ("f16", 2)] {
        let output = command(&["info", "--arch", "v2", "--json", "--precision", precision])
            .output()
            .expect("the binary runs");
        assert!(output.status.success(), "{precision}");
        let info: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
        let written = &info["steps"][0]["output"]["bytes"];
        assert_eq!(
            written.as_u64(),
            Some(112 * 112 * 32 * bytes),
            "{precision}"
        );
    }
}
