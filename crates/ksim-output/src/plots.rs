//! Plots as PNG and SVG, drawn by plotters with an embedded font so that no
//! system font library is needed and the bytes are the same everywhere.

use std::collections::BTreeMap;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ksim_core::histogram::LatencyHistogram;
use ksim_core::metrics::{
    ControlPlaneTimeline, RunOutput, SeriesName, TimelineSample, WorkloadSample,
};
use ksim_core::time::{SimDuration, SimTime, NANOS_PER_MICRO, NANOS_PER_MILLI};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::register_font;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::atomic;
use crate::fixed::Fixed;
use crate::OutputError;

const SIZE: (u32, u32) = (1000, 600);
/// Registered under the generic name so SVG viewers fall back sensibly.
pub(crate) const FONT: &str = "sans-serif";
/// DejaVu Sans 2.37; licence in `assets/DejaVuSans-LICENSE.txt`.
const FONT_BYTES: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");
const TITLE_PX: u32 = 24;
const LABEL_PX: u32 = 16;
/// The side legend of the utilization plot holds many long labels.
const SIDE_LEGEND_PX: u32 = 13;
const SIDE_LEGEND_ROW_PX: i32 = 18;
const SWATCH_PX: i32 = 24;

type Drawn = Result<(), String>;

/// Turns plotters' backend-specific errors into a message.
trait OrMessage<T> {
    fn or_message(self) -> Result<T, String>;
}

impl<T, E: std::fmt::Display> OrMessage<T> for Result<T, E> {
    fn or_message(self) -> Result<T, String> {
        self.map_err(|e| e.to_string())
    }
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Plot {
    PodsByPhase,
    Allocation,
    SchedulingLatency,
    ControlPlaneStores,
    ControlPlaneUtilization,
    WorkloadReplicas,
    WorkloadQueues,
    NodePools,
}

pub(crate) const PLOTS: [Plot; 8] = [
    Plot::PodsByPhase,
    Plot::Allocation,
    Plot::SchedulingLatency,
    Plot::ControlPlaneStores,
    Plot::ControlPlaneUtilization,
    Plot::WorkloadReplicas,
    Plot::WorkloadQueues,
    Plot::NodePools,
];

impl Plot {
    fn stem(self) -> &'static str {
        match self {
            Plot::PodsByPhase => "pods_by_phase",
            Plot::Allocation => "allocation",
            Plot::SchedulingLatency => "scheduling_latency",
            Plot::ControlPlaneStores => "control_plane_stores",
            Plot::ControlPlaneUtilization => "control_plane_utilization",
            Plot::WorkloadReplicas => "workload_replicas",
            Plot::WorkloadQueues => "workload_queues",
            Plot::NodePools => "node_pools",
        }
    }

    /// Control-plane plots exist only when the scenario models a control plane.
    pub(crate) fn applies_to(self, output: &RunOutput) -> bool {
        match self {
            Plot::PodsByPhase | Plot::Allocation | Plot::SchedulingLatency => true,
            Plot::ControlPlaneStores | Plot::ControlPlaneUtilization => {
                output.control_plane.is_some()
            }
            Plot::WorkloadReplicas | Plot::WorkloadQueues => !output.workload_timeline.is_empty(),
            Plot::NodePools => output.summary.node_autoscaler.is_some(),
        }
    }

    pub(crate) fn png_name(self) -> String {
        format!("{}.png", self.stem())
    }

    pub(crate) fn svg_name(self) -> String {
        format!("{}.svg", self.stem())
    }

    fn draw<DB: DrawingBackend>(self, area: &DrawingArea<DB, Shift>, output: &RunOutput) -> Drawn {
        area.fill(&WHITE).or_message()?;
        let scenario = &output.summary.scenario;
        match self {
            Plot::WorkloadReplicas => draw_workload_panels(
                area,
                output,
                [
                    ("load (per s)", |s| s.load_per_s),
                    ("ready replicas", |s| Some(f64::from(s.replicas_ready))),
                ],
            ),
            Plot::WorkloadQueues => draw_workload_panels(
                area,
                output,
                [
                    ("queue length", |s| s.queue_length),
                    ("wait p99 or latency (ms)", |s| {
                        s.wait_p99_ms.or(s.latency_ms)
                    }),
                ],
            ),
            Plot::NodePools => draw_node_pools(area, output),
            Plot::PodsByPhase => draw_pods_by_phase(area, scenario, &output.timeline),
            Plot::Allocation => draw_allocation(area, scenario, &output.timeline),
            Plot::SchedulingLatency => {
                draw_latency(area, scenario, &output.summary.scheduling_latency)
            }
            Plot::ControlPlaneStores | Plot::ControlPlaneUtilization => {
                let what = match self {
                    Plot::ControlPlaneStores => "control-plane stores",
                    _ => "control-plane utilization",
                };
                let title = format!("{scenario}: {what}");
                let Some(control_plane) = &output.control_plane else {
                    return draw_message(area, &title, "no control plane modelled");
                };
                if self == Plot::ControlPlaneStores {
                    draw_stores(area, &title, &control_plane.timeline)
                } else {
                    draw_utilization(area, &title, &control_plane.timeline)
                }
            }
        }
    }
}

