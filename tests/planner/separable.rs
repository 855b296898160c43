//! The GPU family's separable pass: a depthwise step whose output only the following 1×1
//! convolution reads becomes part of that step; anything else stays as it was.

use mobilenet_wgpu::graph::{Activation, Graph, Op, TensorId};
use mobilenet_wgpu::models::{build, Arch, ArchConfig};
use mobilenet_wgpu::plan::{ActStage, Kernel, KernelFamily, Plan};
use mobilenet_wgpu::Precision;

use crate::memory::check_memory;
use crate::net::{clamp, kernel_names, Net};

fn plan(graph: &Graph, family: KernelFamily) -> Plan {
    let plan = Plan::build_for(graph, 2, Precision::F32, family).unwrap();
    check_memory(&plan);
    plan
}

fn count(plan: &Plan, name: &str) -> usize {
    kernel_names(plan).iter().filter(|&&n| n == name).count()
}

fn plan_at(arch: Arch, batch: usize, family: KernelFamily) -> Plan {
    let graph = build(&ArchConfig::new(arch), 0).unwrap();
    let plan = Plan::build_for(&graph, batch, Precision::F32, family).unwrap();
    check_memory(&plan);
    plan
}

/// At batch 1 every V2 pair merges (no GEMM fills an H200-sized GPU); of V1's, the eight
/// on 14×14 and 7×7 maps; at batch 64 only the pairs whose GEMM has one tile of output
/// channels (V2's first six blocks, up to 32 channels), V1's none.
#[test]
fn depthwise_pairs_merge_where_the_gemm_is_small_or_narrow() {
    let cases = [
        (Arch::V2, 1, 17, 17),
        (Arch::V2, 64, 17, 6),
        (Arch::V1, 1, 13, 8),
        (Arch::V1, 64, 13, 0),
    ];
    for (arch, batch, depthwise, merged) in cases {
        let cpu = plan_at(arch, batch, KernelFamily::CpuAdapter);
        let gpu = plan_at(arch, batch, KernelFamily::Gpu);
        let what = format!("{arch:?} at batch {batch}");
        assert_eq!(count(&cpu, "depthwise"), depthwise, "{what}");
        assert_eq!(count(&gpu, "separable"), merged, "{what}");
        assert_eq!(count(&gpu, "depthwise"), depthwise - merged, "{what}");
        assert_eq!(
            gpu.dispatch_count(),
            cpu.dispatch_count() - merged,
            "{what}"
        );
    }
}

/// V2's residual block: the merged step keeps the depthwise ReLU6 as its own epilogue,
/// and the 1×1 convolution's residual and epilogue as the step's.
#[test]
fn a_merged_step_keeps_both_epilogues_and_the_residual() {
    let mut net = Net::new(8, 8, 4, 21);
    let stem = net.conv_bn_relu6("stem", TensorId(0), 8, 3, 1);
    let add = net.v2_block("block", stem, true);
    net.act("post_relu", add, Activation::Relu);
    let gpu = plan(&net.g, KernelFamily::Gpu);
    assert_eq!(kernel_names(&gpu), ["conv", "pointwise", "separable"]);
    let step = &gpu.steps[2];
    let Kernel::Separable(pair) = &step.kernel else {
        unreachable!("checked by name")
    };
    assert_eq!(step.name, "block_project");
    assert_eq!(step.inputs[0].tensor, gpu.steps[1].output.tensor);
    assert_eq!(pair.middle, net.g.shape(step.inputs[0].tensor));
    assert_eq!(pair.depthwise_epilogue.pre[0], clamp(0.0, 6.0));
    assert_eq!(
        step.residual.map(|r| r.tensor),
        Some(gpu.steps[0].output.tensor)
    );
    assert_eq!(step.epilogue.pre, [ActStage::IDENTITY; 2]);
    assert_eq!(step.epilogue.post, clamp(0.0, f32::MAX));
}

#[test]
fn depthwise_outputs_read_elsewhere_or_out_of_quads_stay_apart() {
    // Read twice: by the 1×1 convolution and by an add.
    let mut twice = Net::new(6, 6, 8, 22);
    let d = twice.conv("dw", TensorId(0), 8, 3, 8);
    let p = twice.conv("pw", d, 8, 1, 1);
    twice.add("add", Op::Add, &[p, d]);
    // Six channels: not whole quads.
    let mut odd = Net::new(6, 6, 6, 23);
    let d = odd.conv("dw", TensorId(0), 6, 3, 6);
    odd.conv("pw", d, 8, 1, 1);
    // The depthwise output is the graph's output, though a 1×1 convolution reads it.
    let mut output = Net::new(6, 6, 8, 24);
    let d = output.conv("dw", TensorId(0), 8, 3, 8);
    output.conv("pw", d, 8, 1, 1);
    output.g.set_output(d).unwrap();
    // The depthwise step adds a residual of its own, which the merged kernel cannot.
    let mut residual = Net::new(6, 6, 8, 25);
    let d = residual.conv("dw", TensorId(0), 8, 3, 8);
    let sum = residual.add("add", Op::Add, &[d, TensorId(0)]);
    residual.conv("pw", sum, 8, 1, 1);
    // A depth multiplier of 2.
    let mut multiplier = Net::new(6, 6, 4, 26);
    let d = multiplier.conv("dw", TensorId(0), 8, 3, 4);
    multiplier.conv("pw", d, 8, 1, 1);
    for (what, net) in [
        ("read twice", twice),
        ("odd channels", odd),
        ("graph output", output),
        ("residual", residual),
        ("multiplier", multiplier),
    ] {
        let gpu = plan(&net.g, KernelFamily::Gpu);
        let names = kernel_names(&gpu);
        assert_eq!(count(&gpu, "separable"), 0, "{what}: {names:?}");
        assert_eq!(count(&gpu, "depthwise"), 1, "{what}: {names:?}");
    }
}

/// V3's blocks with squeeze-excite read the depthwise output twice (pool and scale):
/// only the blocks without one merge (7 of V3-Large's 15, 2 of V3-Small's 11).
#[test]
fn v3_merges_only_blocks_without_squeeze_excite() {
    for arch in [Arch::V3Large, Arch::V3Small] {
        let config = ArchConfig {
            resolution: Some(64),
            ..ArchConfig::new(arch)
        };
        let gpu = plan(&build(&config, 0).unwrap(), KernelFamily::Gpu);
        let merged = if arch == Arch::V3Large { 7 } else { 2 };
        assert_eq!(count(&gpu, "separable"), merged, "{arch:?}");
        for (i, step) in gpu.steps.iter().enumerate() {
            if let Kernel::Depthwise(_) = step.kernel {
                let readers = gpu.steps[i + 1..]
                    .iter()
                    .filter(|s| s.inputs.iter().any(|t| t.tensor == step.output.tensor))
                    .count();
                assert!(readers >= 2, "{arch:?}: {} was not merged", step.name);
            }
        }
    }
}
