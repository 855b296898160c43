//! onnxruntime's QOperator format (`quantize_static(…, quant_format=QOperator)`, as in the
//! ONNX model zoo's int8 files): QLinearConv, QLinearMatMul, and the `com.microsoft`
//! QLinear operators and QGemm. Each node is imported as the QDQ nodes it stands for:
//! DequantizeLinear on its quantized operands, the float operator, QuantizeLinear on its
//! output. `quant.rs` computes those in float with each grid's range as a clamp, as for QDQ
//! files (onnxruntime also rounds every value to its grid: outputs differ by a few steps).

use super::super::attrs::Attrs;
use super::super::proto::{attribute_proto::AttributeType, AttributeProto, NodeProto};

/// The nodes a QOperator node stands for, in order.
pub(super) struct Expansion {
    pub nodes: Vec<NodeProto>,
    /// QLinearSoftmax's `opset` attribute: which Softmax axis rule its float node follows.
    pub opset: Option<i64>,
}

/// `node` as QDQ nodes, or `None` when it is not a QOperator node.
pub(super) fn expand(node: &NodeProto) -> Result<Option<Expansion>, String> {
    let microsoft = node.domain == "com.microsoft";
    let rewrite: fn(&mut Rewrite) -> Result<(), String> = match node.op_type.as_str() {
        "QLinearConv" | "QLinearMatMul" if !microsoft => matrix,
        "QLinearAdd" | "QLinearMul" if microsoft => binary,
        "QLinearSigmoid"
        | "QLinearLeakyRelu"
        | "QLinearSoftmax"
        | "QLinearReduceMean"
        | "QLinearAveragePool"
        | "QLinearGlobalAveragePool"
            if microsoft =>
        {
            unary
        }
        "QLinearConcat" if microsoft => concat,
        "QGemm" if microsoft => gemm,
        _ => return Ok(None),
    };
    let mut r = Rewrite::new(node)?;
    rewrite(&mut r)?;
    let opset = match node.op_type.as_str() {
        "QLinearSoftmax" => Attrs::of(node).int("opset")?,
        _ => None,
    };
    Ok(Some(Expansion {
        nodes: r.nodes,
        opset,
    }))
}

/// QLinearConv (x, x_scale, x_zero_point, w, w_scale, w_zero_point, y_scale, y_zero_point,
/// int32 bias) and QLinearMatMul (the same without the bias).
fn matrix(r: &mut Rewrite) -> Result<(), String> {
    let conv = r.node.op_type == "QLinearConv";
    let x = r.dequantize(0, 1, 2, None);
    // Per-channel scales lie along the output channels: OIHW's first axis, MatMul's last.
    let w = r.dequantize(3, 4, 5, Some(if conv { 0 } else { -1 }));
    let mut inputs = vec![x, w];
    if conv && r.present(8) {
        inputs.push(r.bias(8, 1, 4));
    }
    let op = if conv { "Conv" } else { "MatMul" };
    let attributes = r.float_attributes();
    let y = r.float(op, inputs, attributes);
    r.quantize(y, 6, 7);
    Ok(())
}

/// QLinearAdd and QLinearMul: (A, its scale and zero point, B, its, C's).
fn binary(r: &mut Rewrite) -> Result<(), String> {
    let a = r.dequantize(0, 1, 2, None);
    let b = r.dequantize(3, 4, 5, None);
    let node = r.node;
    let y = r.float(&node.op_type["QLinear".len()..], vec![a, b], Vec::new());
    r.quantize(y, 6, 7);
    Ok(())
}

/// One quantized input and output: (X, its scale and zero point, Y's scale and zero point).
fn unary(r: &mut Rewrite) -> Result<(), String> {
    let op = r.node.op_type["QLinear".len()..].to_string();
    if op.ends_with("AveragePool") && Attrs::of(r.node).int_or("channels_last", 0)? != 0 {
        return Err("the channels-last layout (`channels_last` 1) is not supported".into());
    }
    let x = r.dequantize(0, 1, 2, None);
    let attributes = r.float_attributes();
    let y = r.float(&op, vec![x], attributes);
    r.quantize(y, 3, 4);
    Ok(())
}

/// QLinearConcat: (Y's scale and zero point, then a triple per input).
fn concat(r: &mut Rewrite) -> Result<(), String> {
    let count = r.node.input.len().saturating_sub(2);
    if count == 0 || !count.is_multiple_of(3) {
        return Err(format!(
            "has {} inputs: expected the output's scale and zero point, then three per input",
            r.node.input.len()
        ));
    }
    let inputs = (0..count / 3)
        .map(|i| r.dequantize(2 + 3 * i, 3 + 3 * i, 4 + 3 * i, None))
        .collect();
    let attributes = r.float_attributes();
    let y = r.float("Concat", inputs, attributes);
    r.quantize(y, 0, 1);
    Ok(())
}