pub(crate) fn ensure_font() -> Drawn {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| register_font(FONT, FontStyle::Normal, FONT_BYTES).is_ok());
    ok.then_some(())
        .ok_or_else(|| "the embedded font cannot be loaded".to_string())
}

/// Runs plotters, turning a panic inside it into an error: a renderer bug
/// must not take down the writing of a finished run.
pub(crate) fn guarded<T>(render: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    panic::catch_unwind(AssertUnwindSafe(render))
        .unwrap_or_else(|_| Err("the plotting library panicked".to_string()))
}

/// Writes `plot` as PNG then SVG and returns both paths.
pub(crate) fn write_plot(
    dir: &Path,
    plot: Plot,
    output: &RunOutput,
) -> Result<[PathBuf; 2], OutputError> {
    let plot_error = |target: &Path, message| OutputError::Plot {
        path: target.to_path_buf(),
        message,
    };
    let png = atomic::publish(dir, &plot.png_name(), |partial, target| {
        guarded(|| render_png(plot, output, partial)).map_err(|m| plot_error(target, m))?;
        atomic::sync_file(partial, target)
    })?;
    let svg_text = guarded(|| render_svg(plot, output))
        .map_err(|m| plot_error(&dir.join(plot.svg_name()), m))?;
    let svg = atomic::write_file(dir, &plot.svg_name(), |out, target| {
        std::io::Write::write_all(out, svg_text.as_bytes())
            .map_err(|e| OutputError::io("write", target, e))
    })?;
    Ok([png, svg])
}

fn render_png(plot: Plot, output: &RunOutput, path: &Path) -> Drawn {
    ensure_font()?;
    let area = BitMapBackend::new(path, SIZE).into_drawing_area();
    plot.draw(&area, output)?;
    area.present().or_message()
}

fn render_svg(plot: Plot, output: &RunOutput) -> Result<String, String> {
    ensure_font()?;
    let mut svg = String::new();
    {
        let area = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        plot.draw(&area, output)?;
        area.present().or_message()?;
    }
    Ok(svg)
}

/// A title and a centred message, for data that cannot be plotted.
fn draw_message<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    message: &str,
) -> Drawn {
    let body = area
        .margin(15, 15, 15, 15)
        .titled(title, (FONT, TITLE_PX))
        .or_message()?;
    let (width, height) = body.dim_in_pixel();
    let grey = BLACK.mix(0.6);
    let style = TextStyle::from((FONT, TITLE_PX).into_font())
        .color(&grey)
        .pos(Pos::new(HPos::Center, VPos::Center));
    body.draw(&Text::new(
        message,
        (width as i32 / 2, height as i32 / 2),
        style,
    ))
    .or_message()
}

/// The time axis of the timeline plots, in a unit that suits the span.
struct TimeAxis {
    secs_per_unit: f64,
    unit: &'static str,
    end: f64,
}

impl TimeAxis {
    fn new(times: impl IntoIterator<Item = SimTime>) -> Self {
        let last_s = times
            .into_iter()
            .map(SimTime::as_secs_f64)
            .fold(0.0, f64::max);
        let (secs_per_unit, unit) = match last_s {
            s if s >= 2.0 * 3600.0 => (3600.0, "h"),
            s if s >= 2.0 * 60.0 => (60.0, "min"),
            _ => (1.0, "s"),
        };
        // A zero span still needs a non-empty axis.
        let end = if last_s > 0.0 {
            last_s / secs_per_unit
        } else {
            1.0
        };
        TimeAxis {
            secs_per_unit,
            unit,
            end,
        }
    }

    fn at(&self, time: SimTime) -> f64 {
        time.as_secs_f64() / self.secs_per_unit
    }

    fn desc(&self) -> String {
        format!("simulated time ({})", self.unit)
    }
}

/// Draws `points` as a line broken wherever a point is undefined; isolated
/// points get a marker so a single sample is still visible.
fn draw_line<DB, Y>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<RangedCoordf64, Y>>,
    points: impl IntoIterator<Item = Option<(f64, Y::ValueType)>>,
    label: &str,
    color: RGBColor,
) -> Drawn
where
    DB: DrawingBackend,
    Y: Ranged,
    Y::ValueType: Clone + 'static,
{
    let style = color.filled().stroke_width(2);
    let mut segments: Vec<Vec<(f64, Y::ValueType)>> = vec![Vec::new()];
    for point in points {
        match (point, segments.last_mut()) {
            (Some(p), Some(segment)) => segment.push(p),
            (None, Some(segment)) if !segment.is_empty() => segments.push(Vec::new()),
            _ => {}
        }
    }
    let mut labelled = false;
    for segment in segments.into_iter().filter(|s| !s.is_empty()) {
        let marker = if segment.len() == 1 { 4 } else { 0 };
        let anno = chart
            .draw_series(LineSeries::new(segment, style).point_size(marker))
            .or_message()?;
        if !labelled {
            anno.label(label.to_string())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
            labelled = true;
        }
    }
    Ok(())
}

