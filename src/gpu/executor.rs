//! Runs a [`Plan`]: pipelines, weights, slot buffers, uniforms, bind groups and the two
//! input staging buffers are created once in [`Executor::new`]; an inference only writes
//! the input into a staging buffer, records the dispatches into one command buffer,
//! submits and reads back into an output buffer from a pool (grown to the most inferences
//! ever in flight).
//!
//! Inferences can be in flight together ([`Executor::queue`]): each takes a staging buffer
//! and an output buffer, while the activation slots are shared and kept consistent by
//! queue order. So the host's upload of the next batch and the readback of
//! the previous one overlap with the GPU's work on this one.

mod dispatch;
mod in_flight;
mod resources;
mod upload;

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::codec::Codec;
use super::context::GpuContext;
use super::pipeline::{captured, PipelineCache};
use super::readback::Readback;
use crate::error::{Error, Result};
use crate::plan::{Plan, TensorRef};
use crate::Precision;
use dispatch::{prepare, Dispatch};
use in_flight::Submitted;
pub use in_flight::{CpuCost, InFlight};
use resources::{
    check_plan, check_precision, check_storage_size, copy_bytes, storage_buffer, Unused,
};

/// Bytes of one f32 (bias is always f32), and the copy-size alignment.
pub(super) const F32: u64 = 4;

/// A plan made ready to run on one device.
#[derive(Debug)]
pub struct Executor {
    ctx: GpuContext,
    batch: usize,
    precision: Precision,
    input: TensorRef,
    output: TensorRef,
    /// How the host reads the output (the uploads know how to write the input).
    output_codec: Codec,
    slots: Vec<wgpu::Buffer>,
    dispatches: Vec<Dispatch>,
    readback: Readback,
    uploads: upload::Uploads,
    /// Output buffers of finished queued inferences, reused by the next ones so that a
    /// warm session allocates nothing per inference.
    spare_outputs: Arc<Mutex<Vec<wgpu::Buffer>>>,
    /// Serialises queueing: a probed run's several submissions must not interleave with
    /// another inference's, which shares its slots.
    running: Mutex<()>,
}

impl Executor {
    /// Compiles the plan's kernels, uploads its weights and allocates its buffers.
    pub fn new(ctx: &GpuContext, plan: &Plan) -> Result<Executor> {
        ctx.while_alive(|| Executor::create(ctx, plan))
    }

    fn create(ctx: &GpuContext, plan: &Plan) -> Result<Executor> {
        check_plan(plan)?;
        check_precision(ctx, plan.precision)?;
        let device = &ctx.device;
        let limits = device.limits();
        let slots = plan
            .slots
            .iter()
            .enumerate()
            .map(|(i, slot)| {
                let bytes = (slot.bytes as u64).max(16).next_multiple_of(16);
                check_storage_size(&limits, bytes, &format!("activation slot {i}"))?;
                Ok(storage_buffer(device, &format!("slot {i}"), bytes))
            })
            .collect::<Result<Vec<_>>>()?;
        let unused = Unused::new(device);
        let mut cache = PipelineCache::new(ctx, plan.precision);
        let dispatches = captured(device, "creating the plan's GPU resources", || {
            plan.steps
                .iter()
                .map(|step| prepare(ctx, &mut cache, &slots, &unused, step, plan))
                .collect::<Result<Vec<_>>>()
        })??;
        let largest = dispatches
            .iter()
            .map(|d| d.output)
            .chain([plan.output])
            .map(|t| copy_bytes(t, plan.batch, plan.precision));
        let readback = Readback::new(device, largest.max().unwrap_or(F32));
        Ok(Executor {
            ctx: ctx.clone(),
            batch: plan.batch,
            precision: plan.precision,
            input: plan.input,
            output: plan.output,
            output_codec: codec(plan, plan.output),
            slots,
            dispatches,
            readback,
            uploads: upload::Uploads::new(
                device,
                ctx.health().clone(),
                codec(plan, plan.input),
                plan.input.shape.len() * plan.batch,
            ),
            spare_outputs: Arc::default(),
            running: Mutex::new(()),
        })
    }

