//! ONNX importer: decodes a `ModelProto` (prost types generated from ONNX's published
//! schema) and maps its graph onto the crate's NHWC graph IR, the same IR the TFLite
//! importer and the builders produce.
//!
//! ONNX is NCHW: each activation remembers its ONNX layout (`value::Layout`) and constants
//! are converted once, at load (convolution weights OIHW → OHWI, dense rows after an NCHW
//! flatten, channel-broadcast constants). Constant sub-graphs (Shape → Gather → Concat →
//! Reshape) are folded while walking. Quantized QDQ graphs are computed in float: weights are
//! dequantized at load and an activation's QuantizeLinear becomes a clamp to its range,
//! exactly as the TFLite importer treats quantized tensors.
//!
//! Anything outside the supported operator set is an error naming the node, its operator,
//! the opset and the offending attribute or input.

mod attrs;
mod io;
mod ops;
mod proto;
mod tensor;
mod value;

use crate::error::{Error, Result};
use crate::graph::{Graph, Op, Shape, TensorId};
use crate::model::{Format, Model, Preset};
use prost::Message;
use std::collections::{HashMap, HashSet};
use std::path::Path;
use tensor::Tensor;
use value::{dims_of, Act, Layout, Value};

/// The oldest and newest default-domain opsets whose operators are mapped.
const OPSETS: std::ops::RangeInclusive<i64> = 7..=23;

/// True when `bytes` start like a serialized `ModelProto` (a field tag of one of its
/// fields: ir_version, producer, graph, opset_import…).
pub fn looks_like_onnx(bytes: &[u8]) -> bool {
    matches!(
        bytes.first(),
        Some(0x08 | 0x12 | 0x1a | 0x22 | 0x28 | 0x32 | 0x3a | 0x42 | 0x72)
    )
}

/// Imports an ONNX model from memory. `path` names the file in errors, `name` the model;
/// external tensor data is read from `folder`.
pub fn import(bytes: &[u8], path: &Path, name: &str, folder: Option<&Path>) -> Result<Model> {
    let invalid = |reason: String| Error::Model {
        path: path.to_path_buf(),
        reason,
    };
    let model = proto::ModelProto::decode(bytes)
        .map_err(|e| invalid(format!("not a valid ONNX protobuf: {e}")))?;
    let opset = default_opset(&model).map_err(&invalid)?;
    let graph = model
        .graph
        .as_ref()
        .ok_or_else(|| invalid("the ONNX model has no graph".into()))?;
    let needed = needed_nodes(graph);
    let mut importer = Importer::new(path, folder, graph, &needed)?;
    let nodes = graph.node.iter().enumerate().filter(|(i, _)| needed[*i]);
    for (index, node) in nodes {
        let ctx = NodeCtx {
            node,
            within: None,
            index,
            opset,
            path,
        };
        ops::import_node(&mut importer, &ctx)?;
    }
    let input = importer.input_spec.clone();
    let (graph_ir, output) = io::finish(path, importer.graph, &importer.values, graph)?;
    let background_class = graph_ir.output_shape().c == 1001;
    let (normalization, resize) = Preset::default_for(&input).settings(&input);
    Ok(Model {
        name: name.to_string(),
        format: Format::Onnx,
        graph: graph_ir,
        normalization,
        resize,
        background_class,
        input,
        output,
    })
}

/// Which nodes the graph's first output depends on. The others (what only other graph
/// outputs need, an ArgMax beside the probabilities say) are never imported.
fn needed_nodes(graph: &proto::GraphProto) -> Vec<bool> {
    let producer: HashMap<&str, usize> = graph
        .node
        .iter()
        .enumerate()
        .flat_map(|(i, n)| n.output.iter().map(move |o| (o.as_str(), i)))
        .collect();
    let mut needed = vec![false; graph.node.len()];
    let mut pending: Vec<&str> = graph
        .output
        .iter()
        .take(1)
        .map(|o| o.name.as_str())
        .collect();
    while let Some(name) = pending.pop() {
        if let Some(&i) = producer.get(name) {
            if !needed[i] {
                needed[i] = true;
                pending.extend(graph.node[i].input.iter().map(String::as_str));
            }
        }
    }
    needed
}

