//! BatchNorm folding, checked numerically against the CPU reference.

use mobilenet_wgpu::cpu;
use mobilenet_wgpu::graph::{Graph, Op, TensorId};
use mobilenet_wgpu::plan::Kernel;

use crate::net::{kernel_names, Net};

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
