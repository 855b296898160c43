//! The CPU reference: plain implementations of every op, run on the unfused graph.
//!
//! Deliberately simple and obviously correct rather than fast. Because it runs the graph
//! before BatchNorm folding and epilogue fusion, comparing it with the GPU checks the
//! planner as well as the kernels. One file per layer type, mirroring the GPU kernels.
//! Every function here relies on the shapes having been validated by [`Graph::add`].

mod activation;
mod batch_norm;
mod concat;
mod conv;
mod dense;
mod elementwise;
pub mod int;
mod pool;
mod softmax;

use crate::error::{Error, Result};
use crate::graph::{Graph, Node, Op};

/// Runs every node; returns each node's output tensor (index = `TensorId.0`), each of
/// length `batch * shape.len()`, NHWC with the batch outermost.
pub fn run(graph: &Graph, input: &[f32], batch: usize) -> Result<Vec<Vec<f32>>> {
    check_input(graph, input, batch)?;
    let mut outputs: Vec<Vec<f32>> = Vec::with_capacity(graph.nodes().len());
    for node in graph.nodes() {
        let output = run_node(graph, node, &outputs, input, batch);
        debug_assert_eq!(
            output.len(),
            batch * node.shape.len(),
            "node `{}`",
            node.name
        );
        outputs.push(output);
    }
    Ok(outputs)
}

/// Convenience: only the graph output.
pub fn run_output(graph: &Graph, input: &[f32], batch: usize) -> Result<Vec<f32>> {
    let mut outputs = run(graph, input, batch)?;
    Ok(outputs.swap_remove(graph.output().0))
}

fn check_input(graph: &Graph, input: &[f32], batch: usize) -> Result<()> {
    if batch == 0 {
        return Err(Error::InvalidArgument(format!(
            "batch size must be at least 1, got 0 (input has {} values)",
            input.len()
        )));
    }
    let shape = graph.input_shape();
    let expected = batch * shape.len();
    if input.len() != expected {
        return Err(Error::InvalidArgument(format!(
            "input has {} values, expected {expected} (batch {batch} x {shape})",
            input.len()
        )));
    }
    Ok(())
}

/// Computes one node from the already computed outputs of the nodes before it.
fn run_node(
    graph: &Graph,
    node: &Node,
    outputs: &[Vec<f32>],
    input: &[f32],
    batch: usize,
) -> Vec<f32> {
    let arg = |i: usize| outputs[node.inputs[i].0].as_slice();
    let arg_shape = |i: usize| graph.shape(node.inputs[i]);
    match &node.op {
        Op::Input => input.to_vec(),
        Op::Conv2d(conv) => conv::conv2d(conv, arg(0), arg_shape(0), node.shape, batch),
        Op::BatchNorm(bn) => batch_norm::batch_norm(bn, arg(0)),
        Op::Activation(act) => activation::activation(*act, arg(0)),
        Op::Add => elementwise::add(arg(0), arg(1)),
        Op::MulChannel => elementwise::mul_channel(arg(0), arg(1), node.shape),
        Op::GlobalAvgPool => pool::global_avg_pool(arg(0), arg_shape(0)),
        Op::AvgPool(pool) => pool::avg_pool(pool, arg(0), arg_shape(0), node.shape, batch),
        Op::Dense(dense) => dense::dense(dense, arg(0)),
        Op::Softmax => softmax::softmax(arg(0), node.shape.c),
        Op::Concat => {
            let parts: Vec<_> = (0..node.inputs.len())
                .map(|i| (arg(i), arg_shape(i).c))
                .collect();
            concat::concat_channels(&parts, node.shape, batch)
        }
        Op::Flatten | Op::Dropout | Op::Quantize => arg(0).to_vec(),
    }
}

/// The input coordinate that kernel tap `k` of output coordinate `out` reads along one
/// axis, or `None` when it falls in the zero padding.
fn input_coord(
    out: usize,
    k: usize,
    stride: usize,
    pad_before: usize,
    size: usize,
) -> Option<usize> {
    (out * stride + k)
        .checked_sub(pad_before)
        .filter(|&i| i < size)
}
