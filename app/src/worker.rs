//! Classification off the UI thread. The worker owns the current image and model, so the
//! UI only says what changed ("open this file", "use that model") and never blocks:
//! decoding, model loading, planning and inference all happen here, on the device the UI
//! renders with.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread;
use std::time::{Duration, Instant};

use eframe::egui;
use image::DynamicImage;
use mobilenet_wgpu::labels::Class;
use mobilenet_wgpu::runtime::{Runtime, Session};

use crate::choice::ModelChoice;

/// How many classes a result lists.
const TOP_K: usize = 5;
/// Longest side of the picture the UI shows; larger images are scaled down for display only.
const PREVIEW_MAX_SIDE: u32 = 1024;

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
    /// A new image was decoded; `preview` is its (possibly scaled-down) RGBA picture.
    Opened {
        name: String,
        preview: egui::ColorImage,
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
    image: Option<(String, DynamicImage)>,
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

    /// Decodes `path` and makes it the current image; false (and a reported error) if it
    /// cannot be read, leaving the previous image in place.
    fn open(&mut self, path: &Path) -> bool {
        let name = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        self.send(Reply::Status(format!("Opening {name}...")));
        match image::open(path) {
            Ok(image) => {
                self.send(Reply::Opened {
                    name: name.clone(),
                    preview: preview(&image),
                });
                self.image = Some((name, image));
                true
            }
            Err(e) => {
                self.send(Reply::Failed(format!(
                    "cannot open {}: {e}",
                    path.display()
                )));
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
        let (Some((image_name, image)), Some((_, session))) = (&self.image, &self.session) else {
            let reason = "no image or no model to classify with".to_owned();
            return Err(mobilenet_wgpu::Error::InvalidArgument(reason));
        };
        self.send(Reply::Status(format!("Classifying {image_name}...")));
        let start = Instant::now();
        let mut top = session.classify(std::slice::from_ref(image), TOP_K)?;
        let inference = start.elapsed();
        Ok(Classification {
            image_name: image_name.clone(),
            model_name: session.model().name.clone(),
            classes: top.pop().unwrap_or_default(),
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
        let input_len = model.graph.input_shape().len();
        session.run(&vec![0.0; input_len])?;
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

/// The picture the UI shows: the image, scaled down to at most [`PREVIEW_MAX_SIDE`].
fn preview(image: &DynamicImage) -> egui::ColorImage {
    let rgba = if image.width().max(image.height()) > PREVIEW_MAX_SIDE {
        image
            .thumbnail(PREVIEW_MAX_SIDE, PREVIEW_MAX_SIDE)
            .to_rgba8()
    } else {
        image.to_rgba8()
    };
    let size = [rgba.width() as usize, rgba.height() as usize];
    egui::ColorImage::from_rgba_unmultiplied(size, rgba.as_raw())
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
        let preview = replies.iter().find_map(|r| match r {
            Reply::Opened { name, preview } => Some((name.clone(), preview.size)),
            _ => None,
        });
        assert_eq!(
            preview.map(|(name, _)| name).as_deref(),
            Some("chelsea.png")
        );
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
    fn preview_is_scaled_down_to_the_display_limit() {
        let image = DynamicImage::new_rgb8(3000, 1500);
        assert_eq!(preview(&image).size, [1024, 512]);
        assert_eq!(preview(&DynamicImage::new_rgb8(40, 30)).size, [40, 30]);
    }
}
