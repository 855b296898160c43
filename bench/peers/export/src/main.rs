//! Exports one of our MobileNets (random weights, seed 0) for the peer runtimes.
//!
//! Usage: `export <out-dir> <arch>` (arch: v1, v2, v3-small, v3-large, ...). Writes into
//! `<out-dir>`:
//! - `graph.txt`: one line per layer, BatchNorm already folded into the preceding conv,
//!   so every peer runs exactly the arithmetic we run (see `describe` for the line format);
//! - `w<id>.npy` / `b<id>.npy`: conv weights OHWI `[out][kh][kw][in/groups]`, dense `[out][in]`;
//! - `input.npy`: NHWC 1×H×W×3, `verify::random_input(graph, 1, 0)`;
//! - `ours.npy`: our GPU output (softmax over 1000 classes), `cpu.npy`: our CPU reference.
//!
//! Every op of the folded graph is written or the export fails: a peer must never run a
//! network that silently differs from ours.

mod fold;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use npyz::WriterBuilder;

use mobilenet_wgpu::graph::{Activation, Node, Op, Shape};
use mobilenet_wgpu::model::Model;
use mobilenet_wgpu::models::{Arch, ArchConfig};
use mobilenet_wgpu::runtime::Runtime;

use fold::{fold_batch_norms, Folded};

pub type AnyResult<T> = Result<T, Box<dyn std::error::Error>>;

const USAGE: &str = "usage: export <out-dir> <arch>";

fn main() -> AnyResult<()> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().ok_or(USAGE)?);
    let arch: Arch = args.next().ok_or(USAGE)?.parse()?;
    std::fs::create_dir_all(&dir)?;
    let model = Model::from_arch(&ArchConfig::new(arch), 0)?;
    let graph = &model.graph;
    let input = mobilenet_wgpu::verify::random_input(graph, 1, 0);
    let folded = fold_batch_norms(graph)?;
    let mut text = String::new();
    for (id, node) in folded.nodes.iter().enumerate() {
        if let Some(node) = node {
            writeln!(text, "{}", describe(id, node, &folded, &dir)?)?;
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
        "exported {arch} to {}: adapter {}, ours vs cpu max |d| = {:e}",
        dir.display(),
        runtime.adapter_name(),
        max_abs_diff(&ours, &cpu)
    );
    Ok(())
}

/// One `graph.txt` line (and its weight files):
/// `input <id> <h> <w> <c>`,
/// `conv <id> <in> <out_c> <kh> <kw> <stride> <top> <left> <bottom> <right> <groups>`,
/// `relu|relu6|hswish|hsigmoid <id> <in>` (hsigmoid is `relu6(x + 3) / 6`),
/// `add <id> <a> <b>`, `mulc <id> <x> <scale>` (x times a 1×1×C scale, per channel),
/// `gap <id> <in>` (gives a 1×1×C map), `dense <id> <in> <out>` (on a 1×1×C map),
/// `softmax <id> <in>` (over the channels of a 1×1×C map).
fn describe(id: usize, node: &Node, folded: &Folded, dir: &Path) -> AnyResult<String> {
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
            require_vector(node, folded)?;
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
        Op::Activation(activation) => format!("{} {id} {ins}", activation_word(node, *activation)?),
        Op::Add => format!("add {id} {ins}"),
        Op::MulChannel => format!("mulc {id} {ins}"),
        Op::GlobalAvgPool => format!("gap {id} {ins}"),
        Op::Softmax => {
            require_vector(node, folded)?;
            format!("softmax {id} {ins}")
        }
        other => return Err(format!("{}: {} not exported", node.name, other.kind()).into()),
    };
    Ok(line)
}

/// The `graph.txt` word of an activation; the variants no peer line exists for (Keras'
/// 0.2x + 0.5 hard sigmoid, sigmoid, quantization clamps) are errors.
fn activation_word(node: &Node, activation: Activation) -> AnyResult<&'static str> {
    Ok(match activation {
        Activation::Relu => "relu",
        Activation::Relu6 => "relu6",
        Activation::HardSwish => "hswish",
        Activation::HardSigmoid { alpha, beta } if alpha == 1.0 / 6.0 && beta == 0.5 => "hsigmoid",
        other => return Err(format!("{}: activation {other:?} not exported", node.name).into()),
    })
}

/// Dense and softmax lines are only defined on a 1×1×C input (the peers flatten it).
fn require_vector(node: &Node, folded: &Folded) -> AnyResult<()> {
    let source = folded.nodes[node.inputs[0].0]
        .as_ref()
        .ok_or("input of a folded node")?;
    let Shape { h, w, .. } = source.shape;
    if (h, w) != (1, 1) {
        let shape = source.shape;
        return Err(format!("{}: input is {shape}, not 1x1xC", node.name).into());
    }
    Ok(())
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