    /// The device this executor runs on.
    pub(crate) fn context(&self) -> &GpuContext {
        &self.ctx
    }

    /// Batch size the plan was built for.
    pub fn batch(&self) -> usize {
        self.batch
    }

    /// How activations and weights are stored.
    pub fn precision(&self) -> Precision {
        self.precision
    }

    /// Runs one inference on `input` (NHWC, `batch` images) and returns the output.
    pub fn run(&self, input: &[f32]) -> Result<Vec<f32>> {
        self.queue(input)?.wait()
    }

    /// Like [`run`](Self::run), but returns every step's output tensor as it is right
    /// after that step (one submission per step), for per-layer verification. A concat
    /// part returns the whole concatenated tensor with the channels written so far.
    pub fn run_probed(&self, input: &[f32]) -> Result<Vec<Vec<f32>>> {
        self.ctx.while_alive(|| self.probed(input))
    }

    fn probed(&self, input: &[f32]) -> Result<Vec<Vec<f32>>> {
        self.check_input(input)?;
        // Staged before taking the lock, as `queue` does: a staging buffer may only come
        // back once a queued inference holding the other one has been submitted.
        let staged = self.uploads.stage(input)?;
        let _running = self
            .running
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        self.upload(staged)?;
        self.dispatches
            .iter()
            .enumerate()
            .map(|(i, d)| self.submit(std::iter::once(i), d.output, d.codec))
            .collect()
    }

    /// Queues one inference on host `input` (NHWC, `batch` images) without waiting for
    /// it. The output goes to a buffer of its own, so the next inference can be queued at
    /// once (queue order keeps the shared activation slots consistent).
    pub fn queue(&self, input: &[f32]) -> Result<InFlight> {
        self.ctx.while_alive(|| self.stage_and_queue(input))
    }

    fn stage_and_queue(&self, input: &[f32]) -> Result<InFlight> {
        self.check_input(input)?;
        let start = Instant::now();
        let staged = self.uploads.stage(input)?;
        let upload = start.elapsed();
        let in_flight =
            self.encode_and_submit(upload, |encoder, slot| staged.record_copy(encoder, slot));
        let submission = in_flight.as_ref().ok().map(|i| i.submission().clone());
        self.uploads.recycle(staged, submission);
        in_flight
    }

    /// Like [`queue`](Self::queue), but `fill` records the GPU commands that write the
    /// input buffer it is given (preprocessing from a texture); `upload` is the host time
    /// already spent on the input.
    pub(crate) fn queue_filled(
        &self,
        upload: Duration,
        fill: impl FnOnce(&mut wgpu::CommandEncoder, &wgpu::Buffer),
    ) -> Result<InFlight> {
        self.ctx
            .while_alive(|| self.encode_and_submit(upload, fill))
    }

    fn encode_and_submit(
        &self,
        upload: Duration,
        fill: impl FnOnce(&mut wgpu::CommandEncoder, &wgpu::Buffer),
    ) -> Result<InFlight> {
        let _running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        let device = &self.ctx.device;
        let start = Instant::now();
        let bytes = copy_bytes(self.output, self.batch, self.precision);
        let buffer = self.output_buffer(bytes);
        let (index, encode, submit) = captured(device, "running the plan", || {
            let mut encoder = device.create_command_encoder(&Default::default());
            fill(&mut encoder, &self.slots[self.input.slot]);
            {
                let mut pass = encoder.begin_compute_pass(&Default::default());
                (0..self.dispatches.len()).for_each(|i| self.encode_dispatch(&mut pass, i));
            }
            encoder.copy_buffer_to_buffer(&self.slots[self.output.slot], 0, &buffer, 0, bytes);
            let commands = encoder.finish();
            let encode = start.elapsed();
            let start = Instant::now();
            let index = self.ctx.queue.submit([commands]);
            (index, encode, start.elapsed())
        })?;
        let submitted = Submitted {
            buffer,
            bytes,
            values: self.output.shape.len() * self.batch,
            codec: self.output_codec,
            index,
            spares: Arc::clone(&self.spare_outputs),
            unmapped_after_read: AtomicBool::new(false),
        };
        let cpu = CpuCost {
            upload,
            encode,
            submit,
        };
        Ok(InFlight::new(
            device,
            self.ctx.health().clone(),
            submitted,
            cpu,
        ))
    }

