//! burn 0.22.1 (wgpu backend, fusion + autotune as in burn's defaults) running our
//! MobileNetV2 from the exporter's `graph.txt` and weights (BatchNorm already folded).
//!
//! Usage: burn_v2 <export-dir>. The network is interpreted layer by layer with burn's
//! tensor ops (conv2d with explicit per-side padding and groups, clamp, add, mean, matmul,
//! softmax) in NCHW; weights are uploaded once, outside the timed runs. Each timed run
//! includes the input upload and the output readback, like ours.

#[path = "../../common/peer_common.rs"]
mod peer_common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::tensor::activation::softmax;
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Device, DeviceKind, Tensor, TensorData};
use peer_common::{elapsed_ms, median_ms, nhwc_to_nchw, read_npy, AnyResult, PeerResult};

/// One layer of `graph.txt`, weights already on the device.
enum Layer {
    Input,
    Conv {
        source: usize,
        weight: Tensor<4>,
        bias: Tensor<1>,
        options: ConvOptions<2>,
    },
    Relu6(usize),
    Add(usize, usize),
    GlobalAvgPool(usize),
    Dense {
        source: usize,
        weight: Tensor<2>,
        bias: Tensor<2>,
    },
    Softmax(usize),
}

/// A tensor of the network: feature maps are NCHW, the head works on `[1, features]`.
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
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .ok_or("usage: burn_v2 <export-dir>")?,
    );
    let (shape, input) = read_npy(&dir.join("input.npy"))?;
    let input = nhwc_to_nchw(&shape, &input);
    let (_, ours) = read_npy(&dir.join("ours.npy"))?;
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
        adapter: std::env::var("PEER_ADAPTER").unwrap_or_else(|_| "default".into()),
        load_ms,
        first_ms,
        median_ms,
        output,
        ours,
    }
    .print();
    Ok(())
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
        let layer = match kind {
            "input" => {
                input_shape = Some([1, field(3)?, field(1)?, field(2)?]);
                Layer::Input
            }
            "conv" => conv_layer(dir, &fields, device)?,
            "relu6" => Layer::Relu6(field(1)?),
            "add" => Layer::Add(field(1)?, field(2)?),
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
        Layer::Relu6(source) => Value::Map(map(source)?.clamp(0.0, 6.0)),
        Layer::Add(a, b) => Value::Map(map(a)? + map(b)?),
        Layer::GlobalAvgPool(source) => {
            let pooled = map(source)?.mean_dims(&[2, 3]);
            let [n, c, _, _] = pooled.dims();
            Value::Vector(pooled.reshape([n, c]))
        }
        Layer::Dense {
            source,
            weight,
            bias,
        } => Value::Vector(vector(source)?.matmul(weight.clone()) + bias.clone()),
        Layer::Softmax(source) => Value::Vector(softmax(vector(source)?, 1)),
    })
}
