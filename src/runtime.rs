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
//! A [`Model`] comes from a TFLite file or a manifest name ([`Model::load`]), from
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

use std::time::Duration;

use crate::gpu::{Executor, GpuContext, TexturePreprocessor};
use crate::labels::{top_k, Class};
use crate::model::{Model, Resize};
use crate::plan::{KernelChoice, KernelFamily, Plan};
use crate::{preprocess, Error, Precision, Result};
pub use budget::DEFAULT_MEMORY_BUDGET;
pub use queued::{Output, Queued};

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
        let limits = self.ctx.device.limits();
        let device = limits
            .max_storage_buffer_binding_size
            .min(limits.max_buffer_size);
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
    /// (f16 needs an adapter with `SHADER_F16`; arithmetic stays f32).
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

/// A model ready to run on a device; `Send + Sync` (see the [module docs](self)).
#[derive(Debug)]
pub struct Session {
    model: Model,
    batch: usize,
    executor: Executor,
    texture: TexturePreprocessor,
}

impl Session {
    /// The model this session runs.
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// The batch size the session was created for.
    pub fn batch(&self) -> usize {
        self.batch
    }

    /// Images per GPU submission: the batch size, or less where the device's binding
    /// limit requires splitting a batch.
    pub fn images_per_submission(&self) -> usize {
        self.executor.batch()
    }

    /// Runs the model on NHWC `input` holding any whole number of images, in the model's
    /// real-valued input domain (see [`preprocess::preprocess`]), and waits for the output.
    /// Images beyond [`images_per_submission`](Self::images_per_submission) go in
    /// further submissions.
    ///
    /// ```
    /// # use mobilenet_wgpu::{model::Model, models::{Arch, ArchConfig}, runtime::Runtime};
    /// # let config = ArchConfig { resolution: Some(96), ..ArchConfig::new(Arch::V2) };
    /// # let model = Model::from_arch(&config, 0)?;
    /// let session = Runtime::new()?.session(&model, 2)?;
    /// let input = vec![0.5; 2 * model.graph.input_shape().len()];
    /// let output = session.run(&input)?;
    /// assert_eq!(output.image(0), output.image(1));
    /// # Ok::<(), mobilenet_wgpu::Error>(())
    /// ```
    pub fn run(&self, input: &[f32]) -> Result<Output> {
        self.queue(input)?.wait()
    }

    /// Like [`run`](Self::run), but returns as soon as the work is queued; the future
    /// resolves when the output is back. No busy-waiting: a helper thread blocks in
    /// wgpu's device poll and the buffer-mapping callback wakes the task. Works with any
    /// executor (e.g. `pollster::block_on`).
    ///
    /// ```
    /// # use mobilenet_wgpu::{model::Model, models::{Arch, ArchConfig}, runtime::Runtime};
    /// # let config = ArchConfig { resolution: Some(96), ..ArchConfig::new(Arch::V2) };
    /// # let model = Model::from_arch(&config, 0)?;
    /// let session = Runtime::new()?.session(&model, 1)?;
    /// let input = vec![0.0; model.graph.input_shape().len()];
    /// let output = pollster::block_on(session.run_async(&input))?;
    /// assert_eq!(output, session.run(&input)?);
    /// # Ok::<(), mobilenet_wgpu::Error>(())
    /// ```
    pub async fn run_async(&self, input: &[f32]) -> Result<Output> {
        self.queue(input)?.await
    }

