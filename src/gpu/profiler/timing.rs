//! One profiled run, timed with GPU timestamps or the host clock.

use std::sync::mpsc;
use std::time::Instant;

use super::super::context::GpuContext;
use super::super::executor::Executor;
use super::super::pipeline::captured;
use super::{Span, Timeline, TimestampSource};
use crate::error::{Error, Result};

/// Bytes of one resolved timestamp.
const TICK_BYTES: u64 = 8;

/// Runs the executor's dispatches one pass (or one submission) each and times them.
pub(super) struct Timer<'a> {
    ctx: &'a GpuContext,
    executor: &'a Executor,
    names: &'a [String],
    /// `None`: time with the host clock.
    queries: Option<Queries>,
}

impl<'a> Timer<'a> {
    pub fn new(
        ctx: &'a GpuContext,
        executor: &'a Executor,
        names: &'a [String],
        source: TimestampSource,
    ) -> Result<Self> {
        let queries = match source {
            TimestampSource::GpuTimestamps => Some(Queries::new(ctx, executor.dispatch_count())?),
            TimestampSource::WallClockPerDispatch => None,
        };
        Ok(Timer {
            ctx,
            executor,
            names,
            queries,
        })
    }

    /// One run on `input`; spans are in microseconds since `origin`.
    pub fn run(&self, input: &[f32], origin: Instant) -> Result<Timeline> {
        let mut clock = Clock {
            origin,
            spans: Vec::new(),
        };
        clock.time("upload input", || {
            self.executor.write_input(input)?;
            self.ctx.queue.submit([]);
            wait(&self.ctx.device)
        })?;
        let gpu = match &self.queries {
            Some(queries) => self.run_timestamped(queries, &mut clock)?,
            None => self.run_wall_clock(&mut clock)?,
        };
        Ok(Timeline {
            cpu: clock.spans,
            gpu,
        })
    }

    /// All dispatches in one submission, each in its own pass with timestamp writes.
    fn run_timestamped(&self, queries: &Queries, clock: &mut Clock) -> Result<Vec<Span>> {
        let device = &self.ctx.device;
        let commands = clock.time("encode", || {
            captured(device, "recording the profiled dispatches", || {
                queries.record(device, self.executor)
            })
        })?;
        let submitted_us = clock.now_us();
        clock.time("submit", || self.ctx.queue.submit([commands]));
        let ticks = clock.time("wait + read timestamps", || queries.read(device))?;
        let us_per_tick = f64::from(self.ctx.queue.get_timestamp_period()) / 1e3;
        let first = ticks.first().copied().unwrap_or(0);
        let spans = self
            .names
            .iter()
            .zip(ticks.chunks_exact(2))
            .map(|(name, pair)| Span {
                name: name.clone(),
                start_us: submitted_us + pair[0].saturating_sub(first) as f64 * us_per_tick,
                duration_us: pair[1].saturating_sub(pair[0]) as f64 * us_per_tick,
            })
            .collect();
        Ok(spans)
    }

    /// Each dispatch submitted alone and waited for; the host clock around both.
    fn run_wall_clock(&self, clock: &mut Clock) -> Result<Vec<Span>> {
        let device = &self.ctx.device;
        let mut spans = Vec::with_capacity(self.names.len());
        for (index, name) in self.names.iter().enumerate() {
            let start_us = clock.now_us();
            clock.time("submit + wait", || {
                let commands = captured(device, "recording a profiled dispatch", || {
                    let mut encoder = device.create_command_encoder(&Default::default());
                    let mut pass = encoder.begin_compute_pass(&Default::default());
                    self.executor.encode_dispatch(&mut pass, index);
                    drop(pass);
                    encoder.finish()
                })?;
                self.ctx.queue.submit([commands]);
                wait(device)
            })?;
            spans.push(Span {
                name: name.clone(),
                start_us,
                duration_us: clock.now_us() - start_us,
            });
        }
        Ok(spans)
    }
}

/// The host-side spans of one run.
struct Clock {
    origin: Instant,
    spans: Vec<Span>,
}

impl Clock {
    fn now_us(&self) -> f64 {
        self.origin.elapsed().as_secs_f64() * 1e6
    }

