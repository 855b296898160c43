//! The device memory a session may take, checked on the plan before anything is allocated.

use crate::model::Model;
use crate::plan::Plan;
use crate::{Error, Result};

/// What a session may take by default: activation slots and weights together, 4 GiB.
pub const DEFAULT_MEMORY_BUDGET: u64 = 4 << 30;

/// Refuses `plan` (of `model`) when its activations and weights exceed `budget` bytes. The
/// weights are estimated from the graph's parameters at the storage precision (BatchNorms
/// before folding counted, biases and depthwise weights kept f32 at f16 not).
pub(super) fn check(model: &Model, plan: &Plan, budget: u64) -> Result<()> {
    let activations = plan.peak_activation_bytes() as u64;
    let params = model.graph.totals().params as u64;
    let weights = params.saturating_mul(plan.precision.bytes() as u64);
    let needed = activations.saturating_add(weights);
    if needed <= budget {
        return Ok(());
    }
    let mb = |bytes: u64| bytes as f64 / 1e6;
    Err(Error::DeviceLimit(format!(
        "`{}` at {} images per submission needs {:.1} MB of activations and about {:.1} MB of weights, more than the {:.1} MB memory budget (Runtime::with_memory_budget)",
        model.name,
        plan.batch,
        mb(activations),
        mb(weights),
        mb(budget)
    )))
}
