//! Planner passes on small hand-built graphs: BatchNorm folding (checked numerically
//! against the CPU reference), kernel selection and epilogue fusion, and the memory
//! invariants the GPU executor relies on.

use mobilenet_wgpu::graph::{
    Activation, BatchNorm, Conv2d, Dense, Graph, Op, Padding, Shape, TensorId,
};
use mobilenet_wgpu::models::{build, Arch, ArchConfig};
use mobilenet_wgpu::plan::{ActKind, ActStage, Kernel, Plan, Step, TensorRef};
use mobilenet_wgpu::{cpu, Error};
use std::collections::HashMap;

/// Deterministic values in [-1, 1) (xorshift), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }

    fn vec(&mut self, n: usize) -> Vec<f32> {
        (0..n).map(|_| self.next()).collect()
    }
}

/// A graph under construction with random weights.
struct Net {
    g: Graph,
    rng: Rng,
}

impl Net {
    fn new(h: usize, w: usize, c: usize, seed: u64) -> Self {
        Net {
            g: Graph::new(Shape::new(h, w, c)).unwrap(),
            rng: Rng(seed),
        }
    }

    fn add(&mut self, name: &str, op: Op, inputs: &[TensorId]) -> TensorId {
        self.g.add(name, op, inputs).unwrap()
    }

    /// A `k`×`k` convolution ("same" padding for odd `k`) with random weights and bias.
    fn conv(&mut self, name: &str, x: TensorId, out_c: usize, k: usize, groups: usize) -> TensorId {
        let in_c = self.g.shape(x).c;
        let conv = Conv2d {
            out_channels: out_c,
            kernel_h: k,
            kernel_w: k,
            stride: 1,
            padding: Padding::uniform(k / 2),
            groups,
            weights: self.rng.vec(out_c * k * k * in_c / groups),
            bias: Some(self.rng.vec(out_c)),
        };
        self.add(name, Op::Conv2d(conv), &[x])
    }

    fn dense(&mut self, name: &str, x: TensorId, out: usize, bias: bool) -> TensorId {
        let weights = self.rng.vec(out * self.g.shape(x).c);
        let bias = bias.then(|| self.rng.vec(out));
        self.add(
            name,
            Op::Dense(Dense {
                out_features: out,
                weights,
                bias,
            }),
            &[x],
        )
    }

    fn bn(&mut self, name: &str, x: TensorId) -> TensorId {
        let c = self.g.shape(x).c;
        let var = self.rng.vec(c).iter().map(|v| v.abs() + 0.1).collect();
        let (gamma, beta, mean) = (self.rng.vec(c), self.rng.vec(c), self.rng.vec(c));
        self.add(
            name,
            Op::BatchNorm(BatchNorm {
                gamma,
                beta,
                mean,
                var,
                eps: 1e-3,
            }),
            &[x],
        )
    }

    fn act(&mut self, name: &str, x: TensorId, act: Activation) -> TensorId {
        self.add(name, Op::Activation(act), &[x])
    }

    /// Conv + BatchNorm + ReLU6, as in every MobileNet block.
    fn conv_bn_relu6(
        &mut self,
        name: &str,
        x: TensorId,
        out_c: usize,
        k: usize,
        groups: usize,
    ) -> TensorId {
        let c = self.conv(name, x, out_c, k, groups);
        let b = self.bn(&format!("{name}_bn"), c);
        self.act(&format!("{name}_relu6"), b, Activation::Relu6)
    }

    /// A MobileNetV2 inverted residual block; `skip_first` orders the Add's operands.
    fn v2_block(&mut self, name: &str, x: TensorId, skip_first: bool) -> TensorId {
        let c = self.g.shape(x).c;
        let e = self.conv_bn_relu6(&format!("{name}_expand"), x, 2 * c, 1, 1);
        let d = self.conv_bn_relu6(&format!("{name}_depthwise"), e, 2 * c, 3, 2 * c);
        let p = self.conv(&format!("{name}_project"), d, c, 1, 1);
        let p = self.bn(&format!("{name}_project_bn"), p);
        let operands = if skip_first { [x, p] } else { [p, x] };
        self.add(&format!("{name}_add"), Op::Add, &operands)
    }

