//! The kernel-efficiency table: every kernel type's GFLOP/s and GB/s over the model,
//! next to the project's best GEMM-like kernel (the pointwise kernel of the plan's kernel
//! family on a large square-ish GEMM) measured on the same adapter in the same run, so the
//! gap to what this adapter can do is visible.

use std::collections::{HashMap, HashSet};

use mobilenet_wgpu::gpu::{profile, GpuContext, Profile, ProfileOptions, StepProfile};
use mobilenet_wgpu::graph::{Conv2d, Graph, Op, Padding, Shape};
use mobilenet_wgpu::plan::{KernelFamily, Plan};
use mobilenet_wgpu::verify::random_input;
use mobilenet_wgpu::{Precision, Result};

/// The reference GEMM: a 1×1 convolution over 56×56 pixels, 256 → 256 channels
/// (3136 × 256 × 256, 206 MMAC), the shape of a mid-network MobileNet layer at width 2.
const REFERENCE_INPUT: Shape = Shape {
    h: 56,
    w: 56,
    c: 256,
};
const REFERENCE_OUTPUT_CHANNELS: usize = 256;

/// All dispatches of one (WGSL file, entry point) together, per layer kind where the entry
/// point runs several.
#[derive(serde::Serialize)]
pub struct KernelTotal {
    pub kernel: String,
    pub dispatches: usize,
    pub gpu_us: f64,
    /// Fraction of the model's GPU time.
    pub share: f64,
    pub gflops: f64,
    pub gb_per_s: f64,
    /// `gflops` as a fraction of the reference GEMM's, when it was measured.
    pub of_reference: Option<f64>,
}

/// The reference GEMM's rates.
#[derive(serde::Serialize)]
pub struct Reference {
    pub kernel: String,
    pub shape: String,
    pub gpu_us: f64,
    pub gflops: f64,
    pub gb_per_s: f64,
}

/// Profiles the reference GEMM on `ctx` at `precision`, with the model's options.
pub fn measure_reference(
    ctx: &GpuContext,
    precision: Precision,
    kernels: KernelFamily,
    options: ProfileOptions,
) -> Result<Reference> {
    let graph = reference_graph()?;
    let plan = Plan::build_for(&graph, 1, precision, kernels)?;
    let input = random_input(&graph, 1, 0);
    let profiled = profile(ctx, &graph, &plan, &input, options)?;
    let step = &profiled.steps[0];
    let f = &step.figures;
    Ok(Reference {
        kernel: format!("{}:{}", f.shader, f.entry),
        shape: format!("{REFERENCE_INPUT} -> {}", f.output_shape),
        gpu_us: step.gpu_us,
        gflops: step.gflops(1),
        gb_per_s: step.gigabytes_per_second(),
    })
}

fn reference_graph() -> Result<Graph> {
    let (in_c, out_c) = (REFERENCE_INPUT.c, REFERENCE_OUTPUT_CHANNELS);
    let mut graph = Graph::new(REFERENCE_INPUT)?;
    // Small distinct weights keep the outputs finite at f16.
    let weights = (0..in_c * out_c)
        .map(|i| ((i % 17) as f32 - 8.0) / (8.0 * in_c as f32))
        .collect();
    let conv = Conv2d {
        out_channels: out_c,
        kernel_h: 1,
        kernel_w: 1,
        stride: 1,
        padding: Padding::default(),
        groups: 1,
        weights,
        bias: None,
    };
    let output = graph.add("reference_gemm", Op::Conv2d(conv), &[graph.input()])?;
    graph.set_output(output)?;
    Ok(graph)
}

/// Every (file, entry point) of `profile`, slowest first, rated against `reference`. An
/// entry point that runs layers of several kinds (the GEMM, alone and with a depthwise
/// convolution before it) gets a row per kind, named `file:entry (kind)`.
pub fn kernel_totals(profile: &Profile, reference: Option<&Reference>) -> Vec<KernelTotal> {
    let total = profile.total_gpu_us();
    let entry = |s: &StepProfile| format!("{}:{}", s.figures.shader, s.figures.entry);
    let mut kinds: HashMap<String, HashSet<&str>> = HashMap::new();
    for step in &profile.steps {
        kinds
            .entry(entry(step))
            .or_default()
            .insert(step.figures.kernel);
    }
    let mut groups: HashMap<String, Vec<&StepProfile>> = HashMap::new();
    for step in &profile.steps {
        let mut key = entry(step);
        if kinds[&key].len() > 1 {
            key = format!("{key} ({})", step.figures.kernel);
        }
        groups.entry(key).or_default().push(step);
    }
    let mut kernels: Vec<KernelTotal> = groups
        .into_iter()
        .map(|(kernel, steps)| {
            let gpu_us: f64 = steps.iter().map(|s| s.gpu_us).sum();
            let macs: usize = steps.iter().map(|s| s.figures.macs).sum();
            let bytes: u64 = steps
                .iter()
                .map(|s| s.figures.bytes_read + s.figures.bytes_written)
                .sum();
            let gflops = giga_per_second(2.0 * (macs * profile.batch) as f64, gpu_us);
            KernelTotal {
                kernel,
                dispatches: steps.len(),
                gpu_us,
                share: share(gpu_us, total),
                gflops,
                gb_per_s: giga_per_second(bytes as f64, gpu_us),
                of_reference: reference.map(|r| share(gflops, r.gflops)),
            }
        })
        .collect();
    kernels.sort_by(|a, b| b.gpu_us.total_cmp(&a.gpu_us).then(a.kernel.cmp(&b.kernel)));
    kernels
}

