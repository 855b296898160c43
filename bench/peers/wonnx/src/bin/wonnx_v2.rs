//! wonnx 0.5.1 running the ONNX export of our MobileNetV2 (see scripts/make_peer_onnx.py).
//!
//! Usage: wonnx_v2 <export-dir>  (reads mobilenet_v2.onnx, input.npy, ours.npy there).
//! wonnx picks wgpu 0.16's default adapter (WGPU_ADAPTER_NAME / WGPU_BACKEND select it) and
//! does not expose its name, so the adapter is whatever `run.sh` reports for this machine.

#[path = "../../../common/peer_common.rs"]
mod peer_common;

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Instant;

use peer_common::{elapsed_ms, median_ms, nhwc_to_nchw, read_npy, AnyResult, PeerResult};
use wonnx::utils::{InputTensor, OutputTensor};

fn main() -> AnyResult<()> {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .ok_or("usage: wonnx_v2 <export-dir>")?,
    );
    let (shape, input) = read_npy(&dir.join("input.npy"))?;
    let input = nhwc_to_nchw(&shape, &input);
    let (_, ours) = read_npy(&dir.join("ours.npy"))?;
    let start = Instant::now();
    let session = pollster::block_on(wonnx::Session::from_path(dir.join("mobilenet_v2.onnx")))?;
    let load_ms = elapsed_ms(start);
    let infer = || -> AnyResult<Vec<f32>> {
        let inputs = HashMap::from([("0".to_string(), InputTensor::from(&input[..]))]);
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
        version: "0.5.1 (wgpu 0.16)",
        adapter: std::env::var("PEER_ADAPTER").unwrap_or_else(|_| "default".into()),
        load_ms,
        first_ms,
        median_ms,
        output,
        ours,
    }
    .print();
    Ok(())
}
