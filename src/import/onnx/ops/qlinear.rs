//! onnxruntime's QOperator format (`quantize_static(…, quant_format=QOperator)`, as in the
//! ONNX model zoo's int8 files): QLinearConv, QLinearMatMul, and the `com.microsoft`
//! QLinear operators and QGemm. Each node is imported as the QDQ nodes it stands for:
//! DequantizeLinear on its quantized operands, the float operator, QuantizeLinear on its
//! output. `quant.rs` computes those in float with each grid's range as a clamp, as for QDQ
//! files (onnxruntime also rounds every value to its grid: outputs differ by a few steps).

use super::super::attrs::Attrs;
use super::super::proto::{attribute_proto::AttributeType, AttributeProto, NodeProto};

/// A quantized input of a QOperator node: the inputs holding its values, scale and zero
/// point (the zero point may be omitted).
#[derive(Clone, Copy, Debug)]
pub(in crate::import::onnx) struct Operand {
    pub value: usize,
    pub scale: usize,
    pub zero_point: usize,
}

impl Operand {
    /// The operand at input `k`, its scale and zero point after it (every QLinear node's order).
    fn at(k: usize) -> Self {
        Operand {
            value: k,
            scale: k + 1,
            zero_point: k + 2,
        }
    }
}

/// The inputs holding the output's scale and zero point (which may be omitted).
#[derive(Clone, Copy, Debug)]
struct Grid {
    scale: usize,
    zero_point: usize,
}

impl Grid {
    /// The scale at input `scale`, the zero point after it.
    fn at(scale: usize) -> Self {
        let zero_point = scale + 1;
        Grid { scale, zero_point }
    }
}

/// The float operator a QOperator node stands for, and where its grids are.
struct Signature {
    op: &'static str,
    operands: Vec<Operand>,
    /// The output's grid; `None` for a QGemm without `y_scale` (a float output).
    output: Option<Grid>,
    /// An int32 bias, on the grid of the two operands' scales multiplied.
    bias: Option<usize>,
}

fn signature(node: &NodeProto) -> Option<Signature> {
    let default_domain = node.domain.is_empty() || node.domain == "ai.onnx";
    let microsoft = node.domain == "com.microsoft";
    let pair = || vec![Operand::at(0), Operand::at(3)];
    let grid = |scale| Some(Grid::at(scale));
    let (op, operands, output, bias) = match node.op_type.as_str() {
        "QLinearConv" if default_domain => ("Conv", pair(), grid(6), Some(8)),
        "QLinearMatMul" if default_domain => ("MatMul", pair(), grid(6), None),
        "QLinearAdd" if microsoft => ("Add", pair(), grid(6), None),
        "QLinearMul" if microsoft => ("Mul", pair(), grid(6), None),
        "QGemm" if microsoft => {
            let output = present(node, 7).then(|| Grid::at(7));
            ("Gemm", pair(), output, Some(6))
        }
        "QLinearConcat" if microsoft => {
            let operands = (2..node.input.len()).step_by(3).map(Operand::at).collect();
            ("Concat", operands, grid(0), None)
        }
        "QLinearSigmoid" if microsoft => ("Sigmoid", vec![Operand::at(0)], grid(3), None),
        "QLinearLeakyRelu" if microsoft => ("LeakyRelu", vec![Operand::at(0)], grid(3), None),
        "QLinearSoftmax" if microsoft => ("Softmax", vec![Operand::at(0)], grid(3), None),
        "QLinearAveragePool" if microsoft => ("AveragePool", vec![Operand::at(0)], grid(3), None),
        "QLinearGlobalAveragePool" if microsoft => {
            ("GlobalAveragePool", vec![Operand::at(0)], grid(3), None)
        }
        _ => return None,
    };
    Some(Signature {
        op,
        operands,
        output,
        bias,
    })
}