fn draw_legend<'a, DB: DrawingBackend + 'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
) -> Drawn {
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font((FONT, LABEL_PX))
        .draw()
        .or_message()
}

type Series = (&'static str, RGBColor, fn(&TimelineSample) -> u64);

const PHASE_SERIES: [Series; 5] = [
    ("pending", RGBColor(230, 140, 0), |s| s.pods_pending),
    ("running", RGBColor(31, 119, 180), |s| s.pods_running),
    ("succeeded", RGBColor(44, 160, 44), |s| s.pods_succeeded),
    ("failed", RGBColor(214, 39, 40), |s| s.pods_failed),
    ("unschedulable", RGBColor(148, 103, 189), |s| {
        s.pods_unschedulable
    }),
];

fn draw_pods_by_phase<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    scenario: &str,
    timeline: &[TimelineSample],
) -> Drawn {
    let title = format!("{scenario}: pods by phase");
    if timeline.is_empty() {
        return draw_message(area, &title, "no timeline samples");
    }
    let axis = TimeAxis::new(timeline.iter().map(|s| s.time));
    let most = timeline
        .iter()
        .flat_map(|s| PHASE_SERIES.iter().map(move |(_, _, value)| value(s)))
        .max()
        .unwrap_or(0);
    let y_end = with_headroom(most);
    let mut chart = ChartBuilder::on(area)
        .caption(title, (FONT, TITLE_PX))
        .margin(15)
        .x_label_area_size(50)
        .y_label_area_size(80)
        .build_cartesian_2d(0.0..axis.end, 0u64..y_end)
        .or_message()?;
    chart
        .configure_mesh()
        .x_desc(axis.desc())
        .y_desc("pods")
        .y_label_formatter(&|v| format_count(*v))
        .label_style((FONT, LABEL_PX))
        .draw()
        .or_message()?;
    for (label, color, value) in PHASE_SERIES {
        let points = timeline.iter().map(|s| Some((axis.at(s.time), value(s))));
        draw_line(&mut chart, points, label, color)?;
    }
    draw_legend(&mut chart)
}

/// The top of a count axis: room above the highest value, and never an
/// empty range.
fn with_headroom(highest: u64) -> u64 {
    highest.saturating_add((highest / 10).max(1))
}

/// Requested as a percentage of allocatable; undefined without capacity.
fn percent(requested: u64, allocatable: u64) -> Option<f64> {
    (allocatable > 0).then(|| requested as f64 * 100.0 / allocatable as f64)
}

fn draw_allocation<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    scenario: &str,
    timeline: &[TimelineSample],
) -> Drawn {
    let title = format!("{scenario}: requested / allocatable");
    if timeline.is_empty() {
        return draw_message(area, &title, "no timeline samples");
    }
    let axis = TimeAxis::new(timeline.iter().map(|s| s.time));
    let cpu = |s: &TimelineSample| percent(s.cpu_requested_millis, s.cpu_allocatable_millis);
    let memory = |s: &TimelineSample| percent(s.memory_requested_bytes, s.memory_allocatable_bytes);
    let most = timeline
        .iter()
        .flat_map(|s| [cpu(s), memory(s)])
        .flatten()
        .fold(100.0, f64::max);
    let mut chart = ChartBuilder::on(area)
        .caption(title, (FONT, TITLE_PX))
        .margin(15)
        .x_label_area_size(50)
        .y_label_area_size(80)
        .build_cartesian_2d(0.0..axis.end, 0.0..most * 1.1)
        .or_message()?;
    chart
        .configure_mesh()
        .x_desc(axis.desc())
        .y_desc("requested / allocatable (%)")
        .y_label_formatter(&|v| format!("{v:.0}%"))
        .label_style((FONT, LABEL_PX))
        .draw()
        .or_message()?;
    draw_line(
        &mut chart,
        timeline
            .iter()
            .map(|s| cpu(s).map(|p| (axis.at(s.time), p))),
        "CPU",
        RGBColor(31, 119, 180),
    )?;
    draw_line(
        &mut chart,
        timeline
            .iter()
            .map(|s| memory(s).map(|p| (axis.at(s.time), p))),
        "memory",
        RGBColor(230, 140, 0),
    )?;
    draw_legend(&mut chart)
}

/// A value of a workload's timeline row, if its model has it.
type WorkloadValue = fn(&WorkloadSample) -> Option<f64>;

/// The observed workloads drawn: beyond this many a plot is unreadable
/// (`workloads.csv` has them all).
const MAX_WORKLOAD_LINES: usize = PALETTE.len();

