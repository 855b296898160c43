//! Lowering a quantized graph to integer steps: for each node, what TFLite's reference kernel
//! computes there, with every parameter derived. The integer CPU reference runs these steps
//! and int8 GPU plans are built from them, so both compute from one definition.

use super::params::{self, Add, DenseRequant, HardSwish, Mean, Mul, Requant, Requantize, Softmax};
use super::tables;
use crate::error::{Error, Result};
use crate::graph::{
    Activation, AvgPool, Conv2d, Graph, IntConstant, IntForm, IntWeights, Node, Op, Padding,
    TensorQuant,
};

/// The geometry of a convolution (its weights are the integer ones).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ConvGeometry {
    pub out_channels: usize,
    pub kernel_h: usize,
    pub kernel_w: usize,
    pub stride: usize,
    pub padding: Padding,
    pub groups: usize,
}

impl From<&Conv2d> for ConvGeometry {
    fn from(conv: &Conv2d) -> Self {
        ConvGeometry {
            out_channels: conv.out_channels,
            kernel_h: conv.kernel_h,
            kernel_w: conv.kernel_w,
            stride: conv.stride,
            padding: conv.padding,
            groups: conv.groups,
        }
    }
}

/// What one node computes on the integer grid.
#[derive(Clone, Debug)]
pub enum IntStep {
    Input,
    /// Flatten, Dropout: the stored values as they are.
    Copy,
    /// A convolution (depthwise when `conv.groups` equals the input channels).
    Conv {
        conv: ConvGeometry,
        weights: IntWeights,
        requant: Requant,
    },
    Dense {
        weights: IntWeights,
        requant: DenseRequant,
    },
    /// AVERAGE_POOL_2D: the stored codes averaged; `None` pools the whole map.
    AvgPool(Option<AvgPool>),
    /// MEAN over the whole map.
    Mean(Mean),
    Requantize(Requantize),
    Add(Add),
    /// ADD of a constant broadcast over channels.
    AddConstant(Add, IntConstant),
    /// MUL of a tensor by a 1×1×C tensor (squeeze-excite), per image and channel.
    Mul(Mul),
    MulConstant(Mul, IntConstant),
    HardSwish(HardSwish),
    /// LOGISTIC: a table over the input type's values, from its minimum up.
    Lookup(Vec<i32>),
    /// CONCATENATION along channels: each input's values through its table (from the type's
    /// minimum up) onto the output grid.
    Concat(Vec<Vec<i32>>),
    Softmax(Softmax),
    /// Saturation to `[min, max]` (ReLU, ReLU6 and range clamps).
    Clamp {
        min: i32,
        max: i32,
    },
}

/// The integer step of every node, in graph order.
pub fn lower(graph: &Graph) -> Result<Vec<IntStep>> {
    input_grid(graph)?;
    graph.nodes().iter().map(|node| step(graph, node)).collect()
}

/// The grid of the graph's input; for a float model, the error every int8 entry point gives.
pub fn input_grid(graph: &Graph) -> Result<TensorQuant> {
    let input = graph.node(graph.input()).integer.as_ref();
    input.map(|i| i.output).ok_or_else(|| {
        Error::InvalidArgument(
            "int8 runs quantized TFLite files on their own integer grid, but this model computes in float: use --precision f32 or f16".into(),
        )
    })
}

