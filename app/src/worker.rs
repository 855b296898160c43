//! Classification off the UI thread. The worker owns the current image and model, so the
//! UI only says what changed ("open this file", "use that model") and never blocks:
//! decoding, model loading, planning and inference all happen here, on the device the UI
//! renders with. Each image is uploaded once, as a texture that the UI draws and the
//! model reads (preprocessing runs on the GPU, straight from it).

use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread;
use std::time::{Duration, Instant};

use eframe::egui;
use eframe::wgpu;
use eframe::wgpu::util::DeviceExt;
use image::DynamicImage;
use mobilenet_wgpu::labels::Class;
use mobilenet_wgpu::model::Resize;
use mobilenet_wgpu::runtime::{Runtime, Session};

use crate::choice::ModelChoice;

/// How many classes a result lists.
const TOP_K: usize = 5;

/// A change the UI asks for.
#[derive(Debug)]
pub enum Job {
    Open(PathBuf),
    UseModel(ModelChoice),
}

/// A classification, as shown to the user.
#[derive(Clone, Debug)]
pub struct Classification {
    pub image_name: String,
    pub model_name: String,
    pub classes: Vec<Class>,
    /// Preprocessing plus the GPU run and read-back of one image.
    pub inference: Duration,
    /// Import, planning, upload and a warm-up run, when this result needed a new model.
    pub model_load: Option<Duration>,
}

/// What the worker reports back.
pub enum Reply {
    /// A progress line, e.g. "Loading model ...".
    Status(String),
    /// A new image was decoded and uploaded: `Rgba8Unorm` (what egui-wgpu draws, and the
    /// runtime reads without conversion), straight alpha.
    Opened {
        name: String,
        texture: wgpu::Texture,
    },
    Classified(Classification),
    Failed(String),
    /// The worker has handled this many jobs since it started, and waits for more.
    Idle {
        handled: u64,
    },
}

/// The UI's handle on the worker thread. Dropping it ends the thread.
pub struct Worker {
    jobs: Sender<Job>,
    replies: Receiver<Reply>,
    submitted: u64,
    handled: u64,
}

impl Worker {
    /// Starts the thread; `repaint` is asked for a new frame after every reply.
    pub fn spawn(runtime: Runtime, repaint: egui::Context) -> std::io::Result<Worker> {
        let (jobs, job_receiver) = mpsc::channel();
        let (reply_sender, replies) = mpsc::channel();
        let mut state = WorkerState::new(runtime, reply_sender, repaint);
        thread::Builder::new()
            .name("classifier".to_owned())
            .spawn(move || state.serve(&job_receiver))?;
        Ok(Worker {
            jobs,
            replies,
            submitted: 0,
            handled: 0,
        })
    }

    /// Queues a job. Returns false if the worker thread is gone.
    pub fn submit(&mut self, job: Job) -> bool {
        let sent = self.jobs.send(job).is_ok();
        self.submitted += u64::from(sent);
        sent
    }

    /// The next reply, if one is waiting.
    pub fn try_recv(&mut self) -> Option<Reply> {
        let reply = self.replies.try_recv().ok()?;
        if let Reply::Idle { handled } = reply {
            self.handled = handled;
        }
        Some(reply)
    }

    /// True while submitted jobs are not all handled.
    pub fn is_busy(&self) -> bool {
        self.handled < self.submitted
    }
}

/// Everything the worker thread keeps between jobs.
struct WorkerState {
    runtime: Runtime,
    replies: Sender<Reply>,
    repaint: egui::Context,
    /// The current image: its name, its texture and the decoded pixels (for models whose
    /// preprocessing the GPU path does not implement).
    image: Option<(String, wgpu::Texture, DynamicImage)>,
    model: ModelChoice,
    session: Option<(ModelChoice, Session)>,
    handled: u64,
}

impl WorkerState {
    fn new(runtime: Runtime, replies: Sender<Reply>, repaint: egui::Context) -> Self {
        WorkerState {
            runtime,
            replies,
            repaint,
            image: None,
            model: ModelChoice::default_model(),
            session: None,
            handled: 0,
        }
    }

    /// Handles jobs until the UI hangs up. Jobs that queued up while the worker was busy
    /// are merged (the last image and the last model win), so a burst of model switches
    /// costs one classification, not one each.
    fn serve(&mut self, jobs: &Receiver<Job>) {
        while let Ok(first) = jobs.recv() {
            let mut batch = vec![first];
            batch.extend(jobs.try_iter());
            self.handled += batch.len() as u64;
            self.handle(batch);
            self.send(Reply::Idle {
                handled: self.handled,
            });
        }
    }

    fn handle(&mut self, batch: Vec<Job>) {
        let mut open = None;
        let mut model = None;
        for job in batch {
            match job {
                Job::Open(path) => open = Some(path),
                Job::UseModel(choice) => model = Some(choice),
            }
        }
        let mut changed = false;
        if let Some(path) = open {
            changed |= self.open(&path);
        }
        if let Some(choice) = model {
            changed |= choice != self.model;
            self.model = choice;
        }
        if changed {
            self.classify_current();
        }
    }

