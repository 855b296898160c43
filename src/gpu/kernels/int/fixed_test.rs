//! The WGSL fixed point of `shaders/int/common.wgsl` against its Rust twin
//! (`quant::fixed`): the 64-bit product from 16-bit halves, the rounding doubling high
//! multiply, the rounding shift and the full requantization, on every pair of edge values;
//! and FULLY_CONNECTED's exact f64 requantization against f64.

use wgpu::util::DeviceExt;

use crate::gpu::pipeline::INT_COMMON;
use crate::gpu::readback::Readback;
use crate::gpu::GpuContext;
use crate::quant::fixed::{
    rounding_divide_by_pot, saturating_rounding_doubling_high_mul, Multiplier,
};

/// One case per thread: operands `a`, `b`, `c` and the function, four words in, one out.
const TEST_ENTRY: &str = r#"
@group(0) @binding(5) var<storage, read_write> output: array<u32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    if 4u * i >= arrayLength(&input) {
        return;
    }
    let a = bitcast<i32>(input[4u * i]);
    let b = bitcast<i32>(input[4u * i + 1u]);
    let c = bitcast<i32>(input[4u * i + 2u]);
    var r = 0u;
    switch input[4u * i + 3u] {
        case 0u: { r = mul_wide(bitcast<u32>(a), bitcast<u32>(b)).x; }
        case 1u: { r = mul_wide(bitcast<u32>(a), bitcast<u32>(b)).y; }
        case 2u: { r = bitcast<u32>(srdhm(a, b)); }
        case 3u: { r = bitcast<u32>(rdbpot(a, b)); }
        default: {
            // Each case in its own lane of the four-lane form, the other lanes busy with
            // other cases' operands.
            let lane = i % 4u;
            var x = vec4(c, a, b, a ^ c);
            var m = vec4(a, c, b ^ c, b);
            var s = vec4(b, a, c, b % 40);
            x[lane] = a;
            m[lane] = b;
            s[lane] = c;
            r = bitcast<u32>(mbqm4(x, m, s)[lane]);
        }
    }
    output[i] = r;
}
"#;

fn edge_values() -> Vec<i32> {
    let mut values = vec![
        0,
        1,
        -1,
        2,
        -2,
        3,
        -3,
        255,
        -255,
        65535,
        65536,
        -65536,
        1 << 30,
        -(1 << 30),
        (1 << 30) - 1,
        (1 << 30) + 1,
        i32::MAX,
        i32::MAX - 1,
        i32::MIN,
        i32::MIN + 1,
        0x5555_5555,
        -0x2aaa_aaab,
    ];
    let mut state = 7u64;
    for _ in 0..18 {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        values.push((state >> 32) as i32);
    }
    values
}

/// Every case `(a, b, c, function)` and the value Rust computes for it.
fn cases() -> Vec<([i32; 4], u32)> {
    let values = edge_values();
    let mut cases = Vec::new();
    for &a in &values {
        for &b in &values {
            let product = u64::from(a as u32) * u64::from(b as u32);
            cases.push(([a, b, 0, 0], product as u32));
            cases.push(([a, b, 0, 1], (product >> 32) as u32));
            cases.push((
                [a, b, 0, 2],
                saturating_rounding_doubling_high_mul(a, b) as u32,
            ));
        }
        for e in 0..=31 {
            cases.push(([a, e, 0, 3], rounding_divide_by_pot(a, e) as u32));
        }
        for m in [
            1 << 30,
            i32::MAX,
            1_518_500_250,
            1_073_741_825,
            2_000_000_000,
        ] {
            for shift in [-31, -20, -8, -1, 0, 1, 2, 8, 20, 30, 31, 32, 40] {
                let multiplier = Multiplier {
                    multiplier: m,
                    shift,
                };
                cases.push(([a, m, shift, 4], multiplier.apply(a) as u32));
            }
        }
    }
    cases
}

#[test]
fn wgsl_fixed_point_equals_the_rust_twin_on_edge_values() {
    let cases = cases();
    let words: Vec<u32> = cases
        .iter()
        .flat_map(|(args, _)| args.map(|v| v as u32))
        .collect();
    let source = format!("{INT_COMMON}\n{TEST_ENTRY}");
    let Some(gpu) = run(&source, "main", &words, cases.len()) else {
        return;
    };
    let names = ["low product", "high product", "srdhm", "rdbpot", "mbqm"];
    for ((args, expected), got) in cases.iter().zip(&gpu) {
        assert_eq!(
            got, expected,
            "{}({}, {}, {})",
            names[args[3] as usize], args[0], args[1], args[2]
        );
    }
    assert!(cases.len() > 5000, "{} cases", cases.len());
}