    /// A spare output buffer, or a new one while every spare is still in use.
    fn output_buffer(&self, bytes: u64) -> wgpu::Buffer {
        let spare = self
            .spare_outputs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop();
        spare.unwrap_or_else(|| {
            self.ctx.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("output"),
                size: bytes,
                usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            })
        })
    }

    /// Number of recorded dispatches, one per plan step, in plan order.
    pub(crate) fn dispatch_count(&self) -> usize {
        self.dispatches.len()
    }

    /// Records dispatch `index` into `pass`: the profiler gives every dispatch its own
    /// pass so that the pass's timestamps time exactly that dispatch.
    pub(crate) fn encode_dispatch(&self, pass: &mut wgpu::ComputePass<'_>, index: usize) {
        let dispatch = &self.dispatches[index];
        pass.set_pipeline(&dispatch.pipeline);
        pass.set_bind_group(0, &dispatch.bind_group, &[]);
        pass.dispatch_workgroups(dispatch.workgroups.0, dispatch.workgroups.1, 1);
    }

    fn check_input(&self, input: &[f32]) -> Result<()> {
        let expected = self.input.shape.len() * self.batch;
        if input.len() != expected {
            return Err(Error::InvalidArgument(format!(
                "input has {} values, expected {} ({} images of {})",
                input.len(),
                expected,
                self.batch,
                self.input.shape
            )));
        }
        Ok(())
    }

    /// Writes `input` into the input slot in a submission of its own (for runs that
    /// submit their dispatches separately: per-layer probes and the profiler).
    pub(crate) fn write_input(&self, input: &[f32]) -> Result<()> {
        self.ctx.while_alive(|| {
            self.check_input(input)?;
            self.upload(self.uploads.stage(input)?)
        })
    }

    /// Copies a staged input into the input slot in a submission of its own.
    fn upload(&self, staged: upload::Staged) -> Result<()> {
        let device = &self.ctx.device;
        let submitted = captured(device, "uploading the input", || {
            let mut encoder = device.create_command_encoder(&Default::default());
            staged.record_copy(&mut encoder, &self.slots[self.input.slot]);
            self.ctx.queue.submit([encoder.finish()])
        });
        self.uploads
            .recycle(staged, submitted.as_ref().ok().cloned());
        submitted.map(|_| ())
    }

    /// Records `dispatches` in one compute pass, copies `result` out, submits and reads.
    fn submit(
        &self,
        dispatches: impl Iterator<Item = usize>,
        result: TensorRef,
        codec: Codec,
    ) -> Result<Vec<f32>> {
        let device = &self.ctx.device;
        let bytes = copy_bytes(result, self.batch, self.precision);
        captured(device, "running the plan", || {
            let mut encoder = device.create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("inference"),
            });
            {
                let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor::default());
                dispatches.for_each(|i| self.encode_dispatch(&mut pass, i));
            }
            self.readback
                .record_copy(&mut encoder, &self.slots[result.slot], bytes);
            self.ctx.queue.submit([encoder.finish()]);
        })?;
        let count = result.shape.len() * self.batch;
        self.readback
            .read(device, self.ctx.health(), bytes, |stored| {
                codec.decode(stored, count)
            })
    }
}

/// How the host writes or reads tensor `t` of `plan`.
fn codec(plan: &Plan, t: TensorRef) -> Codec {
    match plan.grid(t.tensor) {
        Some(grid) if plan.precision == Precision::Int8 => Codec::Int(grid),
        _ => Codec::Float(plan.precision),
    }
}
