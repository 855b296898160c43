//! The window: image on the left, top-5 bars on the right, model picker and status around
//! them. All slow work goes to the [`Worker`]; this file only draws and forwards input.

use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, Sender};

use eframe::{egui, egui_wgpu, wgpu};
use mobilenet_wgpu::runtime::Runtime;

use crate::capture::AutoCapture;
use crate::choice::ModelChoice;
use crate::worker::{Classification, Job, Reply, Worker};

/// Width of the results panel, in points.
const RESULTS_WIDTH: f32 = 380.0;
/// Width of one probability bar, in points.
const BAR_WIDTH: f32 = 170.0;

/// What `main` hands the app at start.
pub struct Startup {
    pub model: ModelChoice,
    pub image: Option<PathBuf>,
    pub capture: AutoCapture,
}

pub struct ClassifierApp {
    /// `Err` when eframe gave us no wgpu device (the app then only shows why).
    worker: Result<Worker, String>,
    /// eframe's device and renderer, to draw the worker's textures.
    render_state: Option<egui_wgpu::RenderState>,
    adapter: String,
    choices: Vec<ModelChoice>,
    model: ModelChoice,
    /// The current image's texture as registered with egui, and its size in pixels.
    picture: Option<(egui::TextureId, egui::Vec2)>,
    result: Option<Classification>,
    error: Option<String>,
    status: String,
    /// Whether the last reply that ended a job was a success, for the headless capture.
    last_outcome: Option<bool>,
    capture: AutoCapture,
    picked: (Sender<PathBuf>, Receiver<PathBuf>),
    /// Model files (TFLite or ONNX) chosen in the file dialog.
    picked_model: (Sender<PathBuf>, Receiver<PathBuf>),
}

impl ClassifierApp {
    /// Builds the runtime on eframe's own device, so the model runs where egui renders.
    pub fn new(cc: &eframe::CreationContext<'_>, startup: Startup) -> Self {
        let (worker, adapter) = match &cc.wgpu_render_state {
            Some(state) => {
                let info = state.adapter.get_info();
                let adapter = format!("{} ({:?})", info.name, info.backend);
                let runtime = Runtime::from_device(state.device.clone(), state.queue.clone(), info);
                let worker = Worker::spawn(runtime, cc.egui_ctx.clone())
                    .map_err(|e| format!("cannot start the classifier thread: {e}"));
                (worker, adapter)
            }
            None => (
                Err("eframe started without a wgpu device".to_owned()),
                String::new(),
            ),
        };
        let mut choices = ModelChoice::all();
        if !choices.contains(&startup.model) {
            choices.push(startup.model.clone());
        }
        let mut app = ClassifierApp {
            worker,
            render_state: cc.wgpu_render_state.clone(),
            adapter,
            choices,
            model: startup.model.clone(),
            picture: None,
            result: None,
            error: None,
            status: "Open an image or drop one on the window.".to_owned(),
            last_outcome: None,
            capture: startup.capture,
            picked: mpsc::channel(),
            picked_model: mpsc::channel(),
        };
        app.submit(Job::UseModel(startup.model));
        if let Some(path) = startup.image {
            app.submit(Job::Open(path));
        }
        app
    }

    fn submit(&mut self, job: Job) {
        let sent = match &mut self.worker {
            Ok(worker) => worker.submit(job),
            Err(_) => false,
        };
        if !sent {
            self.error = Some("the classifier thread has stopped".to_owned());
        }
    }

    fn is_busy(&self) -> bool {
        self.worker.as_ref().is_ok_and(Worker::is_busy)
    }

    /// Applies the worker's replies and the files the user dropped or picked.
    fn take_input(&mut self, ctx: &egui::Context) {
        while let Some(reply) = self.worker.as_mut().ok().and_then(Worker::try_recv) {
            self.apply(ctx, reply);
        }
        let dropped: Vec<PathBuf> = ctx.input(|i| {
            i.raw
                .dropped_files
                .iter()
                .map(|f| f.path().to_path_buf())
                .collect()
        });
        let picked: Vec<PathBuf> = self.picked.1.try_iter().collect();
        if let Some(path) = dropped.into_iter().chain(picked).last() {
            self.submit(Job::Open(path));
        }
        if let Some(path) = self.picked_model.1.try_iter().last() {
            self.use_model_file(&path);
        }
    }

