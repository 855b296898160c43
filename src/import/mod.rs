//! Model-file front-ends, siblings behind one entry point: [`load`] and [`parse`] tell a
//! TFLite flatbuffer from an ONNX protobuf by content (never by extension) and return the
//! same [`Model`]; [`load_chain`] joins several files of either format.

pub mod onnx;
pub mod tflite;

use crate::error::{Error, Result};
use crate::model::Model;
use std::path::{Path, PathBuf};

/// Reads and imports a model file. The model is named after the file stem; an ONNX
/// file's external weights are read from the file's folder.
pub fn load(path: &Path) -> Result<Model> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let stem = path
        .file_stem()
        .map_or_else(|| path.to_string_lossy(), |s| s.to_string_lossy());
    import(&bytes, path, &stem, path.parent())
}

/// Imports a model already in memory; `name` names it and appears in errors. ONNX
/// external weights cannot be found from memory: use [`load`] for such files.
pub fn parse(bytes: &[u8], name: &str) -> Result<Model> {
    import(bytes, Path::new(name), name, None)
}

/// Imports several files and chains them, each one's output feeding the next one's input:
/// e.g. a feature extractor followed by its classifier head. The boundaries must agree in
/// element type and quantization, since the integer tensor is what passes between them.
/// Normalization and input come from the first model, labels and output from the last.
pub fn load_chain(paths: &[PathBuf]) -> Result<Model> {
    let (first, rest) = paths
        .split_first()
        .ok_or_else(|| Error::InvalidArgument("load_chain needs at least one model file".into()))?;
    let mut chained = load(first)?;
    for path in rest {
        let next = load(path)?;
        let (out, inp) = (&chained.output, &next.input);
        if (out.dtype, out.quantization) != (inp.dtype, inp.quantization) {
            return Err(Error::Model {
                path: path.clone(),
                reason: format!(
                    "its input ({} {:?}) does not match the previous model's output ({} {:?})",
                    inp.dtype, inp.quantization, out.dtype, out.quantization
                ),
            });
        }
        chained.graph = chained.graph.chain(&next.graph)?;
        chained.name = format!("{}+{}", chained.name, next.name);
        chained.background_class = next.background_class;
        chained.output = next.output;
    }
    Ok(chained)
}

/// The loading constructors live with the importers, so that `model.rs` (the data) does
/// not depend on the front-ends that produce it.
impl Model {
    /// Loads a model file (TFLite or ONNX, told apart by content), or a manifest name
    /// (downloaded and verified if needed).
    pub fn load(name_or_path: &str) -> Result<Model> {
        load_chain(&crate::hub::resolve(name_or_path)?)
    }

    /// Parses a TFLite or ONNX model from memory; `name` appears in errors. ONNX files
    /// whose weights live in a side file need [`Model::load`].
    pub fn from_bytes(bytes: &[u8], name: &str) -> Result<Model> {
        parse(bytes, name)
    }

    /// Chains models: each one's output feeds the next (e.g. extractor + head files).
    pub fn chain(names_or_paths: &[&str]) -> Result<Model> {
        let mut paths = Vec::new();
        for name in names_or_paths {
            paths.extend(crate::hub::resolve(name)?);
        }
        load_chain(&paths)
    }
}

fn import(bytes: &[u8], path: &Path, name: &str, folder: Option<&Path>) -> Result<Model> {
    if tflite::is_tflite(bytes) {
        tflite::import(bytes, path, name)
    } else if onnx::looks_like_onnx(bytes) {
        onnx::import(bytes, path, name, folder)
    } else {
        Err(Error::Model {
            path: path.to_path_buf(),
            reason: "neither a TFLite flatbuffer (no `TFL3` identifier) nor an ONNX protobuf"
                .into(),
        })
    }
}
