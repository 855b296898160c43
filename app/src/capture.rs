//! `--screenshot PATH` and `--exit-after-result`: let a script run the real app (e.g. under
//! Xvfb), wait for its first result, keep a picture of the window and exit with a status
//! that says whether classification worked.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;

use eframe::egui;

/// Frames drawn with the result on screen before the screenshot, so that layouts which
/// size themselves from the previous frame (grids, panels) have settled.
const SETTLE_FRAMES: u32 = 3;

/// Process exit statuses of the headless mode.
pub const EXIT_OK: u8 = 0;
pub const EXIT_CLASSIFY_FAILED: u8 = 1;
pub const EXIT_SCREENSHOT_FAILED: u8 = 2;

/// Whether the screenshot was saved, or why not.
type SaveOutcome = Result<(), String>;

#[derive(Debug, PartialEq)]
enum Stage {
    WaitingForResult,
    Settling(u32),
    WaitingForScreenshot,
    Done,
}

/// Drives the one automatic screenshot and exit of a headless run.
pub struct AutoCapture {
    screenshot: Option<PathBuf>,
    exit_after_result: bool,
    stage: Stage,
    saved: (Sender<SaveOutcome>, Receiver<SaveOutcome>),
    exit_status: Arc<AtomicU8>,
}

impl AutoCapture {
    /// `exit_status` is where the status the process should exit with is left for `main`.
    pub fn new(
        screenshot: Option<PathBuf>,
        exit_after_result: bool,
        exit_status: Arc<AtomicU8>,
    ) -> Self {
        let active = screenshot.is_some() || exit_after_result;
        AutoCapture {
            screenshot,
            exit_after_result,
            stage: if active {
                Stage::WaitingForResult
            } else {
                Stage::Done
            },
            saved: mpsc::channel(),
            exit_status,
        }
    }

    /// Called once per frame; `finished` is `Some(succeeded)` once the first image's
    /// classification (or its failure) is on screen and the worker is idle.
    pub fn update(&mut self, ctx: &egui::Context, finished: Option<bool>) {
        match self.stage {
            Stage::WaitingForResult => {
                if let Some(succeeded) = finished {
                    if !succeeded {
                        self.exit_status
                            .store(EXIT_CLASSIFY_FAILED, Ordering::Relaxed);
                    }
                    self.stage = Stage::Settling(SETTLE_FRAMES);
                    ctx.request_repaint();
                }
            }
            Stage::Settling(0) => self.take_screenshot(ctx),
            Stage::Settling(frames) => {
                self.stage = Stage::Settling(frames - 1);
                ctx.request_repaint();
            }
            Stage::WaitingForScreenshot => {
                if let Ok(saved) = self.saved.1.try_recv() {
                    if let Err(e) = saved {
                        eprintln!("{e}");
                        self.exit_status
                            .store(EXIT_SCREENSHOT_FAILED, Ordering::Relaxed);
                    }
                    self.finish(ctx);
                }
            }
            Stage::Done => {}
        }
    }

    fn take_screenshot(&mut self, ctx: &egui::Context) {
        let Some(path) = self.screenshot.clone() else {
            self.finish(ctx);
            return;
        };
        let saved = self.saved.0.clone();
        let repaint = ctx.clone();
        ctx.request_screenshot(move |image| {
            let _ = saved.send(save_png(&image, &path));
            repaint.request_repaint();
        });
        self.stage = Stage::WaitingForScreenshot;
    }

    fn finish(&mut self, ctx: &egui::Context) {
        self.stage = Stage::Done;
        if self.exit_after_result {
            ctx.send_viewport_cmd(egui::ViewportCommand::Close);
        }
    }
}

/// Writes an egui screenshot (premultiplied sRGBA, opaque for a window) as PNG.
fn save_png(image: &egui::ColorImage, path: &Path) -> SaveOutcome {
    let [width, height] = image.size;
    let too_large = || format!("screenshot of {width}x{height} is too large");
    let width = u32::try_from(width).map_err(|_| too_large())?;
    let height = u32::try_from(height).map_err(|_| too_large())?;
    let rgba = image::RgbaImage::from_raw(width, height, image.as_raw().to_vec())
        .ok_or_else(|| format!("screenshot of {width}x{height} has the wrong size"))?;
    rgba.save(path)
        .map_err(|e| format!("cannot save screenshot {}: {e}", path.display()))?;
    println!("screenshot saved to {}", path.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_screenshot_keeps_size_and_pixels() {
        let mut image = egui::ColorImage::filled([3, 2], egui::Color32::from_rgb(10, 20, 30));
        image.pixels[5] = egui::Color32::from_rgb(200, 100, 0);
        let path =
            std::env::temp_dir().join(format!("mobilenet-wgpu-app-{}.png", std::process::id()));
        save_png(&image, &path).expect("saves");
        let back = image::open(&path).expect("reads back").to_rgba8();
        std::fs::remove_file(&path).ok();
        assert_eq!(back.dimensions(), (3, 2));
        assert_eq!(back.get_pixel(0, 0).0, [10, 20, 30, 255]);
        assert_eq!(back.get_pixel(2, 1).0, [200, 100, 0, 255]);
    }

    #[test]
    fn an_inactive_capture_never_closes_the_window() {
        let status = Arc::new(AtomicU8::new(EXIT_OK));
        let mut capture = AutoCapture::new(None, false, status.clone());
        capture.update(&egui::Context::default(), Some(false));
        assert_eq!(capture.stage, Stage::Done);
        assert_eq!(status.load(Ordering::Relaxed), EXIT_OK);
    }

    #[test]
    fn a_failed_classification_sets_the_exit_status() {
        let status = Arc::new(AtomicU8::new(EXIT_OK));
        let mut capture = AutoCapture::new(None, true, status.clone());
        let ctx = egui::Context::default();
        capture.update(&ctx, None);
        assert_eq!(status.load(Ordering::Relaxed), EXIT_OK);
        capture.update(&ctx, Some(false));
        assert_eq!(status.load(Ordering::Relaxed), EXIT_CLASSIFY_FAILED);
        for _ in 0..=SETTLE_FRAMES {
            capture.update(&ctx, Some(false));
        }
        assert_eq!(capture.stage, Stage::Done);
    }
}
