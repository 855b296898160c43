//! burn 0.22.1 (wgpu backend, fusion + autotune as in burn's defaults) running one of our
//! MobileNets from the exporter's `graph.txt` and weights (BatchNorm already folded).
//!
//! Usage: burn_peer <export-dir>. The network is interpreted layer by layer with burn's
//! tensor ops (conv2d with explicit per-side padding and groups, clamp, relu, scalar
//! arithmetic for h-swish / hard sigmoid, broadcasting multiply, add, mean, matmul,
//! softmax) in NCHW; weights are uploaded once, outside the timed runs. Each timed run
//! includes the input upload and the output readback, like ours. The output must match
//! ours (see `PeerResult::report`) or the run fails.

#[path = "../../common/peer_common.rs"]
mod peer_common;

use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;

use burn::tensor::activation::{relu, softmax};
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Device, DeviceKind, Tensor, TensorData};
use peer_common::{data_dir, elapsed_ms, median_ms, read_input_and_ours, read_npy};
use peer_common::{AnyResult, PeerResult};

/// One layer of `graph.txt`, weights already on the device.
enum Layer {
    Input,
    Conv {
        source: usize,
        weight: Tensor<4>,
        bias: Tensor<1>,
        options: ConvOptions<2>,
    },
    Activation(Activation, usize),
    Add(usize, usize),
    /// Feature map times a `[1, C, 1, 1]` scale (squeeze-excite).
    MulChannel(usize, usize),
    GlobalAvgPool(usize),
    Dense {
        source: usize,
        weight: Tensor<2>,
        bias: Tensor<2>,
    },
    Softmax(usize),
}

/// The element-wise functions of `graph.txt`, written exactly as our kernels define them.
#[derive(Clone, Copy)]
enum Activation {
    Relu,
    Relu6,
    /// `x * relu6(x + 3) / 6`
    HardSwish,
    /// `relu6(x + 3) / 6`
    HardSigmoid,
}

impl Activation {
    fn apply(self, x: Tensor<4>) -> Tensor<4> {
        let hard_sigmoid = |x: Tensor<4>| x.add_scalar(3.0).clamp(0.0, 6.0).div_scalar(6.0);
        match self {
            Activation::Relu => relu(x),
            Activation::Relu6 => x.clamp(0.0, 6.0),
            Activation::HardSwish => x.clone() * hard_sigmoid(x),
            Activation::HardSigmoid => hard_sigmoid(x),
        }
    }
}

/// A tensor of the network: feature maps are NCHW (pooled ones `[1, C, 1, 1]`), the
/// classifier works on `[1, features]`.
#[derive(Clone)]
enum Value {
    Map(Tensor<4>),
    Vector(Tensor<2>),
}

struct Network {
    layers: Vec<(usize, Layer)>,
    output: usize,
    input_shape: [usize; 4],
}

fn main() -> AnyResult<()> {
    let dir = data_dir("burn_peer")?;
    let (input, ours) = read_input_and_ours(&dir)?;
    let start = Instant::now();
    let device = Device::wgpu(DeviceKind::DefaultDevice);
    let network = load(&dir, &device)?;
    let load_ms = elapsed_ms(start);
    let infer = || network.infer(&input, &device);
    let start = Instant::now();
    let output = infer()?;
    let first_ms = elapsed_ms(start);
    let median_ms = median_ms(infer)?;
    PeerResult {
        runtime: "burn",
        version: "0.22.1 (wgpu, fusion+autotune)",
        load_ms,
        first_ms,
        median_ms,
        output,
        ours,
    }
    .report()
}

/// Parses `graph.txt` and uploads every weight.
fn load(dir: &Path, device: &Device) -> AnyResult<Network> {
    let text = std::fs::read_to_string(dir.join("graph.txt"))?;
    let mut layers = Vec::new();
    let (mut output, mut input_shape) = (None, None);
    for line in text.lines() {
        let mut words = line.split_whitespace();
        let kind = words.next().ok_or("empty line in graph.txt")?;
        let fields = words
            .map(str::parse::<usize>)
            .collect::<Result<Vec<_>, _>>()?;
        let field = |i: usize| fields.get(i).copied().ok_or(format!("short line: {line}"));
        let activation = |a: Activation| Ok::<_, String>(Layer::Activation(a, field(1)?));
        let layer = match kind {
            "input" => {
                input_shape = Some([1, field(3)?, field(1)?, field(2)?]);
                Layer::Input
            }
            "conv" => conv_layer(dir, &fields, device)?,
            "relu" => activation(Activation::Relu)?,
            "relu6" => activation(Activation::Relu6)?,
            "hswish" => activation(Activation::HardSwish)?,
            "hsigmoid" => activation(Activation::HardSigmoid)?,
            "add" => Layer::Add(field(1)?, field(2)?),
            "mulc" => Layer::MulChannel(field(1)?, field(2)?),
            "gap" => Layer::GlobalAvgPool(field(1)?),
            "dense" => dense_layer(dir, field(0)?, field(1)?, device)?,
            "softmax" => Layer::Softmax(field(1)?),
            "output" => {
                output = Some(field(0)?);
                continue;
            }
            other => return Err(format!("unknown layer kind {other}").into()),
        };
        layers.push((field(0)?, layer));
    }
    Ok(Network {
        layers,
        output: output.ok_or("graph.txt has no output line")?,
        input_shape: input_shape.ok_or("graph.txt has no input line")?,
    })
}

