//! Copying results back to the host through one reusable mappable buffer.

use std::sync::mpsc::{self, RecvTimeoutError};

use super::health::DeviceHealth;
use crate::error::{Error, Result};

/// A MAP_READ buffer reused by every inference.
#[derive(Debug)]
pub(crate) struct Readback {
    buffer: wgpu::Buffer,
}

impl Readback {
    pub fn new(device: &wgpu::Device, bytes: u64) -> Self {
        let buffer = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("readback"),
            size: bytes.max(4),
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        Readback { buffer }
    }

    /// Records a copy of the first `bytes` of `source` into this buffer.
    pub fn record_copy(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        source: &wgpu::Buffer,
        bytes: u64,
    ) {
        encoder.copy_buffer_to_buffer(source, 0, &self.buffer, 0, bytes);
    }

    /// Waits for submitted work, then returns `decode` of the first `bytes`, read straight
    /// from the mapping. A device lost meanwhile is [`Error::DeviceLost`]: the mapping's
    /// callback may then never run.
    pub fn read<T>(
        &self,
        device: &wgpu::Device,
        health: &DeviceHealth,
        bytes: u64,
        decode: impl FnOnce(&[u8]) -> T,
    ) -> Result<T> {
        let slice = self.buffer.slice(..bytes);
        let (sender, receiver) = mpsc::channel();
        slice.map_async(wgpu::MapMode::Read, move |result| {
            // The receiver outlives the waits below; a failed send cannot happen.
            let _ = sender.send(result);
        });
        device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| Error::Gpu(format!("waiting for the GPU: {e}")))?;
        let mapped = health
            .wait_for(device, |wait| match receiver.recv_timeout(wait) {
                Ok(mapped) => Some(Ok(mapped)),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => {
                    Some(Err(Error::Gpu("readback was never mapped".into())))
                }
            })
            .map_err(|reason| Error::DeviceLost { reason })??;
        mapped.map_err(|e| Error::Gpu(format!("mapping the readback buffer: {e}")))?;
        let values = slice
            .get_mapped_range()
            .map(|view| decode(&view))
            .map_err(|e| Error::Gpu(format!("reading back results: {e}")));
        // Unmapped on every path, so the next read can map it again.
        self.buffer.unmap();
        values
    }
}
