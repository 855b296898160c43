//! mobilenet-wgpu: MobileNet-family image models as WGSL compute shaders through wgpu.
//!
//! Data flows one way: a front-end ([`models`] builders or the [`import`] of a TFLite
//! or ONNX file) produces a [`graph::Graph`]; [`plan::Plan::build`] folds, fuses and assigns
//! buffers; [`gpu`] executes the plan; [`cpu`] runs the unfused graph as the reference.

pub mod cpu;
pub mod error;
pub mod gpu;
pub mod graph;
pub mod hub;
pub mod import;
pub mod io;
pub mod labels;
pub mod model;
pub mod models;
pub mod plan;
pub mod precision;
pub mod preprocess;
pub mod quant;
pub mod runtime;
pub mod verify;

pub use error::{Error, Result};
pub use precision::Precision;
