//! Every shader module, composed exactly as the runtime composes it, parses and passes
//! naga's full validation, and defines every entry point the runtime creates.

use mobilenet_wgpu::gpu::shader_sources;

fn validate(name: &str, source: &str) -> naga::Module {
    let module = naga::front::wgsl::parse_str(source)
        .unwrap_or_else(|e| panic!("{name}.wgsl does not parse:\n{}", e.emit_to_string(source)));
    naga::valid::Validator::new(
        naga::valid::ValidationFlags::all(),
        naga::valid::Capabilities::empty(),
    )
    .validate(&module)
    .unwrap_or_else(|e| panic!("{name}.wgsl is invalid:\n{}", e.emit_to_string(source)));
    module
}

#[test]
fn every_shader_validates_with_its_entry_points() {
    let shaders = shader_sources();
    assert!(
        shaders.len() >= 7,
        "expected one module per kernel file, got {}",
        shaders.len()
    );
    for shader in &shaders {
        let module = validate(shader.name, &shader.source);
        for entry in shader.entry_points {
            let found = module.entry_points.iter().find(|e| e.name == *entry);
            let found = found
                .unwrap_or_else(|| panic!("{}.wgsl has no entry point `{entry}`", shader.name));
            assert_eq!(
                found.stage,
                naga::ShaderStage::Compute,
                "{}::{entry}",
                shader.name
            );
        }
    }
}

#[test]
fn every_shader_starts_with_the_common_prelude() {
    for shader in shader_sources() {
        assert!(
            shader.source.contains("fn store(ep: Epilogue"),
            "{} lacks the epilogue",
            shader.name
        );
    }
}

#[test]
fn workgroup_sizes_stay_within_64_to_256() {
    for shader in shader_sources() {
        let module = validate(shader.name, &shader.source);
        for entry in &module.entry_points {
            let threads: u32 = entry.workgroup_size.iter().product();
            assert!(
                (64..=256).contains(&threads),
                "{}::{} uses {threads} threads",
                shader.name,
                entry.name
            );
        }
    }
}
