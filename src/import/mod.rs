//! Model-file front-ends.

pub mod tflite;

pub use tflite::{load_chain, load_tflite, parse_tflite};
