//! Planner passes on small hand-built graphs: BatchNorm folding (checked numerically
//! against the CPU reference), kernel selection and epilogue fusion, and the memory
//! invariants the GPU executor relies on.

mod fold;
mod fusion;
mod memory;
mod net;
mod separable;
