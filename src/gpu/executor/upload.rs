//! The input upload: a batch's values written at the plan's precision straight into the
//! queue's staging memory, by all cores, each through its own staging view of a part of the
//! batch. A large batch is tens of MB per inference: converted (f16) or copied (f32) on one
//! core, or first into a freshly allocated buffer, it costs more than the GPU's inference.

use crate::error::{Error, Result};
use crate::Precision;

/// Values converted at a time through a thread's scratch buffer (even: f16 pairs).
const CHUNK: usize = 16 * 1024;

/// Values per thread at least: smaller inputs use fewer threads.
const PER_THREAD: usize = 256 * 1024;

/// Writes `input` at `precision` into `buffer` from offset 0.
pub(super) fn write_input(
    queue: &wgpu::Queue,
    buffer: &wgpu::Buffer,
    precision: Precision,
    input: &[f32],
) -> Result<()> {
    if input.is_empty() {
        return Err(Error::InvalidArgument("the input is empty".into()));
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = input.len().div_ceil(PER_THREAD).clamp(1, cores);
    // Whole chunks per thread keep every part's byte offset and size multiples of 4.
    let per_thread = input.len().div_ceil(threads).next_multiple_of(CHUNK);
    if threads == 1 {
        return write_part(queue, buffer, precision, input, 0);
    }
    std::thread::scope(|scope| {
        let parts: Vec<_> = input
            .chunks(per_thread)
            .enumerate()
            .map(|(i, part)| {
                let offset = precision.encoded_len(i * per_thread);
                scope.spawn(move || write_part(queue, buffer, precision, part, offset))
            })
            .collect();
        parts.into_iter().try_for_each(|part| {
            part.join()
                .map_err(|_| Error::Gpu("an input upload thread panicked".into()))?
        })
    })
}

/// Writes `values` at byte `offset` through a staging view of their own.
fn write_part(
    queue: &wgpu::Queue,
    buffer: &wgpu::Buffer,
    precision: Precision,
    values: &[f32],
    offset: usize,
) -> Result<()> {
    let len = precision.encoded_len(values.len());
    let size = wgpu::BufferSize::new(len as u64)
        .ok_or_else(|| Error::InvalidArgument("the input is empty".into()))?;
    let mut view = queue
        .write_buffer_with(buffer, offset as u64, size)
        .ok_or_else(|| Error::Gpu("no staging memory for the input upload".into()))?;
    if precision == Precision::F32 {
        view.copy_from_slice(bytemuck::cast_slice(values));
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
