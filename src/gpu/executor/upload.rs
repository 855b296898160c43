//! The input upload: a batch's values written at the plan's precision straight into the
//! queue's staging memory. f32 is one copy. f16 is converted on all cores into a scratch
//! buffer kept between inferences (converting tens of millions of values on one core, or
//! into freshly allocated pages each time, costs more than the GPU's whole inference).

use std::sync::Mutex;

use crate::error::{Error, Result};
use crate::Precision;

/// Values per conversion task (even, so only the last task pads).
const CHUNK: usize = 64 * 1024;

/// Inputs below this many values are converted on the calling thread.
const PARALLEL_FROM: usize = 4 * CHUNK;

/// Writes `input` at `precision` into `buffer` from offset 0.
pub(super) fn write_input(
    queue: &wgpu::Queue,
    buffer: &wgpu::Buffer,
    precision: Precision,
    input: &[f32],
    scratch: &Mutex<Vec<u8>>,
) -> Result<()> {
    let len = precision.encoded_len(input.len());
    let size = wgpu::BufferSize::new(len as u64)
        .ok_or_else(|| Error::InvalidArgument("the input is empty".into()))?;
    let mut view = queue
        .write_buffer_with(buffer, 0, size)
        .ok_or_else(|| Error::Gpu("no staging memory for the input upload".into()))?;
    if precision == Precision::F32 {
        view.copy_from_slice(bytemuck::cast_slice(input));
        return Ok(());
    }
    // A poisoned lock only means another upload panicked; the scratch bytes are rewritten.
    let mut bytes = scratch.lock().unwrap_or_else(|e| e.into_inner());
    bytes.resize(len, 0);
    encode_parallel(precision, input, &mut bytes);
    view.copy_from_slice(&bytes);
    Ok(())
}

/// `precision.encode_into` over chunks of `input`, on all cores for large inputs.
fn encode_parallel(precision: Precision, input: &[f32], out: &mut [u8]) {
    let tasks = input
        .chunks(CHUNK)
        .zip(out.chunks_mut(precision.encoded_len(CHUNK)));
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    if input.len() < PARALLEL_FROM || threads == 1 {
        tasks.for_each(|(values, bytes)| precision.encode_into(values, bytes));
        return;
    }
    let mut per_thread: Vec<Vec<(&[f32], &mut [u8])>> = (0..threads).map(|_| Vec::new()).collect();
    for (i, task) in tasks.enumerate() {
        per_thread[i % threads].push(task);
    }
    std::thread::scope(|scope| {
        for work in per_thread {
            scope.spawn(move || {
                for (values, bytes) in work {
                    precision.encode_into(values, bytes);
                }
            });
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parallel_encoding_equals_the_plain_one() {
        for n in [1, 7, CHUNK + 3, PARALLEL_FROM + CHUNK / 2 + 1] {
            let values: Vec<f32> = (0..n).map(|i| (i % 1000) as f32 * 0.37 - 100.0).collect();
            for precision in [Precision::F32, Precision::F16] {
                let mut out = vec![0xaa; precision.encoded_len(n)];
                encode_parallel(precision, &values, &mut out);
                assert_eq!(out, precision.encode(&values).as_ref(), "{precision} {n}");
            }
        }
    }
}
