//! The integer CPU reference: TFLite's reference kernels on the stored 8-bit values, step by
//! step from [`quant::lower`](crate::quant::lower). Plain loops; each value is an `i32` holding
//! a uint8 or int8. GPU int8 plans must match it with 0 LSB of difference, and it matches
//! LiteRT's `BUILTIN_REF` byte for byte (tests/int_reference.rs).

mod conv;
mod pool;

use crate::error::{Error, Result};
use crate::graph::{Graph, Shape};
use crate::quant::lower::{lower, IntStep};

/// Runs every node on `input` (the model's stored input values, NHWC, `batch` images);
/// returns each node's stored output values.
pub fn run(graph: &Graph, input: &[i32], batch: usize) -> Result<Vec<Vec<i32>>> {
    let steps = lower(graph)?;
    let expected = batch * graph.input_shape().len();
    let (lo, hi) = crate::quant::lower::input_grid(graph)?.dtype.range();
    if let Some(bad) = input.iter().find(|&&v| !(lo..=hi).contains(&v)) {
        return Err(Error::InvalidArgument(format!(
            "input value {bad} is outside the input type's range {lo}..={hi}"
        )));
    }
    if batch == 0 || input.len() != expected {
        return Err(Error::InvalidArgument(format!(
            "input has {} values, expected {expected} (batch {batch} x {})",
            input.len(),
            graph.input_shape()
        )));
    }
    let mut outputs: Vec<Vec<i32>> = Vec::with_capacity(steps.len());
    for (node, step) in graph.nodes().iter().zip(&steps) {
        let arg = |k: usize| outputs[node.inputs[k].0].as_slice();
        let shape = |k: usize| graph.shape(node.inputs[k]);
        let output = match step {
            IntStep::Input => input.to_vec(),
            IntStep::Copy => arg(0).to_vec(),
            IntStep::Conv {
                conv,
                weights,
                requant,
            } => conv::conv2d(conv, weights, requant, arg(0), shape(0), node.shape, batch),
            IntStep::Dense { weights, requant } => {
                conv::dense(weights, requant, arg(0), node.shape.c)
            }
            IntStep::AvgPool(window) => {
                pool::average(window.as_ref(), arg(0), shape(0), node.shape)
            }
            IntStep::Mean(mean) => pool::mean(mean, arg(0), shape(0)),
            IntStep::Requantize(r) => arg(0).iter().map(|&x| r.apply(x)).collect(),
            IntStep::Add(add) => zip(arg(0), arg(1), |a, b| add.apply(a, b)),
            IntStep::AddConstant(add, c) => {
                per_channel(arg(0), node.shape, |x, ch| add.apply(x, c.at(ch)))
            }
            IntStep::Mul(mul) => scale_channels(arg(0), arg(1), node.shape, |a, b| mul.apply(a, b)),
            IntStep::MulConstant(mul, c) => {
                per_channel(arg(0), node.shape, |x, ch| mul.apply(x, c.at(ch)))
            }
            IntStep::HardSwish(h) => arg(0).iter().map(|&x| h.apply(x)).collect(),
            IntStep::Lookup(table) => {
                let lowest = lowest(graph, node);
                arg(0)
                    .iter()
                    .map(|&x| table[(x - lowest) as usize])
                    .collect()
            }
            IntStep::Softmax(softmax) => arg(0)
                .chunks_exact(node.shape.c)
                .flat_map(|row| softmax.row(row))
                .collect(),
            IntStep::Clamp { min, max } => arg(0).iter().map(|&x| x.clamp(*min, *max)).collect(),
            IntStep::Concat(tables) => {
                let parts: Vec<_> = (0..tables.len()).map(|k| (arg(k), shape(k).c)).collect();
                concat(&parts, tables, lowest(graph, node), node.shape)
            }
        };
        outputs.push(output);
    }
    Ok(outputs)
}

/// Convenience: only the graph output.
pub fn run_output(graph: &Graph, input: &[i32], batch: usize) -> Result<Vec<i32>> {
    let mut outputs = run(graph, input, batch)?;
    Ok(outputs.swap_remove(graph.output().0))
}

/// The smallest value of the node's input type (where a lookup table starts).
fn lowest(graph: &Graph, node: &crate::graph::Node) -> i32 {
    graph
        .node(node.inputs[0])
        .integer
        .as_ref()
        .map_or(0, |i| i.output.dtype.range().0)
}

/// Channel-wise concatenation, each part's values through its table.
fn concat(parts: &[(&[i32], usize)], tables: &[Vec<i32>], lowest: i32, output: Shape) -> Vec<i32> {
    let pixels = parts.first().map_or(0, |(data, c)| data.len() / c);
    let mut y = Vec::with_capacity(pixels * output.c);
    for pixel in 0..pixels {
        for ((data, channels), table) in parts.iter().zip(tables) {
            let values = &data[pixel * channels..(pixel + 1) * channels];
            y.extend(values.iter().map(|&q| table[(q - lowest) as usize]));
        }
    }
    y
}

fn zip(a: &[i32], b: &[i32], f: impl Fn(i32, i32) -> i32) -> Vec<i32> {
    a.iter().zip(b).map(|(&a, &b)| f(a, b)).collect()
}

/// `f(x, channel)` for every value of an NHWC tensor.
fn per_channel(x: &[i32], shape: Shape, f: impl Fn(i32, usize) -> i32) -> Vec<i32> {
    x.iter()
        .enumerate()
        .map(|(i, &v)| f(v, i % shape.c))
        .collect()
}

/// `f(x, s)` with `s` the value of `x`'s channel in the image's 1×1×C tensor `scale`.
fn scale_channels(x: &[i32], scale: &[i32], shape: Shape, f: impl Fn(i32, i32) -> i32) -> Vec<i32> {
    let image = shape.len();
    x.iter()
        .enumerate()
        .map(|(i, &v)| f(v, scale[(i / image) * shape.c + i % shape.c]))
        .collect()
}