/// The quantized inputs of `node`, none when it is not a QOperator node.
pub(in crate::import::onnx) fn operands(node: &NodeProto) -> Vec<Operand> {
    signature(node).map_or_else(Vec::new, |s| s.operands)
}

/// One node of an expansion, and the opset its import follows when not the model's.
pub(super) struct Part {
    pub node: NodeProto,
    pub opset: Option<i64>,
}

/// `node` as QDQ nodes, or `None` when it is not a QOperator node.
pub(super) fn expand(node: &NodeProto) -> Result<Option<Vec<Part>>, String> {
    let Some(sig) = signature(node) else {
        return Ok(None);
    };
    check_inputs(node, &sig)?;
    let attrs = Attrs::of(node);
    let float_opset = float_opset(sig.op, &attrs)?;
    let mut r = Rewrite::new(node)?;
    let mut inputs = Vec::new();
    for (i, &operand) in sig.operands.iter().enumerate() {
        inputs.push(r.dequantize(operand, weight_axis(sig.op, i, &attrs)?));
    }
    let mut attributes = r.float_attributes();
    if let Some(bias) = sig.bias.filter(|&b| present(node, b)) {
        inputs.push(r.bias(bias, &sig.operands));
        if sig.op == "Gemm" {
            // onnxruntime computes alpha · a_scale · b_scale · (A·B + C): C is scaled too.
            attributes.push(float_attribute("beta", attrs.float_or("alpha", 1.0)?));
        }
    }
    match sig.output {
        Some(grid) => {
            let y = r.push(sig.op, inputs, None, attributes, float_opset);
            r.quantize(y, grid, sig.operands[0]);
        }
        None => {
            r.push(
                sig.op,
                inputs,
                Some(r.output.clone()),
                attributes,
                float_opset,
            );
        }
    }
    Ok(Some(r.parts))
}

/// The opset the float part follows when not the model's: QLinearSoftmax's `opset`
/// attribute says which Softmax axis rule applies. Refuses the layouts not supported.
fn float_opset(op: &str, attrs: &Attrs) -> Result<Option<i64>, String> {
    match op {
        "Softmax" => match attrs.int("opset")? {
            Some(opset) => Ok(Some(opset)),
            None => Err("its `opset` attribute is missing".into()),
        },
        "AveragePool" | "GlobalAveragePool" if attrs.int_or("channels_last", 0)? != 0 => {
            Err("the channels-last layout (`channels_last` 1) is not supported".into())
        }
        _ => Ok(None),
    }
}

/// Every input the node's operator requires, named in the node's own terms.
fn check_inputs(node: &NodeProto, sig: &Signature) -> Result<(), String> {
    if sig.op == "Concat" && (node.input.len() < 5 || !(node.input.len() - 2).is_multiple_of(3)) {
        return Err(format!(
            "has {} inputs: expected the output's scale and zero point, then three per input",
            node.input.len()
        ));
    }
    let operands = sig.operands.iter().flat_map(|o| [o.value, o.scale]);
    let mut required = operands.chain(sig.output.map(|g| g.scale));
    match required.find(|&k| !present(node, k)) {
        Some(k) => Err(format!("input #{k} is missing")),
        None => Ok(()),
    }
}

/// The axis of operand `i`'s per-channel scales: the output channels of a weight operand
/// (OIHW's first axis, MatMul's last, Gemm's by `transB`); activations are per tensor.
fn weight_axis(op: &str, i: usize, attrs: &Attrs) -> Result<Option<i64>, String> {
    Ok(match (op, i) {
        ("Conv", 1) => Some(0),
        ("MatMul", 1) => Some(-1),
        ("Gemm", 1) => Some(if attrs.int_or("transB", 0)? != 0 {
            0
        } else {
            -1
        }),
        _ => None,
    })
}

fn present(node: &NodeProto, k: usize) -> bool {
    node.input.get(k).is_some_and(|name| !name.is_empty())
}