/// FULLY_CONNECTED's exact emulation of `round(acc · scale)` in f64 (shaders/int/dense.wgsl)
/// against f64 itself, on edge accumulators times scales of every magnitude, including
/// products that f64 rounds onto a half.
#[test]
fn wgsl_f64_requantization_equals_f64() {
    let entry = r#"
@compute @workgroup_size(64)
fn check(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    if 4u * i >= arrayLength(&input) {
        return;
    }
    let m = vec2<u32>(input[4u * i + 1u], input[4u * i + 2u]);
    let v = requantize_f64(bitcast<i32>(input[4u * i]), m, bitcast<i32>(input[4u * i + 3u]));
    output[i] = bitcast<u32>(v);
}
"#;
    let mut scales = vec![
        1.0, 0.5, 0.25, 3.0, 1e-9, 2.5e-4, 0.0071, 1.9e-2, 123.456, 1e12,
    ];
    let mut state = 11u64;
    for _ in 0..40 {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let exponent = (state >> 59) as i32 - 24;
        scales.push((1.0 + (state >> 11) as f64 / (1u64 << 53) as f64) * 2f64.powi(exponent));
    }
    // 2^-53-ish above and below one half: f64 rounds some of these products onto .5.
    scales.extend([0.5 + 2f64.powi(-54), 0.5 - 2f64.powi(-54), 1.5 / 3.0]);
    let mut cases = Vec::new();
    for &acc in &edge_values() {
        for &scale in &scales {
            let (m, e) = super::dense::f64_parts(scale).expect("finite");
            let expected = (f64::from(acc) * scale).round();
            let expected = if (-2_147_483_648.0..2_147_483_648.0).contains(&expected) {
                expected as i32
            } else {
                i32::MIN
            };
            cases.push((
                [acc as u32, m as u32, (m >> 32) as u32, e as u32],
                expected as u32,
            ));
        }
    }
    let words: Vec<u32> = cases.iter().flat_map(|(w, _)| *w).collect();
    let source = format!("{INT_COMMON}\n{}\n{entry}", super::dense::SHADER.source);
    let Some(gpu) = run(&source, "check", &words, cases.len()) else {
        return;
    };
    for ((args, expected), got) in cases.iter().zip(&gpu) {
        assert_eq!(
            got,
            expected,
            "acc {} scale words {:?}",
            args[0] as i32,
            &args[1..]
        );
    }
}

/// Runs `entry` of the module, one thread per case, on `words` (four per case) bound
/// as `input`, and reads `count` result words from binding 5; `None` without an adapter
/// outside CI.
fn run(source: &str, entry: &str, words: &[u32], count: usize) -> Option<Vec<u32>> {
    let ctx = match GpuContext::new(None) {
        Ok(ctx) => ctx,
        Err(e) if std::env::var_os("CI").is_none() => {
            eprintln!("skipping: {e}");
            return None;
        }
        Err(e) => panic!("CI needs an adapter: {e}"),
    };
    let device = &ctx.device;
    let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some("fixed point test"),
        source: wgpu::ShaderSource::Wgsl(source.into()),
    });
    let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: Some("fixed point test"),
        layout: None,
        module: &module,
        entry_point: Some(entry),
        compilation_options: Default::default(),
        cache: None,
    });
    let input = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: Some("cases"),
        contents: bytemuck::cast_slice(words),
        usage: wgpu::BufferUsages::STORAGE,
    });
    let bytes = (count * 4) as u64;
    let results = device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("results"),
        size: bytes,
        usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
        mapped_at_creation: false,
    });
    let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: Some("fixed point test"),
        layout: &pipeline.get_bind_group_layout(0),
        entries: &[
            wgpu::BindGroupEntry {
                binding: 1,
                resource: input.as_entire_binding(),
            },
            wgpu::BindGroupEntry {
                binding: 5,
                resource: results.as_entire_binding(),
            },
        ],
    });
    let readback = Readback::new(device, bytes);
    let mut encoder = device.create_command_encoder(&Default::default());
    {
        let mut pass = encoder.begin_compute_pass(&Default::default());
        pass.set_pipeline(&pipeline);
        pass.set_bind_group(0, &bind_group, &[]);
        pass.dispatch_workgroups(count.div_ceil(64) as u32, 1, 1);
    }
    readback.record_copy(&mut encoder, &results, bytes);
    ctx.queue.submit([encoder.finish()]);
    let read = readback.read(device, ctx.health(), bytes, |b| {
        bytemuck::cast_slice(b).to_vec()
    });
    Some(read.expect("results"))
}