/// The version of the default (`ai.onnx`) operator set the model imports.
fn default_opset(model: &proto::ModelProto) -> std::result::Result<i64, String> {
    let version = model
        .opset_import
        .iter()
        .find(|o| o.domain.is_empty() || o.domain == "ai.onnx")
        .map(|o| o.version)
        .ok_or("the model imports no default-domain opset")?;
    if !OPSETS.contains(&version) {
        return Err(format!(
            "opset {version} is not supported (supported: {}–{})",
            OPSETS.start(),
            OPSETS.end()
        ));
    }
    Ok(version)
}

/// The node being imported, for error messages.
struct NodeCtx<'a> {
    pub node: &'a proto::NodeProto,
    /// The QOperator node (`ops/qlinear.rs`) that `node` is a part of, if any.
    pub within: Option<&'a str>,
    pub index: usize,
    pub opset: i64,
    pub path: &'a Path,
}

impl NodeCtx<'_> {
    /// An error about this node: `node #i `name` (Op, opset N): reason`.
    pub fn fail(&self, reason: impl std::fmt::Display) -> Error {
        let name = match self.node.name.as_str() {
            "" => self.node.output.first().map_or("", String::as_str),
            name => name,
        };
        let within = self
            .within
            .map(|op| format!(" in {op}"))
            .unwrap_or_default();
        Error::Model {
            path: self.path.to_path_buf(),
            reason: format!(
                "node #{} `{name}` ({}{within}, opset {}): {reason}",
                self.index, self.node.op_type, self.opset
            ),
        }
    }

    /// The name of input `k`, `None` when absent or empty (an omitted optional input).
    pub fn input_name(&self, k: usize) -> Option<&str> {
        self.node
            .input
            .get(k)
            .map(String::as_str)
            .filter(|n| !n.is_empty())
    }

    pub fn output_name(&self) -> Result<&str> {
        match self.node.output.first().map(String::as_str) {
            Some(name) if !name.is_empty() => Ok(name),
            _ => Err(self.fail("has no output")),
        }
    }
}

/// The walk's state: every ONNX value seen so far and the IR graph being built.
struct Importer<'a> {
    folder: Option<&'a Path>,
    pub input_spec: crate::model::TensorSpec,
    pub values: HashMap<String, Value>,
    /// Raw initializers, decoded where they are read.
    initializers: HashMap<&'a str, &'a proto::TensorProto>,
    pub graph: Graph,
    /// The clamps QuantizeLinear nodes became: a value's quantization range, which some
    /// patterns look through (a user's Clip they must not).
    pub range_clamps: HashSet<TensorId>,
    /// How often each value name is read, by nodes and graph outputs.
    readers: HashMap<&'a str, usize>,
}

impl<'a> Importer<'a> {
    fn new(
        path: &'a Path,
        folder: Option<&'a Path>,
        graph: &'a proto::GraphProto,
        needed: &[bool],
    ) -> Result<Self> {
        let initializers: HashMap<&str, &proto::TensorProto> = graph
            .initializer
            .iter()
            .map(|t| (t.name.as_str(), t))
            .collect();
        let mut readers: HashMap<&str, usize> = HashMap::new();
        let used_nodes = graph.node.iter().zip(needed).filter(|(_, &n)| n);
        let names = used_nodes.flat_map(|(node, _)| node.input.iter());
        let first_output = graph.output.iter().take(1).map(|o| &o.name);
        for name in names.chain(first_output).filter(|n| !n.is_empty()) {
            *readers.entry(name.as_str()).or_default() += 1;
        }
        let (ir, input_name, input_value, input_spec) =
            io::graph_input(path, graph, &initializers)?;
        let mut values = HashMap::new();
        values.insert(input_name, input_value);
        Ok(Importer {
            folder,
            input_spec,
            values,
            initializers,
            graph: ir,
            range_clamps: HashSet::new(),
            readers,
        })
    }

