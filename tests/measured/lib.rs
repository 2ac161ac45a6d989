//! The figures of the book's "Measured" appendix: the results file the
//! benchmarks in `tests/benches/` write, and the Markdown tables and SVG
//! charts drawn from it.
//!
//! `cargo bench -p workspace-tests` runs every comparison; each bench, when it
//! has measured all its rows, replaces its entry in
//! `book/src/measured/results.json` and redraws its table and chart next to
//! it. `tests/appendix.rs` redraws them all from the results file and fails
//! if a file in the book differs, so no figure or bar is ever edited by hand.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use serde::{Deserialize, Serialize};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Everything the appendix shows, one entry per comparison.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Results {
    pub comparisons: Vec<Comparison>,
}

/// One comparison, made in one run of one bench.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Comparison {
    /// The file stem of its table and chart, and the bench's name.
    pub id: String,
    /// The chart's title.
    pub title: String,
    /// What the bars measure, with the unit: the chart's axis.
    pub measure: String,
    /// The machine the run was on.
    pub machine: String,
    /// The command that reproduces it.
    pub command: String,
    /// The table's column headings, after the first ("row").
    pub columns: Vec<String>,
    pub rows: Vec<Row>,
}

/// One bar of the chart, and one line of the table.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Row {
    pub label: String,
    /// The bar's length, in the comparison's `measure`.
    pub value: f64,
    /// The table's cells for `columns`.
    pub cells: Vec<String>,
}

/// `book/src/measured/`, where the results, tables and charts live.
pub fn measured_dir() -> PathBuf {
    let tests = Path::new(env!("CARGO_MANIFEST_DIR"));
    tests.parent().unwrap_or(tests).join("book/src/measured")
}

/// The results file, or no comparisons if there is none yet.
pub fn load(dir: &Path) -> Result<Results, BoxError> {
    let path = dir.join("results.json");
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            Ok(serde_json::from_str(&text).map_err(|err| format!("{}: {err}", path.display()))?)
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(Results::default()),
        Err(err) => Err(format!("cannot read {}: {err}", path.display()).into()),
    }
}

/// Puts `comparison` in the results file in place of its old entry (the
/// others keep their order; a new one goes last), then writes its table
/// and chart.
pub fn record(dir: &Path, comparison: Comparison) -> Result<(), BoxError> {
    let mut results = load(dir)?;
    let table_text = table(&comparison);
    let chart_text = chart(&comparison)?;
    let id = comparison.id.clone();
    match results.comparisons.iter_mut().find(|old| old.id == id) {
        Some(old) => *old = comparison,
        None => results.comparisons.push(comparison),
    }
    let json = serde_json::to_string_pretty(&results)? + "\n";
    std::fs::write(dir.join("results.json"), json)?;
    std::fs::write(dir.join(format!("{id}.md")), table_text)?;
    std::fs::write(dir.join(format!("{id}.svg")), chart_text)?;
    Ok(())
}

/// The comparison as the appendix prints it: the machine, the command, and
/// a Markdown table.
pub fn table(comparison: &Comparison) -> String {
    let mut text = format!(
        "Machine: {}. Reproduce with `{}`.\n\n| row | {} |\n|---|{}\n",
        comparison.machine,
        comparison.command,
        comparison.columns.join(" | "),
        "--:|".repeat(comparison.columns.len()),
    );
    for row in &comparison.rows {
        let _ = writeln!(text, "| {} | {} |", row.label, row.cells.join(" | "));
    }
    text
}

/// The comparison as a horizontal bar chart, one bar per row, the first
/// row on top, as SVG text.
pub fn chart(comparison: &Comparison) -> Result<String, BoxError> {
    let rows = &comparison.rows;
    let longest = rows.iter().map(|row| row.value).fold(0.0, f64::max);
    let height = 90 + 34 * rows.len() as u32;
    // Bars are drawn bottom-up: the bar at `slot` shows this row.
    let row_at = |slot: usize| {
        rows.len()
            .checked_sub(slot + 1)
            .and_then(|row| rows.get(row))
    };
    let mut svg = String::new();
    {
        let area = SVGBackend::with_string(&mut svg, (760, height)).into_drawing_area();
        area.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&area)
            .caption(&comparison.title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(330)
            .build_cartesian_2d(
                0.0..longest.max(f64::MIN_POSITIVE) * 1.2,
                // A segmented range also has a segment for its end: stop one short.
                (0..rows.len().saturating_sub(1)).into_segmented(),
            )?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .light_line_style(WHITE)
            .y_labels(rows.len())
            .y_label_formatter(&|slot| match slot {
                SegmentValue::CenterOf(slot) => {
                    row_at(*slot).map_or_else(String::new, |row| row.label.clone())
                }
                _ => String::new(),
            })
            .x_label_formatter(&|value| figure(*value))
            .x_desc(comparison.measure.as_str())
            .label_style(("sans-serif", 13))
            .draw()?;
        let bar = RGBColor(70, 110, 170).filled();
        chart.draw_series((0..rows.len()).filter_map(|slot| {
            let row = row_at(slot)?;
            let corners = [
                (0.0, SegmentValue::Exact(slot)),
                (row.value, SegmentValue::Exact(slot + 1)),
            ];
            let mut rectangle = Rectangle::new(corners, bar);
            rectangle.set_margin(5, 5, 0, 0);
            Some(rectangle)
        }))?;
        let figure_style =
            TextStyle::from(("sans-serif", 13).into_font()).pos(Pos::new(HPos::Left, VPos::Center));
        chart.draw_series((0..rows.len()).filter_map(|slot| {
            let row = row_at(slot)?;
            let position = (row.value, SegmentValue::CenterOf(slot));
            let text = format!(" {}", figure(row.value));
            Some(Text::new(text, position, figure_style.clone()))
        }))?;
        area.present()?;
    }
    Ok(svg)
}

/// A value with three significant figures at most, as the tables print it.
pub fn figure(value: f64) -> String {
    match value.abs() {
        0.0 => "0".to_string(),
        v if v >= 100.0 => format!("{value:.0}"),
        v if v >= 10.0 => format!("{value:.1}"),
        _ => format!("{value:.2}"),
    }
}

/// The mean time of one iteration of `group/bench`, in nanoseconds, from
/// criterion's last run, if it is newer than `since`.
pub fn criterion_mean(
    target_dir: &Path,
    group: &str,
    bench: &str,
    since: std::time::SystemTime,
) -> Option<f64> {
    let path = target_dir
        .join("criterion")
        .join(group)
        .join(bench)
        .join("new/estimates.json");
    let modified = std::fs::metadata(&path).ok()?.modified().ok()?;
    if modified < since {
        return None;
    }
    let estimates: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
    estimates["mean"]["point_estimate"].as_f64()
}

/// The CPU model and core count, as the OS reports them.
pub fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|line| line.strip_prefix("model name")?.split_once(':'))
        .map_or("unknown CPU", |(_, model)| model.trim());
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let (os, arch) = (std::env::consts::OS, std::env::consts::ARCH);
    format!("{model}, {cores} cores, {os} {arch}, release build")
}