/// `part / total`, or 0 when there is no total.
pub fn share(part: f64, total: f64) -> f64 {
    if total > 0.0 {
        part / total
    } else {
        0.0
    }
}

/// `units` per `micros` microseconds, in billions per second.
fn giga_per_second(units: f64, micros: f64) -> f64 {
    share(units, micros) / 1e3
}

/// Prints the table under the per-layer one.
pub fn print(kernels: &[KernelTotal], reference: Option<&Reference>) -> Result<()> {
    match reference {
        Some(r) => outln!(
            "kernel efficiency (reference GEMM {} {}: {:.2} GFLOP/s, {:.2} GB/s in {:.1} µs):",
            r.kernel,
            r.shape,
            r.gflops,
            r.gb_per_s,
            r.gpu_us
        ),
        None => outln!("kernel efficiency:"),
    }
    for k in kernels {
        let of_reference = k
            .of_reference
            .map_or(String::new(), |f| format!(" {:>5.0}% of GEMM", f * 100.0));
        outln!(
            "  {:<32} {:>4} dispatches {:>10.1} µs {:>5.1}% {:>8.2} GFLOP/s {:>7.2} GB/s{of_reference}",
            k.kernel,
            k.dispatches,
            k.gpu_us,
            k.share * 100.0,
            k.gflops,
            k.gb_per_s
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use mobilenet_wgpu::gpu::{StepFigures, TimestampSource};

    fn step(shader: &str, macs: usize, gpu_us: f64) -> StepProfile {
        step_of("conv", shader, macs, gpu_us)
    }

    fn step_of(kernel: &'static str, shader: &str, macs: usize, gpu_us: f64) -> StepProfile {
        let figures = StepFigures {
            name: format!("{shader} layer"),
            kernel,
            shader: shader.into(),
            entry: "main",
            workgroup_size: [64, 1, 1],
            workgroups: [1, 1],
            output_shape: "1x1x1".into(),
            macs,
            bytes_read: 1000,
            bytes_written: 1000,
        };
        StepProfile { figures, gpu_us }
    }

    fn profile_of(steps: Vec<StepProfile>) -> Profile {
        Profile {
            adapter: String::new(),
            backend: String::new(),
            device_features: String::new(),
            batch: 2,
            runs: 1,
            timestamp_source: TimestampSource::GpuTimestamps,
            timestamp_period_ns: 1.0,
            steps,
            run_wall_us: 0.0,
            timeline: Default::default(),
        }
    }

    #[test]
    fn kernels_are_grouped_by_file_and_entry_slowest_first() {
        let profile = profile_of(vec![
            step("a.wgsl", 1000, 1.0),
            step("b.wgsl", 0, 3.0),
            step("a.wgsl", 3000, 1.0),
            step("c.wgsl", 0, 0.5),
        ]);
        let top = kernel_totals(&profile, None);
        let names: Vec<&str> = top.iter().map(|k| k.kernel.as_str()).collect();
        assert_eq!(names, ["b.wgsl:main", "a.wgsl:main", "c.wgsl:main"]);
        let a = &top[1];
        assert_eq!((a.dispatches, a.gpu_us), (2, 2.0));
        assert!((a.share - 2.0 / 5.5).abs() < 1e-12);
        // 2 FLOPs x 4000 MACs x batch 2 in 2 µs = 8 GFLOP/s; 4000 bytes in 2 µs = 2 GB/s.
        assert!((a.gflops - 8.0).abs() < 1e-12, "{}", a.gflops);
        assert!((a.gb_per_s - 2.0).abs() < 1e-12, "{}", a.gb_per_s);
    }

    #[test]
    fn an_entry_running_two_layer_kinds_gets_a_row_for_each() {
        let profile = profile_of(vec![
            step_of("pointwise", "gemm.wgsl", 1000, 2.0),
            step_of("separable", "gemm.wgsl", 1000, 1.0),
            step_of("pointwise", "gemm.wgsl", 1000, 2.0),
            step_of("dense", "dense.wgsl", 1000, 0.5),
        ]);
        let top = kernel_totals(&profile, None);
        let rows: Vec<(&str, usize)> = top
            .iter()
            .map(|k| (k.kernel.as_str(), k.dispatches))
            .collect();
        let expected = [
            ("gemm.wgsl:main (pointwise)", 2),
            ("gemm.wgsl:main (separable)", 1),
            ("dense.wgsl:main", 1),
        ];
        assert_eq!(rows, expected);
    }

    #[test]
    fn share_of_nothing_is_zero() {
        assert_eq!(share(3.0, 0.0), 0.0);
        assert_eq!(share(1.0, 4.0), 0.25);
    }

    #[test]
    fn kernels_are_rated_against_the_reference() {
        let profile = profile_of(vec![step("a.wgsl", 1000, 1.0)]);
        let reference = Reference {
            kernel: "ref".into(),
            shape: String::new(),
            gpu_us: 1.0,
            gflops: 8.0,
            gb_per_s: 1.0,
        };
        let top = kernel_totals(&profile, Some(&reference));
        // 2 FLOPs x 1000 MACs x batch 2 in 1 µs = 4 GFLOP/s, half the reference.
        assert_eq!(top[0].of_reference, Some(0.5));
    }

    #[test]
    fn the_reference_graph_is_one_pointwise_gemm() {
        let graph = reference_graph().unwrap();
        let plan = Plan::build(&graph, 1).unwrap();
        assert_eq!(plan.steps.len(), 1);
        assert_eq!(plan.steps[0].kernel.name(), "pointwise");
    }
}
