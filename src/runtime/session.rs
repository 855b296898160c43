//! A [`Session`]: a model planned and uploaded for one batch size, run on host arrays,
//! decoded images or GPU textures.

use std::time::Duration;

use super::queued::{Output, Queued};
use crate::gpu::{Executor, TexturePreprocessor};
use crate::labels::{top_k, Class};
use crate::model::{Model, Resize};
use crate::{preprocess, Error, Precision, Result};

/// A model ready to run on a device; `Send + Sync` (see the [module docs](super)).
#[derive(Debug)]
pub struct Session {
    pub(super) model: Model,
    pub(super) batch: usize,
    pub(super) executor: Executor,
    pub(super) texture: TexturePreprocessor,
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
            .map(|image| preprocess::preprocess_for(&self.model, &image.to_rgb8()))
            .collect::<Result<Vec<_>>>()?
            .concat();
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
    /// must belong to this session's device (see
    /// [`Runtime::from_device`](crate::runtime::Runtime::from_device)), be `Rgba8Unorm`,
    /// `Bgra8Unorm` or an sRGB variant of them, and have `TEXTURE_BINDING` (or `COPY_SRC`)
    /// usage. The output holds one image. Not for int8 sessions.
    pub fn run_texture(&self, texture: &wgpu::Texture) -> Result<Output> {
        if self.executor.precision() == Precision::Int8 {
            return Err(Error::InvalidArgument(
                "the GPU texture path writes float inputs; an int8 session takes decoded images or arrays".into(),
            ));
        }
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