/// Builds the nodes that replace `node`, with value names of their own.
struct Rewrite<'n> {
    node: &'n NodeProto,
    /// What errors call the parts: the node's name, else its output's.
    name: String,
    /// The node's (first) output: the last part writes it.
    output: String,
    parts: Vec<Part>,
}

impl<'n> Rewrite<'n> {
    fn new(node: &'n NodeProto) -> Result<Self, String> {
        let output = match node.output.first() {
            Some(name) if !name.is_empty() => name.clone(),
            _ => return Err("has no output".into()),
        };
        let name = match node.name.as_str() {
            "" => output.clone(),
            name => name.to_string(),
        };
        Ok(Rewrite {
            node,
            name,
            output,
            parts: Vec::new(),
        })
    }

    /// The node's input `k`, `""` (absent) past its end.
    fn input(&self, k: usize) -> String {
        self.node.input.get(k).cloned().unwrap_or_default()
    }

    /// The attributes its float operator takes: all but the layout and opset of the
    /// QLinear operator itself (the float operator's import checks the rest).
    fn float_attributes(&self) -> Vec<AttributeProto> {
        let own = |a: &&AttributeProto| a.name != "channels_last" && a.name != "opset";
        self.node.attribute.iter().filter(own).cloned().collect()
    }

    /// Appends a part reading `inputs` and writing `output` (a new value when `None`);
    /// returns the name of what it writes.
    fn push(
        &mut self,
        op: &str,
        inputs: Vec<String>,
        output: Option<String>,
        attribute: Vec<AttributeProto>,
        opset: Option<i64>,
    ) -> String {
        let output = output.unwrap_or_else(|| format!("{}#{op}{}", self.output, self.parts.len()));
        let node = NodeProto {
            input: inputs,
            output: vec![output.clone()],
            name: self.name.clone(),
            op_type: op.into(),
            attribute,
            ..NodeProto::default()
        };
        self.parts.push(Part { node, opset });
        output
    }

    /// `operand` dequantized, with per-channel scales along `axis` if given.
    fn dequantize(&mut self, operand: Operand, axis: Option<i64>) -> String {
        let inputs = [operand.value, operand.scale, operand.zero_point].map(|k| self.input(k));
        let axis = axis.map(|a| int_attribute("axis", a)).into_iter().collect();
        self.push("DequantizeLinear", inputs.into(), None, axis, None)
    }

    /// The int32 bias at input `bias`, on the grid of the operands' scales multiplied.
    fn bias(&mut self, bias: usize, operands: &[Operand]) -> String {
        let scales = operands.iter().map(|o| self.input(o.scale)).collect();
        let scale = self.push("Mul", scales, None, Vec::new(), None);
        // Along the last axis: a Conv's bias is a vector, a Gemm's C may be [M, N].
        let axis = vec![int_attribute("axis", -1)];
        self.push(
            "DequantizeLinear",
            vec![self.input(bias), scale],
            None,
            axis,
            None,
        )
    }

    /// `y` quantized onto `grid` into the node's output. An omitted output zero point is
    /// 0 of the first operand's type: its own zero point less itself, folded at load.
    fn quantize(&mut self, y: String, grid: Grid, first: Operand) {
        let zero_point = if self.input(grid.zero_point).is_empty() {
            let zp = self.input(first.zero_point);
            match zp.is_empty() {
                true => zp,
                false => self.push("Sub", vec![zp.clone(), zp], None, Vec::new(), None),
            }
        } else {
            self.input(grid.zero_point)
        };
        let inputs = vec![y, self.input(grid.scale), zero_point];
        let output = Some(self.output.clone());
        self.push("QuantizeLinear", inputs, output, Vec::new(), None);
    }
}

fn int_attribute(name: &str, i: i64) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: AttributeType::Int as i32,
        i,
        ..AttributeProto::default()
    }
}

fn float_attribute(name: &str, f: f32) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: AttributeType::Float as i32,
        f,
        ..AttributeProto::default()
    }
}
