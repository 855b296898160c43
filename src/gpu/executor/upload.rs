//! The input upload, through two host-visible staging buffers that inferences in flight
//! take turns with: the host converts batch N+1 into one while the GPU still copies from
//! the other for batch N. A buffer returns to the pool, mapped again, once the GPU has
//! copied out of it, so a session allocates nothing per inference (allocating and pinning
//! tens of MB of host memory per batch costs a real GPU more than its inference).
//!
//! A batch's values are converted to their storage (`Codec`) by all cores, each writing its
//! own part of the mapping.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::gpu::codec::Codec;
use crate::gpu::health::DeviceHealth;
use crate::gpu::pipeline::captured;
use crate::Precision;

/// Values converted at a time through a thread's scratch buffer (even: f16 pairs).
const CHUNK: usize = 16 * 1024;

/// Values per thread at least: smaller inputs use fewer threads.
const PER_THREAD: usize = 256 * 1024;

/// Staging buffers per executor: two, so the host fills one while the GPU copies out of
/// the other; a third input waits for the oldest copy (back-pressure for callers that
/// queue faster than the GPU runs, and a fixed amount of host-visible memory).
const STAGING_BUFFERS: usize = 2;

/// How long a new input waits for a staging buffer's map callback once the GPU work it
/// waited for has finished (that work itself is waited for without a limit).
const RETURN_TIMEOUT: Duration = Duration::from_secs(30);

/// The staging buffers of one executor's input.
#[derive(Debug)]
pub(super) struct Uploads {
    device: wgpu::Device,
    health: DeviceHealth,
    codec: Codec,
    /// Staging buffer size: the encoded input in whole 4-byte words.
    bytes: u64,
    /// Mapped buffers ready for the next input.
    free: Arc<Pool>,
    /// Threads that convert an input (the machine's cores, asked once).
    threads: usize,
    /// Submissions still copying out of a staging buffer, oldest first.
    copying: Mutex<VecDeque<wgpu::SubmissionIndex>>,
}

/// Mapped staging buffers, and a signal for each one returned.
#[derive(Debug, Default)]
struct Pool {
    buffers: Mutex<Vec<wgpu::Buffer>>,
    returned: Condvar,
}

impl Pool {
    fn lock(&self) -> MutexGuard<'_, Vec<wgpu::Buffer>> {
        self.buffers.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// An input written into a staging buffer, to be copied into the input slot by one
/// submission and then handed back with [`Uploads::recycle`].
pub(super) struct Staged {
    buffer: wgpu::Buffer,
    bytes: u64,
}

impl Uploads {
    pub fn new(device: &wgpu::Device, health: DeviceHealth, codec: Codec, values: usize) -> Self {
        let bytes = (codec.encoded_len(values.max(1)) as u64).next_multiple_of(4);
        let buffers = (0..STAGING_BUFFERS).map(|_| {
            device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("input staging"),
                size: bytes,
                usage: wgpu::BufferUsages::MAP_WRITE | wgpu::BufferUsages::COPY_SRC,
                mapped_at_creation: true,
            })
        });
        Uploads {
            device: device.clone(),
            health,
            codec,
            bytes,
            free: Arc::new(Pool {
                buffers: Mutex::new(buffers.collect()),
                returned: Condvar::new(),
            }),
            copying: Mutex::default(),
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        }
    }

    /// Writes `input` (exactly the plan's input length) into a free staging buffer.
    pub fn stage(&self, input: &[f32]) -> Result<Staged> {
        let buffer = self.take()?;
        let filled = fill(&buffer, self.codec, input, self.threads);
        // Captured: unmapping a buffer of a device lost meanwhile is an error, not a panic.
        let unmapped = captured(&self.device, "writing the input", || buffer.unmap());
        let filled = filled.and(unmapped);
        let staged = Staged {
            buffer,
            bytes: self.bytes,
        };
        if let Err(e) = filled {
            self.recycle(staged, None);
            return Err(e);
        }
        Ok(staged)
    }

    /// Hands `staged` back after `submission` (the one copying out of it, if any was
    /// submitted): the buffer is mapped again, which completes once that copy has run,
    /// and then returns to the pool. A mapping that fails (device lost) drops it.
    pub fn recycle(&self, staged: Staged, submission: Option<wgpu::SubmissionIndex>) {
        if let Some(index) = submission {
            let mut copying = self.copying.lock().unwrap_or_else(|p| p.into_inner());
            // A buffer still out was used by one of the last STAGING_BUFFERS submissions.
            if copying.len() == STAGING_BUFFERS {
                copying.pop_front();
            }
            copying.push_back(index);
        }
        let free = Arc::clone(&self.free);
        let returned = staged.buffer.clone();
        staged
            .buffer
            .map_async(wgpu::MapMode::Write, .., move |result| {
                if result.is_ok() {
                    free.lock().push(returned);
                    free.returned.notify_all();
                }
            });
    }

    /// A mapped buffer from the pool. Buffers come back in map callbacks, which run when
    /// the device is polled, in this thread or in another one waiting for its own
    /// inference: wait for the oldest submission still copying, then for the callback.
    /// The time limit counts from the end of the last wait for a submission (that wait has
    /// none), so a long batch on a slow adapter is not taken for a buffer that never returns.
    fn take(&self) -> Result<wgpu::Buffer> {
        let mut deadline = Instant::now() + RETURN_TIMEOUT;
        loop {
            if let Some(buffer) = self.free.lock().pop() {
                return Ok(buffer);
            }
            // A lost device never hands its buffers back.
            if let Some(reason) = self.health.lost() {
                return Err(Error::DeviceLost { reason });
            }
            let oldest = self
                .copying
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .pop_front();
            let oldest_waited = oldest.is_some();
            let wait = wgpu::PollType::Wait {
                submission_index: oldest,
                timeout: None,
            };
            self.device
                .poll(wait)
                .map_err(|e| Error::Gpu(format!("waiting for the GPU: {e}")))?;
            let mut pool = self.free.lock();
            if let Some(buffer) = pool.pop() {
                return Ok(buffer);
            }
            let now = Instant::now();
            if oldest_waited {
                deadline = now + RETURN_TIMEOUT;
            }
            if now >= deadline {
                return Err(Error::Gpu(
                    "no input staging buffer came back from the GPU (was the device lost?)".into(),
                ));
            }
            let step = (deadline - now).min(Duration::from_millis(50));
            let (mut pool, _) = self
                .free
                .returned
                .wait_timeout_while(pool, step, |p| p.is_empty())
                .unwrap_or_else(|p| p.into_inner());
            if let Some(buffer) = pool.pop() {
                return Ok(buffer);
            }
        }
    }
}