    /// Decodes and uploads `path` and makes it the current image; false (and a reported
    /// error) if it cannot be read, leaving the previous image in place.
    fn open(&mut self, path: &Path) -> bool {
        let name = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        self.send(Reply::Status(format!("Opening {name}...")));
        // The library's decoder: PIL's pixels for JPEGs, and its limit on pixel counts.
        match mobilenet_wgpu::preprocess::load_image(path).map(DynamicImage::ImageRgb8) {
            Ok(image) => {
                let texture = upload(&self.runtime, &image);
                self.send(Reply::Opened {
                    name: name.clone(),
                    texture: texture.clone(),
                });
                self.image = Some((name, texture, image));
                true
            }
            Err(e) => {
                self.send(Reply::Failed(e.to_string())); // names the file
                false
            }
        }
    }

    fn classify_current(&mut self) {
        if self.image.is_none() {
            return;
        }
        let reply = match self.ensure_session().and_then(|load| self.classify(load)) {
            Ok(result) => Reply::Classified(result),
            Err(e) => Reply::Failed(e.to_string()),
        };
        self.send(reply);
    }

    fn classify(&self, model_load: Option<Duration>) -> mobilenet_wgpu::Result<Classification> {
        let (Some((image_name, texture, image)), Some((_, session))) = (&self.image, &self.session)
        else {
            let reason = "no image or no model to classify with".to_owned();
            return Err(mobilenet_wgpu::Error::InvalidArgument(reason));
        };
        self.send(Reply::Status(format!("Classifying {image_name}...")));
        let start = Instant::now();
        let classes = classify_one(session, texture, image)?;
        let inference = start.elapsed();
        Ok(Classification {
            image_name: image_name.clone(),
            model_name: session.model().name.clone(),
            classes,
            inference,
            model_load,
        })
    }

    /// Loads and plans the chosen model unless it is already the session's; returns how
    /// long that took when it had to.
    fn ensure_session(&mut self) -> mobilenet_wgpu::Result<Option<Duration>> {
        if self
            .session
            .as_ref()
            .is_some_and(|(choice, _)| *choice == self.model)
        {
            return Ok(None);
        }
        self.session = None;
        self.send(Reply::Status(format!("Loading model {}...", self.model)));
        let start = Instant::now();
        let model = self.model.load()?;
        let session = self.runtime.session(&model, 1)?;
        // Drivers compile pipelines on first use (lavapipe takes seconds): pay for it here,
        // so the inference time shown is the steady-state one.
        if let Some((_, texture, image)) = &self.image {
            classify_one(&session, texture, image)?;
        }
        self.session = Some((self.model.clone(), session));
        Ok(Some(start.elapsed()))
    }

    /// Sends a reply and wakes the UI; a closed UI is not an error (it is shutting down).
    fn send(&self, reply: Reply) {
        if self.replies.send(reply).is_ok() {
            self.repaint.request_repaint();
        }
    }
}

/// Uploads `image` as a texture the UI can draw and the model can read, scaled down
/// first if it exceeds the device's largest texture.
/// Top classes of one image: preprocessed on the GPU from its texture, or on the CPU
/// for models resized the torchvision way (which the GPU path does not implement).
fn classify_one(
    session: &Session,
    texture: &wgpu::Texture,
    image: &DynamicImage,
) -> mobilenet_wgpu::Result<Vec<Class>> {
    if session.model().resize == Resize::CenterSquare {
        return session.classify_texture(texture, TOP_K);
    }
    let mut top = session.classify(std::slice::from_ref(image), TOP_K)?;
    Ok(top.pop().unwrap_or_default())
}

fn upload(runtime: &Runtime, image: &DynamicImage) -> wgpu::Texture {
    let ctx = runtime.context();
    let max_side = ctx.device.limits().max_texture_dimension_2d;
    let rgba = if image.width().max(image.height()) > max_side {
        image
            .resize(max_side, max_side, image::imageops::FilterType::Triangle)
            .to_rgba8()
    } else {
        image.to_rgba8()
    };
    let descriptor = wgpu::TextureDescriptor {
        label: Some("opened image"),
        size: wgpu::Extent3d {
            width: rgba.width(),
            height: rgba.height(),
            depth_or_array_layers: 1,
        },
        mip_level_count: 1,
        sample_count: 1,
        dimension: wgpu::TextureDimension::D2,
        format: wgpu::TextureFormat::Rgba8Unorm,
        usage: wgpu::TextureUsages::TEXTURE_BINDING | wgpu::TextureUsages::COPY_DST,
        view_formats: &[],
    };
    let order = wgpu::util::TextureDataOrder::LayerMajor;
    ctx.device
        .create_texture_with_data(&ctx.queue, &descriptor, order, rgba.as_raw())
}

#[cfg(test)]
mod tests {
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
}
