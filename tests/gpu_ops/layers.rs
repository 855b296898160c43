//! Pooling, dense, softmax, squeeze-excite, concat and large element-wise dispatches.

use mobilenet_wgpu::graph::{Activation, AvgPool, Dense, Graph, Op, Padding, Shape, TensorId};
use mobilenet_wgpu::plan::{KernelFamily, Plan};
use mobilenet_wgpu::Precision;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::{check, conv_op, random, ConvSpec};

#[test]
fn pooling() {
    for (i, shape) in [
        Shape::new(7, 5, 11),
        Shape::new(1, 1, 4),
        Shape::new(8, 8, 64),
    ]
    .into_iter()
    .enumerate()
    {
        let mut g = Graph::new(shape).unwrap();
        g.add("gap", Op::GlobalAvgPool, &[g.input()]).unwrap();
        check(&g, 1 + i, 60 + i as u64, "global_avg_pool");
    }
    let windows = [
        (Shape::new(9, 7, 5), 3, 2),
        (Shape::new(8, 8, 3), 2, 2),
        (Shape::new(6, 7, 4), 3, 1),
    ];
    for (i, (shape, kernel, stride)) in windows.into_iter().enumerate() {
        let pool = AvgPool {
            kernel,
            stride,
            padding: Padding::same(shape.h, shape.w, kernel, stride),
        };
        let mut g = Graph::new(shape).unwrap();
        g.add("pool", Op::AvgPool(pool), &[g.input()]).unwrap();
        check(&g, 2, 70 + i as u64, "avg_pool");
    }
}

fn dense_op(rng: &mut ChaCha8Rng, inputs: usize, outputs: usize) -> Op {
    let weights = random(rng, inputs * outputs, 0.3);
    Op::Dense(Dense {
        out_features: outputs,
        weights,
        bias: Some(random(rng, outputs, 0.3)),
    })
}

#[test]
fn dense_and_softmax() {
    let mut rng = ChaCha8Rng::seed_from_u64(80);
    let mut g = Graph::new(Shape::new(3, 3, 4)).unwrap();
    let x = g.add("flatten", Op::Flatten, &[g.input()]).unwrap();
    let x = g.add("dense", dense_op(&mut rng, 36, 10), &[x]).unwrap();
    g.add("softmax", Op::Softmax, &[x]).unwrap();
    check(&g, 3, 80, "softmax");

    let mut g = Graph::new(Shape::new(1, 1, 37)).unwrap();
    g.add("dense", dense_op(&mut rng, 37, 19), &[g.input()])
        .unwrap();
    check(&g, 2, 81, "dense");

    // More inputs than a workgroup has threads, not a multiple of it (the GPU family's
    // split loop runs several rounds, some threads one fewer).
    let mut g = Graph::new(Shape::new(1, 1, 150)).unwrap();
    g.add("dense", dense_op(&mut rng, 150, 7), &[g.input()])
        .unwrap();
    check(&g, 2, 82, "dense");

    for (i, shape) in [
        Shape::new(1, 1, 1000),
        Shape::new(3, 3, 5),
        Shape::new(1, 1, 1),
    ]
    .into_iter()
    .enumerate()
    {
        let mut g = Graph::new(shape).unwrap();
        g.add("softmax", Op::Softmax, &[g.input()]).unwrap();
        check(&g, 2, 82 + i as u64, "softmax");
    }
}

#[test]
fn squeeze_excite_mul_channel() {
    let mut rng = ChaCha8Rng::seed_from_u64(90);
    let shape = Shape::new(6, 5, 8);
    let mut g = Graph::new(shape).unwrap();
    let s = g.add("gap", Op::GlobalAvgPool, &[g.input()]).unwrap();
    let s = g.add("fc", dense_op(&mut rng, 8, 8), &[s]).unwrap();
    let s = g
        .add("gate", Op::Activation(Activation::HARD_SIGMOID), &[s])
        .unwrap();
    g.add("scale", Op::MulChannel, &[g.input(), s]).unwrap();
    check(&g, 3, 90, "mul_channel");
}

const HARD_SIGMOID: Activation = Activation::HARD_SIGMOID;

