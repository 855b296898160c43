//! The executor itself: per-step probes, input checks and plan validation.

use mobilenet_wgpu::cpu;
use mobilenet_wgpu::gpu::Executor;
use mobilenet_wgpu::graph::{Activation, Op, Padding, Shape};
use mobilenet_wgpu::plan::Plan;
use mobilenet_wgpu::Error;
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
