//! A depthwise-separable convolution (a [`Separable`] step, GPU family): the 1×1
//! convolution's workgroup-tiled GEMM (`shaders/pointwise_tiled.wgsl`) with `DEPTHWISE`
//! set, so that it computes the depthwise convolution as it loads each input tile.

use super::conv::check_conv;
use super::pointwise::{self, DepthwisePrologue};
use super::{bias_or_zeros, depthwise, to_u32, EpilogueUniform, Launch, StepIo};
use super::{WindowSpec, WindowUniform};
use crate::error::Result;
use crate::plan::Separable;

pub(crate) fn launch(io: &StepIo, pair: &Separable) -> Result<Launch> {
    let (dw, pw, middle) = (&pair.depthwise, &pair.pointwise, pair.middle);
    let epilogue = EpilogueUniform::new(&pair.depthwise_epilogue, false);
    // The two halves as steps of their own: input → middle → output.
    let dw_io = StepIo {
        output: middle,
        epilogue,
        ..*io
    };
    let pw_io = StepIo {
        input: middle,
        ..*io
    };
    check_conv(&dw_io, dw)?;
    check_conv(&pw_io, pw)?;
    let spatial = |s: crate::graph::Shape| (s.h, s.w);
    let quads = [io.input.c, middle.c, io.output.c].map(|c| c.is_multiple_of(4));
    if dw.groups != io.input.c
        || io.input.c != middle.c
        || !pw.is_pointwise()
        || spatial(middle) != spatial(io.output)
        || quads.contains(&false)
    {
        return Err(io.invalid(format!(
            "a depthwise then 1x1 convolution in channel quads cannot map {} through {middle} to {}",
            io.input, io.output
        )));
    }
    let mut parameters = bias_or_zeros(&dw.bias, middle.c);
    parameters.extend(depthwise::pack_weights(dw));
    let prologue = DepthwisePrologue {
        epilogue,
        window: WindowUniform::new(&dw_io, WindowSpec::of_conv(dw, 1))?,
        constants: vec![
            ("DEPTHWISE", 1),
            ("KH", to_u32(dw.kernel_h, "kernel height")?),
            ("KW", to_u32(dw.kernel_w, "kernel width")?),
            ("STRIDE", to_u32(dw.stride, "stride")?),
        ],
        parameters,
    };
    pointwise::launch_workgroup_tiled(&pw_io, pw, Some(prologue))
}
