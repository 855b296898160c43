//! Device loss: after `device.destroy()` (wgpu's way to simulate a lost GPU) every call on
//! the runtime and its sessions returns `Error::DeviceLost` in one line, nothing panics or
//! hangs, and a new runtime works. One test in its own binary: it destroys its device.

mod common;

use mobilenet_wgpu::model::Model;
use mobilenet_wgpu::models::{Arch, ArchConfig};
use mobilenet_wgpu::runtime::Runtime;
use mobilenet_wgpu::Error;

fn assert_lost<T: std::fmt::Debug>(what: &str, result: Result<T, Error>) {
    match result {
        Err(e @ Error::DeviceLost { .. }) => {
            let text = e.to_string();
            assert!(!text.contains('\n'), "{what}: not one line: {text}");
            assert!(
                text.contains("device was lost (destroyed)"),
                "{what}: {text}"
            );
        }
        other => panic!("{what}: expected DeviceLost, got {other:?}"),
    }
}

#[test]
fn a_destroyed_device_fails_every_call_and_a_new_runtime_works() {
    if common::runtime().is_none() {
        return;
    }
    let config = ArchConfig {
        resolution: Some(64),
        ..ArchConfig::new(Arch::V3Small)
    };
    let model = Model::from_arch(&config, 5).expect("model");
    let input = vec![0.25; model.graph.input_shape().len()];
    let runtime = Runtime::new().expect("runtime");
    let session = runtime.session(&model, 1).expect("session");
    let expected = session.run(&input).expect("run before the loss");
    let queued_before = session.queue(&input).expect("queued before the loss");

    assert_eq!(runtime.context().lost(), None);
    runtime.context().device.destroy();

    // Queued before the loss: its output or the loss, never a panic or a hang.
    match queued_before.wait() {
        Ok(output) => assert_eq!(output, expected),
        Err(e) => assert_lost("an inference queued before the loss", Err::<(), _>(e)),
    }
    assert_lost("run", session.run(&input));
    assert_lost("queue", session.queue(&input).map(drop));
    assert_lost("run_async", pollster::block_on(session.run_async(&input)));
    assert_lost("a new session", runtime.session(&model, 2).map(drop));
    assert_lost("run again", session.run(&input));
    assert_eq!(runtime.context().lost().as_deref(), Some("destroyed"));
    drop(session);
    drop(runtime);

    let fresh = Runtime::new().expect("a new runtime after the loss");
    let output = fresh
        .session(&model, 1)
        .expect("a session on the new runtime")
        .run(&input)
        .expect("run on the new runtime");
    assert_eq!(output, expected);
}
