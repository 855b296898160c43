//! The CLI's view of model downloads: a line naming the file, then a byte-count progress
//! bar on stderr (hidden when stderr is not a terminal), drawn from the library's
//! [`hub::on_download`] events.

use std::sync::Mutex;

use indicatif::{ProgressBar, ProgressStyle};
use mobilenet_wgpu::hub::{self, DownloadEvent};

/// Makes every download in this process report on stderr.
pub fn show_progress() {
    let bar: Mutex<Option<ProgressBar>> = Mutex::new(None);
    hub::on_download(move |event| {
        let mut bar = bar.lock().unwrap_or_else(|p| p.into_inner());
        match *event {
            DownloadEvent::Started { url, dest, bytes } => {
                let size = bytes.map_or_else(String::new, |b| format!(" ({b} bytes)"));
                errln!("downloading {url}{size} to {}", dest.display());
                *bar = Some(progress_bar(bytes));
            }
            DownloadEvent::Progress { received, .. } => {
                if let Some(bar) = bar.as_ref() {
                    bar.set_position(received);
                }
            }
            DownloadEvent::Finished { .. } => {
                if let Some(bar) = bar.take() {
                    bar.finish_and_clear();
                }
            }
        }
    });
}

/// A byte-count bar, or a spinner when the length is unknown.
fn progress_bar(length: Option<u64>) -> ProgressBar {
    let Some(length) = length else {
        return ProgressBar::new_spinner();
    };
    let bar = ProgressBar::new(length);
    if let Ok(style) =
        ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
    {
        bar.set_style(style);
    }
    bar
}
