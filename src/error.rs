//! The crate's one error type. Every failure a user can cause ends here with a message
//! that says what was wrong and, where possible, what to do about it.

use std::path::PathBuf;

/// Everything that can go wrong in mobilenet-wgpu.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A graph whose shapes or attributes do not fit together.
    #[error("invalid graph at layer `{}`: {}", one_line(.layer), one_line(.reason))]
    InvalidGraph { layer: String, reason: String },

    /// Bad user-supplied options (CLI flags, builder options, input arrays).
    #[error("invalid argument: {}", one_line(.0))]
    InvalidArgument(String),

    /// No usable GPU adapter.
    #[error("no GPU adapter found{backend}. Install a Vulkan driver (on Debian/Ubuntu without a GPU: `apt-get install -y mesa-vulkan-drivers libvulkan1` for the lavapipe software driver) or choose another backend with WGPU_BACKEND=vulkan|gl|metal|dx12")]
    NoAdapter { backend: String },

    /// The adapter cannot hold what the plan needs.
    #[error("device limit exceeded: {}", one_line(.0))]
    DeviceLimit(String),

    /// The GPU device was lost (driver reset, GPU removed, `device.destroy()`): nothing
    /// more runs on it. A new [`Runtime`](crate::runtime::Runtime) opens a new device.
    #[error("the GPU device was lost ({}); open a new runtime to continue", one_line(.reason))]
    DeviceLost { reason: String },

    /// Any other failure reported by wgpu (device creation, validation, mapping).
    #[error("GPU error: {}", one_line(.0))]
    Gpu(String),

    /// A model file that cannot be read or understood.
    #[error("model `{}`: {}", one_line(&.path.display().to_string()), one_line(.reason))]
    Model { path: PathBuf, reason: String },

    /// An operator the importer does not support.
    #[error("unsupported operator {} (operator #{index}) in `{}`", one_line(.op), one_line(&.path.display().to_string()))]
    UnsupportedOp {
        path: PathBuf,
        op: String,
        index: usize,
    },

    /// A layer that cannot run on the integer grid (`--precision int8`).
    #[error("layer `{}` cannot run in int8: {}", one_line(.layer), one_line(.reason))]
    NotInteger { layer: String, reason: String },

    /// Image decoding or preprocessing.
    #[error("image `{}`: {}", one_line(&.path.display().to_string()), one_line(.reason))]
    Image { path: PathBuf, reason: String },

    /// Downloading or verifying a model.
    #[error("download: {}", one_line(.0))]
    Download(String),

    /// Filesystem errors, with the path involved.
    #[error("{}: {}", one_line(&.path.display().to_string()), one_line(&.source.to_string()))]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// `text` as one line: errors are shown one per line, and names and messages taken from
/// files (a tensor named across two lines, a parser's multi-line report) must not break
/// that. Lines are joined with single spaces; other control characters become `?`.
fn one_line(text: &str) -> String {
    let joined = text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    joined
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// Shorthand used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Builds an [`Error::InvalidGraph`] for `layer`.
    pub fn graph(layer: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::InvalidGraph {
            layer: layer.into(),
            reason: reason.into(),
        }
    }

    /// Wraps an I/O error with the path that caused it.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_reports_from_files_print_on_one_line() {
        let error = Error::Model {
            path: PathBuf::from("odd\nname.onnx"),
            reason: "reads `pads_\n`, which is neither\n  |\n  = expected EOI\r\n\tend".into(),
        };
        assert_eq!(
            error.to_string(),
            "model `odd name.onnx`: reads `pads_ `, which is neither | = expected EOI end"
        );
        let gpu = Error::Gpu("validation\u{7}error".into());
        assert_eq!(gpu.to_string(), "GPU error: validation?error");
    }
}