    /// Adds a model file to the picker and switches to it.
    fn use_model_file(&mut self, path: &std::path::Path) {
        let choice = ModelChoice::Named(path.display().to_string());
        if !self.choices.contains(&choice) {
            self.choices.push(choice.clone());
        }
        self.model = choice.clone();
        self.submit(Job::UseModel(choice));
    }

    fn apply(&mut self, ctx: &egui::Context, reply: Reply) {
        match reply {
            Reply::Status(status) => self.status = status,
            Reply::Opened { name, texture } => {
                self.show_texture(&texture);
                let title = format!("{name} - mobilenet-wgpu");
                ctx.send_viewport_cmd(egui::ViewportCommand::Title(title));
                self.result = None;
            }
            Reply::Classified(result) => {
                print_result(&result);
                self.status = format!("{} classified.", result.image_name);
                self.result = Some(result);
                self.error = None;
                self.last_outcome = Some(true);
            }
            Reply::Failed(message) => {
                eprintln!("error: {message}");
                self.status = "Failed.".to_owned();
                self.error = Some(message);
                self.last_outcome = Some(false);
            }
            Reply::Idle { .. } => {}
        }
    }

    /// Makes `texture` the picture shown, releasing the previous one's egui binding.
    fn show_texture(&mut self, texture: &wgpu::Texture) {
        let Some(state) = &self.render_state else {
            return;
        };
        let view = texture.create_view(&wgpu::TextureViewDescriptor::default());
        let mut renderer = state.renderer.write();
        if let Some((old, _)) = self.picture.take() {
            renderer.free_texture(&old);
        }
        let id = renderer.register_native_texture(&state.device, &view, wgpu::FilterMode::Linear);
        let size = egui::vec2(texture.width() as f32, texture.height() as f32);
        self.picture = Some((id, size));
    }

    fn top_bar(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            if ui.button("Open image...").clicked() {
                let sender = self.picked.0.clone();
                if let Err(e) = pick_file(IMAGE_FILES, sender, ui.ctx().clone()) {
                    self.error = Some(format!("cannot open the file dialog: {e}"));
                }
            }
            if ui.button("Open model...").clicked() {
                let sender = self.picked_model.0.clone();
                if let Err(e) = pick_file(MODEL_FILES, sender, ui.ctx().clone()) {
                    self.error = Some(format!("cannot open the file dialog: {e}"));
                }
            }
            ui.separator();
            ui.label("Model:");
            let before = self.model.clone();
            egui::ComboBox::from_id_salt("model")
                .selected_text(self.model.to_string())
                .width(330.0)
                .show_ui(ui, |ui| {
                    for choice in &self.choices {
                        ui.selectable_value(&mut self.model, choice.clone(), choice.to_string());
                    }
                });
            if self.model != before {
                self.submit(Job::UseModel(self.model.clone()));
            }
            if self.is_busy() {
                ui.spinner();
            }
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                ui.weak(&self.adapter);
            });
        });
    }

    fn status_bar(&self, ui: &mut egui::Ui) {
        match (&self.worker, &self.error) {
            (Err(e), _) | (Ok(_), Some(e)) => {
                ui.colored_label(ui.visuals().error_fg_color, format!("Error: {e}"));
            }
            (Ok(_), None) => {
                ui.label(&self.status);
            }
        }
    }

    fn results(&self, ui: &mut egui::Ui) {
        ui.heading("Top 5");
        let Some(result) = &self.result else {
            let hint = if self.is_busy() {
                "Working..."
            } else {
                "No result yet."
            };
            ui.label(hint);
            return;
        };
        ui.add_space(4.0);
        egui::Grid::new("top5")
            .num_columns(3)
            .spacing([12.0, 8.0])
            .show(ui, |ui| {
                for class in &result.classes {
                    ui.label(&class.label)
                        .on_hover_text(format!("class index {}", class.index));
                    probability_bar(ui, class.probability);
                    ui.end_row();
                }
            });
        ui.add_space(12.0);
        ui.label(format!("Inference: {}", milliseconds(result.inference)));
        if let Some(load) = result.model_load {
            ui.label(format!("Model load: {}", milliseconds(load)));
        }
        ui.weak(format!("Model: {}", result.model_name));
        ui.weak(format!("Image: {}", result.image_name));
    }

    fn picture(&self, ui: &mut egui::Ui) {
        match self.picture {
            Some(picture) => {
                let size = ui.available_size();
                ui.centered_and_justified(|ui| {
                    ui.add(egui::Image::new(picture).fit_to_exact_size(size));
                });
            }
            None => {
                ui.centered_and_justified(|ui| {
                    ui.label("Open an image (button above or command line) or drop one here.");
                });
            }
        }
    }
}

