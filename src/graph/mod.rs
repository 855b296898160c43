//! The typed graph IR: a list of nodes in topological order, each producing one NHWC
//! tensor whose per-image shape is inferred and validated when the node is added.
//! Front-ends (architecture builders, the TFLite and ONNX importers) build a [`Graph`];
//! the planner and the CPU reference consume it.

mod infer;
mod ops;
mod quant;
mod stats;

pub use ops::{Activation, AvgPool, BatchNorm, Conv2d, Dense, Op, Padding};
pub use quant::{IntConstant, IntForm, IntType, IntWeights, Integer, TensorQuant};
pub use stats::LayerStats;

use crate::error::{Error, Result};
use std::sync::Arc;

/// Per-image tensor shape (NHWC without the batch dimension).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Shape {
    pub h: usize,
    pub w: usize,
    pub c: usize,
}

impl Shape {
    pub fn new(h: usize, w: usize, c: usize) -> Self {
        Shape { h, w, c }
    }

    /// Number of elements per image. Every shape in a [`Graph`] has at most
    /// [`MAX_TENSOR_ELEMENTS`], so this cannot overflow there.
    pub fn len(&self) -> usize {
        self.h * self.w * self.c
    }

    /// [`len`](Self::len), or `None` where it overflows.
    pub fn checked_len(&self) -> Option<usize> {
        self.h.checked_mul(self.w)?.checked_mul(self.c)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl std::fmt::Display for Shape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}x{}x{}", self.h, self.w, self.c)
    }
}

/// The most elements one image's tensor may have (1 GiB in f32), far above any MobileNet's
/// largest activation (802,816 for V1 at 224): a larger shape comes from a corrupt or
/// hostile file, and refusing it here keeps every size computed from shapes in range.
pub const MAX_TENSOR_ELEMENTS: usize = 1 << 28;

/// Why `shape` cannot be a tensor of a graph, if it cannot.
fn check_size(shape: Shape) -> Result<(), String> {
    match shape.checked_len() {
        Some(0) => Err(format!("empty shape {shape}")),
        Some(n) if n <= MAX_TENSOR_ELEMENTS => Ok(()),
        _ => Err(format!(
            "shape {shape} has more than {MAX_TENSOR_ELEMENTS} elements per image"
        )),
    }
}

/// Index of a node, and of the tensor it produces.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct TensorId(pub usize);

/// One operator application.
#[derive(Clone, Debug)]
pub struct Node {
    pub name: String,
    pub op: Op,
    pub inputs: Vec<TensorId>,
    pub shape: Shape,
    /// How the node computes on the integer grid: set by the TFLite importer on quantized
    /// files, `None` elsewhere (and where an op has no integer form).
    pub integer: Option<Integer>,
}

/// A model: nodes in topological order (inputs always precede their consumers).
/// Cloning is cheap: clones share the nodes and their weights until one adds a node, so
/// that every session of a model holds its weights once.
#[derive(Clone, Debug)]
pub struct Graph {
    nodes: Arc<Vec<Node>>,
    output: Option<TensorId>,
}

impl Graph {
    /// Starts a graph with its input of the given per-image shape.
    pub fn new(input: Shape) -> Result<Self> {
        check_size(input).map_err(|reason| Error::graph("input", reason))?;
        let node = Node {
            name: "input".into(),
            op: Op::Input,
            inputs: vec![],
            shape: input,
            integer: None,
        };
        Ok(Graph {
            nodes: Arc::new(vec![node]),
            output: None,
        })
    }

    /// Appends a node after inferring and validating its output shape.
    pub fn add(
        &mut self,
        name: impl Into<String>,
        op: Op,
        inputs: &[TensorId],
    ) -> Result<TensorId> {
        let name = name.into();
        let mut shapes = Vec::with_capacity(inputs.len());
        for id in inputs {
            let node = self.nodes.get(id.0).ok_or_else(|| {
                Error::graph(&name, format!("input tensor #{} does not exist", id.0))
            })?;
            shapes.push(node.shape);
        }
        let shape = infer::output_shape(&op, &shapes)
            .and_then(|shape| check_size(shape).map(|()| shape))
            .map_err(|reason| Error::graph(&name, reason))?;
        Arc::make_mut(&mut self.nodes).push(Node {
            name,
            op,
            inputs: inputs.to_vec(),
            shape,
            integer: None,
        });
        Ok(TensorId(self.nodes.len() - 1))
    }

    /// Sets how node `id` computes on the integer grid.
    pub fn set_integer(&mut self, id: TensorId, integer: Integer) -> Result<()> {
        let node = Arc::make_mut(&mut self.nodes)
            .get_mut(id.0)
            .ok_or_else(|| Error::graph("integer", format!("tensor #{} does not exist", id.0)))?;
        node.integer = Some(integer);
        Ok(())
    }

    /// Appends a copy of `node` reading `inputs`, keeping its integer form.
    fn add_copy(&mut self, node: &Node, inputs: &[TensorId]) -> Result<TensorId> {
        let id = self.add(node.name.clone(), node.op.clone(), inputs)?;
        if let Some(integer) = &node.integer {
            self.set_integer(id, integer.clone())?;
        }
        Ok(id)
    }

    /// Marks the graph output (defaults to the last node).
    pub fn set_output(&mut self, id: TensorId) -> Result<()> {
        if id.0 >= self.nodes.len() {
            return Err(Error::graph(
                "output",
                format!("tensor #{} does not exist", id.0),
            ));
        }
        self.output = Some(id);
        Ok(())
    }

