//! An inference in flight: queued on the GPU, its output on its way back, awaited
//! blocking or as a future.
//!
//! The output buffer is mapped with `map_async`, whose callback records the outcome and
//! wakes whoever waits. Someone must poll the device for the callback to run: a blocking
//! wait polls in the calling thread; the future starts a helper thread that blocks in
//! `device.poll(Wait)` for its submission (no spinning).

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use crate::gpu::codec::Codec;
use crate::gpu::health::DeviceHealth;
use crate::{Error, Result};

/// An inference queued by [`Executor::queue`](super::Executor::queue): [`wait`](Self::wait)
/// for its output, or `.await` it. Dropping it unread abandons the output (nothing leaks).
#[derive(Debug)]
pub struct InFlight {
    device: wgpu::Device,
    health: DeviceHealth,
    submitted: Submitted,
    cpu: CpuCost,
    shared: Arc<Shared>,
    poller_started: bool,
}

/// The host's share of queueing one inference.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct CpuCost {
    /// Converting the input to the storage precision into a staging buffer.
    pub upload: Duration,
    /// Recording the dispatches into a command buffer.
    pub encode: Duration,
    /// Handing it to the queue (drivers that run work on the host, such as lavapipe, may
    /// block here while an earlier inference still runs).
    pub submit: Duration,
}

impl std::ops::Add for CpuCost {
    type Output = CpuCost;

    fn add(self, other: CpuCost) -> CpuCost {
        CpuCost {
            upload: self.upload + other.upload,
            encode: self.encode + other.encode,
            submit: self.submit + other.submit,
        }
    }
}

/// Submission `index` copies the output (`values` values stored as `codec`) into `buffer`
/// (MAP_READ, `bytes` long), which belongs to this inference until it is dropped; then the
/// buffer goes back to the executor's spares if it was read and unmapped.
#[derive(Debug)]
pub(super) struct Submitted {
    pub buffer: wgpu::Buffer,
    pub bytes: u64,
    pub values: usize,
    pub codec: Codec,
    pub index: wgpu::SubmissionIndex,
    pub spares: Arc<Mutex<Vec<wgpu::Buffer>>>,
    pub unmapped_after_read: AtomicBool,
}

impl Drop for Submitted {
    fn drop(&mut self) {
        // A buffer still mapped or being mapped (an abandoned future) is not reusable.
        if self.unmapped_after_read.load(Ordering::Acquire) {
            let mut spares = self.spares.lock().unwrap_or_else(|p| p.into_inner());
            spares.push(self.buffer.clone());
        }
    }
}

#[derive(Debug, Default)]
struct Shared {
    state: Mutex<State>,
    done: Condvar,
}

#[derive(Debug, Default)]
struct State {
    /// Set once: by the map callback, or by the helper thread when polling fails.
    outcome: Option<Result<(), String>>,
    waker: Option<Waker>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn finish(&self, outcome: Result<(), String>) {
        let mut state = self.lock();
        state.outcome.get_or_insert(outcome);
        if let Some(waker) = state.waker.take() {
            waker.wake();
        }
        self.done.notify_all();
    }

    /// Whether the outcome is in, waiting up to `wait` for it.
    fn finished_within(&self, wait: Duration) -> bool {
        let state = self.lock();
        let (state, _) = self
            .done
            .wait_timeout_while(state, wait, |s| s.outcome.is_none())
            .unwrap_or_else(|p| p.into_inner());
        state.outcome.is_some()
    }
}

impl InFlight {
    /// Requests the mapping of `submitted`'s output buffer.
    pub(super) fn new(
        device: &wgpu::Device,
        health: DeviceHealth,
        submitted: Submitted,
        cpu: CpuCost,
    ) -> InFlight {
        let shared = Arc::new(Shared::default());
        let notify = Arc::clone(&shared);
        submitted
            .buffer
            .slice(..submitted.bytes)
            .map_async(wgpu::MapMode::Read, move |result| {
                notify.finish(result.map_err(|e| format!("mapping the output buffer: {e}")));
            });
        InFlight {
            device: device.clone(),
            health,
            submitted,
            cpu,
            shared,
            poller_started: false,
        }
    }

