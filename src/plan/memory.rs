//! Pass 3: liveness analysis and assignment of tensors to storage-buffer slots.

use super::{Plan, Step};
use crate::graph::{Graph, TensorId};

/// One storage buffer of the pool.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Slot {
    /// Size in bytes (the largest tensor it ever holds, times the batch).
    pub bytes: usize,
    /// Tensors assigned to this slot, in execution order.
    pub tensors: Vec<TensorId>,
}

pub(super) fn assign(_graph: &Graph, _steps: Vec<Step>, _batch: usize) -> crate::Result<Plan> {
    Err(crate::Error::InvalidArgument("planner not implemented yet".into()))
}
