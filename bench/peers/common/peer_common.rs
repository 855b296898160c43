//! Shared by the peer binaries (included with `#[path]`, since burn and wonnx live in
//! separate cargo projects): reading the exporter's files, timing, checking against our
//! output, and the result line that `run.sh` turns into a table row.

use std::path::{Path, PathBuf};
use std::time::Instant;

pub type AnyResult<T> = Result<T, Box<dyn std::error::Error>>;

/// Largest accepted |peer - ours| on the softmax output (the benchmark issue's bound).
const MAX_ABS_DIFF: f32 = 1e-3;
/// Largest accepted |peer - ours| as a fraction of max |ours|. With seed-0 random weights
/// V3's softmax is nearly flat (top probability ~5e-3), so the absolute bound alone would
/// accept most wrong outputs; relative to the top probability it bounds the logit error.
const MAX_REL_DIFF: f32 = 1e-3;

/// The export directory, the binary's only argument.
pub fn data_dir(binary: &str) -> AnyResult<PathBuf> {
    let dir = std::env::args()
        .nth(1)
        .ok_or(format!("usage: {binary} <export-dir>"))?;
    Ok(PathBuf::from(dir))
}

/// A count from the environment (`RUNS`, `WARMUP`, as `run.sh` exports them).
fn env_count(name: &str, default: usize) -> AnyResult<usize> {
    match std::env::var(name) {
        Ok(text) => Ok(text.parse().map_err(|e| format!("{name}={text}: {e}"))?),
        Err(_) => Ok(default),
    }
}

/// Timed runs (`RUNS`, default 20); the median is reported.
pub fn runs() -> AnyResult<usize> {
    match env_count("RUNS", 20)? {
        0 => Err("RUNS must be at least 1".into()),
        n => Ok(n),
    }
}

/// Untimed runs after the first one (`WARMUP`, default 3).
pub fn warmup() -> AnyResult<usize> {
    env_count("WARMUP", 3)
}

/// The adapter name `run.sh` got from our exporter (peers use the same default adapter).
pub fn adapter() -> String {
    std::env::var("PEER_ADAPTER").unwrap_or_else(|_| "default".into())
}

/// An f32 .npy file: its shape and values (C order).
pub fn read_npy(path: &Path) -> AnyResult<(Vec<usize>, Vec<f32>)> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let npy = npyz::NpyFile::new(&bytes[..])?;
    let shape = npy.shape().iter().map(|&d| d as usize).collect();
    Ok((shape, npy.into_vec::<f32>()?))
}

/// `input.npy` converted to NCHW, and `ours.npy`.
pub fn read_input_and_ours(dir: &Path) -> AnyResult<(Vec<f32>, Vec<f32>)> {
    let (shape, input) = read_npy(&dir.join("input.npy"))?;
    let (_, ours) = read_npy(&dir.join("ours.npy"))?;
    Ok((nhwc_to_nchw(&shape, &input), ours))
}

/// NHWC 1×H×W×C values to NCHW.
fn nhwc_to_nchw(shape: &[usize], data: &[f32]) -> Vec<f32> {
    let (h, w, c) = (shape[1], shape[2], shape[3]);
    let mut out = vec![0.0; data.len()];
    for (index, value) in data.iter().enumerate() {
        let (channel, pixel) = (index % c, index / c);
        out[channel * h * w + pixel] = *value;
    }
    out
}

/// Milliseconds since `start`.
pub fn elapsed_ms(start: Instant) -> f64 {
    start.elapsed().as_secs_f64() * 1e3
}

/// Runs `infer` `warmup()` times untimed, then `runs()` timed; returns the median in ms
/// (interpolated between the two middle samples for an even count, like ours).
pub fn median_ms(mut infer: impl FnMut() -> AnyResult<Vec<f32>>) -> AnyResult<f64> {
    for _ in 0..warmup()? {
        infer()?;
    }
    let runs = runs()?;
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        infer()?;
        samples.push(elapsed_ms(start));
    }
    samples.sort_by(f64::total_cmp);
    Ok((samples[(runs - 1) / 2] + samples[runs / 2]) / 2.0)
}

/// What one peer measured; `report` emits the line `run.sh` parses.
pub struct PeerResult {
    pub runtime: &'static str,
    pub version: &'static str,
    pub load_ms: f64,
    pub first_ms: f64,
    pub median_ms: f64,
    pub output: Vec<f32>,
    pub ours: Vec<f32>,
}

impl PeerResult {
    /// Prints the result, then fails if the output is not ours within the tolerances.
    pub fn report(&self) -> AnyResult<()> {
        if self.output.len() != self.ours.len() {
            let (peer, ours) = (self.output.len(), self.ours.len());
            return Err(format!("{}: {peer} outputs, ours has {ours}", self.runtime).into());
        }
        let max_diff = max_abs_diff(&self.output, &self.ours);
        let rel_diff = max_diff / self.ours.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        eprintln!(
            "{} {}: load {:.1} ms, first run {:.1} ms, median of {} {:.1} ms, \
             max |peer - ours| {max_diff:.3e} ({rel_diff:.1e} of max |ours|), \
             argmax peer {} ours {}",
            self.runtime,
            self.version,
            self.load_ms,
            self.first_ms,
            runs()?,
            self.median_ms,
            argmax(&self.output),
            argmax(&self.ours)
        );
        println!(
            "RESULT|{}|{}|{}|{:.1}|{:.1}|{:.1}|{max_diff:.1e} ({rel_diff:.0e} rel.)",
            self.runtime,
            self.version,
            adapter(),
            self.load_ms,
            self.first_ms,
            self.median_ms
        );
        // NaN compares false, so test for "within" rather than "beyond".
        if max_diff <= MAX_ABS_DIFF && rel_diff <= MAX_REL_DIFF {
            Ok(())
        } else {
            Err(format!(
                "{}: output differs from ours by {max_diff:e} ({rel_diff:e} of max |ours|); \
                 bounds {MAX_ABS_DIFF:e} and {MAX_REL_DIFF:e} relative",
                self.runtime
            )
            .into())
        }
    }
}

/// The table row of a model a peer cannot run, with the reason in the |Δ| column.
#[allow(dead_code)] // burn_peer runs every exported model; only wonnx_peer needs this.
pub fn report_unsupported(runtime: &str, version: &str, reason: &str) {
    eprintln!("{runtime} {version}: {reason}");
    println!("RESULT|{runtime}|{version}|{}|–|–|–|{reason}", adapter());
}

/// Largest |a - b|; NaN if any difference is NaN (`f32::max` would drop it).
fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    let mut max = 0.0f32;
    for (x, y) in a.iter().zip(b) {
        let diff = (x - y).abs();
        if diff.is_nan() {
            return f32::NAN;
        }
        max = max.max(diff);
    }
    max
}

fn argmax(values: &[f32]) -> usize {
    let mut best = 0;
    for (index, value) in values.iter().enumerate() {
        if *value > values[best] {
            best = index;
        }
    }
    best
}