/// Two panels, one above the other, each a line per workload.
fn draw_workload_panels<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    output: &RunOutput,
    panels: [(&str, WorkloadValue); 2],
) -> Drawn {
    let halves = area.split_evenly((2, 1));
    for (half, (what, value)) in halves.iter().zip(panels) {
        let title = format!("{}: {what}", output.summary.scenario);
        draw_workload_panel(half, &title, what, output, value)?;
    }
    Ok(())
}

fn draw_workload_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    y_desc: &str,
    output: &RunOutput,
    value: WorkloadValue,
) -> Drawn {
    let mut by_workload: BTreeMap<u32, Vec<&WorkloadSample>> = BTreeMap::new();
    for s in &output.workload_timeline {
        by_workload.entry(s.workload).or_default().push(s);
    }
    let shown: Vec<_> = by_workload.into_iter().take(MAX_WORKLOAD_LINES).collect();
    let most = shown
        .iter()
        .flat_map(|(_, rows)| rows.iter().filter_map(|s| value(s)))
        .fold(0.0, f64::max);
    if most == 0.0
        && shown
            .iter()
            .all(|(_, rows)| rows.iter().all(|s| value(s).is_none()))
    {
        return draw_message(area, title, "no workload has this value");
    }
    let axis = TimeAxis::new(output.workload_timeline.iter().map(|s| s.time));
    let mut chart = panel_chart(area, title, y_desc, &axis, (most * 1.1).max(1.0))?;
    for (i, (workload, rows)) in shown.iter().enumerate() {
        let name = output
            .workload_names
            .get(*workload as usize)
            .map_or("?", String::as_str);
        let points = rows.iter().map(|s| value(s).map(|v| (axis.at(s.time), v)));
        draw_line(&mut chart, points, name, PALETTE[i])?;
    }
    draw_legend(&mut chart)
}

/// Nodes per pool over time (the pools that ever had the most nodes, one
/// line each) above the cost rate: what a node autoscaler did.
fn draw_node_pools<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, output: &RunOutput) -> Drawn {
    let scenario = &output.summary.scenario;
    let halves = area.split_evenly((2, 1));
    let times: Vec<SimTime> = output.timeline.iter().map(|s| s.time).collect();
    if times.is_empty() {
        return draw_message(
            area,
            &format!("{scenario}: nodes by pool"),
            "no timeline samples",
        );
    }
    // pool -> nodes at each sample time (absent rows: no nodes then).
    let mut nodes: BTreeMap<u32, BTreeMap<SimTime, u64>> = BTreeMap::new();
    for s in &output.pool_timeline {
        nodes.entry(s.pool).or_default().insert(s.time, s.nodes);
    }
    let mut pools: Vec<(u32, u64)> = nodes
        .iter()
        .map(|(&p, by_time)| (p, by_time.values().copied().max().unwrap_or(0)))
        .collect();
    pools.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    pools.truncate(MAX_WORKLOAD_LINES);
    let axis = TimeAxis::new(times.iter().copied());
    let most = pools.first().map_or(1, |&(_, peak)| peak.max(1));
    let mut chart = panel_chart(
        &halves[0],
        format!("{scenario}: nodes by pool"),
        "nodes",
        &axis,
        with_headroom(most) as f64,
    )?;
    for (i, &(pool, _)) in pools.iter().enumerate() {
        let by_time = &nodes[&pool];
        let name = output
            .node_pool_names
            .get(pool as usize)
            .map_or("?", String::as_str);
        let points = times.iter().map(|t| {
            let n = by_time.get(t).copied().unwrap_or(0);
            Some((axis.at(*t), n as f64))
        });
        draw_line(&mut chart, points, name, PALETTE[i])?;
    }
    draw_legend(&mut chart)?;
    draw_cost_rate(&halves[1], output, &times, &nodes, &axis)
}

/// The cluster's cost per hour at each sample: each pool's nodes at its
/// price (a pool's cost over its node-hours).
fn draw_cost_rate<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    output: &RunOutput,
    times: &[SimTime],
    nodes: &BTreeMap<u32, BTreeMap<SimTime, u64>>,
    axis: &TimeAxis,
) -> Drawn {
    let price = |pool: u32| {
        output
            .summary
            .node_pools
            .get(pool as usize)
            .filter(|p| p.node_hours > 0.0)
            .map_or(0.0, |p| p.cost / p.node_hours)
    };
    let rate: Vec<f64> = times
        .iter()
        .map(|t| {
            nodes
                .iter()
                .map(|(&p, by_time)| by_time.get(t).copied().unwrap_or(0) as f64 * price(p))
                .sum()
        })
        .collect();
    let most = rate.iter().copied().fold(0.0, f64::max);
    let title = format!("{}: cost per hour", output.summary.scenario);
    let mut chart = panel_chart(area, title, "cost per hour", axis, (most * 1.1).max(1.0))?;
    let points = times
        .iter()
        .zip(&rate)
        .map(|(t, &r)| Some((axis.at(*t), r)));
    draw_line(&mut chart, points, "all pools", PALETTE[0])?;
    draw_legend(&mut chart)
}