impl Staged {
    /// Records the copy of the staged input into `input_slot`.
    pub fn record_copy(&self, encoder: &mut wgpu::CommandEncoder, input_slot: &wgpu::Buffer) {
        encoder.copy_buffer_to_buffer(&self.buffer, 0, input_slot, 0, self.bytes);
    }
}

/// Writes `input` as `codec` stores it into mapped `buffer` from offset 0, in parallel parts.
fn fill(buffer: &wgpu::Buffer, codec: Codec, input: &[f32], cores: usize) -> Result<()> {
    let threads = input.len().div_ceil(PER_THREAD).clamp(1, cores);
    // Whole chunks per thread keep every part's byte offset a multiple of the mapping
    // alignment; the last part runs to the buffer's end (whole words).
    let per_thread = input.len().div_ceil(threads).next_multiple_of(CHUNK);
    let mut parts = input.chunks(per_thread).enumerate().map(|(i, part)| {
        let offset = codec.encoded_len(i * per_thread) as u64;
        let last = (i + 1) * per_thread >= input.len();
        let end = if last {
            buffer.size()
        } else {
            offset + codec.encoded_len(part.len()) as u64
        };
        (part, offset..end)
    });
    if threads == 1 {
        return parts.try_for_each(|(part, range)| write_part(buffer, codec, part, range));
    }
    std::thread::scope(|scope| {
        let handles: Vec<_> = parts
            .map(|(part, range)| scope.spawn(move || write_part(buffer, codec, part, range)))
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
    codec: Codec,
    values: &[f32],
    range: std::ops::Range<u64>,
) -> Result<()> {
    let mut view = buffer
        .get_mapped_range_mut(range)
        .map_err(|e| Error::Gpu(format!("writing the input: {e}")))?;
    if codec == Codec::Float(Precision::F32) {
        let bytes: &[u8] = bytemuck::cast_slice(values);
        view.slice(..bytes.len()).copy_from_slice(bytes);
        return Ok(());
    }
    let mut scratch = vec![0u8; codec.encoded_len(CHUNK)];
    let mut at = 0;
    for chunk in values.chunks(CHUNK) {
        let bytes = &mut scratch[..codec.encoded_len(chunk.len())];
        codec.encode_into(chunk, bytes);
        view.slice(at..at + bytes.len()).copy_from_slice(bytes);
        at += bytes.len();
    }
    Ok(())
}