fn step(graph: &Graph, node: &Node) -> Result<IntStep> {
    let fail = |reason: &str| Error::NotInteger {
        layer: node.name.clone(),
        reason: reason.to_string(),
    };
    let integer = node.integer.as_ref().ok_or_else(|| {
        fail("the model stores it in float (int8 needs a fully quantized TFLite file)")
    })?;
    let output = integer.output;
    let grid = |k: usize| -> Result<TensorQuant> {
        let input = graph.node(node.inputs[k]);
        input.integer.as_ref().map(|i| i.output).ok_or_else(|| {
            fail(&format!(
                "its input `{}` is stored in float, not on an integer grid",
                input.name
            ))
        })
    };
    let same_grid = || -> Result<()> {
        match grid(0)? == output {
            true => Ok(()),
            false => Err(fail(
                "it changes the grid, which TFLite's kernel for it cannot",
            )),
        }
    };
    // Pooling's kernels (TFLite's as ours) read and write one integer type.
    let same_type = || -> Result<()> {
        if grid(0)?.dtype == output.dtype {
            Ok(())
        } else {
            Err(fail(
                "it changes the integer type, which TFLite's pooling cannot",
            ))
        }
    };
    let form = integer.form.as_ref();
    Ok(match (&node.op, form) {
        (Op::Input, _) => IntStep::Input,
        (Op::Flatten | Op::Dropout, _) => {
            same_grid()?;
            IntStep::Copy
        }
        (Op::Quantize, _) => IntStep::Requantize(Requantize::new(grid(0)?, output)),
        (Op::Conv2d(conv), Some(IntForm::Weights(w))) => {
            let input = grid(0)?;
            let depthwise = conv.is_depthwise(graph.shape(node.inputs[0]).c);
            check_weight_type(input, w, depthwise).map_err(|r| fail(&r))?;
            IntStep::Conv {
                conv: conv.into(),
                weights: w.clone(),
                requant: Requant::conv(input, w, output, conv.out_channels),
            }
        }
        (Op::Conv2d(_), Some(IntForm::AddConstant(c))) => {
            IntStep::AddConstant(Add::new(grid(0)?, c.quant, output), c.clone())
        }
        (Op::Conv2d(_), Some(IntForm::MulConstant(c))) => {
            IntStep::MulConstant(Mul::new(grid(0)?, c.quant, output), c.clone())
        }
        (Op::Dense(dense), Some(IntForm::Weights(w))) => {
            let input = grid(0)?;
            if w.dtype != input.dtype {
                return Err(fail("its weights and input have different integer types"));
            }
            IntStep::Dense {
                weights: w.clone(),
                requant: DenseRequant::new(input, w, output, dense.out_features),
            }
        }
        (Op::Conv2d(_) | Op::Dense(_), _) => {
            return Err(fail("its weights are not stored as 8-bit integers"))
        }
        (Op::GlobalAvgPool, Some(IntForm::Mean)) => {
            same_type()?;
            let input = graph.shape(node.inputs[0]);
            IntStep::Mean(Mean::new(grid(0)?, output, input.h * input.w))
        }
        (Op::GlobalAvgPool, _) => {
            same_type()?;
            IntStep::AvgPool(None)
        }
        (Op::AvgPool(pool), _) => {
            same_type()?;
            IntStep::AvgPool(Some(*pool))
        }
        (Op::Add, _) => IntStep::Add(Add::new(grid(0)?, grid(1)?, output)),
        (Op::MulChannel, _) => IntStep::Mul(Mul::new(grid(0)?, grid(1)?, output)),
        (Op::Softmax, _) => IntStep::Softmax(
            Softmax::new(grid(0)?, output.dtype)
                .ok_or_else(|| fail("its input scale is outside what TFLite's softmax accepts"))?,
        ),
        (Op::Activation(activation), _) => {
            activation_step(*activation, grid(0)?, output).map_err(|reason| fail(&reason))?
        }
        (Op::Concat, _) => {
            let tables = (0..node.inputs.len())
                .map(|k| tables::concat_table(grid(k)?, output).map_err(|r| fail(&r)))
                .collect::<Result<Vec<_>>>()?;
            IntStep::Concat(tables)
        }
        (Op::BatchNorm(_), _) => {
            return Err(fail(
                "the integer path has no kernel for it (TFLite has no such op)",
            ))
        }
    })
}

fn activation_step(
    activation: Activation,
    input: TensorQuant,
    output: TensorQuant,
) -> std::result::Result<IntStep, String> {
    let clamp = |min: f32, max: f32| {
        if input != output {
            return Err("a clamp that changes the grid".to_string());
        }
        let (min, max) = params::clamp_bounds(min, max, output);
        Ok(IntStep::Clamp { min, max })
    };
    match activation {
        Activation::Relu => clamp(0.0, f32::INFINITY),
        Activation::Relu6 => clamp(0.0, 6.0),
        Activation::Clamp { min, max } => clamp(min, max),
        Activation::HardSwish => HardSwish::new(input, output)
            .map(IntStep::HardSwish)
            .ok_or_else(|| "its output scale is outside what TFLite's hard-swish accepts".into()),
        Activation::Sigmoid => Ok(IntStep::Lookup(tables::logistic_table(input, output))),
        Activation::HardSigmoid { .. } => Err("TFLite has no integer hard sigmoid".into()),
    }
}

/// TFLite's kernels take weights of the input's type, and int8 convolutions refuse weight
/// zero points (depthwise ones ignore them).
fn check_weight_type(
    input: TensorQuant,
    w: &IntWeights,
    depthwise: bool,
) -> std::result::Result<(), String> {
    if w.dtype != input.dtype {
        return Err("its weights and input have different integer types".into());
    }
    let int8 = input.dtype == crate::graph::IntType::I8;
    if int8 && !depthwise && w.zero_points.iter().any(|&z| z != 0) {
        return Err("its int8 weights have a nonzero zero point, which TFLite refuses".into());
    }
    Ok(())
}

impl IntStep {
    /// Short name for tables.
    pub fn name(&self) -> &'static str {
        match self {
            IntStep::Input => "input",
            IntStep::Copy => "copy",
            IntStep::Conv { conv, weights, .. } => {
                if conv.groups > 1
                    && weights.values.len() == conv.out_channels * conv.kernel_h * conv.kernel_w
                {
                    "int_depthwise"
                } else {
                    "int_conv"
                }
            }
            IntStep::Dense { .. } => "int_dense",
            IntStep::AvgPool(_) => "int_avg_pool",
            IntStep::Mean(_) => "int_mean",
            IntStep::Requantize(_) => "int_requantize",
            IntStep::Add(_) => "int_add",
            IntStep::AddConstant(..) => "int_add_constant",
            IntStep::Mul(_) => "int_mul",
            IntStep::MulConstant(..) => "int_mul_constant",
            IntStep::HardSwish(_) => "int_hard_swish",
            IntStep::Lookup(_) => "int_lookup",
            IntStep::Concat(_) => "int_concat",
            IntStep::Softmax(_) => "int_softmax",
            IntStep::Clamp { .. } => "int_clamp",
        }
    }
}
