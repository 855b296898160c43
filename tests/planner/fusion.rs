//! Kernel selection and epilogue fusion.

use mobilenet_wgpu::graph::{Activation, Op, Shape, TensorId};
use mobilenet_wgpu::plan::{ActKind, ActStage, Kernel};

use crate::memory::check_memory;
use crate::net::{clamp, kernel_names, Net};

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
