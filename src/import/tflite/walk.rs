//! The graph walk: visits the subgraph's operators in order, keeping for each TFLite tensor
//! the IR tensor that holds it, and applies each op's activation and range clamp.

use super::schema::{self, ActivationFunctionType, BuiltinOperator};
use super::tensors::{self, Range, TensorInfo};
use crate::error::{Error, Result};
use crate::graph::{Activation, Graph, IntForm, Integer, Op, Padding, Shape, TensorId};
use std::collections::HashMap;
use std::path::Path;

/// What a TFLite activation tensor maps to in the IR.
#[derive(Clone, Copy, Debug)]
pub(super) struct Value {
    pub id: TensorId,
    /// Bounds the values are already known to respect (the last clamp applied).
    pub range: Option<Range>,
    /// Zero padding of a PAD op not yet folded into the window op that reads it.
    pub pad: Padding,
}

/// One operator being mapped, with its indices checked against the tensor table.
pub(super) struct Call<'a> {
    pub index: usize,
    pub code: BuiltinOperator,
    pub op_name: String,
    pub op: &'a schema::Operator,
    pub output: usize,
}

pub(super) struct Walker<'a, 'f> {
    pub path: &'a Path,
    pub tensors: &'a [TensorInfo<'f>],
    pub values: Vec<Option<Value>>,
    /// Constants computed at load time (DEQUANTIZE of a float16 or int8 weight).
    pub folded: HashMap<usize, Vec<f32>>,
    pub graph: Graph,
    /// The first node of the operator being mapped: nodes before it are other ops'.
    pub op_start: usize,
}

/// Builds the IR graph of `subgraph`, whose input and output tensors are given.
pub(super) fn build_graph(
    path: &Path,
    model: &schema::Model,
    subgraph: &schema::SubGraph,
    tensors: &[TensorInfo],
    input: usize,
    output: usize,
) -> Result<Graph> {
    let invalid = |reason: String| Error::Model {
        path: path.to_path_buf(),
        reason,
    };
    let codes = &model.operator_codes;
    let shape = tensors::activation_shape(&tensors[input]).map_err(invalid)?;
    let mut graph = Graph::new(shape).map_err(|e| invalid(format!("input: {e}")))?;
    if let Some(output) = tensors::grid(&tensors[input]).map_err(invalid)? {
        let integer = Integer { output, form: None };
        graph.set_integer(graph.input(), integer)?;
    }
    let mut values = vec![None; tensors.len()];
    values[input] = Some(Value {
        id: graph.input(),
        range: None,
        pad: Padding::default(),
    });
    let mut walker = Walker {
        path,
        tensors,
        values,
        folded: HashMap::new(),
        graph,
        op_start: 1,
    };
    for (index, op) in subgraph.operators.iter().enumerate() {
        let code = codes.get(op.opcode_index as usize).ok_or_else(|| {
            invalid(format!(
                "operator #{index} uses opcode #{} of {}",
                op.opcode_index,
                codes.len()
            ))
        })?;
        let call = walker.call(index, code, op)?;
        walker.op_start = walker.graph.nodes().len();
        walker.operator(&call)?;
    }
    let result = walker.values[output]
        .ok_or_else(|| invalid("no operator computes the output tensor".into()))?;
    if result.pad != Padding::default() {
        return Err(invalid(
            "the output comes from a PAD that no convolution consumes".into(),
        ));
    }
    walker.graph.set_output(result.id)?;
    Ok(walker.graph)
}