    /// Runs `work` and records it as a span called `name`.
    fn time<T>(&mut self, name: &str, work: impl FnOnce() -> T) -> T {
        let start_us = self.now_us();
        let value = work();
        self.spans.push(Span {
            name: name.to_string(),
            start_us,
            duration_us: self.now_us() - start_us,
        });
        value
    }
}

/// A begin and an end timestamp per dispatch, and the buffers to read them back.
struct Queries {
    set: wgpu::QuerySet,
    count: u32,
    resolve: wgpu::Buffer,
    read: wgpu::Buffer,
}

impl Queries {
    fn new(ctx: &GpuContext, dispatches: usize) -> Result<Self> {
        let count = u32::try_from(2 * dispatches)
            .ok()
            .filter(|&n| n <= wgpu::QUERY_SET_MAX_QUERIES)
            .ok_or_else(|| {
                Error::DeviceLimit(format!(
                    "{dispatches} dispatches need more than {} timestamp queries; \
                     time them with the host clock instead (--wall-clock)",
                    wgpu::QUERY_SET_MAX_QUERIES
                ))
            })?;
        let device = &ctx.device;
        let set = device.create_query_set(&wgpu::QuerySetDescriptor {
            label: Some("profile timestamps"),
            ty: wgpu::QueryType::Timestamp,
            count,
        });
        let bytes = (u64::from(count) * TICK_BYTES).max(TICK_BYTES);
        let buffer = |label, usage| {
            device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size: bytes,
                usage,
                mapped_at_creation: false,
            })
        };
        use wgpu::BufferUsages as U;
        Ok(Queries {
            set,
            count,
            resolve: buffer("timestamp resolve", U::QUERY_RESOLVE | U::COPY_SRC),
            read: buffer("timestamp readback", U::MAP_READ | U::COPY_DST),
        })
    }

    /// Every dispatch in its own timed pass, then the resolve and the copy to `read`.
    fn record(&self, device: &wgpu::Device, executor: &Executor) -> wgpu::CommandBuffer {
        let mut encoder = device.create_command_encoder(&wgpu::CommandEncoderDescriptor {
            label: Some("profile"),
        });
        for index in 0..executor.dispatch_count() {
            let begin = 2 * index as u32;
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: None,
                timestamp_writes: Some(wgpu::ComputePassTimestampWrites {
                    query_set: &self.set,
                    beginning_of_pass_write_index: Some(begin),
                    end_of_pass_write_index: Some(begin + 1),
                }),
            });
            executor.encode_dispatch(&mut pass, index);
        }
        encoder.resolve_query_set(&self.set, 0..self.count, &self.resolve, 0);
        let bytes = u64::from(self.count) * TICK_BYTES;
        encoder.copy_buffer_to_buffer(&self.resolve, 0, &self.read, 0, bytes);
        encoder.finish()
    }

    /// Waits for the submitted work and returns the raw ticks.
    fn read(&self, device: &wgpu::Device) -> Result<Vec<u64>> {
        let slice = self.read.slice(..u64::from(self.count) * TICK_BYTES);
        let (sender, receiver) = mpsc::channel();
        slice.map_async(wgpu::MapMode::Read, move |result| {
            // The receiver outlives the wait below, so the send cannot fail.
            let _ = sender.send(result);
        });
        wait(device)?;
        receiver
            .recv()
            .map_err(|_| Error::Gpu("timestamps were never mapped".into()))?
            .map_err(|e| Error::Gpu(format!("mapping the timestamps: {e}")))?;
        let ticks = {
            let view = slice
                .get_mapped_range()
                .map_err(|e| Error::Gpu(format!("reading the timestamps: {e}")))?;
            view.chunks_exact(TICK_BYTES as usize)
                .map(|b| u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]))
                .collect()
        };
        self.read.unmap();
        Ok(ticks)
    }
}

fn wait(device: &wgpu::Device) -> Result<()> {
    device
        .poll(wgpu::PollType::wait_indefinitely())
        .map_err(|e| Error::Gpu(format!("waiting for the GPU: {e}")))?;
    Ok(())
}
