//! The executor itself: per-step probes, input checks and plan validation.

use mobilenet_wgpu::cpu;
use mobilenet_wgpu::gpu::Executor;
use mobilenet_wgpu::graph::{Activation, Op, Padding, Shape};
use mobilenet_wgpu::plan::Plan;
use mobilenet_wgpu::{Error, Precision};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::{assert_close, context, conv_graph, random, ConvSpec};

#[test]
fn probes_return_every_step_and_wrong_input_is_rejected() {
    let Some(ctx) = context() else { return };
    let spec = ConvSpec {
        out: 4,
        k: 3,
        stride: 2,
        groups: 1,
        padding: Padding::uniform(1),
    };
    let mut g = conv_graph(Shape::new(9, 9, 3), spec, Some(Activation::Relu), 120);
    g.add("gap", Op::GlobalAvgPool, &[g.output()]).unwrap();
    let plan = Plan::build(&g, 2).unwrap();
    let executor = Executor::new(ctx, &plan).unwrap();
    let input = random(&mut ChaCha8Rng::seed_from_u64(121), 2 * 9 * 9 * 3, 1.0);
    let probes = executor.run_probed(&input).unwrap();
    assert_eq!(probes.len(), plan.steps.len());
    assert_eq!(probes.last().unwrap(), &executor.run(&input).unwrap());
    let reference = cpu::run(&g, &input, 2).unwrap();
    for (step, probe) in plan.steps.iter().zip(&probes) {
        assert_close(probe, &reference[step.output.tensor.0], &step.name);
    }
    let short = executor.run(&input[1..]);
    assert!(
        matches!(short, Err(Error::InvalidArgument(_))),
        "got {short:?}"
    );
}

#[test]
fn plans_that_alias_a_read_with_the_write_are_rejected() {
    let Some(ctx) = context() else { return };
    let spec = ConvSpec::pointwise(3);
    let g = conv_graph(Shape::new(4, 4, 3), spec, None, 130);
    let mut plan = Plan::build(&g, 1).unwrap();
    plan.steps[0].output.slot = plan.steps[0].inputs[0].slot;
    let err = Executor::new(ctx, &plan).unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)), "got {err}");
}

#[test]
fn a_large_input_uploaded_in_parallel_parts_arrives_whole() {
    // 3 images of 299×301×3: 809,091 values, an odd count, uploaded by several threads
    // in parts (f16 packs pairs, so the part boundaries and the padding matter).
    let Some(ctx) = context() else { return };
    let mut g = mobilenet_wgpu::graph::Graph::new(Shape::new(299, 301, 3)).unwrap();
    let identity = mobilenet_wgpu::graph::Conv2d {
        out_channels: 3,
        kernel_h: 1,
        kernel_w: 1,
        stride: 1,
        padding: Padding::default(),
        groups: 3,
        weights: vec![1.0; 3],
        bias: None,
    };
    g.add("identity", Op::Conv2d(identity), &[g.input()])
        .unwrap();
    let input = random(&mut ChaCha8Rng::seed_from_u64(130), 3 * 299 * 301 * 3, 4.0);
    for precision in [Precision::F32, Precision::F16] {
        if precision == Precision::F16
            && !ctx.device.features().contains(wgpu::Features::SHADER_F16)
        {
            continue;
        }
        let plan = Plan::build_with_precision(&g, 3, precision).unwrap();
        let output = Executor::new(ctx, &plan).unwrap().run(&input).unwrap();
        assert_eq!(output.len(), input.len());
        let tolerance = if precision == Precision::F32 {
            0.0
        } else {
            4.0 / 1024.0
        };
        for (i, (o, x)) in output.iter().zip(&input).enumerate() {
            assert!(
                (o - x).abs() <= tolerance,
                "{precision}: value {i} is {o}, sent {x}"
            );
        }
    }
}

/// A future polled again after it returned its output says so, instead of reading a
/// buffer that is no longer mapped.
#[test]
fn polling_a_finished_inference_again_is_a_clear_error() {
    let Some(ctx) = context() else { return };
    let g = conv_graph(Shape::new(4, 4, 3), ConvSpec::pointwise(2), None, 130);
    let executor = Executor::new(ctx, &Plan::build(&g, 1).unwrap()).unwrap();
    let input = random(&mut ChaCha8Rng::seed_from_u64(131), 4 * 4 * 3, 1.0);
    let mut in_flight = executor.queue(&input).unwrap();
    let output = pollster::block_on(&mut in_flight).expect("the output");
    assert_eq!(output, executor.run(&input).unwrap());
    let again = pollster::block_on(&mut in_flight).unwrap_err();
    assert!(
        matches!(&again, Error::InvalidArgument(m) if m.contains("already returned")),
        "{again}"
    );
}
