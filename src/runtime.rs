//! The embedding API: a [`Runtime`] owns (or shares) a wgpu device, a [`Model`] is a
//! network with its input normalisation, and a [`Session`] is a model planned and
//! uploaded on the device, ready to run batches of images.
//!
//! ```
//! use mobilenet_wgpu::model::Model;
//! use mobilenet_wgpu::models::{Arch, ArchConfig};
//! use mobilenet_wgpu::runtime::Runtime;
//!
//! let runtime = Runtime::new()?;
//! // A built-in architecture with random weights; `Model::load("mobilenet_v2_1.0_224_quant")`
//! // loads the real default model (downloading and verifying it if needed).
//! let config = ArchConfig { resolution: Some(96), ..ArchConfig::new(Arch::V2) };
//! let model = Model::from_arch(&config, 0)?;
//! let session = runtime.session(&model, 1)?;
//! let photo = image::DynamicImage::new_rgb8(320, 240);
//! let top5 = session.classify(&[photo], 5)?;
//! assert_eq!(top5[0].len(), 5);
//! println!("{}: {:.1}%", top5[0][0].label, top5[0][0].probability * 100.0);
//! # Ok::<(), mobilenet_wgpu::Error>(())
//! ```
//!
//! A [`Model`] comes from a TFLite or ONNX file or a manifest name ([`Model::load`]), from
//! bytes in memory ([`Model::from_bytes`]), from two files whose first feeds the second
//! ([`Model::chain`]) or from a built-in architecture ([`Model::from_arch`]):
//!
//! ```no_run
//! # use mobilenet_wgpu::model::Model;
//! let default = Model::load("mobilenet_v2_1.0_224_quant")?;
//! let bytes = std::fs::read("mobilenet_v1_0.25_128_quant.tflite").unwrap();
//! let in_memory = Model::from_bytes(&bytes, "v1 0.25")?;
//! let chained = Model::chain(&[
//!     "mobilenet_v1_1.0_224_quant_embedding_extractor.tflite",
//!     "mobilenet_v1_1.0_224_quant_head_layers.tflite",
//! ])?;
//! # Ok::<(), mobilenet_wgpu::Error>(())
//! ```
//!
//! # Threads
//!
//! [`Runtime`], [`Model`] and [`Session`] are `Send + Sync`. A session can be shared
//! (e.g. in an `Arc`) by several threads: each inference's commands are queued under a
//! short lock, its output comes back in a buffer of its own, so the GPU work of one
//! thread overlaps with another's readback. Several sessions on one device run
//! independently. One thread can keep several inferences in flight too, with
//! [`Session::queue`].

mod budget;
mod queued;
mod session;

use crate::gpu::{max_storage_binding, Executor, GpuContext, TexturePreprocessor};
use crate::model::Model;
use crate::plan::{KernelChoice, KernelFamily, Plan};
use crate::{Error, Precision, Result};
pub use budget::DEFAULT_MEMORY_BUDGET;
pub use queued::{Output, Queued};
pub use session::Session;

/// A GPU device to run models on. Cheap to clone; `Send + Sync`.
#[derive(Clone, Debug)]
pub struct Runtime {
    ctx: GpuContext,
    /// A cap on storage-buffer bindings below the device's own, if set.
    max_binding_bytes: Option<u64>,
    /// The kernel family sessions run (chosen per adapter by default).
    kernels: KernelChoice,
    /// Device bytes a session's activations and weights may take.
    memory_budget: u64,
}

impl Runtime {
    /// Opens the preferred adapter. `WGPU_BACKEND` (e.g. `vulkan`, `gl`) and
    /// `WGPU_POWER_PREF` (`low`, `high`) are honoured; without an adapter the error says
    /// how to install one.
    ///
    /// ```
    /// let runtime = mobilenet_wgpu::runtime::Runtime::new()?;
    /// assert!(!runtime.adapter_name().is_empty());
    /// # Ok::<(), mobilenet_wgpu::Error>(())
    /// ```
    pub fn new() -> Result<Runtime> {
        Self::with_backends(None)
    }

    /// Opens the preferred adapter among `backends` (all when `None`).
    pub fn with_backends(backends: Option<wgpu::Backends>) -> Result<Runtime> {
        Ok(Self::from_context(GpuContext::new(backends)?))
    }

    /// Shares an application's device and queue: models run on the same device as its
    /// rendering, so its textures can be classified with [`Session::classify_texture`].
    /// The device should have been created with the adapter's limits
    /// (`required_limits: adapter.limits()`): the WebGPU defaults bind at most 128 MiB
    /// per buffer, which caps the batch size of each submission.
    ///
    /// ```
    /// # use mobilenet_wgpu::runtime::Runtime;
    /// # pollster::block_on(async {
    /// let instance = wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle());
    /// let adapter = instance.request_adapter(&Default::default()).await.unwrap();
    /// let descriptor = wgpu::DeviceDescriptor {
    ///     required_limits: adapter.limits(),
    ///     ..Default::default()
    /// };
    /// let (device, queue) = adapter.request_device(&descriptor).await.unwrap();
    /// // The application keeps using `device` and `queue` (they are cheap handles).
    /// let runtime = Runtime::from_device(device.clone(), queue.clone(), adapter.get_info());
    /// assert_eq!(runtime.adapter_name(), adapter.get_info().name);
    /// # });
    /// ```
    pub fn from_device(
        device: wgpu::Device,
        queue: wgpu::Queue,
        adapter_info: wgpu::AdapterInfo,
    ) -> Runtime {
        Self::from_context(GpuContext::from_device(device, queue, adapter_info))
    }

