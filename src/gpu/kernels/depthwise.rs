//! Depthwise convolution (`shaders/depthwise.wgsl`): any kernel size, stride, padding
//! and depth multiplier. Weights repacked from OHWI `[out][kh][kw][1]` to
//! `[kh][kw][out]` so neighbouring threads read neighbouring weights. Whole channel quads
//! run `depthwise_rows` (a row of pixels per thread, for CPU adapters) or, in the GPU
//! family, `depthwise_tiled` (an output tile per workgroup, its input in workgroup memory).

use super::conv::check_conv;
use super::{
    bias_or_zeros, to_u32, Launch, StepIo, Weights, WindowParams, WindowSpec, WindowUniform,
};
use crate::error::Result;
use crate::gpu::pipeline::{Grid, ShaderFile};
use crate::graph::Conv2d;
use crate::plan::KernelFamily;

pub(crate) const SHADER: ShaderFile = ShaderFile {
    name: "depthwise",
    source: include_str!("../../../shaders/depthwise.wgsl"),
    entry_points: &["depthwise", "depthwise_rows", "depthwise_tiled"],
};

/// Output tiles (height, width) `depthwise_tiled` may use, largest first (`TH`, `TW`).
const TILES: [(usize, usize); 3] = [(8, 8), (4, 8), (4, 4)];
/// Channel quads per `depthwise_tiled` workgroup (`TILE_Q`).
pub(super) const TILE_QUADS: usize = 4;
/// vec4s of workgroup memory for its input window (`TILE_VEC4S`).
pub(super) const TILE_VEC4S: usize = 1024;

// Every tile gives each of a quad's threads (WORKGROUP_SIZE / TILE_QUADS of them) a whole
// number of pixels, 1 to MAX_PIX (4) in the shader.
const _: () = {
    let threads_per_quad = crate::gpu::pipeline::WORKGROUP_SIZE as usize / TILE_QUADS;
    let mut i = 0;
    while i < TILES.len() {
        let pixels = TILES[i].0 * TILES[i].1;
        assert!(pixels.is_multiple_of(threads_per_quad));
        assert!(pixels / threads_per_quad >= 1 && pixels / threads_per_quad <= 4);
        i += 1;
    }
};

/// The largest output tile whose input window fits workgroup memory, if any does.
fn tile_for(conv: &Conv2d) -> Option<(usize, usize)> {
    TILES.into_iter().find(|&(th, tw)| {
        let rows = (th - 1) * conv.stride + conv.kernel_h;
        let cols = (tw - 1) * conv.stride + conv.kernel_w;
        rows * cols * TILE_QUADS <= TILE_VEC4S
    })
}

/// Output pixels per thread of `depthwise_rows` (`TX` in the shader): 4 at stride 1, 2 at
/// larger strides, whose wider input span costs more shader-compile time than it saves.
pub(crate) fn row_tile(stride: usize) -> usize {
    if stride == 1 {
        4
    } else {
        2
    }
}
/// Widest kernel `depthwise_rows` caches a row of (`MAX_K` in the shader).
pub(crate) const MAX_ROW_KERNEL: usize = 7;

pub(crate) fn launch(io: &StepIo, conv: &Conv2d, family: KernelFamily) -> Result<Launch> {
    check_conv(io, conv)?;
    if conv.groups != io.input.c {
        return Err(io.invalid(format!(
            "depthwise needs groups = {} input channels",
            io.input.c
        )));
    }
    let multiplier = io.output.c / io.input.c;
    let spec = WindowSpec::of_conv(conv, multiplier);
    let mut params = WindowParams {
        ep: io.epilogue,
        win: WindowUniform::new(io, spec)?,
    };
    // One thread per 4 channels and a row tile of pixels where they are whole vec4s of
    // one filter each.
    let vec4_channels = multiplier == 1 && io.output.c.is_multiple_of(4);
    let tile = tile_for(conv).filter(|_| vec4_channels && family == KernelFamily::Gpu);
    let (entry, threads, constants) = if let Some((th, tw)) = tile {
        let groups = io.output.c.div_ceil(4 * TILE_QUADS);
        let tiles = io.batch * io.output.h.div_ceil(th) * io.output.w.div_ceil(tw) * groups;
        let constants = vec![
            ("KH", to_u32(conv.kernel_h, "kernel height")?),
            ("KW", to_u32(conv.kernel_w, "kernel width")?),
            ("STRIDE", to_u32(conv.stride, "stride")?),
            ("TH", to_u32(th, "tile height")?),
            ("TW", to_u32(tw, "tile width")?),
        ];
        ("depthwise_tiled", tiles, constants)
    } else if vec4_channels && conv.kernel_w <= MAX_ROW_KERNEL {
        let row_tile = row_tile(conv.stride);
        let tiles = io.batch * io.output.h * io.output.w.div_ceil(row_tile);
        let constants = vec![
            ("KH", to_u32(conv.kernel_h, "kernel height")?),
            ("KW", to_u32(conv.kernel_w, "kernel width")?),
            ("STRIDE", to_u32(conv.stride, "stride")?),
            ("TX", to_u32(row_tile, "row tile")?),
        ];
        ("depthwise_rows", tiles * io.output.c / 4, constants)
    } else {
        ("depthwise", io.output_len(), Vec::new())
    };
    params.win.total = to_u32(threads, "depthwise threads or workgroups")?;
    let grid = if tile.is_some() {
        Grid::Workgroups(threads as u64)
    } else {
        Grid::Threads(threads as u64)
    };
    Ok(Launch {
        shader: &SHADER,
        entry,
        constants,
        params: bytemuck::bytes_of(&params).to_vec(),
        weights: Weights::DataF32(pack_weights(conv)),
        bias: Some(bias_or_zeros(&conv.bias, io.output.c)),
        grid,
    })
}

/// `[out][taps]` → `[taps][out]`.
pub(super) fn pack_weights(conv: &Conv2d) -> Vec<f32> {
    let taps = conv.kernel_h * conv.kernel_w;
    let out = conv.out_channels;
    let mut packed = vec![0.0; taps * out];
    for (o, filter) in conv.weights.chunks_exact(taps).enumerate() {
        for (t, &w) in filter.iter().enumerate() {
            packed[t * out + o] = w;
        }
    }
    packed
}
