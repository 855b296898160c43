//! Slot assignment: the memory invariants the executor relies on, and a plan executed
//! step by step on the CPU against the reference.

use std::collections::HashMap;

use mobilenet_wgpu::graph::{Activation, Graph, Op, Shape, TensorId};
use mobilenet_wgpu::models::{build, Arch, ArchConfig};
use mobilenet_wgpu::plan::{
    ActKind, ActStage, Epilogue, Kernel, KernelFamily, Plan, Step, TensorRef,
};
use mobilenet_wgpu::{cpu, Error, Precision};

use crate::net::{Net, Rng};

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
    let gate = net.act("gate", gate, Activation::HARD_SIGMOID);
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
pub fn check_memory(plan: &Plan) {
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

/// Executes the plans of both kernel families (the GPU family's with merged steps) step
/// by step on the CPU over their own slots, as the GPU does, and compares every completed
/// tensor with the reference run of the unfused graph. Slots start as NaN so a read of
/// anything not yet written (or overwritten) shows.
fn assert_plan_matches_reference(graph: &Graph, batch: usize) {
    for family in [KernelFamily::CpuAdapter, KernelFamily::Gpu] {
        let plan = Plan::build_for(graph, batch, Precision::F32, family).unwrap();
        assert_planned_execution_matches(graph, &plan);
    }
}

fn assert_planned_execution_matches(graph: &Graph, plan: &Plan) {
    check_memory(plan);
    let batch = plan.batch;
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
    // A merged step's earlier part, through its own epilogue (which has no residual).
    let finish = |e: &Epilogue, v: &[f32]| -> Vec<f32> {
        let stage = |v: f32| e.pre.iter().fold(v, |v, s| apply_stage(*s, v));
        v.iter().map(|&v| apply_stage(e.post, stage(v))).collect()
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
        Kernel::SqueezeExcite(se) => {
            let pooled = run_op(shape, Op::GlobalAvgPool, x, batch);
            let pooled = finish(&se.pool_epilogue, &pooled);
            let reduce = Op::Conv2d(se.reduce.clone());
            let hidden = run_op(Shape::new(1, 1, shape.c), reduce, &pooled, batch);
            let hidden = finish(&se.reduce_epilogue, &hidden);
            let hidden_shape = Shape::new(1, 1, se.reduce.out_channels);
            run_op(hidden_shape, Op::Conv2d(se.expand.clone()), &hidden, batch)
        }
        Kernel::Separable(pair) => {
            let dw = run_op(shape, Op::Conv2d(pair.depthwise.clone()), x, batch);
            let dw = finish(&pair.depthwise_epilogue, &dw);
            run_op(pair.middle, Op::Conv2d(pair.pointwise.clone()), &dw, batch)
        }
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
        Kernel::Int(_) => panic!("the float plans simulated here have no integer steps"),
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
        ActKind::HardSigmoid { alpha, beta } => Activation::HardSigmoid { alpha, beta }.apply(v),
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