    /// The value named `name`: computed before, or an initializer.
    pub fn value(&mut self, ctx: &NodeCtx, name: &str) -> Result<Value> {
        if let Some(value) = self.values.get(name) {
            return Ok(value.clone());
        }
        let proto = self.initializers.get(name).copied().ok_or_else(|| {
            ctx.fail(format!(
                "reads `{name}`, which is neither the graph input, an initializer nor computed before"
            ))
        })?;
        // Not cached: nearly every initializer is read once, and a cached copy of each
        // weight would double the import's memory.
        let tensor = tensor::decode(proto, self.folder).map_err(|e| ctx.fail(e))?;
        Ok(Value::Const(tensor))
    }

    /// Input `k` of the node, which must be present.
    pub fn input(&mut self, ctx: &NodeCtx, k: usize) -> Result<Value> {
        let name = ctx
            .input_name(k)
            .ok_or_else(|| ctx.fail(format!("input #{k} is missing")))?
            .to_string();
        self.value(ctx, &name)
    }

    /// Optional input `k`: `None` when the node omits it.
    pub fn optional_input(&mut self, ctx: &NodeCtx, k: usize) -> Result<Option<Value>> {
        match ctx.input_name(k).map(str::to_string) {
            Some(name) => self.value(ctx, &name).map(Some),
            None => Ok(None),
        }
    }

    /// Input `k` as a constant.
    pub fn constant(&mut self, ctx: &NodeCtx, k: usize) -> Result<Tensor> {
        match self.input(ctx, k)? {
            Value::Const(t) => Ok(t),
            Value::Act(_) => Err(ctx.fail(format!(
                "input #{k} must be a constant (an initializer or computed from constants)"
            ))),
        }
    }

    /// Optional constant input `k`.
    pub fn optional_constant(&mut self, ctx: &NodeCtx, k: usize) -> Result<Option<Tensor>> {
        match self.optional_input(ctx, k)? {
            None => Ok(None),
            Some(Value::Const(t)) => Ok(Some(t)),
            Some(Value::Act(_)) => Err(ctx.fail(format!("input #{k} must be a constant"))),
        }
    }

    /// Input `k` as an activation without pending padding or quantization.
    pub fn act(&mut self, ctx: &NodeCtx, k: usize) -> Result<Act> {
        let act = self.padded_act(ctx, k)?;
        if act.pad != Default::default() {
            return Err(ctx.fail("reads the output of a Pad, which only folds into a Conv"));
        }
        if act.quant.is_some() {
            return Err(ctx.fail(
                "reads a quantized tensor (QuantizeLinear output) without a DequantizeLinear",
            ));
        }
        Ok(act)
    }

    /// Input `k` as an activation, possibly padded or quantized.
    pub fn padded_act(&mut self, ctx: &NodeCtx, k: usize) -> Result<Act> {
        match self.input(ctx, k)? {
            Value::Act(act) => Ok(act),
            Value::Const(_) => Err(ctx.fail(format!(
                "input #{k} is a constant; only activations are supported there"
            ))),
        }
    }

    /// How many nodes and graph outputs read value `name`.
    pub fn readers(&self, name: &str) -> usize {
        self.readers.get(name).copied().unwrap_or(0)
    }

    pub fn shape(&self, act: &Act) -> Shape {
        self.graph.shape(act.id)
    }

    /// The ONNX dims of `act` without the batch axis.
    pub fn dims(&self, act: &Act) -> Vec<usize> {
        dims_of(&act.layout, self.shape(act))
    }

    /// Adds an IR node named after the ONNX node's output.
    pub fn emit(&mut self, ctx: &NodeCtx, op: Op, inputs: &[TensorId]) -> Result<TensorId> {
        let name = ctx.output_name()?.to_string();
        self.graph.add(name, op, inputs).map_err(|e| ctx.fail(e))
    }

    /// Records the node's (first) output.
    pub fn set_output(&mut self, ctx: &NodeCtx, value: Value) -> Result<()> {
        let name = ctx.output_name()?.to_string();
        self.values.insert(name, value);
        Ok(())
    }

    /// Records an activation output with the given layout.
    pub fn set_act(&mut self, ctx: &NodeCtx, id: TensorId, layout: Layout) -> Result<()> {
        self.set_output(ctx, Value::Act(Act::new(id, layout)))
    }
}
