//! Device setup: one adapter, one device and queue, shared by every executor.

use super::health::DeviceHealth;
use crate::error::{Error, Result};

/// The wgpu device an [`Executor`](super::Executor) runs on. Cheap to clone.
#[derive(Clone, Debug)]
pub struct GpuContext {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub adapter_info: wgpu::AdapterInfo,
    /// The instance the device came from, when this context opened it (for reports).
    instance: Option<wgpu::Instance>,
    health: DeviceHealth,
}

impl GpuContext {
    /// Opens the preferred adapter among `backends` (all when `None`). The environment
    /// still decides where set: `WGPU_BACKEND`, `WGPU_POWER_PREF`.
    pub fn new(backends: Option<wgpu::Backends>) -> Result<Self> {
        pollster::block_on(Self::open(backends))
    }

    /// Wraps a device created elsewhere (e.g. by an application sharing its device). This
    /// sets the device's device-lost callback, so that every later call can report
    /// [`Error::DeviceLost`]; the app asks [`lost`](Self::lost). wgpu keeps one callback
    /// per device: share this context (or a `Runtime` made from it) rather than wrapping
    /// the device twice, and do not set another callback afterwards.
    pub fn from_device(
        device: wgpu::Device,
        queue: wgpu::Queue,
        adapter_info: wgpu::AdapterInfo,
    ) -> Self {
        GpuContext {
            health: DeviceHealth::watch(&device, false),
            device,
            queue,
            adapter_info,
            instance: None,
        }
    }

    async fn open(backends: Option<wgpu::Backends>) -> Result<Self> {
        let mut desc = wgpu::InstanceDescriptor::new_without_display_handle();
        if let Some(backends) = backends {
            desc.backends = backends;
        }
        let desc = desc.with_env();
        let wanted = desc.backends;
        let instance = wgpu::Instance::new(desc);
        let options = wgpu::RequestAdapterOptions {
            power_preference: wgpu::PowerPreference::from_env()
                .unwrap_or(wgpu::PowerPreference::HighPerformance),
            ..Default::default()
        };
        let adapter = instance
            .request_adapter(&options)
            .await
            .map_err(|_| Error::NoAdapter {
                backend: format!(" (backends {wanted:?})"),
            })?;
        let (device, queue) = adapter
            .request_device(&device_descriptor(&adapter))
            .await
            .map_err(|e| Error::Gpu(format!("cannot open device: {e}")))?;
        Ok(GpuContext {
            health: DeviceHealth::watch(&device, true),
            device,
            queue,
            adapter_info: adapter.get_info(),
            instance: Some(instance),
        })
    }

    /// Buffers whose handles are held on this context's instance (wgpu's registry): the
    /// runtime's activation slots and its pools of staging and output buffers, not those
    /// only a bind group still references. To check that repeated inferences allocate
    /// nothing; `None` for a device opened elsewhere.
    pub fn live_buffers(&self) -> Option<usize> {
        let report = self.instance.as_ref()?.generate_report()?;
        Some(report.hub_report().buffers.num_kept_from_user)
    }

    /// Why the device was lost, or `None` while it works (checked without polling).
    pub fn lost(&self) -> Option<String> {
        self.health.lost()
    }

    /// The device's loss flag, for what outlives a call (inferences in flight).
    pub(crate) fn health(&self) -> &DeviceHealth {
        &self.health
    }

    /// `Err(`[`Error::DeviceLost`]`)` once the device is lost (or an earlier call's GPU
    /// work failed outside an error scope). Polls first: wgpu runs the device-lost
    /// callback from a poll, e.g. the first one after `device.destroy()`.
    pub(crate) fn ensure_alive(&self) -> Result<()> {
        if self.health.lost().is_none() {
            // A poll that fails is explained by the flag it sets, if by anything.
            let _ = self.device.poll(wgpu::PollType::Poll);
        }
        self.health.check()
    }

    /// Runs `work` if the device is alive; a failure of `work` is reported as
    /// [`Error::DeviceLost`] when the device was lost meanwhile.
    pub(crate) fn while_alive<T>(&self, work: impl FnOnce() -> Result<T>) -> Result<T> {
        self.ensure_alive()?;
        work().map_err(|e| self.health.explain(e))
    }

    /// One line naming the adapter, e.g. for the benches' adapter line.
    pub fn describe(&self) -> String {
        let info = &self.adapter_info;
        format!("{} ({:?}, {:?})", info.name, info.backend, info.device_type)
    }
}

/// The most bytes one storage buffer may bind on a device with `limits`, and at most
/// 2^31 − 1 (as Vulkan and DX12 bind): the kernels index elements with 32-bit integers,
/// some signed, which a larger binding (Metal allows one) would overflow.
pub(crate) fn max_storage_binding(limits: &wgpu::Limits) -> u64 {
    limits
        .max_storage_buffer_binding_size
        .min(limits.max_buffer_size)
        .min(i32::MAX as u64)
}

/// Asks for everything the adapter offers: its own limits (large models need more than
/// the WebGPU defaults) and the optional features later kernels use.
fn device_descriptor(adapter: &wgpu::Adapter) -> wgpu::DeviceDescriptor<'static> {
    let optional = wgpu::Features::SHADER_F16 | wgpu::Features::TIMESTAMP_QUERY;
    wgpu::DeviceDescriptor {
        label: Some("mobilenet-wgpu"),
        required_features: adapter.features() & optional,
        required_limits: adapter.limits(),
        ..Default::default()
    }
}