    /// Queues an inference on `input` (as for [`run`](Self::run)) and returns at once, so
    /// that the next one can be prepared and queued while the GPU runs this one: keep two
    /// or more queued to overlap the upload, the GPU's work and the readback of
    /// consecutive batches. Inputs take turns with two staging buffers (a third queued input
    /// waits for the oldest copy); outputs come from a pool of readback buffers.
    ///
    /// ```
    /// # use mobilenet_wgpu::{model::Model, models::{Arch, ArchConfig}, runtime::Runtime};
    /// # let config = ArchConfig { resolution: Some(96), ..ArchConfig::new(Arch::V2) };
    /// # let model = Model::from_arch(&config, 0)?;
    /// let session = Runtime::new()?.session(&model, 1)?;
    /// let (a, b) = (vec![0.1; model.graph.input_shape().len()], vec![0.9; model.graph.input_shape().len()]);
    /// let first = session.queue(&a)?;
    /// let second = session.queue(&b)?; // queued while the first still runs
    /// assert_eq!(first.wait()?, session.run(&a)?);
    /// assert_eq!(second.wait()?, session.run(&b)?);
    /// # Ok::<(), mobilenet_wgpu::Error>(())
    /// ```
    pub fn queue(&self, input: &[f32]) -> Result<Queued> {
        let image_len = self.model.graph.input_shape().len();
        if input.is_empty() || !input.len().is_multiple_of(image_len) {
            return Err(Error::InvalidArgument(format!(
                "input has {} values, expected a positive multiple of {image_len} (images of {})",
                input.len(),
                self.model.graph.input_shape()
            )));
        }
        let chunk_len = image_len * self.images_per_submission();
        let parts = input
            .chunks(chunk_len)
            .map(|chunk| {
                if chunk.len() == chunk_len {
                    self.executor.queue(chunk)
                } else {
                    let mut padded = chunk.to_vec();
                    padded.resize(chunk_len, 0.0);
                    self.executor.queue(&padded)
                }
            })
            .collect::<Result<Vec<_>>>()?;
        let batch = input.len() / image_len;
        Ok(Queued::new(parts, batch, self.model.graph.output_shape()))
    }

    /// Classifies `images` (any number; CPU preprocessing exactly like PIL's); the top
    /// `k` classes of each, most probable first.
    pub fn classify(&self, images: &[image::DynamicImage], k: usize) -> Result<Vec<Vec<Class>>> {
        if images.is_empty() {
            return Err(Error::InvalidArgument(
                "classify needs at least one image".into(),
            ));
        }
        let input: Vec<f32> = images
            .iter()
            .flat_map(|image| preprocess::preprocess_for(&self.model, &image.to_rgb8()))
            .collect();
        let output = self.run(&input)?;
        Ok((0..images.len())
            .filter_map(|i| output.image(i))
            .map(|probabilities| self.top_k(probabilities, k))
            .collect())
    }

    /// Classifies a texture on the GPU (see [`run_texture`](Self::run_texture)); the top
    /// `k` classes, most probable first.
    pub fn classify_texture(&self, texture: &wgpu::Texture, k: usize) -> Result<Vec<Class>> {
        let output = self.run_texture(texture)?;
        Ok(self.top_k(&output.data, k))
    }

    /// Runs the model on a texture: crop, resize and normalisation run in a compute shader
    /// that writes the model's input directly (no pixels through host memory), giving the
    /// same input values as [`classify`](Self::classify)'s CPU preprocessing. The texture
    /// must belong to this session's device (see [`Runtime::from_device`]), be
    /// `Rgba8Unorm`, `Bgra8Unorm` or an sRGB variant of them, and have `TEXTURE_BINDING`
    /// (or `COPY_SRC`) usage. The output holds one image.
    pub fn run_texture(&self, texture: &wgpu::Texture) -> Result<Output> {
        if self.model.resize != Resize::CenterSquare {
            return Err(Error::InvalidArgument(format!(
                "{} resizes photos the torchvision way, which the GPU texture path does not implement; classify a decoded image instead",
                self.model.name
            )));
        }
        let prepared = self
            .executor
            .context()
            .while_alive(|| self.texture.prepare(texture))?;
        let mut data = self
            .executor
            .queue_filled(Duration::ZERO, |encoder, input| {
                prepared.record(encoder, texture, input)
            })?
            .wait()?;
        let shape = self.model.graph.output_shape();
        data.truncate(shape.len());
        Ok(Output {
            data,
            batch: 1,
            shape,
        })
    }

    fn top_k(&self, probabilities: &[f32], k: usize) -> Vec<Class> {
        top_k(probabilities, k, self.model.background_class)
    }
}
