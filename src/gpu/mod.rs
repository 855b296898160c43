//! GPU execution: device setup, one module per kernel, the executor.
