//! Timing inferences: one at a time or several in flight, and summarising the samples.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use mobilenet_wgpu::gpu::{CpuCost, Executor, InFlight};
use mobilenet_wgpu::Result;

/// Timed runs expected to take longer than this get a progress bar.
const PROGRESS_THRESHOLD: Duration = Duration::from_secs(1);

/// Summary of a set of latency samples.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct LatencyStats {
    pub min: f64,
    pub median: f64,
    pub p90: f64,
    pub max: f64,
}

impl LatencyStats {
    /// Summarises `samples` (any order); `None` when there are none.
    pub fn from_samples(samples: &[f64]) -> Option<Self> {
        if samples.is_empty() {
            return None;
        }
        let mut sorted = samples.to_vec();
        sorted.sort_by(f64::total_cmp);
        Some(LatencyStats {
            min: sorted[0],
            median: percentile(&sorted, 0.5),
            p90: percentile(&sorted, 0.9),
            max: sorted[sorted.len() - 1],
        })
    }
}

/// The value at fraction `q` of non-empty `sorted`, interpolating linearly between the
/// two nearest ranks (NumPy's default), so small sample counts still give stable values.
fn percentile(sorted: &[f64], q: f64) -> f64 {
    let rank = q * (sorted.len() - 1) as f64;
    let below = rank.floor() as usize;
    let above = rank.ceil() as usize;
    sorted[below] + (sorted[above] - sorted[below]) * (rank - below as f64)
}

/// One inference of `--batch` images: `submissions` queued runs of the executor's plan (a
/// batch over the binding limit runs as several submissions, as a session runs it).
pub(super) struct Inference<'a> {
    pub executor: &'a Executor,
    pub input: Vec<f32>,
    pub submissions: usize,
}

/// What one inference cost, in milliseconds.
#[derive(Clone, Copy, Debug)]
pub(super) struct Sample {
    /// From queueing it to holding its output.
    pub latency_ms: f64,
    pub upload_ms: f64,
    pub encode_ms: f64,
    pub submit_ms: f64,
}

/// An inference queued at `start`.
struct Queued {
    start: Instant,
    parts: Vec<InFlight>,
}

impl Inference<'_> {
    fn queue(&self) -> Result<Queued> {
        let start = Instant::now();
        let parts = (0..self.submissions)
            .map(|_| self.executor.queue(&self.input))
            .collect::<Result<_>>()?;
        Ok(Queued { start, parts })
    }

    /// Runs it alone, end to end (upload, dispatches, readback).
    pub fn time(&self) -> Result<Sample> {
        self.queue()?.finish()
    }
}

impl Queued {
    fn finish(self) -> Result<Sample> {
        let mut cpu = CpuCost::default();
        for part in self.parts {
            cpu = cpu + part.cpu_cost();
            part.wait()?;
        }
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        Ok(Sample {
            latency_ms: elapsed_ms(self.start),
            upload_ms: ms(cpu.upload),
            encode_ms: ms(cpu.encode),
            submit_ms: ms(cpu.submit),
        })
    }
}

/// The timed runs: their samples and their wall time in milliseconds.
pub(super) struct Timed {
    pub samples: Vec<Sample>,
    pub wall_ms: f64,
}

/// Runs `warmup` untimed inferences, then `runs` timed ones, keeping up to `in_flight`
/// queued at once; `estimate_ms` (one inference) decides whether to show a progress bar.
pub(super) fn measure(
    inference: &Inference,
    warmup: usize,
    runs: usize,
    in_flight: usize,
    estimate_ms: f64,
) -> Result<Timed> {
    let warm = stream(inference, warmup, in_flight, &ProgressBar::hidden())?;
    let estimate_ms = warm.samples.first().map_or(estimate_ms, |s| s.latency_ms);
    let expected = Duration::from_secs_f64(estimate_ms * runs as f64 / 1e3);
    let bar = progress_bar(runs, expected);
    let timed = stream(inference, runs, in_flight, &bar)?;
    bar.finish_and_clear();
    Ok(timed)
}

/// Runs `runs` inferences, queueing the next whenever fewer than `in_flight` are queued.
fn stream(
    inference: &Inference,
    runs: usize,
    in_flight: usize,
    bar: &ProgressBar,
) -> Result<Timed> {
    let start = Instant::now();
    let mut queued = VecDeque::with_capacity(in_flight.min(runs));
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs {
        if queued.len() >= in_flight {
            if let Some(oldest) = queued.pop_front() {
                samples.push(Queued::finish(oldest)?);
                bar.inc(1);
            }
        }
        queued.push_back(inference.queue()?);
    }
    for rest in queued {
        samples.push(rest.finish()?);
        bar.inc(1);
    }
    Ok(Timed {
        samples,
        wall_ms: elapsed_ms(start),
    })
}

pub(super) fn elapsed_ms(start: Instant) -> f64 {
    start.elapsed().as_secs_f64() * 1e3
}

/// A bar on stderr over the timed runs when they should take longer than
/// [`PROGRESS_THRESHOLD`] (indicatif hides it when stderr is not a terminal).
fn progress_bar(runs: usize, expected: Duration) -> ProgressBar {
    if expected <= PROGRESS_THRESHOLD {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(runs as u64);
    if let Ok(style) = ProgressStyle::with_template("{bar:40} {pos}/{len} runs, eta {eta}") {
        bar.set_style(style);
    }
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_of_unsorted_samples() {
        let stats = LatencyStats::from_samples(&[5.0, 1.0, 4.0, 2.0, 3.0]).unwrap();
        assert_eq!((stats.min, stats.median, stats.max), (1.0, 3.0, 5.0));
        assert!((stats.p90 - 4.6).abs() < 1e-12, "p90 {}", stats.p90);
    }

    #[test]
    fn median_of_even_count_interpolates() {
        let stats = LatencyStats::from_samples(&[10.0, 20.0, 40.0, 30.0]).unwrap();
        assert_eq!(stats.median, 25.0);
        assert!((stats.p90 - 37.0).abs() < 1e-12);
    }

    #[test]
    fn single_sample_is_every_statistic() {
        let stats = LatencyStats::from_samples(&[7.5]).unwrap();
        assert_eq!(
            (stats.min, stats.median, stats.p90, stats.max),
            (7.5, 7.5, 7.5, 7.5)
        );
    }

    #[test]
    fn no_samples_give_no_stats() {
        assert_eq!(LatencyStats::from_samples(&[]), None);
    }

    #[test]
    fn percentile_endpoints_are_min_and_max() {
        let sorted = [1.0, 2.0, 9.0];
        assert_eq!(percentile(&sorted, 0.0), 1.0);
        assert_eq!(percentile(&sorted, 1.0), 9.0);
    }
}