    fn plan(&self, batch: usize) -> Plan {
        Plan::build(&self.g, batch).unwrap()
    }
}

fn clamp(lo: f32, hi: f32) -> ActStage {
    ActStage {
        act: ActKind::Identity,
        lo,
        hi,
    }
}

fn kernel_names(plan: &Plan) -> Vec<&'static str> {
    plan.steps.iter().map(|s| s.kernel.name()).collect()
}

/// Largest difference between the CPU outputs of `original` and of `folded` alone.
fn fold_error(net: &mut Net, folded: Op) -> f32 {
    let shape = net.g.input_shape();
    let mut single = Graph::new(shape).unwrap();
    single.add("folded", folded, &[single.input()]).unwrap();
    let input = net.rng.vec(shape.len());
    let expected = cpu::run_output(&net.g, &input, 1).unwrap();
    let actual = cpu::run_output(&single, &input, 1).unwrap();
    assert_eq!(expected.len(), actual.len());
    expected
        .iter()
        .zip(&actual)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn folded_conv_matches_conv_then_batch_norm() {
    let mut net = Net::new(6, 5, 3, 1);
    let c = net.conv("conv", TensorId(0), 4, 3, 1);
    let b = net.bn("bn", c);
    let plan = net.plan(1);
    assert_eq!(kernel_names(&plan), ["conv"]);
    assert_eq!(plan.steps[0].name, "conv");
    assert_eq!(plan.steps[0].fused, [c, b]);
    assert_eq!(
        plan.steps[0].output.tensor, b,
        "the step computes the BatchNorm's value"
    );
    let Kernel::Conv(folded) = &plan.steps[0].kernel else {
        unreachable!()
    };
    assert!(fold_error(&mut net, Op::Conv2d(folded.clone())) < 1e-5);
}

#[test]
fn folded_dense_without_bias_gains_one() {
    let mut net = Net::new(1, 1, 6, 2);
    let d = net.dense("dense", TensorId(0), 4, false);
    net.bn("bn", d);
    let plan = net.plan(1);
    let Kernel::Dense(folded) = &plan.steps[0].kernel else {
        panic!("{:?}", kernel_names(&plan))
    };
    assert!(folded.bias.is_some());
    assert!(fold_error(&mut net, Op::Dense(folded.clone())) < 1e-5);
}

#[test]
fn unfoldable_batch_norm_becomes_depthwise_scale_and_shift() {
    let mut net = Net::new(4, 4, 3, 3);
    let b = net.bn("bn", TensorId(0));
    let Op::BatchNorm(params) = &net.g.node(b).op else {
        unreachable!()
    };
    let (scale, shift) = params.scale_shift();
    let plan = net.plan(1);
    let Kernel::Depthwise(dw) = &plan.steps[0].kernel else {
        panic!("{:?}", kernel_names(&plan))
    };
    assert_eq!((dw.kernel_h, dw.kernel_w, dw.groups), (1, 1, 3));
    assert_eq!(dw.weights, scale);
    assert_eq!(dw.bias, Some(shift));
}

#[test]
fn batch_norm_after_shared_conv_is_not_folded() {
    let mut net = Net::new(4, 4, 3, 4);
    let c = net.conv("conv", TensorId(0), 3, 3, 1);
    let b = net.bn("bn", c);
    net.add("add", Op::Add, &[c, b]);
    let plan = net.plan(1);
    assert_eq!(kernel_names(&plan), ["conv", "depthwise"]);
    let residual = plan.steps[1]
        .residual
        .expect("the add fuses into the BatchNorm step");
    assert_eq!(residual.tensor, plan.steps[0].output.tensor);
}

#[test]
fn conv_batch_norm_relu6_is_one_step() {
    let mut net = Net::new(8, 8, 3, 5);
    let relu6 = net.conv_bn_relu6("stem", TensorId(0), 8, 3, 1);
    let plan = net.plan(1);
    assert_eq!(plan.dispatch_count(), 1);
    let step = &plan.steps[0];
    assert_eq!(step.name, "stem");
    assert_eq!(
        step.fused,
        [TensorId(1), TensorId(2), relu6],
        "conv, BatchNorm, ReLU6"
    );
    assert_eq!(plan.output.tensor, relu6);
    assert_eq!(step.epilogue.pre, [clamp(0.0, 6.0), ActStage::IDENTITY]);
    assert_eq!(step.epilogue.post, ActStage::IDENTITY);
}

#[test]
fn clamp_hard_swish_clamp_uses_two_stages() {
    let mut net = Net::new(4, 4, 3, 6);
    let c = net.conv("conv", TensorId(0), 4, 1, 1);
    let a = net.act(
        "clamp_in",
        c,
        Activation::Clamp {
            min: -8.0,
            max: 8.0,
        },
    );
    let h = net.act("hswish", a, Activation::HardSwish);
    let o = net.act(
        "clamp_out",
        h,
        Activation::Clamp {
            min: -1.0,
            max: 5.0,
        },
    );
    let plan = net.plan(1);
    assert_eq!(kernel_names(&plan), ["pointwise"]);
    let step = &plan.steps[0];
    let hswish = ActStage {
        act: ActKind::HardSwish,
        lo: -1.0,
        hi: 5.0,
    };
    assert_eq!(step.epilogue.pre, [clamp(-8.0, 8.0), hswish]);
    assert_eq!(step.output.tensor, o);
    assert_eq!(step.fused, [c, a, h, o]);
}

#[test]
fn disjoint_clamps_do_not_merge() {
    let mut net = Net::new(4, 4, 3, 7);
    let a = net.act("relu", TensorId(0), Activation::Relu);
    let b = net.act("relu6", a, Activation::Relu6);
    net.act("high", b, Activation::Clamp { min: 7.0, max: 9.0 });
    let plan = net.plan(1);
    assert_eq!(kernel_names(&plan), ["elementwise", "elementwise"]);
    assert_eq!(
        plan.steps[0].epilogue.pre,
        [clamp(0.0, 6.0), ActStage::IDENTITY]
    );
    assert_eq!(
        plan.steps[1].epilogue.pre,
        [clamp(7.0, 9.0), ActStage::IDENTITY]
    );
}

#[test]
fn v2_block_fuses_residual_and_following_activation() {
    let mut net = Net::new(8, 8, 3, 8);
    let stem = net.conv_bn_relu6("stem", TensorId(0), 8, 3, 1);
    let add = net.v2_block("block_1", stem, true);
    net.act("post_relu", add, Activation::Relu);
    let plan = net.plan(1);
    assert_eq!(
        kernel_names(&plan),
        ["conv", "pointwise", "depthwise", "pointwise"]
    );
    let project = &plan.steps[3];
    assert_eq!(project.name, "block_1_project");
    assert_eq!(
        project.residual.map(|r| r.tensor),
        Some(plan.steps[0].output.tensor)
    );
    assert_eq!(project.epilogue.pre, [ActStage::IDENTITY; 2]);
    assert_eq!(project.epilogue.post, clamp(0.0, f32::MAX));
}

#[test]
fn flatten_and_dropout_alias_their_input() {
    let mut net = Net::new(2, 2, 3, 9);
    let c = net.conv("conv", TensorId(0), 4, 1, 1);
    let d = net.add("dropout", Op::Dropout, &[c]);
    let f = net.add("flatten", Op::Flatten, &[d]);
    net.dense("dense", f, 5, false);
    let plan = net.plan(1);
    assert_eq!(kernel_names(&plan), ["pointwise", "dense"]);
    let read = plan.steps[1].inputs[0];
    assert_eq!(read.tensor, plan.steps[0].output.tensor);
    assert_eq!(read.shape, Shape::new(1, 1, 16));
    assert_eq!(read.slot, plan.steps[0].output.slot);
}

#[test]
fn concat_writes_one_part_per_input() {
    let mut net = Net::new(4, 4, 2, 10);
    let a = net.conv("a", TensorId(0), 3, 3, 1);
    let b = net.conv("b", TensorId(0), 5, 1, 1);
    net.add("concat", Op::Concat, &[a, b]);
    let plan = net.plan(1);
    let parts: Vec<_> = plan.steps[2..]
        .iter()
        .map(|s| (&s.kernel, s.output))
        .collect();
    let [(Kernel::ConcatPart { offset: 0 }, x), (Kernel::ConcatPart { offset: 3 }, y)] = parts[..]
    else {
        panic!("{:?}", kernel_names(&plan))
    };
    assert_eq!((x, y), (plan.output, plan.output));
    check_memory(&plan);
}

#[test]
fn plain_chain_ping_pongs_between_two_slots() {
    let mut net = Net::new(8, 8, 3, 11);
    let mut x = TensorId(0);
    for i in 0..5 {
        x = net.conv_bn_relu6(&format!("conv_{i}"), x, 4 + i, 3, 1);
    }
    let plan = net.plan(2);
    assert_eq!(plan.dispatch_count(), 5);
    assert_eq!(plan.buffer_count(), 3, "two ping-pong slots plus the input");
    check_memory(&plan);
}

#[test]
fn v2_chain_keeps_the_skip_input_alive() {
    let mut net = Net::new(8, 8, 3, 12);
    let mut x = net.conv_bn_relu6("stem", TensorId(0), 8, 3, 1);
    for i in 0..4 {
        x = net.v2_block(&format!("block_{i}"), x, i % 2 == 0);
    }
    let plan = net.plan(3);
    assert_eq!(plan.dispatch_count(), 13);
    assert_eq!(
        plan.steps.iter().filter(|s| s.residual.is_some()).count(),
        4
    );
    assert_eq!(
        plan.buffer_count(),
        4,
        "skip input, two block temporaries, plus the input"
    );
    assert_eq!(
        plan.output.tensor,
        net.g.output(),
        "ids name the original graph"
    );
    for step in &plan.steps {
        assert_eq!(net.g.shape(step.output.tensor), step.output.shape);
        assert_eq!(step.fused.last(), Some(&step.output.tensor));
    }
    check_memory(&plan);
}

/// A stem feeding a squeeze-excite branch, a residual add and a concat.
fn branchy_net() -> Net {
    let mut net = Net::new(6, 6, 4, 13);
    let stem = net.conv_bn_relu6("stem", TensorId(0), 6, 3, 1);
    let left = net.conv_bn_relu6("left", stem, 6, 3, 6);
    let pooled = net.add("squeeze", Op::GlobalAvgPool, &[left]);
    let flat = net.add("flat", Op::Flatten, &[pooled]);
    let gate = net.dense("excite", flat, 6, true);
    let gate = net.act("gate", gate, Activation::HardSigmoid);
    let scaled = net.add("scale", Op::MulChannel, &[left, gate]);
    let right = net.conv_bn_relu6("right", stem, 6, 1, 1);
    let sum = net.add("sum", Op::Add, &[scaled, right]);
    net.add("concat", Op::Concat, &[sum, stem, left]);
    net
}

#[test]
fn branchy_graph_keeps_memory_invariants() {
    let plan = branchy_net().plan(2);
    assert!(plan
        .steps
        .iter()
        .any(|s| s.name == "right" && s.residual.is_some()));
    check_memory(&plan);
}

#[test]
fn graph_without_computation_is_rejected() {
    let net = Net::new(2, 2, 3, 14);
    assert!(matches!(
        Plan::build(&net.g, 1),
        Err(Error::InvalidGraph { .. })
    ));
    let mut net = Net::new(2, 2, 3, 14);
    net.add("dropout", Op::Dropout, &[TensorId(0)]);
    assert!(matches!(
        Plan::build(&net.g, 1),
        Err(Error::InvalidGraph { .. })
    ));
}

/// The invariants the executor relies on: every read follows its write, no step binds
/// its output slot as an input, tensors sharing a slot are never live together, and each
/// slot is exactly as large as its largest tensor.
fn check_memory(plan: &Plan) {
    let mut life: HashMap<TensorId, (usize, usize)> = HashMap::from([(plan.input.tensor, (0, 0))]);
    let mut elements = HashMap::from([(plan.input.tensor, plan.input.shape.len())]);
    let mut slot_of = HashMap::from([(plan.input.tensor, plan.input.slot)]);
    for (index, step) in plan.steps.iter().enumerate() {
        for read in step.inputs.iter().chain(&step.residual) {
            let span = life.get_mut(&read.tensor).expect("read before any write");
            assert!(
                span.0 < index || read.tensor == plan.input.tensor,
                "{} reads too early",
                step.name
            );
            span.1 = index;
            assert_eq!(slot_of[&read.tensor], read.slot);
            assert_ne!(
                read.slot, step.output.slot,
                "{} reads and writes one slot",
                step.name
            );
        }
        let out = step.output;
        life.entry(out.tensor).or_insert((index, index)).1 = index;
        elements.insert(out.tensor, out.shape.len());
        assert_eq!(*slot_of.entry(out.tensor).or_insert(out.slot), out.slot);
    }
    life.get_mut(&plan.output.tensor)
        .expect("output is written")
        .1 = plan.steps.len() - 1;
    assert_eq!(plan.output.slot, slot_of[&plan.output.tensor]);
    for (s, slot) in plan.slots.iter().enumerate() {
        assert!(slot.tensors.iter().all(|t| slot_of[t] == s));
        let spans: Vec<_> = slot.tensors.iter().map(|t| life[t]).collect();
        for (i, a) in spans.iter().enumerate() {
            assert!(
                spans[i + 1..].iter().all(|b| a.1 < b.0 || b.1 < a.0),
                "slot {s} overlaps"
            );
        }
        let largest = slot
            .tensors
            .iter()
            .map(|t| elements[t] * plan.batch * 4)
            .max();
        assert_eq!(Some(slot.bytes), largest);
    }
    assert_eq!(
        slot_of.len(),
        plan.slots.iter().map(|s| s.tensors.len()).sum::<usize>()
    );
}

#[test]
fn planned_execution_matches_cpu_reference() {
    let mut chain = Net::new(8, 8, 3, 15);
    let mut x = chain.conv_bn_relu6("stem", TensorId(0), 8, 3, 1);
    for i in 0..3 {
        x = chain.v2_block(&format!("block_{i}"), x, i % 2 == 1);
        x = chain.act(
            &format!("block_{i}_clamp"),
            x,
            Activation::Clamp {
                min: -4.0,
                max: 4.0,
            },
        );
    }
    assert_plan_matches_reference(&chain.g, 2);
    assert_plan_matches_reference(&branchy_net().g, 2);
    let small = ArchConfig {
        resolution: Some(32),
        ..ArchConfig::new(Arch::V3Small)
    };
    assert_plan_matches_reference(&build(&small, 1).unwrap(), 2);
}

/// Executes `plan` step by step on the CPU over its own slots, as the GPU does, and
/// compares every completed tensor with the reference run of the unfused graph. Slots
/// start as NaN so a read of anything not yet written (or overwritten) shows.
fn assert_plan_matches_reference(graph: &Graph, batch: usize) {
    let plan = Plan::build(graph, batch).unwrap();
    let input = Rng(99).vec(batch * graph.input_shape().len());
    let reference = cpu::run(graph, &input, batch).unwrap();
    let mut slots: Vec<Vec<f32>> = plan
        .slots
        .iter()
        .map(|s| vec![f32::NAN; s.bytes / 4])
        .collect();
    slots[plan.input.slot][..input.len()].copy_from_slice(&input);
    for (index, step) in plan.steps.iter().enumerate() {
        let value = execute(step, &slots, batch);
        slots[step.output.slot][..value.len()].copy_from_slice(&value);
        let later = &plan.steps[index + 1..];
        if later.iter().all(|s| s.output.tensor != step.output.tensor) {
            assert_close(&value, &reference[step.output.tensor.0], &step.name);
        }
    }
    let expected = &reference[graph.output().0];
    assert_close(
        &slots[plan.output.slot][..expected.len()],
        expected,
        "graph output",
    );
}

/// One step's whole output tensor.
fn execute(step: &Step, slots: &[Vec<f32>], batch: usize) -> Vec<f32> {
    let read = |r: &TensorRef| &slots[r.slot][..batch * r.shape.len()];
    let shape = step.inputs[0].shape;
    let x = read(&step.inputs[0]);
    let epilogue = |v: f32, residual: f32| {
        let v = step.epilogue.pre.iter().fold(v, |v, s| apply_stage(*s, v));
        apply_stage(step.epilogue.post, v + residual)
    };
    let raw = match &step.kernel {
        Kernel::Conv(c) | Kernel::Depthwise(c) | Kernel::Pointwise(c) => {
            run_op(shape, Op::Conv2d(c.clone()), x, batch)
        }
        Kernel::Dense(d) => run_op(shape, Op::Dense(d.clone()), x, batch),
        Kernel::AvgPool(p) => run_op(shape, Op::AvgPool(*p), x, batch),
        Kernel::GlobalAvgPool => run_op(shape, Op::GlobalAvgPool, x, batch),
        Kernel::Softmax => run_op(shape, Op::Softmax, x, batch),
        Kernel::Elementwise => x.to_vec(),
        Kernel::MulChannel => {
            let scale = read(&step.inputs[1]);
            let at = |i: usize| i / shape.len() * shape.c + i % shape.c;
            x.iter()
                .enumerate()
                .map(|(i, v)| v * scale[at(i)])
                .collect()
        }
        Kernel::ConcatPart { offset } => {
            let mut out = read(&step.output).to_vec();
            let (in_c, out_c) = (shape.c, step.output.shape.c);
            for (pixel, channels) in x.chunks(in_c).enumerate() {
                for (c, v) in channels.iter().enumerate() {
                    out[pixel * out_c + offset + c] = epilogue(*v, 0.0);
                }
            }
            return out;
        }
    };
    let residual = step.residual.map(|r| read(&r));
    raw.iter()
        .enumerate()
        .map(|(i, v)| epilogue(*v, residual.map_or(0.0, |r| r[i])))
        .collect()
}

fn apply_stage(stage: ActStage, v: f32) -> f32 {
    let act = match stage.act {
        ActKind::Identity => v,
        ActKind::HardSwish => Activation::HardSwish.apply(v),
        ActKind::HardSigmoid => Activation::HardSigmoid.apply(v),
        ActKind::KerasHardSigmoid => Activation::KerasHardSigmoid.apply(v),
        ActKind::Sigmoid => Activation::Sigmoid.apply(v),
    };
    act.max(stage.lo).min(stage.hi)
}

/// `op` alone on `x` with the CPU reference.
fn run_op(shape: Shape, op: Op, x: &[f32], batch: usize) -> Vec<f32> {
    let mut g = Graph::new(shape).unwrap();
    g.add("op", op, &[g.input()]).unwrap();
    cpu::run_output(&g, x, batch).unwrap()
}

fn assert_close(actual: &[f32], expected: &[f32], what: &str) {
    assert_eq!(actual.len(), expected.len(), "{what}");
    assert!(
        actual.iter().all(|v| !v.is_nan()),
        "{what}: reads a value never written"
    );
    let scale = expected.iter().fold(1e-6f32, |m, v| m.max(v.abs()));
    let worst = actual
        .iter()
        .zip(expected)
        .map(|(a, e)| (a - e).abs())
        .fold(0.0, f32::max);
    assert!(
        worst <= 1e-4 * scale,
        "{what}: max difference {worst} (scale {scale})"
    );
}
