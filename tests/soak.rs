//! Soak: many inferences in one session with flat memory: the number of live wgpu buffers
//! and the process's resident memory are the same after the soak as after the warm-up,
//! whether inferences run blocking, two in flight, as futures, are dropped unread, or are
//! futures dropped mid-inference.
//! Both counts are taken after five inferences queued at once, which refills the pool of
//! output buffers (an output dropped unread is freed, not pooled).
//! CI runs 300; `SOAK_RUNS=10000 cargo test --release --test soak` runs the long one.

mod common;

use mobilenet_wgpu::model::Model;
use mobilenet_wgpu::models::{Arch, ArchConfig};
use mobilenet_wgpu::runtime::Session;
use std::future::Future;

/// Resident memory in bytes (Linux: `VmRSS`, in kB), `None` elsewhere.
fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Inference `i` of the soak: the five ways a session is used, in turn.
fn infer(session: &Session, input: &[f32], i: usize) {
    match i % 5 {
        0 => drop(session.run(input).expect("run")),
        1 => {
            let first = session.queue(input).expect("queue");
            let second = session.queue(input).expect("queue");
            first.wait().expect("first");
            second.wait().expect("second");
        }
        2 => drop(pollster::block_on(session.run_async(input)).expect("run_async")),
        3 => drop(session.queue(input).expect("queue")),
        _ => {
            // A future dropped mid-inference: polled once (its helper thread is polling
            // the device), then abandoned.
            let mut future = std::pin::pin!(session.run_async(input));
            let mut context = std::task::Context::from_waker(std::task::Waker::noop());
            if let std::task::Poll::Ready(output) = future.as_mut().poll(&mut context) {
                drop(output.expect("run_async"));
            }
        }
    }
}

#[test]
fn many_inferences_keep_buffers_and_memory_flat() {
    let Some(runtime) = common::runtime() else {
        return;
    };
    let runs: usize = std::env::var("SOAK_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let config = ArchConfig {
        resolution: Some(64),
        ..ArchConfig::new(Arch::V3Small)
    };
    let model = Model::from_arch(&config, 3).expect("model");
    let session = runtime.session(&model, 2).expect("session");
    let input = vec![0.25; 2 * model.graph.input_shape().len()];
    let expected = session.run(&input).expect("run");
    let device = &runtime.context().device;
    let settle = || {
        device
            .poll(wgpu::PollType::wait_indefinitely())
            .expect("poll")
    };
    let five_at_once = || {
        let queued: Vec<_> = (0..5)
            .map(|_| session.queue(&input).expect("queue"))
            .collect();
        queued
            .into_iter()
            .for_each(|q| drop(q.wait().expect("wait")));
        settle();
    };
    for i in 0..40 {
        infer(&session, &input, i);
    }
    five_at_once();
    let buffers = runtime.context().live_buffers();
    let resident = resident_bytes();
    for i in 0..runs {
        infer(&session, &input, i);
    }
    five_at_once();
    assert_eq!(
        runtime.context().live_buffers(),
        buffers,
        "live wgpu buffers"
    );
    if let (Some(before), Some(after)) = (resident, resident_bytes()) {
        eprintln!(
            "soak: {runs} inferences, live buffers {buffers:?}, resident {:.1} -> {:.1} MB",
            before as f64 / 1e6,
            after as f64 / 1e6
        );
        let growth = after.saturating_sub(before);
        assert!(
            growth < 16 << 20,
            "resident memory grew by {growth} bytes over {runs} runs"
        );
    }
    assert_eq!(
        session.run(&input).expect("run"),
        expected,
        "results drifted"
    );
}
