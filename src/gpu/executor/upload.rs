//! The input upload, through a pool of host-visible staging buffers that inferences in
//! flight take turns with: the host converts batch N+1 into one while the GPU still copies
//! from another for batch N. A buffer returns to the pool, mapped again, once the GPU has
//! copied out of it, so a warm session allocates nothing per inference (allocating and
//! pinning tens of MB of host memory per batch costs a real GPU more than its inference).
//!
//! A batch's values are converted to the storage precision by all cores, each writing its
//! own part of the mapping.

use std::sync::{Arc, Mutex};

use crate::error::{Error, Result};
use crate::Precision;

/// Values converted at a time through a thread's scratch buffer (even: f16 pairs).
const CHUNK: usize = 16 * 1024;

/// Values per thread at least: smaller inputs use fewer threads.
const PER_THREAD: usize = 256 * 1024;

/// The staging buffers of one executor's input.
#[derive(Debug)]
pub(super) struct Uploads {
    device: wgpu::Device,
    precision: Precision,
    /// Staging buffer size: the encoded input in whole 4-byte words.
    bytes: u64,
    /// Mapped buffers ready for the next input.
    free: Arc<Mutex<Vec<wgpu::Buffer>>>,
}

/// An input written into a staging buffer, to be copied into the input slot by one
/// submission and then handed back with [`Staged::recycle`].
pub(super) struct Staged {
    buffer: wgpu::Buffer,
    bytes: u64,
    free: Arc<Mutex<Vec<wgpu::Buffer>>>,
}

impl Uploads {
    pub fn new(device: &wgpu::Device, precision: Precision, values: usize) -> Self {
        Uploads {
            device: device.clone(),
            precision,
            bytes: (precision.encoded_len(values.max(1)) as u64).next_multiple_of(4),
            free: Arc::default(),
        }
    }

    /// Writes `input` (exactly the plan's input length) into a free staging buffer.
    pub fn stage(&self, input: &[f32]) -> Result<Staged> {
        let spare = self.free.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let buffer = spare.unwrap_or_else(|| {
            self.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("input staging"),
                size: self.bytes,
                usage: wgpu::BufferUsages::MAP_WRITE | wgpu::BufferUsages::COPY_SRC,
                mapped_at_creation: true,
            })
        });
        fill(&buffer, self.precision, input)?;
        buffer.unmap();
        Ok(Staged {
            buffer,
            bytes: self.bytes,
            free: Arc::clone(&self.free),
        })
    }
}

impl Staged {
    /// Records the copy of the staged input into `input_slot`.
    pub fn record_copy(&self, encoder: &mut wgpu::CommandEncoder, input_slot: &wgpu::Buffer) {
        encoder.copy_buffer_to_buffer(&self.buffer, 0, input_slot, 0, self.bytes);
    }

    /// After the submission that copies from it: maps the buffer again, which completes
    /// once that copy has run, and then puts it back in the pool. A mapping that fails
    /// (device lost) drops the buffer instead.
    pub fn recycle(self) {
        let Staged { buffer, free, .. } = self;
        let returned = buffer.clone();
        buffer.map_async(wgpu::MapMode::Write, .., move |result| {
            if result.is_ok() {
                free.lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(returned);
            }
        });
    }
}

/// Writes `input` at `precision` into mapped `buffer` from offset 0, in parallel parts.
fn fill(buffer: &wgpu::Buffer, precision: Precision, input: &[f32]) -> Result<()> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = input.len().div_ceil(PER_THREAD).clamp(1, cores);
    // Whole chunks per thread keep every part's byte offset a multiple of the mapping
    // alignment; the last part runs to the buffer's end (whole words).
    let per_thread = input.len().div_ceil(threads).next_multiple_of(CHUNK);
    let mut parts = input.chunks(per_thread).enumerate().map(|(i, part)| {
        let offset = precision.encoded_len(i * per_thread) as u64;
        let last = (i + 1) * per_thread >= input.len();
        let end = if last {
            buffer.size()
        } else {
            offset + precision.encoded_len(part.len()) as u64
        };
        (part, offset..end)
    });
    if threads == 1 {
        return parts.try_for_each(|(part, range)| write_part(buffer, precision, part, range));
    }
    std::thread::scope(|scope| {
        let handles: Vec<_> = parts
            .map(|(part, range)| scope.spawn(move || write_part(buffer, precision, part, range)))
            .collect();
        handles.into_iter().try_for_each(|handle| {
            handle
                .join()
                .map_err(|_| Error::Gpu("an input upload thread panicked".into()))?
        })
    })
}

/// Writes `values` into the mapped `range` of `buffer` through a view of its own.
fn write_part(
    buffer: &wgpu::Buffer,
    precision: Precision,
    values: &[f32],
    range: std::ops::Range<u64>,
) -> Result<()> {
    let mut view = buffer
        .get_mapped_range_mut(range)
        .map_err(|e| Error::Gpu(format!("writing the input: {e}")))?;
    if precision == Precision::F32 {
        let bytes: &[u8] = bytemuck::cast_slice(values);
        view.slice(..bytes.len()).copy_from_slice(bytes);
        return Ok(());
    }
    let mut scratch = vec![0u8; precision.encoded_len(CHUNK)];
    let mut at = 0;
    for chunk in values.chunks(CHUNK) {
        let bytes = &mut scratch[..precision.encoded_len(chunk.len())];
        precision.encode_into(chunk, bytes);
        view.slice(at..at + bytes.len()).copy_from_slice(bytes);
        at += bytes.len();
    }
    Ok(())
}
