//! Recording a prepared texture preprocessing into a command encoder.

use super::Prepared;

impl Prepared {
    /// Records the preprocessing of `texture` (the one this was prepared for) into
    /// `encoder`, writing image 0 of `input` (NHWC f32).
    pub fn record(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        texture: &wgpu::Texture,
        input: &wgpu::Buffer,
    ) {
        let device = &self.device;
        let view;
        let (pipeline, slot, source) = match &self.copy {
            Some((copy, pitch)) => {
                self.record_copy(encoder, texture, copy, *pitch);
                (&self.pipelines.from_buffer, 3, copy.as_entire_binding())
            }
            None => {
                view = texture.create_view(&wgpu::TextureViewDescriptor::default());
                let view = wgpu::BindingResource::TextureView(&view);
                (&self.pipelines.from_texture, 2, view)
            }
        };
        let rows = self.rows.as_entire_binding();
        let horizontal = self.bind(device, pipeline, [(slot, source), (4, rows)]);
        let rows = self.rows.as_entire_binding();
        let output = input.as_entire_binding();
        let vertical = self.bind(device, &self.pipelines.vertical, [(4, rows), (5, output)]);
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some("preprocess texture"),
            timestamp_writes: None,
        });
        for (pipeline, group, groups) in [
            (pipeline, &horizontal, self.horizontal_groups),
            (&self.pipelines.vertical, &vertical, self.vertical_groups),
        ] {
            pass.set_pipeline(pipeline);
            pass.set_bind_group(0, group, &[]);
            pass.dispatch_workgroups(groups.0, groups.1, 1);
        }
    }

    fn record_copy(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        texture: &wgpu::Texture,
        copy: &wgpu::Buffer,
        pitch: u32,
    ) {
        encoder.copy_texture_to_buffer(
            wgpu::TexelCopyTextureInfo {
                texture,
                mip_level: 0,
                origin: self.crop,
                aspect: wgpu::TextureAspect::All,
            },
            wgpu::TexelCopyBufferInfo {
                buffer: copy,
                layout: wgpu::TexelCopyBufferLayout {
                    offset: 0,
                    bytes_per_row: Some(pitch),
                    rows_per_image: Some(self.side),
                },
            },
            wgpu::Extent3d {
                width: self.side,
                height: self.side,
                depth_or_array_layers: 1,
            },
        );
    }

    /// A bind group of `pipeline`: params and taps at 0 and 1, then `rest`.
    fn bind(
        &self,
        device: &wgpu::Device,
        pipeline: &wgpu::ComputePipeline,
        rest: [(u32, wgpu::BindingResource<'_>); 2],
    ) -> wgpu::BindGroup {
        let shared = [
            (0, self.params.as_entire_binding()),
            (1, self.taps.as_entire_binding()),
        ];
        let entries: Vec<wgpu::BindGroupEntry> = shared
            .into_iter()
            .chain(rest)
            .map(|(binding, resource)| wgpu::BindGroupEntry { binding, resource })
            .collect();
        device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("preprocess"),
            layout: &pipeline.get_bind_group_layout(0),
            entries: &entries,
        })
    }
}
