//! A session's inference in flight, and the output it resolves to.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::gpu::{CpuCost, InFlight};
use crate::graph::Shape;
use crate::Result;

/// A model's output for a batch of images.
#[derive(Clone, Debug, PartialEq)]
pub struct Output {
    /// NHWC values, `batch * shape.len()` of them.
    pub data: Vec<f32>,
    /// How many images the output holds.
    pub batch: usize,
    /// The per-image output shape (1×1×classes for a classifier).
    pub shape: Shape,
}

impl Output {
    /// The output of image `index` of the batch.
    pub fn image(&self, index: usize) -> Option<&[f32]> {
        self.data.chunks(self.shape.len()).nth(index)
    }
}

/// An inference queued by [`Session::queue`](super::Session::queue), in one or more
/// submissions: [`wait`](Self::wait) for its output or `.await` it. Dropping it unread
/// abandons the output.
#[derive(Debug)]
pub struct Queued {
    parts: Vec<InFlight>,
    /// Outputs of the parts already back, in order.
    done: Vec<Vec<f32>>,
    batch: usize,
    shape: Shape,
}

impl Queued {
    pub(super) fn new(parts: Vec<InFlight>, batch: usize, shape: Shape) -> Queued {
        Queued {
            parts,
            done: Vec::new(),
            batch,
            shape,
        }
    }

    /// What queueing it cost the host, over all its submissions.
    pub fn cpu_cost(&self) -> CpuCost {
        let costs = self.parts.iter().map(InFlight::cpu_cost);
        costs.fold(CpuCost::default(), |sum, part| sum + part)
    }

    /// Blocks until the output is back.
    pub fn wait(self) -> Result<Output> {
        let Queued {
            parts,
            mut done,
            batch,
            shape,
        } = self;
        for part in parts.into_iter().skip(done.len()) {
            done.push(part.wait()?);
        }
        Ok(assemble(done, batch, shape))
    }
}

impl Future for Queued {
    type Output = Result<Output>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        while let Some(part) = this.parts.get_mut(this.done.len()) {
            match Pin::new(part).poll(cx) {
                Poll::Ready(Ok(values)) => this.done.push(values),
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        let done = std::mem::take(&mut this.done);
        Poll::Ready(Ok(assemble(done, this.batch, this.shape)))
    }
}

/// Joins the outputs of the submissions, dropping the padding of the last one.
fn assemble(outputs: Vec<Vec<f32>>, batch: usize, shape: Shape) -> Output {
    let mut data: Vec<f32> = outputs.concat();
    data.truncate(batch * shape.len());
    Output { data, batch, shape }
}