/// x → global pool → 1×1 conv (ReLU) → 1×1 conv → hard sigmoid → x · scale: with the GPU
/// kernels the pool and both convolutions run as one squeeze_excite dispatch (CPU adapters
/// keep three), over narrow and V3-wide channel counts, several map sizes and batches.
#[test]
fn squeeze_excite_blocks_run_as_one_dispatch() {
    let cases = [
        (Shape::new(7, 5, 16), 4, 1, Activation::Relu, HARD_SIGMOID),
        // Only the reduce conv activates (the gate is a clamp): the merged kernel must
        // still compile its activation code.
        (
            Shape::new(1, 1, 20),
            8,
            2,
            Activation::HardSwish,
            Activation::Relu6,
        ),
        (Shape::new(13, 9, 72), 24, 3, Activation::Relu, HARD_SIGMOID),
        (
            Shape::new(7, 7, 960),
            240,
            2,
            Activation::Sigmoid,
            HARD_SIGMOID,
        ),
    ];
    for (i, (shape, hidden, batch, act, gate)) in cases.into_iter().enumerate() {
        let mut rng = ChaCha8Rng::seed_from_u64(95 + i as u64);
        let mut g = Graph::new(shape).unwrap();
        let s = g.add("gap", Op::GlobalAvgPool, &[g.input()]).unwrap();
        let reduce = conv_op(&mut rng, shape.c, &ConvSpec::pointwise(hidden));
        let s = g.add("reduce", reduce, &[s]).unwrap();
        let s = g.add("act", Op::Activation(act), &[s]).unwrap();
        let expand = conv_op(&mut rng, hidden, &ConvSpec::pointwise(shape.c));
        let s = g.add("expand", expand, &[s]).unwrap();
        let s = g.add("gate", Op::Activation(gate), &[s]).unwrap();
        g.add("scale", Op::MulChannel, &[g.input(), s]).unwrap();
        let kernels = |family| {
            let plan = Plan::build_for(&g, batch, Precision::F32, family).unwrap();
            plan.steps
                .iter()
                .map(|s| s.kernel.name())
                .collect::<Vec<_>>()
        };
        let unmerged = ["global_avg_pool", "pointwise", "pointwise", "mul_channel"];
        assert_eq!(kernels(KernelFamily::CpuAdapter), unmerged, "{shape}");
        assert_eq!(
            kernels(KernelFamily::Gpu),
            ["squeeze_excite", "mul_channel"],
            "{shape}"
        );
        check(&g, batch, 95 + i as u64, "squeeze_excite");
    }
}

/// A pool and two 1×1 convolutions that end with other channels than they start (a small
/// classifier head) are not a squeeze-excite block: they stay three steps.
#[test]
fn a_pool_and_two_convs_changing_the_width_are_not_merged() {
    let mut rng = ChaCha8Rng::seed_from_u64(99);
    let mut g = Graph::new(Shape::new(4, 4, 12)).unwrap();
    let s = g.add("gap", Op::GlobalAvgPool, &[g.input()]).unwrap();
    let s = g
        .add(
            "hidden",
            conv_op(&mut rng, 12, &ConvSpec::pointwise(6)),
            &[s],
        )
        .unwrap();
    g.add(
        "logits",
        conv_op(&mut rng, 6, &ConvSpec::pointwise(10)),
        &[s],
    )
    .unwrap();
    let plan = Plan::build_for(&g, 1, Precision::F32, KernelFamily::Gpu).unwrap();
    let kernels: Vec<&str> = plan.steps.iter().map(|s| s.kernel.name()).collect();
    assert_eq!(kernels, ["global_avg_pool", "pointwise", "pointwise"]);
    check(&g, 2, 99, "pointwise");
}

#[test]
fn concat_of_branches() {
    let mut rng = ChaCha8Rng::seed_from_u64(100);
    let shape = Shape::new(5, 7, 3);
    let mut g = Graph::new(shape).unwrap();
    let a = g
        .add(
            "a",
            conv_op(&mut rng, 3, &ConvSpec::pointwise(4)),
            &[g.input()],
        )
        .unwrap();
    let b = g
        .add(
            "b",
            conv_op(&mut rng, 3, &ConvSpec::pointwise(5)),
            &[g.input()],
        )
        .unwrap();
    let parts: [TensorId; 3] = [a, g.input(), b];
    g.add("concat", Op::Concat, &parts).unwrap();
    check(&g, 2, 100, "concat");
}

#[test]
fn large_elementwise_dispatch_is_split_in_2d() {
    // 512 x 512 x 17 values need more than 65535 workgroups of 64 threads.
    let mut g = Graph::new(Shape::new(512, 512, 17)).unwrap();
    g.add("act", Op::Activation(Activation::HardSwish), &[g.input()])
        .unwrap();
    check(&g, 1, 110, "elementwise");
}
