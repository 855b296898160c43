//! Waiting for a queued inference's output, blocking or as a future.
//!
//! The output buffer is mapped with `map_async`, whose callback records the outcome and
//! wakes whoever waits. Someone must poll the device for the callback to run: a blocking
//! wait polls in the calling thread; the future starts a helper thread that blocks in
//! `device.poll(Wait)` for its submission (no spinning).

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use crate::gpu::Submitted;
use crate::{Error, Result};

/// An inference's output on its way back from the GPU.
#[derive(Debug)]
pub(crate) struct Pending {
    device: wgpu::Device,
    submitted: Submitted,
    shared: Arc<Shared>,
    poller_started: bool,
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
}

impl Pending {
    /// Requests the mapping of `submitted`'s output buffer.
    pub fn new(device: &wgpu::Device, submitted: Submitted) -> Pending {
        let shared = Arc::new(Shared::default());
        let notify = Arc::clone(&shared);
        submitted
            .buffer
            .slice(..submitted.bytes)
            .map_async(wgpu::MapMode::Read, move |result| {
                notify.finish(result.map_err(|e| format!("mapping the output buffer: {e}")));
            });
        Pending {
            device: device.clone(),
            submitted,
            shared,
            poller_started: false,
        }
    }

    /// Blocks until the output is back, polling the device in this thread.
    pub fn wait(self) -> Result<Vec<f32>> {
        if let Err(e) = self.device.poll(self.poll_type()) {
            self.shared.finish(Err(format!("waiting for the GPU: {e}")));
        }
        let mut state = self.shared.lock();
        // Another thread's poll may have claimed the callback; it runs it shortly.
        while state.outcome.is_none() {
            state = self
                .shared
                .done
                .wait(state)
                .unwrap_or_else(|p| p.into_inner());
        }
        let outcome = state.outcome.clone();
        drop(state);
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
        let poll_type = self.poll_type();
        let shared = Arc::clone(&self.shared);
        std::thread::Builder::new()
            .name("mobilenet-wgpu poll".into())
            .spawn(move || {
                if let Err(e) = device.poll(poll_type) {
                    shared.finish(Err(format!("waiting for the GPU: {e}")));
                }
            })
            .map_err(|e| Error::Gpu(format!("cannot start the GPU polling thread: {e}")))?;
        self.poller_started = true;
        Ok(())
    }

    /// Copies the mapped output out once `outcome` says the mapping succeeded.
    fn read(&self, outcome: Option<Result<(), String>>) -> Result<Vec<f32>> {
        outcome
            .unwrap_or_else(|| Err("the output was never mapped".into()))
            .map_err(Error::Gpu)?;
        let buffer = &self.submitted.buffer;
        let values = {
            let view = buffer
                .slice(..self.submitted.bytes)
                .get_mapped_range()
                .map_err(|e| Error::Gpu(format!("reading back results: {e}")))?;
            self.submitted
                .precision
                .decode(&view, self.submitted.values)
        };
        buffer.unmap();
        self.submitted.mark_read();
        Ok(values)
    }
}

impl Future for Pending {
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
