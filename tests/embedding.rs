//! The embedding API: sessions shared across threads and with the model's weights,
//! transparent batch splitting, the async run, inferences in flight and the memory budget
//! (texture input: `texture_input.rs`).

mod common;

use std::time::Duration;

use common::small_model;
use mobilenet_wgpu::model::Model;
use mobilenet_wgpu::models::Arch;
use mobilenet_wgpu::plan::Plan;
use mobilenet_wgpu::runtime::{Output, Queued, Runtime, Session};
use mobilenet_wgpu::Error;

fn inputs(model: &Model, images: usize) -> Vec<f32> {
    let len = model.graph.input_shape().len() * images;
    (0..len)
        .map(|i| ((i * 7919 % 1013) as f32 / 506.5) - 1.0)
        .collect()
}

fn one_by_one(session: &Session, input: &[f32]) -> Vec<f32> {
    let image_len = session.model().graph.input_shape().len();
    input
        .chunks(image_len)
        .flat_map(|image| session.run(image).expect("run").data)
        .collect()
}

/// The largest activation slot of one image: a binding cap of `k` times it lets a session
/// submit `k` images at a time.
fn slot_bytes_per_image(model: &Model) -> u64 {
    let plan = Plan::build(&model.graph, 1).expect("plan");
    plan.slots
        .iter()
        .map(|s| s.bytes as u64)
        .max()
        .expect("slots")
}

#[test]
fn batches_beyond_the_binding_limit_are_split_transparently() {
    let Some(runtime) = common::runtime() else {
        return;
    };
    let model = small_model(Arch::V2);
    let per_image = slot_bytes_per_image(&model);
    let limited = runtime.clone().with_max_binding_bytes(3 * per_image);
    let session = limited.session(&model, 8).expect("session");
    assert_eq!(session.images_per_submission(), 3);
    let input = inputs(&model, 8);
    let output = session.run(&input).expect("split run");
    assert_eq!(output.batch, 8);
    let single = runtime.session(&model, 1).expect("session");
    let expected = one_by_one(&single, &input);
    let worst = output
        .data
        .iter()
        .zip(&expected)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(worst < 1e-5, "split batch differs by {worst}");
    let async_output = pollster::block_on(session.run_async(&input)).expect("async");
    assert_eq!(async_output, output);

    let too_small = runtime.clone().with_max_binding_bytes(per_image - 4);
    let err = too_small
        .session(&model, 2)
        .expect_err("one image cannot fit");
    assert!(matches!(err, Error::DeviceLimit(_)), "{err}");
}

#[test]
fn run_async_equals_run() {
    let Some(runtime) = common::runtime() else {
        return;
    };
    let model = small_model(Arch::V3Small);
    let session = runtime.session(&model, 2).expect("session");
    let input = inputs(&model, 2);
    let blocking = session.run(&input).expect("run");
    let future = session.run_async(&input);
    assert_send(&future);
    assert_eq!(pollster::block_on(future).expect("run_async"), blocking);
    let wrong = session.run_async(&input[1..]);
    assert!(matches!(
        pollster::block_on(wrong),
        Err(Error::InvalidArgument(_))
    ));
}

/// Several inferences queued before any is read each get their own input's output, also
/// when each runs as several submissions, and also read back out of order.
#[test]
fn inferences_in_flight_keep_their_own_inputs() {
    let Some(runtime) = common::runtime() else {
        return;
    };
    let model = small_model(Arch::V3Small);
    let per_image = slot_bytes_per_image(&model);
    let split = runtime.clone().with_max_binding_bytes(2 * per_image);
    let session = split.session(&model, 3).expect("session");
    assert_eq!(session.images_per_submission(), 2);
    let batches: Vec<Vec<f32>> = (1..=4)
        .map(|k| {
            inputs(&model, 3)
                .iter()
                .map(|v| v * k as f32 / 4.0)
                .collect()
        })
        .collect();
    let expected: Vec<Output> = batches
        .iter()
        .map(|b| session.run(b).expect("run"))
        .collect();
    let queued: Vec<Queued> = batches
        .iter()
        .map(|b| session.queue(b).expect("queue"))
        .collect();
    assert!(queued.iter().all(|q| q.cpu_cost().encode > Duration::ZERO));
    let mut queued: Vec<Option<Queued>> = queued.into_iter().map(Some).collect();
    for i in [2, 0, 3, 1] {
        let output = queued[i].take().expect("queued once").wait().expect("wait");
        assert_eq!(output, expected[i], "inference {i}");
    }
    assert_ne!(expected[0], expected[1]);
}

