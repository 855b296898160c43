//! Whole graphs: a network touching every op, batching, the chosen output and bad input.

use mobilenet_wgpu::cpu;
use mobilenet_wgpu::graph::{
    Activation, AvgPool, BatchNorm, Conv2d, Dense, Graph, Op, Padding, Shape,
};
use mobilenet_wgpu::{Error, Result};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::{conv, random_values};

/// A small network touching every op, with deterministic random weights.
fn every_op_network(rng: &mut ChaCha8Rng) -> Result<Graph> {
    let mut graph = Graph::new(Shape::new(7, 5, 3))?;
    let padding = Padding::same(7, 5, 3, 2);
    let stem = Conv2d {
        stride: 2,
        padding,
        ..conv(4, 3, random_values(rng, 4 * 9 * 3))
    };
    let stem = graph.add("stem", Op::Conv2d(stem), &[graph.input()])?;
    let (gamma, beta, mean) = (
        random_values(rng, 4),
        random_values(rng, 4),
        random_values(rng, 4),
    );
    let bn = BatchNorm {
        gamma,
        beta,
        mean,
        var: vec![0.5; 4],
        eps: 1e-3,
    };
    let bn = graph.add("bn", Op::BatchNorm(bn), &[stem])?;
    let act = graph.add("act", Op::Activation(Activation::HardSwish), &[bn])?;
    let padding = Padding::uniform(1);
    let dw = Conv2d {
        groups: 4,
        padding,
        ..conv(8, 3, random_values(rng, 8 * 9))
    };
    let dw = graph.add("dw", Op::Conv2d(dw), &[act])?;
    let se = graph.add("se", Op::GlobalAvgPool, &[dw])?;
    let gate = graph.add("gate", Op::Activation(Activation::HARD_SIGMOID), &[se])?;
    let scaled = graph.add("scale", Op::MulChannel, &[dw, gate])?;
    let joined = graph.add("concat", Op::Concat, &[scaled, dw])?;
    let pool = AvgPool {
        kernel: 2,
        stride: 2,
        padding: Padding::same(4, 3, 2, 2),
    };
    let pooled = graph.add("pool", Op::AvgPool(pool), &[joined])?;
    let flat = graph.add("flatten", Op::Flatten, &[pooled])?;
    let (weights, bias) = (random_values(rng, 5 * 64), Some(random_values(rng, 5)));
    let logits = graph.add(
        "dense",
        Op::Dense(Dense {
            out_features: 5,
            weights,
            bias,
        }),
        &[flat],
    )?;
    graph.add("softmax", Op::Softmax, &[logits])?;
    Ok(graph)
}

#[test]
fn batch_2_equals_two_batch_1_runs() -> Result<()> {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let graph = every_op_network(&mut rng)?;
    let per_image = graph.input_shape().len();
    let input = random_values(&mut rng, 2 * per_image);
    let both = cpu::run(&graph, &input, 2)?;
    let first = cpu::run(&graph, &input[..per_image], 1)?;
    let second = cpu::run(&graph, &input[per_image..], 1)?;
    for (i, node) in graph.nodes().iter().enumerate() {
        assert_eq!(both[i].len(), 2 * node.shape.len(), "node {}", node.name);
        let separate = [first[i].as_slice(), &second[i]].concat();
        assert_eq!(both[i], separate, "node {}", node.name);
    }
    assert_eq!(cpu::run_output(&graph, &input, 2)?, both[graph.output().0]);
    Ok(())
}

#[test]
fn run_output_follows_set_output() -> Result<()> {
    let mut graph = Graph::new(Shape::new(1, 1, 2))?;
    let relu = graph.add("relu", Op::Activation(Activation::Relu), &[graph.input()])?;
    graph.add("softmax", Op::Softmax, &[relu])?;
    graph.set_output(relu)?;
    assert_eq!(cpu::run_output(&graph, &[-1.0, 2.0], 1)?, vec![0.0, 2.0]);
    Ok(())
}

/// Asserts `result` is an `InvalidArgument` whose message names every one of `numbers`.
fn assert_invalid_argument<T: std::fmt::Debug>(result: Result<T>, numbers: &[&str]) {
    match result {
        Err(Error::InvalidArgument(message)) => {
            for n in numbers {
                assert!(message.contains(n), "`{message}` does not mention {n}");
            }
        }
        other => panic!("expected InvalidArgument, got {other:?}"),
    }
}

#[test]
fn rejects_batch_0_and_wrong_input_length() -> Result<()> {
    let graph = Graph::new(Shape::new(2, 2, 3))?;
    assert_invalid_argument(cpu::run(&graph, &[0.0; 12], 0), &["0", "12"]);
    assert_invalid_argument(cpu::run_output(&graph, &[0.0; 13], 1), &["13", "12"]);
    assert_invalid_argument(cpu::run(&graph, &[0.0; 12], 2), &["24", "12"]);
    Ok(())
}
