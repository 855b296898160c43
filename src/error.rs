//! The crate's one error type. Every failure a user can cause ends here with a message
//! that says what was wrong and, where possible, what to do about it.

use std::path::PathBuf;

/// Everything that can go wrong in mobilenet-wgpu.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A graph whose shapes or attributes do not fit together.
    #[error("invalid graph at layer `{layer}`: {reason}")]
    InvalidGraph { layer: String, reason: String },

    /// Bad user-supplied options (CLI flags, builder options, input arrays).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),

    /// No usable GPU adapter.
    #[error("no GPU adapter found{backend}. Install a Vulkan driver (on Debian/Ubuntu without a GPU: `apt-get install -y mesa-vulkan-drivers libvulkan1` for the lavapipe software driver) or choose another backend with WGPU_BACKEND=vulkan|gl|metal|dx12")]
    NoAdapter { backend: String },

    /// The adapter cannot hold what the plan needs.
    #[error("device limit exceeded: {0}")]
    DeviceLimit(String),

    /// The GPU device was lost (driver reset, GPU removed, `device.destroy()`): nothing
    /// more runs on it. A new [`Runtime`](crate::runtime::Runtime) opens a new device.
    #[error("the GPU device was lost ({reason}); open a new runtime to continue")]
    DeviceLost { reason: String },

    /// Any other failure reported by wgpu (device creation, validation, mapping).
    #[error("GPU error: {0}")]
    Gpu(String),

    /// A model file that cannot be read or understood.
    #[error("model `{path}`: {reason}")]
    Model { path: PathBuf, reason: String },

    /// An operator the importer does not support.
    #[error("unsupported operator {op} (operator #{index}) in `{path}`")]
    UnsupportedOp {
        path: PathBuf,
        op: String,
        index: usize,
    },

    /// Image decoding or preprocessing.
    #[error("image `{path}`: {reason}")]
    Image { path: PathBuf, reason: String },

    /// Downloading or verifying a model.
    #[error("download: {0}")]
    Download(String),

    /// Filesystem errors, with the path involved.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
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
