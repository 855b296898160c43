//! Device loss: wgpu reports a lost device (a driver reset, an unplugged GPU,
//! `device.destroy()`) only through the device-lost callback, which it runs from a device
//! poll; the operations themselves then fail silently. Every executor checks the flag
//! that callback sets before it starts, and turns its own failures into
//! [`Error::DeviceLost`] once the flag is up.

use std::sync::{Arc, Mutex};

use crate::error::Error;

/// Whether a device has been lost, and why. Cheap to clone; all clones see the same device.
#[derive(Clone, Debug, Default)]
pub(crate) struct DeviceHealth(Arc<Mutex<Option<String>>>);

impl DeviceHealth {
    /// Watches `device` through its device-lost callback (wgpu keeps one per device: this
    /// replaces any set before).
    pub(crate) fn watch(device: &wgpu::Device) -> DeviceHealth {
        let health = DeviceHealth::default();
        let lost = health.clone();
        device.set_device_lost_callback(move |reason, message| {
            let reason = match (reason, message.trim()) {
                (wgpu::DeviceLostReason::Destroyed, _) => "destroyed".to_string(),
                (_, "") => "reason unknown".to_string(),
                (_, message) => message.lines().next().unwrap_or(message).to_string(),
            };
            *lost.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(reason);
        });
        health
    }

    /// Why the device was lost, or `None` while it works.
    pub(crate) fn lost(&self) -> Option<String> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
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
