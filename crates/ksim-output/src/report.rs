//! `report.html`: one self-contained page (inline CSS and SVG, no script, no
//! network) with the scenario's summary, the comparison table (best value
//! per metric marked) and overlay plots of the timeline, one line per
//! variant with a band for the spread over seeds. Built from the files in an
//! output directory only, so `ksim report` rebuilds it without running.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use plotters::prelude::*;

use crate::compare::{read_run, Manifest, Row, RUNS_DIR};
use crate::plots::{ensure_font, guarded, FONT};
use crate::{atomic, OutputError, TIMELINE_CSV};

pub const REPORT_HTML: &str = "report.html";

/// Timeline columns plotted, with their titles.
/// `replicas` and `cost_per_hour` are derived from `workloads.csv` and
/// `node_pools.csv`; the others are `timeline.csv` columns.
const OVERLAYS: [(&str, &str); 7] = [
    ("nodes_total", "Nodes"),
    (
        "cost_per_hour",
        "Cost per hour (the pools' nodes at their price)",
    ),
    ("pods_pending", "Pending pods"),
    ("pods_running", "Running pods"),
    (
        "replicas",
        "Replicas of the modelled workloads (not ended, not terminating)",
    ),
    ("cpu_requested_millis", "CPU requested (millicores)"),
    (
        "scheduling_latency_p99_ms",
        "Scheduling latency p99 per interval (ms)",
    ),
];

const PLOT_SIZE: (u32, u32) = (900, 360);

/// Variant colours, as CSS and plotters colours alike.
const COLOURS: [(u8, u8, u8); 8] = [
    (31, 119, 180),
    (214, 39, 40),
    (44, 160, 44),
    (148, 103, 189),
    (255, 127, 14),
    (140, 86, 75),
    (227, 119, 194),
    (23, 190, 207),
];

fn colour(i: usize) -> RGBColor {
    let (r, g, b) = COLOURS[i % COLOURS.len()];
    RGBColor(r, g, b)
}