/// One panel over simulated time, from 0 to `y_max`, with its axes drawn:
/// the workload and node-pool plots' common frame.
fn panel_chart<'a, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    title: impl AsRef<str>,
    y_desc: &str,
    axis: &TimeAxis,
    y_max: f64,
) -> Result<ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>, String> {
    let mut chart = ChartBuilder::on(area)
        .caption(title.as_ref(), (FONT, LABEL_PX + 4))
        .margin(10)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..axis.end, 0.0..y_max)
        .or_message()?;
    chart
        .configure_mesh()
        .x_desc(axis.desc())
        .y_desc(y_desc)
        .label_style((FONT, LABEL_PX))
        .draw()
        .or_message()?;
    Ok(chart)
}

/// Colours for many lines: the ten tab10 hues, then their light variants.
const PALETTE: [RGBColor; 20] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
    RGBColor(174, 199, 232),
    RGBColor(255, 187, 120),
    RGBColor(152, 223, 138),
    RGBColor(255, 152, 150),
    RGBColor(197, 176, 213),
    RGBColor(196, 156, 148),
    RGBColor(247, 182, 210),
    RGBColor(199, 199, 199),
    RGBColor(219, 219, 141),
    RGBColor(158, 218, 229),
];

/// One control-plane series as drawn.
struct Line {
    label: String,
    /// Position in the timeline's series.
    index: usize,
    color: RGBColor,
}

/// The series `pick` names a label and a colour slot for, in series order.
fn pick_lines(
    timeline: &ControlPlaneTimeline,
    mut pick: impl FnMut(&SeriesName) -> Option<(String, usize)>,
) -> Vec<Line> {
    let mut lines = Vec::new();
    for (index, name) in timeline.series.iter().enumerate() {
        if let Some((label, slot)) = pick(name) {
            let color = PALETTE[slot % PALETTE.len()];
            lines.push(Line {
                label,
                index,
                color,
            });
        }
    }
    lines
}

fn line_points<'a>(
    timeline: &'a ControlPlaneTimeline,
    axis: &'a TimeAxis,
    line: &'a Line,
) -> impl Iterator<Item = Option<(f64, f64)>> + 'a {
    let values = timeline.values.iter();
    timeline.times.iter().zip(values).map(move |(&time, row)| {
        let value = row.get(line.index).copied().flatten()?;
        Some((axis.at(time), value))
    })
}

/// The highest defined value of any of `lines`, or zero.
fn highest(timeline: &ControlPlaneTimeline, lines: &[Line]) -> f64 {
    let values = |line: &Line| {
        let index = line.index;
        timeline
            .values
            .iter()
            .filter_map(move |row| row.get(index).copied().flatten())
    };
    lines.iter().flat_map(values).fold(0.0, f64::max)
}

/// One chart of control-plane lines against time, from zero up.
struct Panel<'a> {
    lines: &'a [Line],
    y_desc: &'a str,
    /// Only the bottom chart of a stack names the time axis.
    x_desc: Option<String>,
    /// Draws demand = capacity (1.0) dashed and keeps it in view.
    capacity_line: bool,
    legend: bool,
}

fn capacity_style() -> ShapeStyle {
    BLACK.mix(0.7).stroke_width(2)
}

fn draw_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    axis: &TimeAxis,
    timeline: &ControlPlaneTimeline,
    panel: Panel,
) -> Drawn {
    let floor = if panel.capacity_line { 1.0 } else { 0.0 };
    let top = highest(timeline, panel.lines).max(floor);
    // An all-zero panel still needs a non-empty axis.
    let y_end = if top > 0.0 { top * 1.1 } else { 1.0 };
    let mut chart = ChartBuilder::on(area)
        .margin(10)
        .x_label_area_size(50)
        .y_label_area_size(80)
        .build_cartesian_2d(0.0..axis.end, 0.0..y_end)
        .or_message()?;
    let mut mesh = chart.configure_mesh();
    mesh.y_desc(panel.y_desc)
        .y_label_formatter(&|v| format_tick(*v))
        .label_style((FONT, LABEL_PX));
    if let Some(x_desc) = panel.x_desc {
        mesh.x_desc(x_desc);
    }
    mesh.draw().or_message()?;
    if panel.capacity_line {
        let ends = [(0.0, 1.0), (axis.end, 1.0)];
        chart
            .draw_series(DashedLineSeries::new(ends, 10, 6, capacity_style()))
            .or_message()?;
    }
    for line in panel.lines {
        let points = line_points(timeline, axis, line);
        draw_line(&mut chart, points, &line.label, line.color)?;
    }
    if panel.legend {
        draw_legend(&mut chart)?;
    }
    Ok(())
}