    /// The same graph ending at `id`: later nodes are dropped (none of them can feed `id`,
    /// nodes being in topological order). Used to read logits before a final softmax.
    pub fn truncated_at(&self, id: TensorId) -> Result<Graph> {
        if id.0 >= self.nodes.len() || id.0 == 0 {
            return Err(Error::graph(
                "output",
                format!("cannot end the graph at tensor #{}", id.0),
            ));
        }
        Ok(Graph {
            nodes: Arc::new(self.nodes[..=id.0].to_vec()),
            output: Some(id),
        })
    }

    /// The same graph without the nodes its output does not depend on (importers leave
    /// such nodes behind: unused branches, patterns rewritten into one op).
    pub fn pruned(&self) -> Result<Graph> {
        let mut needed = vec![false; self.nodes.len()];
        needed[0] = true;
        needed[self.output().0] = true;
        for i in (1..self.nodes.len()).rev() {
            if needed[i] {
                self.nodes[i]
                    .inputs
                    .iter()
                    .for_each(|id| needed[id.0] = true);
            }
        }
        let mut new_id = vec![TensorId(0); self.nodes.len()];
        let mut graph = Graph::new(self.input_shape())?;
        graph.copy_input_integer(self)?;
        for (i, node) in self
            .nodes
            .iter()
            .enumerate()
            .skip(1)
            .filter(|(i, _)| needed[*i])
        {
            let inputs: Vec<TensorId> = node.inputs.iter().map(|id| new_id[id.0]).collect();
            new_id[i] = graph.add_copy(node, &inputs)?;
        }
        graph.set_output(new_id[self.output().0])?;
        Ok(graph)
    }

    /// The final softmax node, looking through the range clamps and the requantization a
    /// quantized file puts after it; `None` when the graph does not end in a softmax.
    pub fn final_softmax(&self) -> Option<TensorId> {
        let mut id = self.output();
        loop {
            let node = self.node(id);
            match node.op {
                Op::Softmax => return Some(id),
                Op::Activation(Activation::Clamp { .. }) | Op::Quantize => id = node.inputs[0],
                _ => return None,
            }
        }
    }

    /// The graph without its final softmax (the logits), or itself when it has none.
    pub fn logits(&self) -> Result<Graph> {
        match self.final_softmax() {
            Some(softmax) => self.truncated_at(self.node(softmax).inputs[0]),
            None => Ok(self.clone()),
        }
    }

    pub fn input(&self) -> TensorId {
        TensorId(0)
    }

    pub fn output(&self) -> TensorId {
        self.output.unwrap_or(TensorId(self.nodes.len() - 1))
    }

    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    pub fn node(&self, id: TensorId) -> &Node {
        &self.nodes[id.0]
    }

    pub fn shape(&self, id: TensorId) -> Shape {
        self.nodes[id.0].shape
    }

    pub fn input_shape(&self) -> Shape {
        self.nodes[0].shape
    }

    pub fn output_shape(&self) -> Shape {
        self.shape(self.output())
    }

    /// For each tensor, the nodes that read it.
    pub fn consumers(&self) -> Vec<Vec<TensorId>> {
        let mut consumers = vec![Vec::new(); self.nodes.len()];
        for (i, node) in self.nodes.iter().enumerate() {
            for input in &node.inputs {
                consumers[input.0].push(TensorId(i));
            }
        }
        consumers
    }

    /// Appends `other` so that its input reads this graph's output (model chaining, e.g.
    /// a feature extractor followed by a separate classifier head).
    pub fn chain(mut self, other: &Graph) -> Result<Graph> {
        let joint = self.output();
        if self.shape(joint) != other.input_shape() {
            return Err(Error::graph(
                "chain",
                format!(
                    "first model outputs {} but the second expects {}",
                    self.shape(joint),
                    other.input_shape()
                ),
            ));
        }
        let joint = self.regrid(joint, other.node(other.input()))?;
        let offset = self.nodes.len() - 1;
        let remap = |id: TensorId| {
            if id.0 == 0 {
                joint
            } else {
                TensorId(id.0 + offset)
            }
        };
        for node in &other.nodes[1..] {
            let inputs: Vec<TensorId> = node.inputs.iter().map(|&i| remap(i)).collect();
            self.add_copy(node, &inputs)?;
        }
        self.output = Some(remap(other.output()));
        Ok(self)
    }

    /// `id`, or a [`Op::Quantize`] of it where `input` (another graph's input) expects
    /// another integer grid than `id` is stored on.
    fn regrid(&mut self, id: TensorId, input: &Node) -> Result<TensorId> {
        let stored = self.node(id).integer.as_ref().map(|i| i.output);
        match (&input.integer, stored) {
            (Some(expected), Some(stored)) if expected.output != stored => {
                let name = format!("{}/requantize", input.name);
                let regridded = self.add(name, Op::Quantize, &[id])?;
                self.set_integer(regridded, expected.clone())?;
                Ok(regridded)
            }
            _ => Ok(id),
        }
    }

    /// Gives this graph's input the integer form of `other`'s.
    fn copy_input_integer(&mut self, other: &Graph) -> Result<()> {
        match &other.node(other.input()).integer {
            Some(integer) => self.set_integer(self.input(), integer.clone()),
            None => Ok(()),
        }
    }
}
