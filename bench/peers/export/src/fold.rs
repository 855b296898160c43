//! BatchNorm folding and identity removal, so every peer runs exactly the arithmetic our
//! fused kernels run. Anything the fold cannot prove exact is an error, never skipped.

use mobilenet_wgpu::graph::{Conv2d, Graph, Node, Op, TensorId};

use crate::AnyResult;

/// The graph after folding: `nodes[id]` is `None` for a node merged into its input
/// (BatchNorm, Dropout, Flatten of a 1×1 map); `alias[id]` is the node that really
/// produces tensor `id`, so consumers read that instead.
pub struct Folded {
    pub nodes: Vec<Option<Node>>,
    pub alias: Vec<usize>,
}

/// Folds each BatchNorm into the conv that feeds it and drops identity nodes.
pub fn fold_batch_norms(graph: &Graph) -> AnyResult<Folded> {
    let consumers = graph.consumers();
    let mut folded = Folded {
        nodes: Vec::new(),
        alias: Vec::new(),
    };
    for (id, node) in graph.nodes().iter().enumerate() {
        let mut node = node.clone();
        let original_source = node.inputs.first().map(|t| t.0);
        for input in &mut node.inputs {
            *input = TensorId(folded.alias[input.0]);
        }
        let merged_into = match &node.op {
            Op::BatchNorm(bn) => {
                // Folding rewrites the conv's output; another reader would see the change.
                let conv_id = original_source.ok_or("BatchNorm without input")?;
                if consumers[conv_id].len() != 1 {
                    return Err(format!("{}: its conv has other consumers", node.name).into());
                }
                let source = node.inputs[0].0;
                let Some(Node {
                    op: Op::Conv2d(conv),
                    ..
                }) = &mut folded.nodes[source]
                else {
                    return Err(format!("{}: BatchNorm not after a conv", node.name).into());
                };
                fold_into(conv, &bn.scale_shift());
                Some(source)
            }
            Op::Dropout => Some(node.inputs[0].0),
            // NHWC memory is unchanged by Flatten, but peers are NCHW: only a 1×1 map
            // flattens to the same order in both layouts.
            Op::Flatten => {
                let input = graph.shape(graph.nodes()[id].inputs[0]);
                if (input.h, input.w) != (1, 1) {
                    return Err(format!("{}: Flatten of a {input} map", node.name).into());
                }
                Some(node.inputs[0].0)
            }
            _ => None,
        };
        folded.alias.push(merged_into.unwrap_or(id));
        folded.nodes.push(merged_into.is_none().then_some(node));
    }
    Ok(folded)
}

/// `y = s * (w·x + b) + t` becomes `(s w)·x + (s b + t)`.
fn fold_into(conv: &mut Conv2d, (scale, shift): &(Vec<f32>, Vec<f32>)) {
    let per_out = conv.weights.len() / conv.out_channels;
    for (o, chunk) in conv.weights.chunks_mut(per_out).enumerate() {
        chunk.iter_mut().for_each(|w| *w *= scale[o]);
    }
    let bias = conv
        .bias
        .get_or_insert_with(|| vec![0.0; conv.out_channels]);
    for (o, b) in bias.iter_mut().enumerate() {
        *b = *b * scale[o] + shift[o];
    }
}
