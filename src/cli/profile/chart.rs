//! `profile --svg`: a horizontal bar per layer (first layer on top), coloured by kernel
//! type, so where the time goes is visible at a glance.

use std::path::Path;

use mobilenet_wgpu::gpu::{Profile, StepProfile};
use mobilenet_wgpu::{Error, Result};
use plotters::prelude::*;

use super::shorten;

/// Chart width and the height of one bar row, in pixels.
const WIDTH: u32 = 1100;
const ROW_HEIGHT: u32 = 16;
/// Room for the title, the x axis and margins.
const FRAME_HEIGHT: u32 = 130;
/// Space for layer names left of the bars, and the longest name printed.
const LABEL_AREA: u32 = 290;
const LABEL_CHARS: usize = 44;
/// The x axis reaches this multiple of the longest bar, leaving the right edge free for
/// the legend (about a sixth of the plot's width).
const HEADROOM: f64 = 1.25;

/// A fixed colour per kernel type, so charts of different models compare.
const KERNEL_COLOURS: [(&str, RGBColor); 12] = [
    ("conv", RGBColor(214, 39, 40)),
    ("depthwise", RGBColor(31, 119, 180)),
    ("pointwise", RGBColor(44, 160, 44)),
    ("separable", RGBColor(0, 110, 110)),
    ("squeeze_excite", RGBColor(255, 187, 120)),
    ("dense", RGBColor(148, 103, 189)),
    ("global_avg_pool", RGBColor(255, 127, 14)),
    ("avg_pool", RGBColor(188, 189, 34)),
    ("softmax", RGBColor(140, 86, 75)),
    ("elementwise", RGBColor(127, 127, 127)),
    ("mul_channel", RGBColor(227, 119, 194)),
    ("concat", RGBColor(23, 190, 207)),
];
/// Kernel types added later than this table.
const OTHER_COLOUR: RGBColor = RGBColor(60, 60, 60);

/// Writes the chart of `profile` (of model `model`) to `path`.
pub fn write_svg(profile: &Profile, model: &str, path: &Path) -> Result<()> {
    let failed = |e: &dyn std::fmt::Display| Error::io(path, std::io::Error::other(e.to_string()));
    let rows = profile.steps.len();
    let height = FRAME_HEIGHT + ROW_HEIGHT * rows as u32;
    let root = SVGBackend::new(path, (WIDTH, height)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| failed(&e))?;
    draw(&root, profile, model).map_err(|e| failed(&e))?;
    root.present().map_err(|e| failed(&e))
}

type Area<'a> = DrawingArea<SVGBackend<'a>, plotters::coord::Shift>;
type DrawResult = std::result::Result<(), DrawingAreaErrorKind<std::io::Error>>;

fn draw(root: &Area, profile: &Profile, model: &str) -> DrawResult {
    let steps = &profile.steps;
    let rows = steps.len();
    let longest = steps.iter().map(|s| s.gpu_us).fold(0.0, f64::max);
    let title = format!(
        "{model}: GPU time per layer on {} ({}, batch {}, {}, mean of runs: {})",
        profile.adapter,
        profile.backend,
        profile.batch,
        profile.timestamp_source.as_str(),
        profile.runs
    );
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 16))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(LABEL_AREA)
        .build_cartesian_2d(
            0.0..(longest * HEADROOM).max(1e-3),
            (0..rows).into_segmented(),
        )?;
    // Row `rows - 1 - i` is step `i`, so the first layer is drawn at the top.
    let label = |value: &SegmentValue<usize>| match value {
        SegmentValue::CenterOf(row) if *row < rows => {
            shorten(&steps[rows - 1 - row].figures.name, LABEL_CHARS)
        }
        _ => String::new(),
    };
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(rows)
        .y_label_formatter(&label)
        .y_label_style(("sans-serif", 11))
        .x_label_formatter(&|us| format!("{us:.0}"))
        .x_desc(format!(
            "GPU µs per dispatch (total {:.1} µs)",
            profile.total_gpu_us()
        ))
        .draw()?;
    for kernel in kernel_types(steps) {
        let colour = colour_of(kernel);
        let bars = steps
            .iter()
            .enumerate()
            .filter(|(_, step)| step.figures.kernel == kernel)
            .map(|(i, step)| (rows - 1 - i, step.gpu_us));
        chart
            .draw_series(
                Histogram::horizontal(&chart)
                    .style(colour.filled())
                    .margin(2)
                    .data(bars),
            )?
            .label(kernel)
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], colour.filled()));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .draw()
}

/// Kernel types present, in order of first appearance.
fn kernel_types(steps: &[StepProfile]) -> Vec<&'static str> {
    let mut kinds: Vec<&'static str> = Vec::new();
    for step in steps {
        if !kinds.contains(&step.figures.kernel) {
            kinds.push(step.figures.kernel);
        }
    }
    kinds
}

fn colour_of(kernel: &str) -> RGBColor {
    KERNEL_COLOURS
        .iter()
        .find(|(name, _)| *name == kernel)
        .map_or(OTHER_COLOUR, |(_, colour)| *colour)
}