/// QGemm: (A, its scale and zero point, B, its, int32 C, Y's scale and zero point), the
/// last three optional; without Y's scale the output is float. onnxruntime computes
/// `alpha · a_scale · b_scale · (A·B + C)`: the bias is scaled by `alpha` too.
fn gemm(r: &mut Rewrite) -> Result<(), String> {
    let attrs = Attrs::of(r.node);
    let trans_b = attrs.int_or("transB", 0)? != 0;
    let a = r.dequantize(0, 1, 2, None);
    let b = r.dequantize(3, 4, 5, Some(if trans_b { 0 } else { 1 }));
    let mut inputs = vec![a, b];
    let mut attributes = r.float_attributes();
    if r.present(6) {
        inputs.push(r.bias(6, 1, 4));
        attributes.push(float_attribute("beta", attrs.float_or("alpha", 1.0)?));
    }
    if r.present(7) {
        let y = r.float("Gemm", inputs, attributes);
        r.quantize(y, 7, 8);
    } else {
        let output = r.output.clone();
        r.push("Gemm", inputs, output, attributes);
    }
    Ok(())
}

/// Builds the nodes that replace `node`, with value names of their own.
struct Rewrite<'n> {
    node: &'n NodeProto,
    /// The node's (first) output: the last replacing node writes it.
    output: String,
    nodes: Vec<NodeProto>,
}

impl<'n> Rewrite<'n> {
    fn new(node: &'n NodeProto) -> Result<Self, String> {
        let output = match node.output.first() {
            Some(name) if !name.is_empty() => name.clone(),
            _ => return Err("has no output".into()),
        };
        Ok(Rewrite {
            node,
            output,
            nodes: Vec::new(),
        })
    }

    /// The node's input `k`, `""` (absent) past its end.
    fn input(&self, k: usize) -> String {
        self.node.input.get(k).cloned().unwrap_or_default()
    }

    fn present(&self, k: usize) -> bool {
        !self.input(k).is_empty()
    }

    /// The attributes its float operator takes: all but the layout and opset of the
    /// QLinear operator itself (the float operator's import checks the rest).
    fn float_attributes(&self) -> Vec<AttributeProto> {
        let own = |a: &&AttributeProto| a.name != "channels_last" && a.name != "opset";
        self.node.attribute.iter().filter(own).cloned().collect()
    }

    /// Appends a node reading `inputs` and writing `output`.
    fn push(
        &mut self,
        op: &str,
        inputs: Vec<String>,
        output: String,
        attribute: Vec<AttributeProto>,
    ) {
        self.nodes.push(NodeProto {
            input: inputs,
            output: vec![output],
            name: self.node.name.clone(),
            op_type: op.into(),
            attribute,
            ..NodeProto::default()
        });
    }

    /// Appends a node writing a new value; returns its name.
    fn float(&mut self, op: &str, inputs: Vec<String>, attribute: Vec<AttributeProto>) -> String {
        let output = format!("{}#{}{}", self.output, op, self.nodes.len());
        self.push(op, inputs, output.clone(), attribute);
        output
    }

    /// Input `x` dequantized with inputs `scale` and `zero_point` (along `axis` if given).
    fn dequantize(
        &mut self,
        x: usize,
        scale: usize,
        zero_point: usize,
        axis: Option<i64>,
    ) -> String {
        let inputs = vec![self.input(x), self.input(scale), self.input(zero_point)];
        let axis = axis.map(|a| int_attribute("axis", a)).into_iter().collect();
        self.float("DequantizeLinear", inputs, axis)
    }

    /// The int32 bias at input `bias`, whose scale is the product of two inputs' scales.
    fn bias(&mut self, bias: usize, a_scale: usize, b_scale: usize) -> String {
        let scales = vec![self.input(a_scale), self.input(b_scale)];
        let scale = self.float("Mul", scales, Vec::new());
        let axis = vec![int_attribute("axis", 0)];
        self.float("DequantizeLinear", vec![self.input(bias), scale], axis)
    }

    /// `y` quantized with inputs `scale` and `zero_point` into the node's output.
    fn quantize(&mut self, y: String, scale: usize, zero_point: usize) {
        let inputs = vec![y, self.input(scale), self.input(zero_point)];
        let output = self.output.clone();
        self.push("QuantizeLinear", inputs, output, Vec::new());
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