/// Per store: writes/s above, commit p99 below, one colour per store in both.
fn draw_stores<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    timeline: &ControlPlaneTimeline,
) -> Drawn {
    let mut stores: Vec<&str> = Vec::new();
    for name in &timeline.series {
        let component = name.component.as_str();
        if component.starts_with("store/") && !stores.contains(&component) {
            stores.push(component);
        }
    }
    let store_lines = |metric: &str| {
        pick_lines(timeline, |name| {
            let slot = stores.iter().position(|s| *s == name.component)?;
            let store = name.component.trim_start_matches("store/");
            (name.metric == metric).then(|| (store.to_string(), slot))
        })
    };
    let writes = store_lines("writes_per_s");
    let commit_p99 = store_lines("commit_p99_ms");
    if timeline.times.is_empty() || (writes.is_empty() && commit_p99.is_empty()) {
        return draw_message(area, title, "no store samples");
    }
    let axis = TimeAxis::new(timeline.times.iter().copied());
    let body = area
        .margin(15, 15, 15, 15)
        .titled(title, (FONT, TITLE_PX))
        .or_message()?;
    let (upper, lower) = body.split_vertically(body.dim_in_pixel().1 / 2);
    let upper_panel = Panel {
        lines: &writes,
        y_desc: "writes/s",
        x_desc: None,
        capacity_line: false,
        legend: true,
    };
    draw_panel(&upper, &axis, timeline, upper_panel)?;
    let lower_panel = Panel {
        lines: &commit_p99,
        y_desc: "commit p99 (ms)",
        x_desc: Some(axis.desc()),
        capacity_line: false,
        legend: true,
    };
    draw_panel(&lower, &axis, timeline, lower_panel)
}

/// Every `*_utilization` series, with capacity dashed at 1.0 and the labels
/// in a legend beside the chart (there can be dozens).
fn draw_utilization<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    timeline: &ControlPlaneTimeline,
) -> Drawn {
    let mut slots = 0..;
    let lines = pick_lines(timeline, |name| {
        if !name.metric.ends_with("_utilization") {
            return None;
        }
        let label = format!("{} {}", name.component, name.metric);
        Some((label, slots.next()?))
    });
    if timeline.times.is_empty() || lines.is_empty() {
        return draw_message(area, title, "no utilization samples");
    }
    let axis = TimeAxis::new(timeline.times.iter().copied());
    let body = area
        .margin(15, 15, 15, 15)
        .titled(title, (FONT, TITLE_PX))
        .or_message()?;
    let legend_width = side_legend_width(&body, &lines)?;
    let (chart_area, legend_area) =
        body.split_horizontally(body.dim_in_pixel().0.saturating_sub(legend_width));
    let panel = Panel {
        lines: &lines,
        y_desc: "demand / capacity",
        x_desc: Some(axis.desc()),
        capacity_line: true,
        legend: false,
    };
    draw_panel(&chart_area, &axis, timeline, panel)?;
    draw_side_legend(&legend_area, &lines)
}

fn side_legend_style() -> TextStyle<'static> {
    TextStyle::from((FONT, SIDE_LEGEND_PX).into_font()).pos(Pos::new(HPos::Left, VPos::Center))
}

/// Wide enough for the longest label, but never more than half the plot.
fn side_legend_width<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    lines: &[Line],
) -> Result<u32, String> {
    let style = side_legend_style();
    let mut widest = 0;
    for line in lines {
        let (width, _) = area.estimate_text_size(&line.label, &style).or_message()?;
        widest = widest.max(width);
    }
    let needed = widest + 2 * SWATCH_PX as u32;
    Ok(needed.min(area.dim_in_pixel().0 / 2))
}

/// The capacity line, then one row per line while they fit; the rest are
/// counted, not hidden.
fn draw_side_legend<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, lines: &[Line]) -> Drawn {
    let style = side_legend_style();
    let top = 10;
    let y = |row: usize| top + SIDE_LEGEND_ROW_PX * row as i32 + SIDE_LEGEND_ROW_PX / 2;
    let rows = ((area.dim_in_pixel().1 as i32 - 2 * top) / SIDE_LEGEND_ROW_PX).max(2) as usize;
    // One row for the capacity line; one for "and N more" if needed.
    let shown = if lines.len() < rows {
        lines.len()
    } else {
        rows - 2
    };
    let entry = |row: usize, label: &str| {
        Text::new(label.to_string(), (SWATCH_PX + 8, y(row)), style.clone())
    };
    area.draw(&DashedPathElement::new(
        [(0, y(0)), (SWATCH_PX, y(0))],
        6,
        4,
        capacity_style(),
    ))
    .or_message()?;
    area.draw(&entry(0, "capacity (1.0)")).or_message()?;
    for (row, line) in lines
        .iter()
        .take(shown)
        .enumerate()
        .map(|(i, l)| (i + 1, l))
    {
        let swatch = [(0, y(row)), (SWATCH_PX, y(row))];
        area.draw(&PathElement::new(swatch, line.color.stroke_width(2)))
            .or_message()?;
        area.draw(&entry(row, &line.label)).or_message()?;
    }
    if shown < lines.len() {
        let more = format!("… and {} more in control_plane.csv", lines.len() - shown);
        area.draw(&entry(shown + 1, &more)).or_message()?;
    }
    Ok(())
}

