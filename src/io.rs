//! Tensors as a model file declares them ↔ the graph's NHWC f32 tensors: what `run` and
//! embedders feed and read. An ONNX graph exported from PyTorch takes `[N, C, H, W]` float32,
//! the shared QDQ files take `[N, H, W, C]` uint8; the GPU graph always holds real values in
//! NHWC order.

pub mod npy;

use std::path::Path;

use crate::model::{DType, Layout, Model, TensorSpec};
use crate::{Error, Result};

/// A batch of values in one of the element types model files declare.
#[derive(Clone, Debug, PartialEq)]
pub enum Values {
    F32(Vec<f32>),
    U8(Vec<u8>),
    I8(Vec<i8>),
}

impl Values {
    pub fn dtype(&self) -> DType {
        match self {
            Values::F32(_) => DType::F32,
            Values::U8(_) => DType::U8,
            Values::I8(_) => DType::I8,
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Values::F32(v) => v.len(),
            Values::U8(v) => v.len(),
            Values::I8(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Writes `bytes` to `path` whole or not at all: into a temporary file beside it, renamed
/// over `path` once complete, so a full disk or an interrupted run never leaves a
/// truncated file where a good one was.
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let partial = path.with_file_name(format!(".{name}.{}.partial", std::process::id()));
    let written = std::fs::write(&partial, bytes).and_then(|()| std::fs::rename(&partial, path));
    written.map_err(|e| {
        std::fs::remove_file(&partial).ok();
        Error::io(path, e)
    })
}

/// The graph input for `values` of shape `shape` given as the file declares its input:
/// `[N, dims…]` in the file's layout, float32 real values or the input's own 8-bit type
/// (dequantized with its quantization). Returns the batch size and the NHWC values.
pub fn graph_input(model: &Model, shape: &[usize], values: &Values) -> Result<(usize, Vec<f32>)> {
    let spec = &model.input;
    let expected = || format!("[N, {}] {}", join(&spec.dims), accepted_types(spec));
    let batch = match shape.split_first() {
        Some((&n, rest)) if n > 0 && rest == spec.dims.as_slice() => n,
        _ => {
            return Err(Error::InvalidArgument(format!(
                "input of shape {shape:?}; {} expects {}",
                model.name,
                expected()
            )))
        }
    };
    if values.len() != shape.iter().product::<usize>() {
        return Err(Error::InvalidArgument(format!(
            "{} values for shape {shape:?}",
            values.len()
        )));
    }
    let real: Vec<f32> = match (values, spec.dtype) {
        (Values::F32(v), _) => v.clone(),
        (Values::U8(v), DType::U8) => dequantize(spec, v.iter().map(|&q| i32::from(q))),
        (Values::I8(v), DType::I8) => dequantize(spec, v.iter().map(|&q| i32::from(q))),
        (other, _) => {
            return Err(Error::InvalidArgument(format!(
                "{} input for {}, which takes {}",
                other.dtype(),
                model.name,
                expected()
            )))
        }
    };
    Ok((batch, to_nhwc(spec, batch, real)))
}

/// The graph's output (NHWC real values of `batch` images) as the file declares it: in its
/// layout, and in its 8-bit type when `quantized` and the output is quantized.
pub fn file_output(
    model: &Model,
    batch: usize,
    data: &[f32],
    quantized: bool,
) -> (Vec<usize>, Values) {
    let spec = &model.output;
    let mut shape = vec![batch];
    shape.extend(&spec.dims);
    let ordered = from_nhwc(spec, batch, data);
    let values = match (quantized, spec.quantization) {
        (true, Some(q)) if spec.dtype == DType::U8 => Values::U8(
            ordered
                .iter()
                .map(|&r| q.quantize(r, DType::U8) as u8)
                .collect(),
        ),
        (true, Some(q)) if spec.dtype == DType::I8 => Values::I8(
            ordered
                .iter()
                .map(|&r| q.quantize(r, DType::I8) as i8)
                .collect(),
        ),
        _ => Values::F32(ordered),
    };
    (shape, values)
}

fn dequantize(spec: &TensorSpec, ints: impl Iterator<Item = i32>) -> Vec<f32> {
    match spec.quantization {
        Some(q) => ints.map(|i| q.dequantize(i)).collect(),
        None => ints.map(|i| i as f32).collect(),
    }
}

fn accepted_types(spec: &TensorSpec) -> String {
    match spec.dtype {
        DType::F32 => "float32".into(),
        other => format!("{other} (or float32 real values)"),
    }
}

fn join(dims: &[usize]) -> String {
    dims.iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// `[N, C, H, W]` → `[N, H, W, C]` for an NCHW spec; other layouts are already in order.
fn to_nhwc(spec: &TensorSpec, batch: usize, data: Vec<f32>) -> Vec<f32> {
    match (spec.layout, &spec.dims[..]) {
        (Layout::Nchw, &[c, h, w]) => transpose_images(&data, batch, c, h * w),
        _ => data,
    }
}

/// `[N, H, W, C]` → `[N, C, H, W]` for an NCHW spec.
fn from_nhwc(spec: &TensorSpec, batch: usize, data: &[f32]) -> Vec<f32> {
    match (spec.layout, &spec.dims[..]) {
        (Layout::Nchw, &[c, h, w]) => transpose_images(data, batch, h * w, c),
        _ => data.to_vec(),
    }
}

/// Transposes each of the `batch` images' `[a][b]` matrices into `[b][a]`.
fn transpose_images(data: &[f32], batch: usize, a: usize, b: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(data.len());
    for image in data.chunks(a * b).take(batch) {
        for j in 0..b {
            out.extend((0..a).map(|i| image[i * b + j]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::{Graph, Shape};
    use crate::model::{Model, Quantization};

    fn nchw_model() -> Model {
        let graph = Graph::new(Shape::new(2, 3, 4)).unwrap();
        let mut model = Model::from_graph("m", graph);
        model.input.layout = Layout::Nchw;
        model.input.dims = vec![4, 2, 3];
        model
    }

    #[test]
    fn a_file_is_written_whole_or_left_as_it_was() {
        let dir = std::env::temp_dir().join(format!("write-file-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("out.npy");
        std::fs::write(&path, b"old").unwrap();
        write_file(&path, b"new contents").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new contents");
        // A destination that cannot be replaced (a folder) is an error naming it, and
        // leaves no temporary file behind.
        let folder = dir.join("folder.npy");
        std::fs::create_dir_all(&folder).unwrap();
        let error = write_file(&folder, b"x").unwrap_err().to_string();
        assert!(error.contains("folder.npy"), "{error}");
        let left: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().collect();
        assert_eq!(left.len(), 2, "{left:?}");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn nchw_input_is_transposed_to_nhwc_and_back() {
        let model = nchw_model();
        let nchw: Vec<f32> = (0..24).map(|v| v as f32).collect();
        let (batch, nhwc) = graph_input(&model, &[1, 4, 2, 3], &Values::F32(nchw.clone())).unwrap();
        assert_eq!(batch, 1);
        // IR (h=0, w=1, c=2), at w·C + c = 6, is NCHW element c·6 + w = 13.
        assert_eq!(nhwc[4 + 2], 13.0);
        let mut out_model = model.clone();
        out_model.output = out_model.input.clone();
        let (shape, back) = file_output(&out_model, 1, &nhwc, false);
        assert_eq!(shape, vec![1, 4, 2, 3]);
        assert_eq!(back, Values::F32(nchw));
    }

    #[test]
    fn wrong_shapes_and_types_are_errors() {
        let model = nchw_model();
        assert!(graph_input(&model, &[1, 2, 3, 4], &Values::F32(vec![0.0; 24])).is_err());
        assert!(graph_input(&model, &[1, 4, 2, 3], &Values::U8(vec![0; 24])).is_err());
        assert!(graph_input(&model, &[0, 4, 2, 3], &Values::F32(vec![])).is_err());
    }

    #[test]
    fn uint8_inputs_are_dequantized_and_outputs_requantized() {
        let mut model = Model::from_graph("q", Graph::new(Shape::new(1, 1, 2)).unwrap());
        let q = Quantization {
            scale: 0.5,
            zero_point: 10,
        };
        model.input.dtype = DType::U8;
        model.input.quantization = Some(q);
        model.input.dims = vec![2];
        let (_, real) = graph_input(&model, &[1, 2], &Values::U8(vec![10, 14])).unwrap();
        assert_eq!(real, vec![0.0, 2.0]);
        model.output = model.input.clone();
        let (_, ints) = file_output(&model, 1, &[0.0, 2.2], true);
        assert_eq!(ints, Values::U8(vec![10, 14]));
    }
}