/// `conv <id> <in> <out_c> <kh> <kw> <stride> <top> <left> <bottom> <right> <groups>`.
fn conv_layer(dir: &Path, f: &[usize], device: &Device) -> AnyResult<Layer> {
    let [id, source, _, _, _, stride, top, left, bottom, right, groups] = f[..] else {
        return Err(format!("conv line has {} fields, expected 11", f.len()).into());
    };
    let (shape, ohwi) = read_npy(&dir.join(format!("w{id}.npy")))?;
    let [o, h, w, i] = shape[..] else {
        return Err(format!("w{id}.npy is not 4-D").into());
    };
    let mut oihw = vec![0.0; ohwi.len()];
    for (index, value) in ohwi.iter().enumerate() {
        let (ci, x, y, co) = (
            index % i,
            index / i % w,
            index / (i * w) % h,
            index / (i * w * h),
        );
        oihw[((co * i + ci) * h + y) * w + x] = *value;
    }
    let (_, bias) = read_npy(&dir.join(format!("b{id}.npy")))?;
    Ok(Layer::Conv {
        source,
        weight: Tensor::from_data(TensorData::new(oihw, [o, i, h, w]), device),
        bias: Tensor::from_data(TensorData::new(bias, [o]), device),
        options: ConvOptions::new_with_padding(
            [stride, stride],
            [(top, bottom), (left, right)],
            [1, 1],
            groups,
        ),
    })
}

/// `dense <id> <in> <out>`: weights `[out][in]` transposed to `[in][out]` for matmul.
fn dense_layer(dir: &Path, id: usize, source: usize, device: &Device) -> AnyResult<Layer> {
    let (shape, weights) = read_npy(&dir.join(format!("w{id}.npy")))?;
    let [outputs, inputs] = shape[..] else {
        return Err(format!("w{id}.npy is not 2-D").into());
    };
    let mut transposed = vec![0.0; weights.len()];
    for (index, value) in weights.iter().enumerate() {
        transposed[(index % inputs) * outputs + index / inputs] = *value;
    }
    let (_, bias) = read_npy(&dir.join(format!("b{id}.npy")))?;
    Ok(Layer::Dense {
        source,
        weight: Tensor::from_data(TensorData::new(transposed, [inputs, outputs]), device),
        bias: Tensor::from_data(TensorData::new(bias, [1, outputs]), device),
    })
}

impl Network {
    /// Uploads `input` (NCHW), runs every layer and reads the output back.
    fn infer(&self, input: &[f32], device: &Device) -> AnyResult<Vec<f32>> {
        let image = Tensor::from_data(TensorData::new(input.to_vec(), self.input_shape), device);
        let mut values: HashMap<usize, Value> = HashMap::new();
        for (id, layer) in &self.layers {
            let value = match layer {
                Layer::Input => Value::Map(image.clone()),
                _ => apply(layer, &values)?,
            };
            values.insert(*id, value);
        }
        let output = match values.remove(&self.output) {
            Some(Value::Vector(t)) => t.into_data(),
            Some(Value::Map(t)) => t.into_data(),
            None => return Err("output was not computed".into()),
        };
        Ok(output.try_to_vec::<f32>()?)
    }
}

fn apply(layer: &Layer, values: &HashMap<usize, Value>) -> AnyResult<Value> {
    let map = |id: &usize| match values.get(id) {
        Some(Value::Map(t)) => Ok(t.clone()),
        _ => Err(format!("tensor {id} is not a computed feature map")),
    };
    let vector = |id: &usize| match values.get(id) {
        Some(Value::Vector(t)) => Ok(t.clone()),
        _ => Err(format!("tensor {id} is not a computed vector")),
    };
    Ok(match layer {
        Layer::Input => return Err("input is not an operation".into()),
        Layer::Conv {
            source,
            weight,
            bias,
            options,
        } => Value::Map(conv2d(
            map(source)?,
            weight.clone(),
            Some(bias.clone()),
            options.clone(),
        )),
        Layer::Activation(activation, source) => Value::Map(activation.apply(map(source)?)),
        Layer::Add(a, b) => Value::Map(map(a)? + map(b)?),
        Layer::MulChannel(x, scale) => Value::Map(map(x)? * map(scale)?),
        Layer::GlobalAvgPool(source) => Value::Map(map(source)?.mean_dims(&[2, 3])),
        Layer::Dense {
            source,
            weight,
            bias,
        } => {
            // The exporter only writes dense layers on 1×1 maps: flattening is exact.
            let map = map(source)?;
            let [n, c, h, w] = map.dims();
            let features = map.reshape([n, c * h * w]);
            Value::Vector(features.matmul(weight.clone()) + bias.clone())
        }
        Layer::Softmax(source) => Value::Vector(softmax(vector(source)?, 1)),
    })
}
