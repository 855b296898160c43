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

#[test]
fn every_v1_and_v2_depthwise_runs_inside_its_pointwise() {
    for (arch, depthwise) in [(Arch::V1, 13), (Arch::V2, 17)] {
        let config = ArchConfig {
            resolution: Some(64),
            ..ArchConfig::new(arch)
        };
        let graph = build(&config, 0).unwrap();
        let cpu = plan(&graph, KernelFamily::CpuAdapter);
        let gpu = plan(&graph, KernelFamily::Gpu);
        assert_eq!(count(&cpu, "depthwise"), depthwise, "{arch:?}");
        assert_eq!(
            (count(&gpu, "depthwise"), count(&gpu, "separable")),
            (0, depthwise)
        );
        assert_eq!(gpu.dispatch_count(), cpu.dispatch_count() - depthwise);
        assert!(gpu.peak_activation_bytes() <= cpu.peak_activation_bytes());
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
    let mut net = Net::new(6, 6, 8, 22);
    let d = net.conv("dw", TensorId(0), 8, 3, 8);
    let p = net.conv("pw", d, 8, 1, 1);
    net.add("add", Op::Add, &[p, d]);
    // Six channels: not whole quads.
    let mut odd = Net::new(6, 6, 6, 23);
    let d = odd.conv("dw", TensorId(0), 6, 3, 6);
    odd.conv("pw", d, 8, 1, 1);
    // The depthwise output is the graph's output.
    let mut last = Net::new(6, 6, 8, 24);
    last.conv("dw", TensorId(0), 8, 3, 8);
    for net in [net, odd, last] {
        let gpu = plan(&net.g, KernelFamily::Gpu);
        assert_eq!(count(&gpu, "separable"), 0, "{:?}", kernel_names(&gpu));
        assert_eq!(count(&gpu, "depthwise"), 1);
    }
}

/// V3's blocks with squeeze-excite read the depthwise output twice (pool and scale):
/// only the blocks without one merge.
#[test]
fn v3_merges_only_blocks_without_squeeze_excite() {
    for arch in [Arch::V3Large, Arch::V3Small] {
        let config = ArchConfig {
            resolution: Some(64),
            ..ArchConfig::new(arch)
        };
        let gpu = plan(&build(&config, 0).unwrap(), KernelFamily::Gpu);
        assert!(count(&gpu, "separable") > 0, "{arch:?}");
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