impl<'a, 'f> Walker<'a, 'f> {
    fn call<'o>(
        &self,
        index: usize,
        code: &schema::OperatorCode,
        op: &'o schema::Operator,
    ) -> Result<Call<'o>> {
        let op_name = match (code.builtin, &code.custom) {
            (BuiltinOperator::CUSTOM, Some(name)) => format!("CUSTOM({name})"),
            (builtin, _) => builtin
                .name()
                .map_or_else(|| format!("BuiltinOperator({})", builtin.0), str::to_string),
        };
        let fail = |reason: String| self.fail(format!("operator #{index} ({op_name}): {reason}"));
        if let Some(bad) = op
            .inputs
            .iter()
            .chain(&op.outputs)
            .find(|&&t| t < -1 || t >= self.tensors.len() as i32)
        {
            return Err(fail(format!("tensor index {bad} is out of range")));
        }
        let output = match op.outputs[..] {
            [t] if t >= 0 => t as usize,
            _ => {
                return Err(fail(format!(
                    "has {} outputs; exactly one is supported",
                    op.outputs.len()
                )))
            }
        };
        Ok(Call {
            index,
            code: code.builtin,
            op_name,
            op,
            output,
        })
    }

    /// An [`Error::Model`] for this file.
    pub fn fail(&self, reason: impl Into<String>) -> Error {
        Error::Model {
            path: self.path.to_path_buf(),
            reason: reason.into(),
        }
    }

    /// An error about operator `call`.
    pub fn op_fail(&self, call: &Call, reason: impl std::fmt::Display) -> Error {
        self.fail(format!(
            "operator #{} ({}): {reason}",
            call.index, call.op_name
        ))
    }

    /// The tensor index of input `k`, which must be present.
    pub fn arg(&self, call: &Call, k: usize) -> Result<usize> {
        self.optional_arg(call, k)
            .ok_or_else(|| self.op_fail(call, format!("input #{k} is missing")))
    }

    /// The tensor index of input `k`, `None` when absent or -1 (an omitted optional input).
    pub fn optional_arg(&self, call: &Call, k: usize) -> Option<usize> {
        call.op.inputs.get(k).and_then(|&t| usize::try_from(t).ok())
    }

    pub fn info(&self, tensor: usize) -> &TensorInfo<'f> {
        &self.tensors[tensor]
    }

    pub fn is_constant(&self, tensor: usize) -> bool {
        self.tensors[tensor].data.is_some() || self.folded.contains_key(&tensor)
    }

    /// The real values of a constant input.
    pub fn constant(&self, call: &Call, tensor: usize) -> Result<Vec<f32>> {
        match self.folded.get(&tensor) {
            Some(values)
                if Ok(values.len()) == tensors::element_count(&self.tensors[tensor].shape) =>
            {
                Ok(values.clone())
            }
            Some(_) => Err(self.op_fail(call, "a DEQUANTIZE changes the element count")),
            None => tensors::dequantize(&self.tensors[tensor]).map_err(|e| self.op_fail(call, e)),
        }
    }

    /// The IR value of an activation input, possibly with a pending PAD.
    pub fn padded_value(&self, call: &Call, tensor: usize) -> Result<Value> {
        self.values[tensor].ok_or_else(|| {
            let name = &self.tensors[tensor].name;
            self.op_fail(
                call,
                format!("reads tensor `{name}`, which is neither the input nor computed before"),
            )
        })
    }

    /// The IR value of an activation input that cannot absorb a PAD.
    pub fn value(&self, call: &Call, tensor: usize) -> Result<Value> {
        let value = self.padded_value(call, tensor)?;
        if value.pad != Padding::default() {
            return Err(self.op_fail(
                call,
                "its input comes from a PAD, which can only be folded into a convolution",
            ));
        }
        Ok(value)
    }

    pub fn shape(&self, id: TensorId) -> Shape {
        self.graph.shape(id)
    }

    /// Adds a node named after the op's output tensor, stored on that tensor's integer grid
    /// when it is quantized.
    pub fn emit(&mut self, call: &Call, op: Op, inputs: &[TensorId]) -> Result<TensorId> {
        let name = self.tensors[call.output].name.clone();
        let id = self
            .graph
            .add(name, op, inputs)
            .map_err(|e| self.op_fail(call, e))?;
        if let Some(output) = self.output_grid(call)? {
            let integer = Integer { output, form: None };
            self.graph.set_integer(id, integer)?;
        }
        Ok(id)
    }

    /// Gives node `id`, just emitted, what it computes with on the integer grid.
    pub fn attach(&mut self, id: TensorId, form: Option<IntForm>) -> Result<()> {
        if let (Some(form), Some(integer)) = (form, &self.graph.node(id).integer) {
            let integer = Integer {
                output: integer.output,
                form: Some(form),
            };
            self.graph.set_integer(id, integer)?;
        }
        Ok(())
    }

    /// The integer grid of the op's output tensor, `None` when it is float.
    fn output_grid(&self, call: &Call) -> Result<Option<crate::graph::TensorQuant>> {
        tensors::grid(&self.tensors[call.output]).map_err(|e| self.op_fail(call, e))
    }

    /// `id` stored on the op's output grid: a node another op computed (a pass-through such
    /// as RESHAPE, RELU or QUANTIZE) gets a [`Op::Quantize`] after it when its grid differs.
    fn on_output_grid(&mut self, call: &Call, id: TensorId) -> Result<TensorId> {
        let stored = self.graph.node(id).integer.as_ref().map(|i| i.output);
        match self.output_grid(call)? {
            Some(grid) if id.0 < self.op_start && stored != Some(grid) => {
                self.emit(call, Op::Quantize, &[id])
            }
            _ => Ok(id),
        }
    }

    /// Records `id` as the op's output after its fused activation and its output tensor's
    /// quantized range, merged into one clamp; `known` is the range `id` already respects.
    pub fn finish(
        &mut self,
        call: &Call,
        id: TensorId,
        fused: ActivationFunctionType,
        known: Option<Range>,
    ) -> Result<()> {
        self.check_shape(call, self.shape(id))?;
        let id = self.on_output_grid(call, id)?;
        let activation = fused_bounds(fused).map_err(|e| self.op_fail(call, e))?;
        let quantized =
            tensors::range(&self.tensors[call.output]).map_err(|e| self.op_fail(call, e))?;
        let (id, range) = match intersect(activation, quantized) {
            Some(bounds) if !within(known, bounds) => (
                self.emit(call, Op::Activation(clamp_activation(bounds)), &[id])?,
                Some(bounds),
            ),
            _ => (id, known),
        };
        self.values[call.output] = Some(Value {
            id,
            range,
            pad: Padding::default(),
        });
        Ok(())
    }

    /// Checks the shape computed for the op's output against the one the file records, which
    /// catches any mapping that would silently compute something else.
    pub fn check_shape(&self, call: &Call, computed: Shape) -> Result<()> {
        let recorded = tensors::activation_shape(&self.tensors[call.output])
            .map_err(|e| self.op_fail(call, e))?;
        if recorded != computed {
            return Err(self.op_fail(
                call,
                format!("computes {computed} but the file records {recorded}"),
            ));
        }
        Ok(())
    }
}