    fn from_context(ctx: GpuContext) -> Runtime {
        Runtime {
            ctx,
            max_binding_bytes: None,
            kernels: KernelChoice::Auto,
            memory_budget: DEFAULT_MEMORY_BUDGET,
        }
    }

    /// Caps the bytes one storage buffer may bind below the device's limit. Sessions
    /// whose batch needs larger activation buffers split it into several submissions
    /// (useful to leave memory to the application, and to test the splitting).
    pub fn with_max_binding_bytes(mut self, bytes: u64) -> Runtime {
        self.max_binding_bytes = Some(bytes);
        self
    }

    /// Caps the device memory one session's activations and weights may take (default
    /// [`DEFAULT_MEMORY_BUDGET`]): a session that needs more fails before allocating.
    pub fn with_memory_budget(mut self, bytes: u64) -> Runtime {
        self.memory_budget = bytes;
        self
    }

    /// Runs sessions with the kernels of `choice` instead of the adapter's own family.
    pub fn with_kernels(mut self, choice: KernelChoice) -> Runtime {
        self.kernels = choice;
        self
    }

    /// The kernel family sessions run: [`KernelChoice::resolve`] for this adapter.
    pub fn kernel_family(&self) -> KernelFamily {
        self.kernels.resolve(self.ctx.adapter_info.device_type)
    }

    /// The most bytes one activation buffer may hold on this runtime.
    pub fn max_binding_bytes(&self) -> u64 {
        let device = max_storage_binding(&self.ctx.device.limits());
        self.max_binding_bytes.map_or(device, |cap| cap.min(device))
    }

    /// The adapter's name, e.g. "llvmpipe (LLVM 15.0.6, 256 bits)".
    pub fn adapter_name(&self) -> &str {
        &self.ctx.adapter_info.name
    }

    /// The device, queue and adapter information this runtime runs on.
    pub fn context(&self) -> &GpuContext {
        &self.ctx
    }

    /// Plans `model` for batches of `batch` images and uploads it. When `batch` images'
    /// activations exceed one buffer binding, each submission takes fewer images (see
    /// [`Session::images_per_submission`]); results are the same.
    pub fn session(&self, model: &Model, batch: usize) -> Result<Session> {
        self.session_with_precision(model, batch, Precision::F32)
    }

    /// [`session`](Self::session) storing activations and weights at `precision`
    /// (f16 needs an adapter with `SHADER_F16`; the GPU family's GEMM then also multiplies
    /// in f16, every other kernel computes in f32).
    pub fn session_with_precision(
        &self,
        model: &Model,
        batch: usize,
        precision: Precision,
    ) -> Result<Session> {
        let plan = self.plan(model, batch, precision)?;
        budget::check(model, &plan, self.memory_budget)?;
        let executor = Executor::new(&self.ctx, &plan)?;
        let input = model.graph.input_shape();
        let (width, height) = (input.w, input.h);
        let normalization = model.normalization;
        Ok(Session {
            model: model.clone(),
            batch,
            texture: TexturePreprocessor::new(&self.ctx, width, height, normalization, precision),
            executor,
        })
    }

    /// The plan a session of `batch` images runs: `batch` itself when every slot fits one
    /// storage binding of this device, else the batch of the fewest equal submissions that
    /// fit (a session runs the images as several submissions of it).
    pub fn plan(&self, model: &Model, batch: usize, precision: Precision) -> Result<Plan> {
        let plan = |batch| Plan::build_for(&model.graph, batch, precision, self.kernel_family());
        if batch <= 1 {
            return plan(batch);
        }
        let single = plan(1)?;
        let per_image = single
            .slots
            .iter()
            .map(|s| s.bytes as u64)
            .max()
            .unwrap_or(1);
        let limit = self.max_binding_bytes();
        if per_image > limit {
            return Err(Error::DeviceLimit(format!(
                "one image of `{}` needs a {per_image}-byte activation buffer, more than the \
                 {limit} bytes a storage buffer may bind here",
                model.name
            )));
        }
        let fitting = usize::try_from(limit / per_image.max(1)).unwrap_or(usize::MAX);
        // Equal submissions: 32 images that fit 26 at a time run as 2 × 16, not 26 + 26
        // of which 20 are padding.
        let submissions = batch.div_ceil(fitting.clamp(1, batch));
        plan(batch.div_ceil(submissions))
    }
}