/// Four significant digits for the page (the CSV keeps six decimals).
fn number(x: Option<f64>) -> String {
    let Some(x) = x.filter(|x| x.is_finite()) else {
        return String::new();
    };
    if x == 0.0 {
        return "0".to_string();
    }
    let magnitude = libm::floor(libm::log10(x.abs())) as i32;
    let decimals = (3 - magnitude).clamp(0, 6) as usize;
    let text = format!("{x:.decimals$}");
    if text.trim_start_matches(['-', '0', '.']).is_empty() {
        "0".to_string()
    } else {
        text
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Whether lower is better for `metric`, if ksim knows.
fn lower_is_better(metric: &str) -> Option<bool> {
    const LOWER: [&str; 12] = [
        "cost",
        "latency",
        "wait",
        "pending",
        "unschedulable",
        "failed",
        "refused",
        "timeouts",
        "abandoned",
        "dropped",
        "rejected",
        "node_hours",
    ];
    const HIGHER: [&str; 3] = ["served", "completed", "started"];
    if LOWER.iter().any(|k| metric.contains(k)) {
        Some(true)
    } else if HIGHER.iter().any(|k| metric.contains(k)) {
        Some(false)
    } else {
        None
    }
}

/// The report of a comparison directory.
pub(crate) fn write_comparison_report(
    dir: &Path,
    manifest: &Manifest,
    rows: &[Row],
) -> Result<PathBuf, OutputError> {
    let mut runs: Vec<Vec<PathBuf>> = manifest.variants.iter().map(|_| Vec::new()).collect();
    for run in &manifest.runs {
        runs[run.variant].push(dir.join(RUNS_DIR).join(&run.dir));
    }
    let mut html = String::new();
    // Name up to four variants in the title; a sweep's grid is counted.
    let title = match manifest.variants.as_slice() {
        few if few.len() <= 4 => few.join(" vs "),
        many => format!("{} variants", many.len()),
    };
    header(&mut html, &format!("ksim comparison: {title}"));
    let _ = writeln!(
        html,
        "<h2>Summary</h2>\n<p>{} variant(s) × {} seed(s), seeds shared across variants \
         (common random numbers). ksim {}, inputs fingerprint <code>{}</code>. \
         Intervals are 95% Student t over seeds; differences are paired by seed \
         against the baseline, <b>{}</b>. Latency percentiles are pooled: \
         the histograms of every seed merged.</p>",
        manifest.variants.len(),
        manifest.seeds,
        escape(&manifest.ksim_version),
        escape(&manifest.scenario_hash),
        escape(&manifest.variants[0]),
    );
    variant_list(&mut html, manifest);
    table(&mut html, &manifest.variants, rows);
    plots(&mut html, &manifest.variants, &runs)?;
    footer(&mut html);
    publish(dir, &html)
}

/// The report of a single run's directory.
pub fn write_run_report(dir: &Path) -> Result<PathBuf, OutputError> {
    let run = read_run(dir)?;
    let name = fs::read_to_string(dir.join(crate::SUMMARY_JSON))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|v| v.get("scenario").and_then(|s| s.as_str()).map(String::from))
        .unwrap_or_else(|| "run".to_string());
    let variants = vec![name.clone()];
    let rows = crate::compare::rows(&vec![vec![Some(run)]]);
    let mut html = String::new();
    header(&mut html, &format!("ksim run: {name}"));
    let _ = writeln!(
        html,
        "<h2>Summary</h2>\n<p>One run of <b>{}</b>; its numbers below come from \
         <code>summary.json</code>.</p>",
        escape(&name)
    );
    table(&mut html, &variants, &rows);
    plots(&mut html, &variants, &[vec![dir.to_path_buf()]])?;
    footer(&mut html);
    publish(dir, &html)
}

fn publish(dir: &Path, html: &str) -> Result<PathBuf, OutputError> {
    atomic::write_file(dir, REPORT_HTML, |out, target| {
        std::io::Write::write_all(out, html.as_bytes())
            .map_err(|e| OutputError::io("write", target, e))
    })
}

fn header(html: &mut String, title: &str) {
    let _ = writeln!(
        html,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>{0}</title>\n<style>\n\
         body {{ font-family: sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }}\n\
         table {{ border-collapse: collapse; font-size: 13px; }}\n\
         th, td {{ border: 1px solid #ccc; padding: 3px 6px; text-align: right; }}\n\
         th:first-child, td:first-child {{ text-align: left; }}\n\
         td.best {{ background: #e3f4e1; font-weight: bold; }}\n\
         .ci {{ color: #666; font-size: 11px; }}\n\
         figure {{ margin: 1em 0; }}\n\
         figure svg {{ max-width: 100%; height: auto; }}\n\
         .swatch {{ display: inline-block; width: 12px; height: 12px; margin-right: 4px; }}\n\
         </style>\n</head>\n<body>\n<h1>{0}</h1>",
        escape(title)
    );
}

fn footer(html: &mut String) {
    html.push_str("</body>\n</html>\n");
}

fn variant_list(html: &mut String, manifest: &Manifest) {
    html.push_str("<ul>\n");
    for (i, name) in manifest.variants.iter().enumerate() {
        let seeds: Vec<String> = manifest
            .runs
            .iter()
            .filter(|r| r.variant == i)
            .map(|r| r.seed.to_string())
            .collect();
        let (r, g, b) = COLOURS[i % COLOURS.len()];
        let _ = writeln!(
            html,
            "<li><span class=\"swatch\" style=\"background: rgb({r},{g},{b})\"></span>\
             <b>{}</b>{}: seeds {}</li>",
            escape(name),
            if i == 0 { " (baseline)" } else { "" },
            seeds.join(", ")
        );
    }
    html.push_str("</ul>\n");
}

fn table(html: &mut String, variants: &[String], rows: &[Row]) {
    html.push_str("<h2>Comparison</h2>\n<table>\n<tr><th>metric</th>");
    for name in variants {
        let _ = write!(html, "<th>{}</th>", escape(name));
    }
    html.push_str("</tr>\n");
    let mut metrics: Vec<&str> = rows.iter().map(|r| r.metric.as_str()).collect();
    metrics.sort_unstable();
    metrics.dedup();
    for metric in metrics {
        let cells: Vec<Option<&Row>> = (0..variants.len())
            .map(|v| rows.iter().find(|r| r.variant == v && r.metric == metric))
            .collect();
        let means: Vec<Option<f64>> = cells.iter().map(|c| c.and_then(|r| r.value.mean)).collect();
        let best = best_of(metric, &means);
        let _ = write!(html, "<tr><td>{}</td>", escape(metric));
        for (v, cell) in cells.iter().enumerate() {
            let class = if best == Some(v) {
                " class=\"best\""
            } else {
                ""
            };
            let _ = write!(html, "<td{class}>");
            if let Some(row) = cell {
                html.push_str(&number(row.value.mean));
                if let (Some(low), Some(high)) = (row.value.low, row.value.high) {
                    let _ = write!(
                        html,
                        "<br><span class=\"ci\">[{}, {}]</span>",
                        number(Some(low)),
                        number(Some(high))
                    );
                }
                if let Some(diff) = row.diff.filter(|d| d.mean.is_some()) {
                    let _ = write!(html, "<br><span class=\"ci\">Δ {}", number(diff.mean));
                    if let (Some(low), Some(high)) = (diff.low, diff.high) {
                        let _ = write!(html, " [{}, {}]", number(Some(low)), number(Some(high)));
                    }
                    html.push_str("</span>");
                }
            }
            html.push_str("</td>");
        }
        html.push_str("</tr>\n");
    }
    html.push_str("</table>\n");
}

/// The variant with the best mean, when the direction is known and the
/// variants differ.
fn best_of(metric: &str, means: &[Option<f64>]) -> Option<usize> {
    let lower = lower_is_better(metric)?;
    let present: Vec<(usize, f64)> = means
        .iter()
        .enumerate()
        .filter_map(|(i, m)| m.map(|m| (i, m)))
        .collect();
    if present.len() < 2 || present.iter().all(|(_, m)| *m == present[0].1) {
        return None;
    }
    let pick = |a: &(usize, f64), b: &(usize, f64)| {
        if lower {
            a.1.total_cmp(&b.1)
        } else {
            b.1.total_cmp(&a.1)
        }
    };
    present.iter().min_by(|a, b| pick(a, b)).map(|(i, _)| *i)
}

/// One column of a timeline: (time in hours, value) per row; None when absent.
type Series = Vec<(f64, f64)>;

fn read_timeline(dir: &Path) -> Result<Vec<(String, Series)>, OutputError> {
    let path = dir.join(TIMELINE_CSV);
    let mut reader = csv::Reader::from_path(&path).map_err(|e| OutputError::csv(&path, e))?;
    let headers = reader
        .headers()
        .map_err(|e| OutputError::csv(&path, e))?
        .clone();
    let mut columns: Vec<(String, Series)> = OVERLAYS
        .iter()
        .map(|(c, _)| (c.to_string(), Vec::new()))
        .collect();
    for record in reader.records() {
        let record = record.map_err(|e| OutputError::csv(&path, e))?;
        let get = |name: &str| {
            headers
                .iter()
                .position(|h| h == name)
                .and_then(|i| record.get(i))
                .and_then(|v| v.parse::<f64>().ok())
        };
        let Some(time_s) = get("time_s") else {
            continue;
        };
        for (name, series) in &mut columns {
            if let Some(v) = get(name) {
                series.push((time_s / 3600.0, v));
            }
        }
    }
    let sums = [
        (
            "replicas",
            sum_by_time(dir, crate::WORKLOADS_CSV, "workload", |_, row| {
                row("replicas_current")
            })?,
        ),
        ("cost_per_hour", cost_per_hour(dir)?),
    ];
    for (name, series) in sums {
        if let Some((_, column)) = columns.iter_mut().find(|(c, _)| c == name) {
            *column = series;
        }
    }
    Ok(columns)
}

/// Per time in a long-format CSV (`time_s`, a key column, values), the sum
/// over keys of `value(key, row)`; empty when the file does not exist.
fn sum_by_time(
    dir: &Path,
    file: &str,
    key: &str,
    value: impl Fn(&str, &dyn Fn(&str) -> Option<f64>) -> Option<f64>,
) -> Result<Series, OutputError> {
    let path = dir.join(file);
    if !path.exists() {
        return Ok(Vec::new());
    }
    let mut reader = csv::Reader::from_path(&path).map_err(|e| OutputError::csv(&path, e))?;
    let headers = reader
        .headers()
        .map_err(|e| OutputError::csv(&path, e))?
        .clone();
    let mut series: Series = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| OutputError::csv(&path, e))?;
        let field = |name: &str| {
            headers
                .iter()
                .position(|h| h == name)
                .and_then(|i| record.get(i))
        };
        let number = |name: &str| field(name).and_then(|v| v.parse::<f64>().ok());
        let (Some(time_s), Some(k)) = (number("time_s"), field(key)) else {
            continue;
        };
        let Some(v) = value(k, &number) else { continue };
        let hours = time_s / 3600.0;
        match series.last_mut() {
            Some(last) if last.0 == hours => last.1 += v,
            _ => series.push((hours, v)),
        }
    }
    Ok(series)
}

/// Each pool's nodes at its price per hour, the price being the pool's cost
/// over its node-hours in `summary.json` (pools without node-hours cost
/// nothing).
fn cost_per_hour(dir: &Path) -> Result<Series, OutputError> {
    let path = dir.join(crate::SUMMARY_JSON);
    let text = fs::read_to_string(&path).map_err(|e| OutputError::io("read", &path, e))?;
    let summary: serde_json::Value =
        serde_json::from_str(&text).map_err(OutputError::InvalidSummary)?;
    let mut prices = std::collections::BTreeMap::new();
    for pool in summary["node_pools"].as_array().into_iter().flatten() {
        let (Some(name), Some(cost), Some(hours)) = (
            pool["name"].as_str(),
            pool["cost"].as_f64(),
            pool["node_hours"].as_f64(),
        ) else {
            continue;
        };
        if hours > 0.0 {
            prices.insert(name.to_string(), cost / hours);
        }
    }
    if prices.values().all(|p| *p == 0.0) {
        return Ok(Vec::new());
    }
    sum_by_time(dir, crate::NODE_POOLS_CSV, "pool", |pool, row| {
        Some(row("nodes")? * prices.get(pool).copied().unwrap_or(0.0))
    })
}

/// Per time row: (time, mean, min, max) over the runs, up to the shortest.
fn band(runs: &[Series]) -> Vec<(f64, f64, f64, f64)> {
    let Some(len) = runs.iter().map(Vec::len).min() else {
        return Vec::new();
    };
    (0..len)
        .map(|i| {
            let values: Vec<f64> = runs.iter().map(|r| r[i].1).collect();
            let mean = values.iter().sum::<f64>() / values.len() as f64;
            let min = values.iter().copied().fold(f64::INFINITY, f64::min);
            let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            (runs[0][i].0, mean, min, max)
        })
        .collect()
}

fn plots(html: &mut String, variants: &[String], runs: &[Vec<PathBuf>]) -> Result<(), OutputError> {
    // Per variant, per run, the plotted columns.
    let mut timelines: Vec<Vec<Vec<(String, Series)>>> = Vec::new();
    for dirs in runs {
        timelines.push(
            dirs.iter()
                .map(|d| read_timeline(d))
                .collect::<Result<_, _>>()?,
        );
    }
    html.push_str("<h2>Over time</h2>\n<p>One line per variant: the mean over seeds; the band spans the lowest and highest seed.</p>\n");
    for (k, (column, title)) in OVERLAYS.iter().enumerate() {
        let bands: Vec<Vec<(f64, f64, f64, f64)>> = timelines
            .iter()
            .map(|runs| {
                let series: Vec<Series> = runs.iter().map(|cols| cols[k].1.clone()).collect();
                band(&series)
            })
            .collect();
        if bands.iter().all(Vec::is_empty) {
            continue;
        }
        let svg = guarded(|| overlay_svg(title, variants, &bands)).map_err(|message| {
            OutputError::Plot {
                path: PathBuf::from(format!("{REPORT_HTML} ({column})")),
                message,
            }
        })?;
        let _ = writeln!(html, "<figure id=\"{column}\">\n{svg}\n</figure>");
    }
    Ok(())
}

fn overlay_svg(
    title: &str,
    variants: &[String],
    bands: &[Vec<(f64, f64, f64, f64)>],
) -> Result<String, String> {
    ensure_font()?;
    let points = bands.iter().flatten();
    let x_end = points.clone().map(|p| p.0).fold(0.0, f64::max).max(1e-9);
    let y_end = points.map(|p| p.3).fold(0.0, f64::max).max(1.0) * 1.05;
    let mut svg = String::new();
    {
        let area = SVGBackend::with_string(&mut svg, PLOT_SIZE).into_drawing_area();
        area.fill(&WHITE).map_err(|e| e.to_string())?;
        let mut chart = ChartBuilder::on(&area)
            .caption(title, (FONT, 18))
            .margin(10)
            .x_label_area_size(35)
            .y_label_area_size(60)
            .build_cartesian_2d(0.0..x_end, 0.0..y_end)
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .x_desc("simulated time (h)")
            .label_style((FONT, 12))
            .draw()
            .map_err(|e| e.to_string())?;
        for (i, band) in bands.iter().enumerate() {
            if band.is_empty() {
                continue;
            }
            let colour = colour(i);
            let mut outline: Vec<(f64, f64)> = band.iter().map(|p| (p.0, p.3)).collect();
            outline.extend(band.iter().rev().map(|p| (p.0, p.2)));
            chart
                .draw_series(std::iter::once(Polygon::new(
                    outline,
                    colour.mix(0.2).filled(),
                )))
                .map_err(|e| e.to_string())?;
            chart
                .draw_series(LineSeries::new(
                    band.iter().map(|p| (p.0, p.1)),
                    colour.stroke_width(2),
                ))
                .map_err(|e| e.to_string())?
                .label(variants[i].clone())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2))
                });
        }
        chart
            .configure_series_labels()
            .label_font((FONT, 12))
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(|e| e.to_string())?;
        area.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}