/// The bounds a fused activation imposes.
fn fused_bounds(fused: ActivationFunctionType) -> std::result::Result<Option<Range>, String> {
    use ActivationFunctionType as F;
    match fused {
        F::NONE => Ok(None),
        F::RELU => Ok(Some((0.0, f32::INFINITY))),
        F::RELU6 => Ok(Some((0.0, 6.0))),
        F::RELU_N1_TO_1 => Ok(Some((-1.0, 1.0))),
        other => Err(format!(
            "fused activation {} is not supported",
            other.name().unwrap_or("UNKNOWN")
        )),
    }
}

fn intersect(a: Option<Range>, b: Option<Range>) -> Option<Range> {
    match (a, b) {
        (Some(a), Some(b)) => Some((a.0.max(b.0), a.1.min(b.1))),
        (a, b) => a.or(b),
    }
}

/// True when values known to lie in `known` already satisfy `bounds` (up to f32 rounding).
fn within(known: Option<Range>, bounds: Range) -> bool {
    let tolerance = |x: f32| 1e-6 * x.abs().max(1.0);
    known.is_some_and(|(lo, hi)| {
        lo >= bounds.0 - tolerance(bounds.0) && hi <= bounds.1 + tolerance(bounds.1)
    })
}

/// The plainest activation that clamps to `bounds`.
fn clamp_activation((min, max): Range) -> Activation {
    match (min, max) {
        (0.0, 6.0) => Activation::Relu6,
        (0.0, f32::INFINITY) => Activation::Relu,
        _ => Activation::Clamp { min, max },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fused_relu6_and_quantized_range_merge_into_one_clamp() {
        let relu6 = fused_bounds(ActivationFunctionType::RELU6).unwrap();
        assert_eq!(intersect(relu6, Some((-1.0, 5.0))), Some((0.0, 5.0)));
        assert_eq!(clamp_activation((0.0, 6.0)), Activation::Relu6);
        assert_eq!(
            clamp_activation((0.0, 5.0)),
            Activation::Clamp { min: 0.0, max: 5.0 }
        );
    }

    #[test]
    fn a_clamp_is_skipped_only_when_the_known_range_is_inside_it() {
        assert!(within(Some((0.0, 6.0)), (0.0, 6.000001)));
        assert!(!within(Some((0.0, 6.0)), (0.0, 5.9)));
        assert!(!within(None, (0.0, 6.0)));
    }

    #[test]
    fn unsupported_fused_activations_are_errors() {
        assert!(fused_bounds(ActivationFunctionType::TANH).is_err());
    }
}