#[test]
fn a_session_over_the_memory_budget_fails_before_allocating() {
    let Some(runtime) = common::runtime() else {
        return;
    };
    let model = small_model(Arch::V2);
    let tight = runtime.clone().with_memory_budget(100_000);
    let err = tight.session(&model, 4).expect_err("over budget");
    assert!(matches!(err, Error::DeviceLimit(_)), "{err}");
    assert!(err.to_string().contains("memory budget"), "{err}");
    assert!(runtime.session(&model, 4).is_ok());
}

#[test]
fn sessions_share_the_models_weights() {
    let Some(runtime) = common::runtime() else {
        return;
    };
    let model = small_model(Arch::V2);
    let one = runtime.session(&model, 1).expect("session");
    let two = runtime.session(&model, 2).expect("session");
    // The same node storage, weights included: nothing was copied.
    let nodes = |m: &Model| m.graph.nodes().as_ptr();
    assert_eq!(nodes(one.model()), nodes(&model));
    assert_eq!(nodes(two.model()), nodes(&model));
    // Changing a clone leaves the shared original alone.
    let mut grown = model.graph.clone();
    let relu = mobilenet_wgpu::graph::Op::Activation(mobilenet_wgpu::graph::Activation::Relu);
    grown.add("extra", relu, &[grown.output()]).expect("add");
    assert_ne!(grown.nodes().as_ptr(), model.graph.nodes().as_ptr());
    assert_eq!(grown.nodes().len(), model.graph.nodes().len() + 1);
}

fn assert_send<T: Send>(_: &T) {}

#[test]
fn runtime_model_and_session_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Runtime>();
    send_sync::<Model>();
    send_sync::<Session>();
    send_sync::<Output>();
}

#[test]
fn eight_threads_and_two_sessions_share_one_runtime() {
    let Some(runtime) = common::runtime() else {
        return;
    };
    // Two sessions of different models and batch sizes.
    let sessions = [(Arch::V2, 1), (Arch::V1, 3)].map(|(arch, batch)| {
        let model = small_model(arch);
        runtime.session(&model, batch).expect("session")
    });
    let cases: Vec<Vec<(Vec<f32>, Output)>> = sessions
        .iter()
        .map(|session| {
            let per_run = session.model().graph.input_shape().len() * session.batch();
            let all = inputs(session.model(), 3 * session.batch());
            all.chunks(per_run)
                .map(|input| (input.to_vec(), session.run(input).expect("run")))
                .collect()
        })
        .collect();
    std::thread::scope(|scope| {
        for thread in 0..8 {
            let (session, cases) = (&sessions[thread % 2], &cases[thread % 2]);
            scope.spawn(move || {
                for i in 0..50 {
                    let (input, expected) = &cases[(thread + i) % cases.len()];
                    let output = match i % 3 {
                        0 => session.run(input),
                        1 => pollster::block_on(session.run_async(input)),
                        // A queued inference dropped unread, then one that is read.
                        _ => {
                            drop(session.queue(input).expect("queue"));
                            session.queue(input).and_then(Queued::wait)
                        }
                    };
                    // Bit-identical to the single-threaded run.
                    assert_eq!(
                        &output.expect("threaded run"),
                        expected,
                        "thread {thread}, {i}"
                    );
                }
            });
        }
    });
}
