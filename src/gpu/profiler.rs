//! Per-dispatch GPU timing of a plan (what `mobilenet-wgpu profile` prints).
//!
//! Every dispatch gets its own compute pass whose start and end write GPU timestamps
//! (wgpu's `TIMESTAMP_QUERY`), so a step's time is the GPU's own clock around exactly that
//! dispatch. Devices without timestamp queries fall back to the host clock around a
//! submit-and-wait of each dispatch alone, which adds the submission and wake-up latency
//! to every step; [`Profile::timestamp_source`] says which one was used.

mod figures;
mod timing;
mod trace;

use std::time::Instant;

use super::context::GpuContext;
use super::executor::Executor;
use crate::error::{Error, Result};
use crate::graph::Graph;
use crate::plan::Plan;

pub use figures::StepFigures;

/// How dispatches are timed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Timing {
    /// GPU timestamps where the device supports them, else the host clock.
    #[default]
    Auto,
    /// The host clock around a submit-and-wait of each dispatch, even where timestamps
    /// are available (to compare the two, or to rule out a driver's timestamp bugs).
    WallClock,
}

/// Which clock produced the per-step times.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TimestampSource {
    GpuTimestamps,
    WallClockPerDispatch,
}

impl TimestampSource {
    /// The name used in tables and JSON: `gpu-timestamps` or `wall-clock-per-dispatch`.
    pub fn as_str(self) -> &'static str {
        match self {
            TimestampSource::GpuTimestamps => "gpu-timestamps",
            TimestampSource::WallClockPerDispatch => "wall-clock-per-dispatch",
        }
    }
}

/// What to measure.
#[derive(Clone, Copy, Debug)]
pub struct ProfileOptions {
    /// Timed runs averaged per step, after one untimed warm-up run (at least 1).
    pub runs: usize,
    pub timing: Timing,
}

/// One step's figures and its mean GPU time.
#[derive(Clone, Debug, serde::Serialize)]
pub struct StepProfile {
    #[serde(flatten)]
    pub figures: StepFigures,
    /// Mean time of the dispatch over the timed runs, in microseconds.
    pub gpu_us: f64,
}

impl StepProfile {
    /// Arithmetic rate over the whole batch: 2 FLOPs per MAC.
    pub fn gflops(&self, batch: usize) -> f64 {
        rate(2.0 * (self.figures.macs * batch) as f64, self.gpu_us)
    }

    /// Effective bandwidth of the compulsory traffic (reads + writes).
    pub fn gigabytes_per_second(&self) -> f64 {
        let bytes = self.figures.bytes_read + self.figures.bytes_written;
        rate(bytes as f64, self.gpu_us)
    }
}

/// Units per microsecond / 1000 = giga-units per second; zero for a zero time.
fn rate(units: f64, micros: f64) -> f64 {
    if micros > 0.0 {
        units / micros / 1e3
    } else {
        0.0
    }
}

/// One span on a trace track, in microseconds since the start of its run.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Span {
    pub name: String,
    pub start_us: f64,
    pub duration_us: f64,
}

/// The last timed run as it happened, starting at zero: host work on one track,
/// dispatches on the other (`gpu[i]` is step `i`). GPU timestamps are placed on the host clock at the submit
/// call, so the offset between the tracks is approximate; durations are exact.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Timeline {
    pub cpu: Vec<Span>,
    pub gpu: Vec<Span>,
}

impl Timeline {
    /// Shifts every span so that the run starts at time zero.
    fn rebase(&mut self) {
        let spans = || self.cpu.iter().chain(&self.gpu);
        let start = spans().map(|s| s.start_us).fold(f64::INFINITY, f64::min);
        if start.is_finite() {
            for span in self.cpu.iter_mut().chain(self.gpu.iter_mut()) {
                span.start_us -= start;
            }
        }
    }
}

/// The result of [`profile`].
#[derive(Clone, Debug, serde::Serialize)]
pub struct Profile {
    pub adapter: String,
    pub backend: String,
    /// The device's enabled features, e.g. `TIMESTAMP_QUERY | SHADER_F16`.
    pub device_features: String,
    pub batch: usize,
    pub runs: usize,
    pub timestamp_source: TimestampSource,
    /// Nanoseconds per timestamp tick (0 without timestamps).
    pub timestamp_period_ns: f32,
    pub steps: Vec<StepProfile>,
    /// Mean host time of a whole profiled run, upload to readback, in microseconds.
    pub run_wall_us: f64,
    pub timeline: Timeline,
}

impl Profile {
    /// Sum of the steps' mean GPU times, in microseconds.
    pub fn total_gpu_us(&self) -> f64 {
        self.steps.iter().map(|s| s.gpu_us).sum()
    }

    /// Sum of the steps' MACs per image.
    pub fn total_macs(&self) -> usize {
        self.steps.iter().map(|s| s.figures.macs).sum()
    }
}

/// Times every dispatch of `plan` (built from `graph`) on `input`: one warm-up run (drivers
/// may compile shaders on first use), then `options.runs` timed runs averaged per step.
pub fn profile(
    ctx: &GpuContext,
    graph: &Graph,
    plan: &Plan,
    input: &[f32],
    options: ProfileOptions,
) -> Result<Profile> {
    if options.runs == 0 {
        return Err(Error::InvalidArgument("runs must be at least 1".into()));
    }
    let figures = figures::step_figures(&ctx.device.limits(), graph, plan)?;
    let executor = Executor::new(ctx, plan)?;
    let names: Vec<String> = figures.iter().map(|f| f.name.clone()).collect();
    let source = choose_source(ctx, options.timing);
    let timer = timing::Timer::new(ctx, &executor, &names, source)?;
    let origin = Instant::now();
    timer.run(input, origin)?;
    let mut totals = vec![0.0; names.len()];
    let mut wall_us = 0.0;
    let mut timeline = Timeline::default();
    for _ in 0..options.runs {
        let run = timer.run(input, origin)?;
        for (total, span) in totals.iter_mut().zip(&run.gpu) {
            *total += span.duration_us;
        }
        wall_us += run.cpu.last().map_or(0.0, |s| s.start_us + s.duration_us)
            - run.cpu.first().map_or(0.0, |s| s.start_us);
        timeline = run;
    }
    timeline.rebase();
    let runs = options.runs as f64;
    let steps = figures
        .into_iter()
        .zip(totals)
        .map(|(figures, total)| StepProfile {
            figures,
            gpu_us: total / runs,
        })
        .collect();
    let info = &ctx.adapter_info;
    Ok(Profile {
        adapter: info.name.clone(),
        backend: info.backend.to_str().to_string(),
        device_features: ctx.device.features().to_string(),
        batch: plan.batch,
        runs: options.runs,
        timestamp_source: source,
        timestamp_period_ns: match source {
            TimestampSource::GpuTimestamps => ctx.queue.get_timestamp_period(),
            TimestampSource::WallClockPerDispatch => 0.0,
        },
        steps,
        run_wall_us: wall_us / runs,
        timeline,
    })
}

fn choose_source(ctx: &GpuContext, timing: Timing) -> TimestampSource {
    let has_timestamps = ctx
        .device
        .features()
        .contains(wgpu::Features::TIMESTAMP_QUERY);
    match timing {
        Timing::Auto if has_timestamps => TimestampSource::GpuTimestamps,
        _ => TimestampSource::WallClockPerDispatch,
    }
}
