//! wonnx 0.5.1 running the ONNX export of one of our MobileNets (see
//! scripts/make_peer_onnx.py).
//!
//! Usage: wonnx_peer <export-dir>  (reads model.onnx, input.npy, ours.npy there).
//! wonnx picks wgpu 0.16's default adapter (WGPU_ADAPTER_NAME / WGPU_BACKEND select it) and
//! does not expose its name, so the adapter is whatever `run.sh` reports for this machine.
//! A model using an operator wonnx lacks (V3's HardSwish, HardSigmoid) gets a table row
//! saying so instead of a measurement.

#[path = "../../../common/peer_common.rs"]
mod peer_common;

use std::collections::HashMap;
use std::time::Instant;

use peer_common::{data_dir, elapsed_ms, median_ms, read_input_and_ours, report_unsupported};
use peer_common::{AnyResult, PeerResult};
use protobuf::Message;
use wonnx::onnx::ModelProto;
use wonnx::utils::{InputTensor, OutputTensor};

const VERSION: &str = "0.5.1 (wgpu 0.16)";

/// Operators our exports use that wonnx 0.5.1 cannot compile: its `compiler.rs` has no
/// case for them (they fall through to `CompileError::UnimplementedOp`).
const MISSING_OPS: [&str; 2] = ["HardSwish", "HardSigmoid"];

fn main() -> AnyResult<()> {
    let dir = data_dir("wonnx_peer")?;
    let (input, ours) = read_input_and_ours(&dir)?;
    let start = Instant::now();
    let model = ModelProto::parse_from_bytes(&std::fs::read(dir.join("model.onnx"))?)?;
    let missing = missing_ops(&model);
    if !missing.is_empty() {
        let reason = format!("not supported: no {}", missing.join(", no "));
        report_unsupported("wonnx", VERSION, &reason);
        return Ok(());
    }
    let input_name = model.get_graph().get_input()[0].get_name().to_string();
    let session = pollster::block_on(wonnx::Session::from_model(model))?;
    let load_ms = elapsed_ms(start);
    let infer = || -> AnyResult<Vec<f32>> {
        let inputs = HashMap::from([(input_name.clone(), InputTensor::from(&input[..]))]);
        let outputs = pollster::block_on(session.run(&inputs))?;
        match outputs.into_values().next() {
            Some(OutputTensor::F32(values)) => Ok(values),
            _ => Err("wonnx returned no f32 output".into()),
        }
    };
    let start = Instant::now();
    let output = infer()?;
    let first_ms = elapsed_ms(start);
    let median_ms = median_ms(infer)?;
    PeerResult {
        runtime: "wonnx",
        version: VERSION,
        load_ms,
        first_ms,
        median_ms,
        output,
        ours,
    }
    .report()
}

/// The operators of `model` that are in [`MISSING_OPS`], in that order.
fn missing_ops(model: &ModelProto) -> Vec<&'static str> {
    let used: Vec<&str> = model
        .get_graph()
        .get_node()
        .iter()
        .map(|node| node.get_op_type())
        .collect();
    MISSING_OPS
        .into_iter()
        .filter(|op| used.contains(op))
        .collect()
}
