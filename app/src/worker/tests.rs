//! The worker thread against a real runtime: opening, classifying, failures.

use super::*;
use mobilenet_wgpu::models::Arch;

/// A runtime on the default adapter; `None` (after a note) without one, except under
/// `CI=true`, where a missing adapter fails the test.
fn runtime() -> Option<Runtime> {
    match Runtime::new() {
        Ok(runtime) => Some(runtime),
        Err(e) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("CI needs a GPU adapter: {e}")
        }
        Err(e) => {
            eprintln!("skipping: {e}");
            None
        }
    }
}

/// Submits `jobs` and collects the replies until the worker has handled them all.
fn run_jobs(runtime: Runtime, jobs: Vec<Job>) -> Vec<Reply> {
    let mut worker = Worker::spawn(runtime, egui::Context::default()).expect("spawns");
    for job in jobs {
        assert!(worker.submit(job));
    }
    let mut replies = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(300);
    while worker.is_busy() {
        assert!(Instant::now() < deadline, "worker did not finish");
        match worker.try_recv() {
            Some(reply) => replies.push(reply),
            None => thread::sleep(Duration::from_millis(10)),
        }
    }
    replies
}

fn sample(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../samples")
        .join(name)
}

#[test]
fn opens_and_classifies_an_image() {
    let Some(runtime) = runtime() else { return };
    let jobs = vec![
        Job::UseModel(ModelChoice::RandomWeights(Arch::V2K7)),
        Job::Open(sample("chelsea.png")),
    ];
    let replies = run_jobs(runtime, jobs);
    let opened = replies.iter().find_map(|r| match r {
        Reply::Opened { name, .. } => Some(name.as_str()),
        _ => None,
    });
    assert_eq!(opened, Some("chelsea.png"));
    let result = replies.iter().find_map(|r| match r {
        Reply::Classified(result) => Some(result),
        _ => None,
    });
    let result = result.expect("a classification");
    assert_eq!(result.classes.len(), TOP_K);
    assert!(result.model_load.is_some(), "first result loads the model");
    let total: f32 = result.classes.iter().map(|c| c.probability).sum();
    assert!(
        total > 0.0 && total <= 1.0 + 1e-4,
        "top-5 probabilities sum to {total}"
    );
}

#[test]
fn an_onnx_model_resized_the_torchvision_way_is_classified_on_the_cpu_path() {
    let Some(runtime) = runtime() else { return };
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/data/onnx/torchvision_v2_opset13.onnx")
        .display()
        .to_string();
    let model = mobilenet_wgpu::model::Model::load(&path).expect("loads");
    assert_eq!(model.resize, Resize::ShortSideThenCrop);
    let photo = image::open(sample("chelsea.png")).expect("photo");
    let session = runtime.session(&model, 1).expect("session");
    let direct = session.classify(&[photo], TOP_K).expect("classifies");
    let jobs = vec![
        Job::UseModel(ModelChoice::Named(path)),
        Job::Open(sample("chelsea.png")),
    ];
    let replies = run_jobs(runtime, jobs);
    let result = replies.iter().find_map(|r| match r {
        Reply::Classified(result) => Some(result),
        _ => None,
    });
    let classes = &result.expect("a classification").classes;
    let indices = |c: &[Class]| c.iter().map(|c| c.index).collect::<Vec<_>>();
    assert_eq!(indices(classes), indices(&direct[0]));
}

#[test]
fn a_lost_device_is_reported_in_one_line() {
    let Some(runtime) = runtime() else { return };
    runtime.context().device.destroy();
    let jobs = vec![
        Job::UseModel(ModelChoice::RandomWeights(Arch::V2K7)),
        Job::Open(sample("chelsea.png")),
    ];
    let replies = run_jobs(runtime, jobs);
    let failure = replies.iter().find_map(|r| match r {
        Reply::Failed(message) => Some(message.clone()),
        _ => None,
    });
    let failure = failure.expect("a failure reply");
    assert!(failure.contains("GPU device was lost"), "{failure}");
    assert!(!failure.contains('\n'), "{failure}");
    assert!(!replies.iter().any(|r| matches!(r, Reply::Classified(_))));
}

#[test]
fn an_unreadable_file_is_reported_not_classified() {
    let Some(runtime) = runtime() else { return };
    let replies = run_jobs(runtime, vec![Job::Open(sample("no-such-image.png"))]);
    let failure = replies.iter().find_map(|r| match r {
        Reply::Failed(message) => Some(message.clone()),
        _ => None,
    });
    assert!(failure.is_some_and(|m| m.contains("no-such-image.png")));
    assert!(!replies.iter().any(|r| matches!(r, Reply::Classified(_))));
}

#[test]
fn uploads_keep_the_image_size_and_are_readable_by_the_model() {
    let Some(runtime) = runtime() else { return };
    let texture = upload(&runtime, &DynamicImage::new_rgb8(40, 30));
    assert_eq!((texture.width(), texture.height()), (40, 30));
    let model = ModelChoice::RandomWeights(Arch::V2K7)
        .load()
        .expect("builds");
    let session = runtime.session(&model, 1).expect("plans");
    assert_eq!(
        session.classify_texture(&texture, 3).expect("runs").len(),
        3
    );
}
