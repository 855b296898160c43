//! Every shader module, composed exactly as the runtime composes it at each storage
//! precision, parses and passes naga's full validation, and defines every entry point the
//! runtime creates.

use mobilenet_wgpu::gpu::{
    shader_sources, ComposedShader, MAX_PARAMS_BYTES, UNIFORM_WEIGHTS_BYTES,
};
use mobilenet_wgpu::Precision;

/// Every module at every precision, with the capabilities that precision needs.
fn all_shaders() -> Vec<(ComposedShader, naga::valid::Capabilities)> {
    [
        (Precision::F32, naga::valid::Capabilities::empty()),
        (
            Precision::F16,
            naga::valid::Capabilities::SHADER_FLOAT16
                | naga::valid::Capabilities::SHADER_FLOAT16_IN_FLOAT32,
        ),
        (Precision::Int8, naga::valid::Capabilities::empty()),
    ]
    .into_iter()
    .flat_map(|(precision, caps)| {
        shader_sources(precision)
            .into_iter()
            .map(move |s| (s, caps))
    })
    .collect()
}

fn validate(name: &str, source: &str, caps: naga::valid::Capabilities) -> naga::Module {
    let module = naga::front::wgsl::parse_str(source)
        .unwrap_or_else(|e| panic!("{name}.wgsl does not parse:\n{}", e.emit_to_string(source)));
    naga::valid::Validator::new(naga::valid::ValidationFlags::all(), caps)
        .validate(&module)
        .unwrap_or_else(|e| panic!("{name}.wgsl is invalid:\n{}", e.emit_to_string(source)));
    module
}

#[test]
fn every_shader_validates_with_its_entry_points() {
    let shaders = all_shaders();
    assert!(
        shaders.len() >= 2 * 7 + 4,
        "expected one module per kernel file and precision, got {}",
        shaders.len()
    );
    for (shader, caps) in &shaders {
        let module = validate(shader.name, &shader.source, *caps);
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
    for (shader, _) in all_shaders() {
        let prelude = match shader.name.starts_with("int_") {
            true => "fn mbqm(",
            false => "fn store(ep: Epilogue",
        };
        assert!(
            shader.source.contains(prelude),
            "{} lacks its prelude",
            shader.name
        );
    }
}

#[test]
fn workgroup_sizes_stay_within_64_to_256() {
    for (shader, caps) in all_shaders() {
        let module = validate(shader.name, &shader.source, caps);
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

#[test]
fn every_uniform_fits_the_buffer_bound_to_it() {
    for (shader, caps) in all_shaders() {
        let module = validate(shader.name, &shader.source, caps);
        let mut params = 0;
        for (_, var) in module.global_variables.iter() {
            let Some(binding) = &var.binding else {
                continue;
            };
            let bytes = u64::from(module.types[var.ty].inner.size(module.to_ctx()));
            let name = shader.name;
            match binding.binding {
                0 => {
                    params += 1;
                    assert_eq!(var.space, naga::AddressSpace::Uniform, "{name}: params");
                    assert!(bytes <= MAX_PARAMS_BYTES, "{name}: params of {bytes} bytes");
                }
                6 => {
                    assert_eq!(var.space, naga::AddressSpace::Uniform, "{name}: binding 6");
                    assert!(
                        bytes <= UNIFORM_WEIGHTS_BYTES,
                        "{name}: {bytes} uniform bytes"
                    );
                }
                _ => assert_ne!(var.space, naga::AddressSpace::Uniform, "{name}"),
            }
        }
        assert_eq!(params, 1, "{}: one params uniform", shader.name);
    }
}
