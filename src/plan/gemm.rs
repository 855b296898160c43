//! The GPU family's GEMM tiling (`shaders/pointwise_tiled.wgsl`), which both its kernel and
//! the separable pass follow: the pass merges a depthwise convolution into a GEMM only
//! where the tiling makes that cheap.

/// Pixels and output channels of one workgroup's tile (`TILE_M`, `TILE_N` in the shader).
pub const TILE_PIXELS: usize = 32;
pub const TILE_CHANNELS: usize = 32;
/// Below this many tiles the GEMM splits each tile's input channels across four thread
/// slices (`pointwise_tiled_split`): fewer workgroups than a large GPU has compute units
/// (132 on the H200) leave it mostly idle, each walking all of K alone (V2 at batch 1: the
/// 14×14 and 7×7 layers have 10 to 126 tiles and took 33–73 µs each unsplit).
pub const FEW_TILES: usize = 128;

/// Workgroup tiles of a GEMM over `pixels` rows and `out_c` output channels.
pub fn tiles(pixels: usize, out_c: usize) -> usize {
    pixels.div_ceil(TILE_PIXELS) * out_c.div_ceil(TILE_CHANNELS)
}