/// Latencies below this are drawn at it: a log axis has no zero.
const LATENCY_FLOOR_NANOS: u64 = NANOS_PER_MICRO;

/// Where a latency is drawn on the log axis, in ms.
fn latency_x_ms(latency: SimDuration) -> f64 {
    latency.0.max(LATENCY_FLOOR_NANOS) as f64 / NANOS_PER_MILLI as f64
}

/// The octave `[2^k, 2^(k+1))` ns holding `latency` (after the floor).
fn octave(latency: SimDuration) -> u32 {
    63 - latency.0.max(LATENCY_FLOOR_NANOS).leading_zeros()
}

fn octave_start_ms(octave: u32) -> f64 {
    2f64.powi(octave as i32) / NANOS_PER_MILLI as f64
}

/// Pods per octave of latency. The core's log-linear buckets never straddle
/// a power of two, so octave bars are exact unions of them; finer bars of
/// equal log width would split buckets and show aliasing stripes.
struct OctaveBars {
    counts: BTreeMap<u32, u64>,
    /// Some latency was below [`LATENCY_FLOOR_NANOS`].
    floored: bool,
}

impl OctaveBars {
    fn new(histogram: &LatencyHistogram) -> Self {
        let mut counts = BTreeMap::new();
        let mut floored = false;
        for (low, count) in histogram.buckets() {
            floored |= low.0 < LATENCY_FLOOR_NANOS;
            *counts.entry(octave(low)).or_insert(0) += count;
        }
        OctaveBars { counts, floored }
    }

    /// Whole decades of ms covering every bar, as powers of ten.
    fn decades(&self) -> (i32, i32) {
        let first = self.counts.keys().next().copied().unwrap_or(0);
        let last = self.counts.keys().next_back().copied().unwrap_or(0);
        let start = octave_start_ms(first).log10().floor() as i32;
        let end = octave_start_ms(last + 1).log10().ceil() as i32;
        (start, end.max(start + 1))
    }
}

fn draw_latency<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    scenario: &str,
    histogram: &LatencyHistogram,
) -> Drawn {
    let title = format!("{scenario}: scheduling latency");
    let (Some(p50), Some(p99)) = (histogram.quantile(0.5), histogram.quantile(0.99)) else {
        return draw_message(area, &title, "no pods bound");
    };
    let bars = OctaveBars::new(histogram);
    let (first_decade, end_decade) = bars.decades();
    // Slightly wider than the decades so rounding cannot drop the end ticks.
    let x_range = 10f64.powi(first_decade) * 0.999..10f64.powi(end_decade) * 1.001;
    let tallest = bars.counts.values().copied().max().unwrap_or(0);
    let mut x_desc = "creation-to-bind latency (ms, log scale)".to_string();
    if bars.floored {
        x_desc.push_str("; under 1 µs drawn at 1 µs");
    }
    let mut chart = ChartBuilder::on(area)
        .caption(
            format!(
                "{title} (n = {}, p50 = {} ms, p99 = {} ms)",
                histogram.count(),
                Fixed::ms3(p50),
                Fixed::ms3(p99)
            ),
            (FONT, TITLE_PX),
        )
        .margin(15)
        .x_label_area_size(50)
        .y_label_area_size(80)
        .right_y_label_area_size(70)
        .build_cartesian_2d(x_range.clone().log_scale(), 0u64..with_headroom(tallest))
        .or_message()?
        .set_secondary_coord(x_range.log_scale(), 0.0..100.0);
    chart
        .configure_mesh()
        .x_labels((end_decade - first_decade + 1) as usize)
        .x_label_formatter(&|v| format_ms_tick(*v))
        .x_desc(x_desc)
        .y_desc("pods per bar (each bar spans ×2)")
        .y_label_formatter(&|v| format_count(*v))
        .label_style((FONT, LABEL_PX))
        .draw()
        .or_message()?;
    chart
        .configure_secondary_axes()
        .y_desc("cumulative %")
        .y_label_formatter(&|v| format!("{v:.0}%"))
        .label_style((FONT, LABEL_PX))
        .draw()
        .or_message()?;
    let bar_style = RGBColor(31, 119, 180).mix(0.6).filled();
    chart
        .draw_series(bars.counts.iter().map(|(&octave, &count)| {
            let corners = [
                (octave_start_ms(octave), 0),
                (octave_start_ms(octave + 1), count),
            ];
            Rectangle::new(corners, bar_style)
        }))
        .or_message()?
        .label("pods")
        .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 20, y + 5)], bar_style));
    let cdf_style = RGBColor(214, 39, 40).stroke_width(2);
    chart
        .draw_secondary_series(LineSeries::new(cdf_points(histogram), cdf_style))
        .or_message()?
        .label("cumulative %")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], cdf_style));
    draw_legend(&mut chart)
}

