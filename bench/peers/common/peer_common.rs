//! Shared by the peer binaries (included with `#[path]`, since burn and wonnx live in
//! separate cargo projects): reading the exporter's files, timing, and the result line
//! that `run.sh` turns into a table row.

use std::path::Path;
use std::time::Instant;

pub type AnyResult<T> = Result<T, Box<dyn std::error::Error>>;

/// Untimed runs after the first one.
pub const WARMUP: usize = 3;
/// Timed runs; the median is reported.
pub const RUNS: usize = 20;

/// An f32 .npy file: its shape and values (C order).
pub fn read_npy(path: &Path) -> AnyResult<(Vec<usize>, Vec<f32>)> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let npy = npyz::NpyFile::new(&bytes[..])?;
    let shape = npy.shape().iter().map(|&d| d as usize).collect();
    Ok((shape, npy.into_vec::<f32>()?))
}

/// NHWC 1×H×W×C values to NCHW.
pub fn nhwc_to_nchw(shape: &[usize], data: &[f32]) -> Vec<f32> {
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

/// Runs `infer` WARMUP times untimed, then RUNS timed; returns the median in ms.
pub fn median_ms(mut infer: impl FnMut() -> AnyResult<Vec<f32>>) -> AnyResult<f64> {
    for _ in 0..WARMUP {
        infer()?;
    }
    let mut samples = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let start = Instant::now();
        infer()?;
        samples.push(elapsed_ms(start));
    }
    samples.sort_by(f64::total_cmp);
    Ok((samples[RUNS / 2 - 1] + samples[RUNS / 2]) / 2.0)
}

/// What one peer measured; `print` emits the line `run.sh` parses.
pub struct PeerResult {
    pub runtime: &'static str,
    pub version: &'static str,
    pub adapter: String,
    pub load_ms: f64,
    pub first_ms: f64,
    pub median_ms: f64,
    pub output: Vec<f32>,
    pub ours: Vec<f32>,
}

impl PeerResult {
    pub fn print(&self) {
        let max_diff = self
            .output
            .iter()
            .zip(&self.ours)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        println!(
            "{} {}: load {:.1} ms, first run {:.1} ms, median of {RUNS} {:.1} ms, \
             max |peer - ours| {max_diff:.3e}, argmax peer {} ours {}",
            self.runtime,
            self.version,
            self.load_ms,
            self.first_ms,
            self.median_ms,
            argmax(&self.output),
            argmax(&self.ours)
        );
        println!(
            "RESULT|{}|{}|{}|{:.1}|{:.1}|{:.1}|{max_diff:.1e}",
            self.runtime, self.version, self.adapter, self.load_ms, self.first_ms, self.median_ms
        );
    }
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