impl eframe::App for ClassifierApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        let ctx = ui.ctx().clone();
        self.take_input(&ctx);
        egui::Panel::top("toolbar").show(ui, |ui| self.top_bar(ui));
        egui::Panel::bottom("status").show(ui, |ui| self.status_bar(ui));
        egui::Panel::right("results")
            .exact_size(RESULTS_WIDTH)
            .show(ui, |ui| self.results(ui));
        egui::CentralPanel::default().show(ui, |ui| self.picture(ui));
        drop_overlay(&ctx);
        let finished = if self.is_busy() {
            None
        } else {
            self.last_outcome
        };
        self.capture.update(&ctx, finished);
    }
}

/// A horizontal bar exactly `probability` long (egui's progress bar never draws shorter
/// than its height, which would show 0% as a blob), with the percentage after it.
fn probability_bar(ui: &mut egui::Ui, probability: f32) {
    let height = ui.spacing().interact_size.y;
    let (rect, _) = ui.allocate_exact_size(egui::vec2(BAR_WIDTH, height), egui::Sense::hover());
    let visuals = ui.visuals();
    ui.painter()
        .rect_filled(rect, 3.0, visuals.extreme_bg_color);
    let mut filled = rect;
    filled.set_width(rect.width() * probability.clamp(0.0, 1.0));
    ui.painter()
        .rect_filled(filled, 3.0, visuals.selection.bg_fill);
    ui.label(format!("{:.1}%", probability * 100.0));
}

/// Darkens the window while files are dragged over it.
fn drop_overlay(ctx: &egui::Context) {
    if ctx.input(|i| i.raw.hovered_files.is_empty()) {
        return;
    }
    let screen = ctx.content_rect();
    let painter = ctx.layer_painter(egui::LayerId::new(
        egui::Order::Foreground,
        egui::Id::unique("drop-overlay"),
    ));
    painter.rect_filled(screen, 0.0, egui::Color32::from_black_alpha(160));
    painter.text(
        screen.center(),
        egui::Align2::CENTER_CENTER,
        "Drop the image to classify it",
        egui::FontId::proportional(24.0),
        egui::Color32::WHITE,
    );
}

/// What a file dialog offers: its title, the filter's name and extensions.
struct FileKind {
    title: &'static str,
    filter: &'static str,
    extensions: &'static [&'static str],
}

const IMAGE_FILES: FileKind = FileKind {
    title: "Open an image",
    filter: "Images",
    extensions: &["png", "jpg", "jpeg", "bmp"],
};

/// The importer tells the formats apart by content; the filter only helps find files.
const MODEL_FILES: FileKind = FileKind {
    title: "Open a model",
    filter: "TFLite or ONNX models",
    extensions: &["tflite", "onnx"],
};

/// Shows the system file dialog (xdg-desktop-portal, or zenity, on Linux) on its own
/// thread, so the window keeps drawing while it is open; the chosen path arrives through
/// `picked`. Without a portal or zenity the dialog returns nothing: drop a file instead.
fn pick_file(
    kind: FileKind,
    picked: Sender<PathBuf>,
    repaint: egui::Context,
) -> std::io::Result<()> {
    let dialog_thread = std::thread::Builder::new().name("file-dialog".to_owned());
    dialog_thread.spawn(move || {
        let dialog = rfd::FileDialog::new()
            .set_title(kind.title)
            .add_filter(kind.filter, kind.extensions);
        if let Some(path) = dialog.pick_file() {
            let _ = picked.send(path);
            repaint.request_repaint();
        }
    })?;
    Ok(())
}

/// Prints a result on stdout too, so runs from a terminal or a script leave a record.
fn print_result(result: &Classification) {
    let classes: Vec<String> = result
        .classes
        .iter()
        .map(|c| format!("{} {:.1}%", c.label, c.probability * 100.0))
        .collect();
    println!(
        "{} [{}]: {} (inference {})",
        result.image_name,
        result.model_name,
        classes.join(", "),
        milliseconds(result.inference)
    );
}

fn milliseconds(duration: std::time::Duration) -> String {
    format!("{:.1} ms", duration.as_secs_f64() * 1000.0)
}
