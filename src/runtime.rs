//! The embedding API: a [`Runtime`] owns (or borrows) a wgpu device, a [`Session`] is a
//! model planned and uploaded for one batch size on it.
//!
//! ```no_run
//! use mobilenet_wgpu::{model::Model, runtime::Runtime};
//! let runtime = Runtime::new()?;
//! let model = Model::load("mobilenet_v2_1.0_224_quant")?;
//! let session = runtime.session(&model, 1)?;
//! let image = image::open("samples/chelsea.png").map_err(|e| mobilenet_wgpu::Error::InvalidArgument(e.to_string()))?;
//! let top5 = session.classify(&[image], 5)?;
//! println!("{}: {:.1}%", top5[0][0].label, top5[0][0].probability * 100.0);
//! # Ok::<(), mobilenet_wgpu::Error>(())
//! ```

use crate::gpu::{Executor, GpuContext};
use crate::graph::Shape;
use crate::labels::{top_k, Class};
use crate::model::Model;
use crate::plan::Plan;
use crate::{preprocess, Error, Result};

/// A GPU device to run models on. Cheap to clone; `Send + Sync`.
#[derive(Clone, Debug)]
pub struct Runtime {
    ctx: GpuContext,
}

impl Runtime {
    /// Opens the preferred adapter; `WGPU_BACKEND` and `WGPU_POWER_PREF` are honoured.
    pub fn new() -> Result<Runtime> {
        Self::with_backends(None)
    }

    /// Opens the preferred adapter among `backends` (all when `None`).
    pub fn with_backends(backends: Option<wgpu::Backends>) -> Result<Runtime> {
        Ok(Runtime { ctx: GpuContext::new(backends)? })
    }

    /// Shares an application's device and queue (no second device is created).
    pub fn from_device(device: wgpu::Device, queue: wgpu::Queue, adapter_info: wgpu::AdapterInfo) -> Runtime {
        Runtime { ctx: GpuContext::from_device(device, queue, adapter_info) }
    }

    /// The adapter's name, e.g. "llvmpipe (LLVM 15.0.6, 256 bits)".
    pub fn adapter_name(&self) -> &str {
        &self.ctx.adapter_info.name
    }

    pub fn context(&self) -> &GpuContext {
        &self.ctx
    }

    /// Plans `model` for `batch` images and uploads it.
    pub fn session(&self, model: &Model, batch: usize) -> Result<Session> {
        let plan = Plan::build(&model.graph, batch)?;
        let executor = Executor::new(&self.ctx, &plan)?;
        Ok(Session { model: model.clone(), executor })
    }
}

/// One model's output for a batch.
#[derive(Clone, Debug)]
pub struct Output {
    /// NHWC values, `batch * shape.len()` of them.
    pub data: Vec<f32>,
    pub batch: usize,
    pub shape: Shape,
}

impl Output {
    /// The output of image `index` of the batch.
    pub fn image(&self, index: usize) -> Option<&[f32]> {
        self.data.chunks(self.shape.len()).nth(index)
    }
}

/// A model ready to run on a device at a fixed batch size. `Send + Sync`: inferences
/// from several threads are serialised on the session's buffers.
#[derive(Debug)]
pub struct Session {
    model: Model,
    executor: Executor,
}

impl Session {
    pub fn model(&self) -> &Model {
        &self.model
    }

    pub fn batch(&self) -> usize {
        self.executor.batch()
    }

    /// Runs a full batch of NHWC input in the model's real-valued domain.
    pub fn run(&self, input: &[f32]) -> Result<Output> {
        let data = self.executor.run(input)?;
        Ok(Output { data, batch: self.batch(), shape: self.model.graph.output_shape() })
    }

    /// Classifies up to `batch` images (CPU preprocessing); the top `k` classes of each.
    pub fn classify(&self, images: &[image::DynamicImage], k: usize) -> Result<Vec<Vec<Class>>> {
        if images.is_empty() || images.len() > self.batch() {
            return Err(Error::InvalidArgument(format!(
                "classify takes 1 to {} images for this session, got {}",
                self.batch(),
                images.len()
            )));
        }
        let shape = self.model.graph.input_shape();
        let mut input = Vec::with_capacity(self.batch() * shape.len());
        for image in images {
            let rgb = image.to_rgb8();
            input.extend(preprocess::preprocess(&rgb, shape.w, shape.h, &self.model.normalization));
        }
        input.resize(self.batch() * shape.len(), 0.0);
        let output = self.run(&input)?;
        Ok((0..images.len())
            .filter_map(|i| output.image(i))
            .map(|probabilities| top_k(probabilities, k, self.model.background_class))
            .collect())
    }
}