/// The share of pods below each bucket's lower bound, then 100% at the
/// maximum: exact at every point, at the histogram's full resolution.
fn cdf_points(histogram: &LatencyHistogram) -> Vec<(f64, f64)> {
    let total = histogram.count().max(1) as f64;
    let mut seen = 0;
    let mut points = Vec::new();
    for (low, count) in histogram.buckets() {
        points.push((latency_x_ms(low), seen as f64 * 100.0 / total));
        seen += count;
    }
    points.extend(histogram.max().map(|max| (latency_x_ms(max), 100.0)));
    points
}

/// Axis ticks on a log scale are powers of ten; print them without float noise.
fn format_ms_tick(ms: f64) -> String {
    let decimals = (-ms.log10() - 1e-6).ceil().max(0.0) as usize;
    format!("{ms:.decimals$}")
}

/// Ticks of a linear float axis: compact when large, two decimals at most.
fn format_tick(value: f64) -> String {
    if value >= 10_000.0 {
        return format_count(value.round() as u64);
    }
    let text = format!("{value:.2}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" {
        "0".to_string()
    } else {
        text.to_string()
    }
}

/// Compact counts for axes: 950, 12.5k, 1.25M.
fn format_count(count: u64) -> String {
    let (scale, suffix) = match count {
        c if c >= 1_000_000_000 => (1e9, "G"),
        c if c >= 1_000_000 => (1e6, "M"),
        c if c >= 10_000 => (1e3, "k"),
        _ => return count.to_string(),
    };
    let text = format!("{:.2}", count as f64 / scale);
    let text = text.trim_end_matches('0').trim_end_matches('.');
    format!("{text}{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn octave_bars_hold_exactly_the_latencies_of_their_octave() {
        let mut histogram = LatencyHistogram::default();
        for nanos in 1024..8192 {
            histogram.record(SimDuration(nanos));
        }
        let bars = OctaveBars::new(&histogram);
        let counts: Vec<(u32, u64)> = bars.counts.into_iter().collect();
        assert_eq!(counts, [(10, 1024), (11, 2048), (12, 4096)]);
        assert!(!bars.floored);
    }

    #[test]
    fn latencies_below_the_floor_are_counted_at_it() {
        let mut histogram = LatencyHistogram::default();
        histogram.record(SimDuration(0));
        histogram.record(SimDuration(999));
        let bars = OctaveBars::new(&histogram);
        assert!(bars.floored);
        assert_eq!(bars.counts.into_iter().collect::<Vec<_>>(), [(9, 2)]);
        assert_eq!(latency_x_ms(SimDuration(0)), 0.001);
    }

    #[test]
    fn decades_cover_all_bars() {
        let mut histogram = LatencyHistogram::default();
        histogram.record(SimDuration::from_micros(300));
        histogram.record(SimDuration::from_millis(1500));
        let (start, end) = OctaveBars::new(&histogram).decades();
        assert_eq!((start, end), (-1, 4));
    }

    #[test]
    fn cdf_rises_from_zero_to_one_hundred_at_the_maximum() {
        let mut histogram = LatencyHistogram::default();
        for ms in [1, 2, 2, 50] {
            histogram.record(SimDuration::from_millis(ms));
        }
        let points = cdf_points(&histogram);
        assert_eq!(points.first().unwrap().1, 0.0);
        assert_eq!(*points.last().unwrap(), (50.0, 100.0));
        assert!(points
            .windows(2)
            .all(|w| w[0].0 <= w[1].0 && w[0].1 <= w[1].1));
        // Below the 50 ms bucket lie three of the four pods.
        assert_eq!(points[points.len() - 2].1, 75.0);
    }

    #[test]
    fn axis_labels_are_compact_and_free_of_float_noise() {
        assert_eq!(format_count(950), "950");
        assert_eq!(format_count(12_500), "12.5k");
        assert_eq!(format_count(1_250_000), "1.25M");
        assert_eq!(format_count(2_000_000_000), "2G");
        assert_eq!(format_ms_tick(10f64.powi(-3)), "0.001");
        assert_eq!(format_ms_tick(0.1 * 0.999_999_9), "0.1");
        assert_eq!(format_ms_tick(1000.0), "1000");
        assert_eq!(format_tick(0.0), "0");
        assert_eq!(format_tick(0.30000000000000004), "0.3");
        assert_eq!(format_tick(1.25), "1.25");
        assert_eq!(format_tick(250.0), "250");
        assert_eq!(format_tick(44_320.0), "44.32k");
    }

    #[test]
    fn headroom_never_leaves_an_empty_axis() {
        assert_eq!(with_headroom(0), 1);
        assert_eq!(with_headroom(3), 4);
        assert_eq!(with_headroom(100), 110);
        assert_eq!(with_headroom(u64::MAX), u64::MAX);
    }
}
