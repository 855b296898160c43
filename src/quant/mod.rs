//! Integer execution: TFLite's fixed-point arithmetic and, per node of a quantized graph, the
//! integer parameters (multipliers, offsets, bounds) its kernels compute with. The integer CPU
//! reference (`cpu::int`) and the int8 GPU plans both derive their parameters here.

pub mod fixed;
pub mod gemmlowp;
pub mod lower;
pub mod params;
pub mod tables;
