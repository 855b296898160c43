//! Exports our MobileNetV2 (random weights, seed 0) for the peer runtimes.
//!
//! Writes into the directory given as the only argument:
//! - `graph.txt`: one line per layer, BatchNorm already folded into the preceding conv,
//!   so every peer runs exactly the arithmetic we run (see `describe` for the line format);
//! - `w<id>.npy` / `b<id>.npy`: conv weights OHWI `[out][kh][kw][in/groups]`, dense `[out][in]`;
//! - `input.npy`: NHWC 1×224×224×3, `verify::random_input(graph, 1, 0)`;
//! - `ours.npy`: our GPU output (softmax over 1000 classes), `cpu.npy`: our CPU reference.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use npyz::WriterBuilder;

use mobilenet_wgpu::graph::{Activation, Conv2d, Op};
use mobilenet_wgpu::graph::{Graph, Node, TensorId};
use mobilenet_wgpu::model::Model;
use mobilenet_wgpu::models::{Arch, ArchConfig};
use mobilenet_wgpu::runtime::Runtime;

type AnyResult<T> = Result<T, Box<dyn std::error::Error>>;

fn main() -> AnyResult<()> {
    let dir = PathBuf::from(std::env::args().nth(1).ok_or("usage: export <out-dir>")?);
    std::fs::create_dir_all(&dir)?;
    let model = Model::from_arch(&ArchConfig::new(Arch::V2), 0)?;
    let graph = &model.graph;
    let input = mobilenet_wgpu::verify::random_input(graph, 1, 0);
    let folded = fold_batch_norms(graph)?;
    let mut text = String::new();
    for (id, node) in folded.nodes.iter().enumerate() {
        if let Some(line) = describe(id, node, &dir)? {
            writeln!(text, "{line}")?;
        }
    }
    writeln!(text, "output {}", folded.alias[graph.output().0])?;
    std::fs::write(dir.join("graph.txt"), text)?;
    let shape = graph.input_shape();
    write_npy(
        &dir.join("input.npy"),
        &[1, shape.h, shape.w, shape.c],
        &input,
    )?;
    let runtime = Runtime::new()?;
    let ours = runtime.session(&model, 1)?.run(&input)?.data;
    let cpu = mobilenet_wgpu::cpu::run_output(graph, &input, 1)?;
    write_npy(&dir.join("ours.npy"), &[1, ours.len()], &ours)?;
    write_npy(&dir.join("cpu.npy"), &[1, cpu.len()], &cpu)?;
    println!(
        "exported V2 to {}: adapter {}, ours vs cpu max |d| = {:e}",
        dir.display(),
        runtime.adapter_name(),
        max_abs_diff(&ours, &cpu)
    );
    Ok(())
}

/// The graph after folding: `nodes[id]` is `None` for a node merged into its input
/// (BatchNorm, Dropout, Flatten of a 1×1 map); `alias[id]` is the node that really
/// produces tensor `id`, so consumers read that instead.
struct Folded {
    nodes: Vec<Option<Node>>,
    alias: Vec<usize>,
}

/// Folds each BatchNorm into the conv that feeds it and drops identity nodes.
fn fold_batch_norms(graph: &Graph) -> AnyResult<Folded> {
    let mut folded = Folded {
        nodes: Vec::new(),
        alias: Vec::new(),
    };
    for (id, node) in graph.nodes().iter().enumerate() {
        let mut node = node.clone();
        for input in &mut node.inputs {
            *input = TensorId(folded.alias[input.0]);
        }
        let merged_into = match &node.op {
            Op::BatchNorm(bn) => {
                let source = node.inputs[0].0;
                let Some(Node {
                    op: Op::Conv2d(conv),
                    ..
                }) = &mut folded.nodes[source]
                else {
                    return Err(format!("{}: BatchNorm not after a conv", node.name).into());
                };
                fold_into(conv, &bn.scale_shift());
                Some(source)
            }
            Op::Dropout | Op::Flatten => Some(node.inputs[0].0),
            _ => None,
        };
        folded.alias.push(merged_into.unwrap_or(id));
        folded.nodes.push(merged_into.is_none().then_some(node));
    }
    Ok(folded)
}

