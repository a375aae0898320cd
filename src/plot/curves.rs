//! Training curves: several named series (losses, accuracies) against a shared x axis.

use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::{ChartBuilder, DrawingArea, DrawingBackend};
use plotters::style::Color;

use super::color::{self, GRID};
use super::legend::Legend;
use super::render::{self, DrawResult, Figure};
use super::series;
use super::text;
use crate::error::Result;

/// Margin around the figure.
const PAD: i32 = 16;
/// Canvas width.
const WIDTH: i32 = 960;
/// Height of the chart itself, above the legend.
const CHART_H: i32 = 560;
/// Series with at most this many points get a dot on every point.
const MARKER_LIMIT: usize = 40;

/// Draws `series` (name, `(x, y)` points) as lines with a legend to `<stem>.png` and
/// `<stem>.svg` and returns both paths.
///
/// Non-finite points are skipped (the line breaks there); a series without finite points
/// still appears in the legend, marked `(no data)`, and an isolated point is drawn as a dot. Both axes fit the
/// finite points, with `0..1` when there are none.
///
/// # Errors
/// [`KdnasError::Plot`](crate::error::KdnasError::Plot) when rendering fails;
/// [`KdnasError::Io`](crate::error::KdnasError::Io) when the parent directory cannot be created.
pub fn metric_curves(
    title: &str,
    x_label: &str,
    series: &[(String, Vec<(f64, f64)>)],
    stem: &Path,
) -> Result<Vec<PathBuf>> {
    render::render(&Curves::new(title, x_label, series), stem)
}

/// A curves figure ready to draw.
struct Curves<'a> {
    /// Chart caption.
    title: &'a str,
    /// Description of the x axis.
    x_label: &'a str,
    /// The data.
    series: &'a [(String, Vec<(f64, f64)>)],
    /// Legend of the series.
    legend: Legend,
}

impl<'a> Curves<'a> {
    /// Lays out the figure.
    fn new(title: &'a str, x_label: &'a str, series: &'a [(String, Vec<(f64, f64)>)]) -> Self {
        let items = series
            .iter()
            .enumerate()
            .map(|(i, (name, points))| {
                let has_data = points.iter().any(|(x, y)| x.is_finite() && y.is_finite());
                let label = if has_data { name.clone() } else { format!("{name} (no data)") };
                (label, color::categorical(i))
            })
            .collect();
        let legend = Legend::new(items, (WIDTH - 2 * PAD) as u32);
        Curves { title, x_label, series, legend }
    }

    /// Axis ranges covering every finite point, padded; `0..1` on an axis without data.
    fn ranges(&self) -> ((f64, f64), (f64, f64)) {
        let finite = || self.series.iter().flat_map(|(_, p)| p.iter()).filter(|(x, y)| x.is_finite() && y.is_finite());
        let x = padded(finite().map(|p| p.0), 0.0);
        let y = padded(finite().map(|p| p.1), 0.05);
        (x, y)
    }
}

impl Figure for Curves<'_> {
    fn size(&self) -> (u32, u32) {
        (WIDTH as u32, (PAD + CHART_H + 12 + self.legend.height() as i32 + PAD) as u32)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let ((x0, x1), (y0, y1)) = self.ranges();
        let area = root.clone().shrink((PAD, PAD), ((WIDTH - 2 * PAD) as u32, CHART_H as u32));
        let mut chart = ChartBuilder::on(&area)
            .caption(self.title, text::font(text::TITLE))
            .margin(12)
            .x_label_area_size(48)
            .y_label_area_size(64)
            .build_cartesian_2d(x0..x1, y0..y1)?;
        chart
            .configure_mesh()
            .x_labels(10)
            .y_labels(10)
            .x_label_formatter(&|v| text::tick_label(*v))
            .y_label_formatter(&|v| text::tick_label(*v))
            .max_light_lines(1)
            .label_style(text::font(text::SMALL))
            .axis_desc_style(text::font(text::LABEL))
            .x_desc(self.x_label)
            .bold_line_style(GRID.mix(0.6))
            .light_line_style(GRID.mix(0.2))
            .draw()?;
        for (i, (_, points)) in self.series.iter().enumerate() {
            series::draw_line(&mut chart, points.iter().copied(), color::categorical(i), points.len() <= MARKER_LIMIT)?;
        }
        self.legend.draw(root, (PAD, PAD + CHART_H + 12))
    }
}

/// The span of `values` widened by `margin` of its length on each side; a single value
/// gets a unit-wide span around it, no values give `0..1`.
fn padded(values: impl Iterator<Item = f64>, margin: f64) -> (f64, f64) {
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if lo > hi {
        (0.0, 1.0)
    } else if hi - lo < 1e-12 {
        (lo - 0.5, hi + 0.5)
    } else {
        let m = (hi - lo) * margin;
        (lo - m, hi + m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plot::testdir::TestDir;

    #[test]
    fn renders_two_series() {
        let train: Vec<_> = (0..20).map(|e| (e as f64, 2.3 * (-0.1 * e as f64).exp())).collect();
        let mut val: Vec<_> = (0..20).map(|e| (e as f64, 2.4 * (-0.08 * e as f64).exp())).collect();
        val[4].1 = f64::NAN;
        let series = vec![("train loss".to_string(), train), ("val loss".to_string(), val)];
        let dir = TestDir::new("curves");
        let paths = metric_curves("Curves test", "epoch", &series, &dir.join("loss")).expect("renders");
        let png = std::fs::read(&paths[0]).expect("png written");
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
        let svg = std::fs::read_to_string(&paths[1]).expect("svg written");
        assert!(svg.contains("<svg") && svg.contains("Curves test") && svg.contains("val loss"));
    }

    #[test]
    fn renders_empty_and_single_point_series() {
        let dir = TestDir::new("curves-degenerate");
        let series = vec![("empty".to_string(), Vec::new()), ("one".to_string(), vec![(3.0, 0.5)])];
        let paths = metric_curves("Degenerate", "step", &series, &dir.join("a")).expect("renders");
        let svg = std::fs::read_to_string(&paths[1]).expect("svg written");
        assert!(svg.contains("<circle"), "a single point must be drawn as a dot");
        assert!(svg.contains("empty (no data)"));
        metric_curves("Nothing", "step", &[], &dir.join("b")).expect("no series renders");
        let bad = vec![("nan".to_string(), vec![(f64::NAN, 1.0), (1.0, f64::INFINITY)])];
        metric_curves("Non-finite", "step", &bad, &dir.join("c")).expect("non-finite renders");
    }

    #[test]
    fn padding_handles_degenerate_spans() {
        assert_eq!(padded(std::iter::empty(), 0.1), (0.0, 1.0));
        assert_eq!(padded([2.0].into_iter(), 0.1), (1.5, 2.5));
        assert_eq!(padded([0.0, 10.0].into_iter(), 0.1), (-1.0, 11.0));
    }
}