    /// The submission that runs this inference.
    pub(super) fn submission(&self) -> &wgpu::SubmissionIndex {
        &self.submitted.index
    }

    /// What queueing this inference cost the host.
    pub fn cpu_cost(&self) -> CpuCost {
        self.cpu
    }

    /// Blocks until the output is back, polling the device in this thread.
    pub fn wait(self) -> Result<Vec<f32>> {
        drive(&self.device, &self.health, self.poll_type(), &self.shared);
        let outcome = self.shared.lock().outcome.clone();
        self.read(outcome)
    }

    fn poll_type(&self) -> wgpu::PollType {
        wgpu::PollType::Wait {
            submission_index: Some(self.submitted.index.clone()),
            timeout: None,
        }
    }

    /// Starts the thread that drives the device until this submission has finished.
    fn start_poller(&mut self) -> Result<()> {
        let device = self.device.clone();
        let health = self.health.clone();
        let poll_type = self.poll_type();
        let shared = Arc::clone(&self.shared);
        std::thread::Builder::new()
            .name("mobilenet-wgpu poll".into())
            .spawn(move || drive(&device, &health, poll_type, &shared))
            .map_err(|e| Error::Gpu(format!("cannot start the GPU polling thread: {e}")))?;
        self.poller_started = true;
        Ok(())
    }

    /// Copies the mapped output out once `outcome` says the mapping succeeded; a failure
    /// after the device was lost is [`Error::DeviceLost`].
    fn read(&self, outcome: Option<Result<(), String>>) -> Result<Vec<f32>> {
        self.read_mapped(outcome)
            .map_err(|e| self.health.explain(e))
    }

    fn read_mapped(&self, outcome: Option<Result<(), String>>) -> Result<Vec<f32>> {
        if self.submitted.unmapped_after_read.load(Ordering::Acquire) {
            // Only a future polled again after it returned its output gets here.
            return Err(Error::InvalidArgument(
                "this inference's output was already returned".into(),
            ));
        }
        outcome
            .unwrap_or_else(|| Err("the output was never mapped".into()))
            .map_err(Error::Gpu)?;
        let buffer = &self.submitted.buffer;
        let values = {
            let view = buffer
                .slice(..self.submitted.bytes)
                .get_mapped_range()
                .map_err(|e| Error::Gpu(format!("reading back results: {e}")))?;
            self.submitted.codec.decode(&view, self.submitted.values)
        };
        buffer.unmap();
        self.submitted
            .unmapped_after_read
            .store(true, Ordering::Release);
        Ok(values)
    }
}

/// Polls `device` until `shared` has its outcome: a wait for the submission, then
/// [`DeviceHealth::wait_for`] the callback; a device lost meanwhile is the outcome.
fn drive(device: &wgpu::Device, health: &DeviceHealth, wait: wgpu::PollType, shared: &Shared) {
    if let Err(e) = device.poll(wait) {
        shared.finish(Err(format!("waiting for the GPU: {e}")));
    }
    let finished = |wait| shared.finished_within(wait).then_some(());
    if let Err(reason) = health.wait_for(device, finished) {
        shared.finish(Err(format!("the GPU device was lost: {reason}")));
    }
}

impl Future for InFlight {
    type Output = Result<Vec<f32>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let outcome = {
            let mut state = self.shared.lock();
            if state.outcome.is_none() {
                state.waker = Some(cx.waker().clone());
            }
            state.outcome.clone()
        };
        if outcome.is_some() {
            return Poll::Ready(self.read(outcome));
        }
        if !self.poller_started {
            if let Err(e) = self.start_poller() {
                return Poll::Ready(Err(e));
            }
        }
        Poll::Pending
    }
}