/// `y = s * (w·x + b) + t` becomes `(s w)·x + (s b + t)`.
fn fold_into(conv: &mut Conv2d, (scale, shift): &(Vec<f32>, Vec<f32>)) {
    let per_out = conv.weights.len() / conv.out_channels;
    for (o, chunk) in conv.weights.chunks_mut(per_out).enumerate() {
        chunk.iter_mut().for_each(|w| *w *= scale[o]);
    }
    let bias = conv
        .bias
        .get_or_insert_with(|| vec![0.0; conv.out_channels]);
    for (o, b) in bias.iter_mut().enumerate() {
        *b = *b * scale[o] + shift[o];
    }
}

/// One `graph.txt` line (and its weight files), e.g.
/// `conv <id> <in> <out_c> <kh> <kw> <stride> <top> <left> <bottom> <right> <groups>`,
/// `relu6 <id> <in>`, `add <id> <a> <b>`, `gap <id> <in>`, `dense <id> <in> <out>`,
/// `softmax <id> <in>`, `input <id> <h> <w> <c>`.
fn describe(id: usize, node: &Option<Node>, dir: &Path) -> AnyResult<Option<String>> {
    let Some(node) = node else { return Ok(None) };
    let ins: Vec<String> = node.inputs.iter().map(|t| t.0.to_string()).collect();
    let ins = ins.join(" ");
    let line = match &node.op {
        Op::Input => format!(
            "input {id} {} {} {}",
            node.shape.h, node.shape.w, node.shape.c
        ),
        Op::Conv2d(c) => {
            let in_per_group = c.weights.len() / (c.out_channels * c.kernel_h * c.kernel_w);
            let shape = [c.out_channels, c.kernel_h, c.kernel_w, in_per_group];
            write_npy(&dir.join(format!("w{id}.npy")), &shape, &c.weights)?;
            let bias = c.bias.clone().unwrap_or_else(|| vec![0.0; c.out_channels]);
            write_npy(&dir.join(format!("b{id}.npy")), &[c.out_channels], &bias)?;
            let p = c.padding;
            format!(
                "conv {id} {ins} {} {} {} {} {} {} {} {} {}",
                c.out_channels,
                c.kernel_h,
                c.kernel_w,
                c.stride,
                p.top,
                p.left,
                p.bottom,
                p.right,
                c.groups
            )
        }
        Op::Dense(d) => {
            let inputs = d.weights.len() / d.out_features;
            write_npy(
                &dir.join(format!("w{id}.npy")),
                &[d.out_features, inputs],
                &d.weights,
            )?;
            let bias = d.bias.clone().unwrap_or_else(|| vec![0.0; d.out_features]);
            write_npy(&dir.join(format!("b{id}.npy")), &[d.out_features], &bias)?;
            format!("dense {id} {ins} {}", d.out_features)
        }
        Op::Activation(Activation::Relu6) => format!("relu6 {id} {ins}"),
        Op::Add => format!("add {id} {ins}"),
        Op::GlobalAvgPool => format!("gap {id} {ins}"),
        Op::Softmax => format!("softmax {id} {ins}"),
        other => return Err(format!("{}: {} not exported", node.name, other.kind()).into()),
    };
    Ok(Some(line))
}

fn write_npy(path: &Path, shape: &[usize], data: &[f32]) -> AnyResult<()> {
    let shape: Vec<u64> = shape.iter().map(|&d| d as u64).collect();
    let mut writer = npyz::WriteOptions::new()
        .default_dtype()
        .shape(&shape)
        .writer(std::fs::File::create(path)?)
        .begin_nd()?;
    writer.extend(data.iter().copied())?;
    writer.finish()?;
    Ok(())
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}
