//! ONNX's protobuf messages (`ModelProto` and what it holds), generated at build time by
//! prost-build from `proto/onnx.proto3` (see build.rs).

#![allow(clippy::all, clippy::pedantic, missing_docs)]

include!(concat!(env!("OUT_DIR"), "/onnx.rs"));
