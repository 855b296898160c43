//! The last timed run as Chrome trace-event JSON, which Perfetto (ui.perfetto.dev) and
//! chrome://tracing open: a host track and a GPU track with one event per dispatch.

use serde_json::{json, Value};

use super::{Profile, Span};

/// Trace process ids of the two tracks.
const CPU_PID: u32 = 1;
const GPU_PID: u32 = 2;
/// Each process has one thread.
const TID: u32 = 1;

impl Profile {
    /// The trace of the last timed run: complete (`"X"`) events, timestamps in
    /// microseconds, tracks named with metadata (`"M"`) events.
    pub fn chrome_trace(&self) -> Value {
        let mut events = vec![
            name_event("process_name", CPU_PID, "CPU (host)"),
            name_event("thread_name", CPU_PID, "mobilenet-wgpu"),
            name_event("process_name", GPU_PID, &format!("GPU: {}", self.adapter)),
            name_event("thread_name", GPU_PID, self.timestamp_source.as_str()),
        ];
        events.extend(
            self.timeline
                .cpu
                .iter()
                .map(|span| complete_event(span, "cpu", CPU_PID, json!({}))),
        );
        events.extend(
            self.timeline
                .gpu
                .iter()
                .zip(&self.steps)
                .map(|(span, step)| {
                    let figures = &step.figures;
                    let args = json!({
                        "kernel": figures.kernel,
                        "shader": format!("{}:{}", figures.shader, figures.entry),
                        "workgroup_size": figures.workgroup_size,
                        "workgroups": figures.workgroups,
                        "output_shape": figures.output_shape,
                        "macs": figures.macs,
                        "mean_gpu_us": step.gpu_us,
                    });
                    complete_event(span, figures.kernel, GPU_PID, args)
                }),
        );
        json!({
            "traceEvents": events,
            "displayTimeUnit": "ms",
            "otherData": {
                "adapter": self.adapter,
                "backend": self.backend,
                "batch": self.batch,
                "timestamp_source": self.timestamp_source,
            },
        })
    }
}

fn name_event(kind: &str, pid: u32, name: &str) -> Value {
    json!({ "name": kind, "ph": "M", "pid": pid, "tid": TID, "args": { "name": name } })
}

fn complete_event(span: &Span, category: &str, pid: u32, args: Value) -> Value {
    json!({
        "name": span.name,
        "cat": category,
        "ph": "X",
        "ts": span.start_us,
        "dur": span.duration_us,
        "pid": pid,
        "tid": TID,
        "args": args,
    })
}

#[cfg(test)]
mod tests {
    use super::super::{StepFigures, StepProfile, Timeline, TimestampSource};
    use super::*;

    fn span(name: &str, start_us: f64, duration_us: f64) -> Span {
        Span {
            name: name.into(),
            start_us,
            duration_us,
        }
    }

    fn step(name: &str, gpu_us: f64) -> StepProfile {
        let figures = StepFigures {
            name: name.into(),
            kernel: "pointwise",
            shader: "pointwise.wgsl".into(),
            entry: "pointwise",
            workgroup_size: [64, 1, 1],
            workgroups: [2, 1],
            output_shape: "1x1x8".into(),
            macs: 64,
            bytes_read: 32,
            bytes_written: 32,
        };
        StepProfile { figures, gpu_us }
    }

    fn profile() -> Profile {
        Profile {
            adapter: "test adapter".into(),
            backend: "vulkan".into(),
            device_features: String::new(),
            batch: 1,
            runs: 1,
            timestamp_source: TimestampSource::GpuTimestamps,
            timestamp_period_ns: 1.0,
            steps: vec![step("a", 3.0), step("b", 5.0)],
            run_wall_us: 20.0,
            timeline: Timeline {
                cpu: vec![span("upload input", 0.0, 1.0), span("submit", 2.0, 1.0)],
                gpu: vec![span("a", 3.0, 3.0), span("b", 6.0, 5.0)],
            },
        }
    }

    #[test]
    fn one_gpu_event_per_step_with_its_kernel_and_the_tracks_named() {
        let trace = profile().chrome_trace();
        let events = trace["traceEvents"].as_array().unwrap();
        let gpu: Vec<&Value> = events
            .iter()
            .filter(|e| e["ph"] == "X" && e["pid"] == GPU_PID)
            .collect();
        assert_eq!(gpu.len(), 2);
        assert_eq!(gpu[1]["name"], "b");
        assert_eq!(gpu[1]["ts"], 6.0);
        assert_eq!(gpu[1]["dur"], 5.0);
        assert_eq!(gpu[1]["args"]["shader"], "pointwise.wgsl:pointwise");
        let names: Vec<&Value> = events.iter().filter(|e| e["ph"] == "M").collect();
        assert_eq!(names.len(), 4);
        assert_eq!(names[2]["args"]["name"], "GPU: test adapter");
        assert_eq!(names[3]["args"]["name"], "gpu-timestamps");
    }

    #[test]
    fn host_spans_go_on_the_cpu_track() {
        let trace = profile().chrome_trace();
        let cpu: Vec<&str> = trace["traceEvents"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["ph"] == "X" && e["pid"] == CPU_PID)
            .filter_map(|e| e["name"].as_str())
            .collect();
        assert_eq!(cpu, ["upload input", "submit"]);
    }
}
