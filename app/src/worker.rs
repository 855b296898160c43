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
mod tests;
