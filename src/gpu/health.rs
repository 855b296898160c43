//! Device loss: wgpu reports a lost device (a driver reset, an unplugged GPU,
//! `device.destroy()`) only through the device-lost callback, which it runs from a device
//! poll; the operations themselves then fail silently. Every executor checks the flag
//! that callback sets before it starts, and turns its own failures into
//! [`Error::DeviceLost`] once the flag is up. Waits that depend on the GPU check it too.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::error::Error;

/// How long a wait for a map callback trusts other threads' polls before polling again.
const POLL_AGAIN: Duration = Duration::from_millis(20);

/// Whether a device has been lost, and why. Cheap to clone; all clones see the same device.
#[derive(Clone, Debug, Default)]
pub(crate) struct DeviceHealth(Arc<Mutex<State>>);

#[derive(Debug, Default)]
struct State {
    /// Why the device was lost, once it was.
    lost: Option<String>,
    /// An error no error scope caught, not yet reported.
    uncaptured: Option<String>,
}

impl DeviceHealth {
    /// Watches `device` through its device-lost callback (wgpu keeps one per device: this
    /// replaces any set before). With `own_device`, also takes the errors no error scope
    /// catches, which wgpu's default handler turns into panics; on an application's device
    /// those stay the application's.
    pub(crate) fn watch(device: &wgpu::Device, own_device: bool) -> DeviceHealth {
        let health = DeviceHealth::default();
        let lost = health.clone();
        device.set_device_lost_callback(move |reason, message| {
            let reason = match (reason, message.trim()) {
                (wgpu::DeviceLostReason::Destroyed, _) => "destroyed".to_string(),
                (_, "") => "reason unknown".to_string(),
                (_, message) => message.to_string(),
            };
            lost.state().lost = Some(reason);
        });
        if own_device {
            let uncaptured = health.clone();
            device.on_uncaptured_error(Arc::new(move |error| {
                uncaptured
                    .state()
                    .uncaptured
                    .get_or_insert_with(|| error.to_string());
            }));
        }
        health
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits for what `ready` gives (each try may block for the duration it is handed),
    /// polling `device` between tries: another thread's poll may have claimed the callback
    /// that `ready` waits for and run it shortly, and a lost device's mapping callback may
    /// never run, so a loss ends the wait with its reason.
    pub(crate) fn wait_for<T>(
        &self,
        device: &wgpu::Device,
        mut ready: impl FnMut(Duration) -> Option<T>,
    ) -> Result<T, String> {
        loop {
            if let Some(value) = ready(POLL_AGAIN) {
                return Ok(value);
            }
            let _ = device.poll(wgpu::PollType::Poll);
            if let Some(reason) = self.lost() {
                return Err(reason);
            }
        }
    }

    /// Why the device was lost, or `None` while it works.
    pub(crate) fn lost(&self) -> Option<String> {
        self.state().lost.clone()
    }

    /// `Err(DeviceLost)` once the device is lost; else, once, the first error no error scope
    /// caught since the last check (a failure of an earlier call's GPU work).
    pub(crate) fn check(&self) -> Result<(), Error> {
        let mut state = self.state();
        if let Some(reason) = &state.lost {
            return Err(Error::DeviceLost {
                reason: reason.clone(),
            });
        }
        match state.uncaptured.take() {
            Some(error) => Err(Error::Gpu(format!(
                "an earlier GPU operation failed: {error}"
            ))),
            None => Ok(()),
        }
    }

    /// `error`, or [`Error::DeviceLost`] when the device has been lost meanwhile (the
    /// failure is then a consequence of the loss).
    pub(crate) fn explain(&self, error: Error) -> Error {
        match self.lost() {
            Some(reason) if !matches!(error, Error::DeviceLost { .. }) => {
                Error::DeviceLost { reason }
            }
            _ => error,
        }
    }
}
