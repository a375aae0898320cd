//! Training curves: several named series (losses, accuracies) against a shared x axis.

use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::{ChartBuilder, DrawingArea, DrawingBackend};

use super::axis::{self, Axis};
use super::color;
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
/// Most ticks on either axis.
const MAX_TICKS: usize = 11;
/// Space left around the data on the x axis, as a fraction of its span.
const X_MARGIN: f64 = 0.02;
/// Space left around the data on the y axis, as a fraction of its span.
const Y_MARGIN: f64 = 0.05;

/// Draws `series` (name, `(x, y)` points) as lines with a legend to `<stem>.png` and
/// `<stem>.svg` and returns both paths.
///
/// Non-finite points are skipped (the line breaks there); a series without finite points
/// still appears in the legend, marked `(no data)`, and an isolated point is drawn as a dot. Both axes fit the
/// finite points with a small margin (a constant series gets a proper axis around its
/// value, no points give `0..1`) and are described by `x_label` and `y_label`; when every
/// x is a whole number (an epoch count) the x ticks are whole numbers too.
///
/// # Errors
/// [`KdnasError::Plot`](crate::error::KdnasError::Plot) when rendering fails;
/// [`KdnasError::Io`](crate::error::KdnasError::Io) when the parent directory cannot be created.
pub fn metric_curves(
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[(String, Vec<(f64, f64)>)],
    stem: &Path,
) -> Result<Vec<PathBuf>> {
    render::render(&Curves::new(title, (x_label, y_label), series), stem)
}

/// A curves figure ready to draw.
struct Curves<'a> {
    /// Chart caption.
    title: &'a str,
    /// Descriptions of the x and y axes.
    labels: (&'a str, &'a str),
    /// The data.
    series: &'a [(String, Vec<(f64, f64)>)],
    /// The x axis.
    x_axis: Axis,
    /// The y axis.
    y_axis: Axis,
    /// Legend of the series.
    legend: Legend,
}

impl<'a> Curves<'a> {
    /// Lays out the figure.
    fn new(title: &'a str, labels: (&'a str, &'a str), series: &'a [(String, Vec<(f64, f64)>)]) -> Self {
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
        let finite = || series.iter().flat_map(|(_, p)| p.iter()).filter(|(x, y)| x.is_finite() && y.is_finite());
        let x_axis = x_axis(finite().map(|p| p.0).collect());
        let y_axis = Axis::fitted(finite().map(|p| p.1), Y_MARGIN, MAX_TICKS);
        Curves { title, labels, series, x_axis, y_axis, legend }
    }
}

impl Figure for Curves<'_> {
    fn size(&self) -> (u32, u32) {
        (WIDTH as u32, (PAD + CHART_H + 12 + self.legend.height() as i32 + PAD) as u32)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let area = root.clone().shrink((PAD, PAD), ((WIDTH - 2 * PAD) as u32, CHART_H as u32));
        let mut chart = ChartBuilder::on(&area)
            .caption(self.title, text::font(text::TITLE))
            .margin(12)
            .x_label_area_size(axis::label_area_height(text::SMALL, text::LABEL))
            .y_label_area_size(self.y_axis.label_area_width(text::SMALL, text::LABEL))
            .build_cartesian_2d(self.x_axis.clone(), self.y_axis.clone())?;
        let (x_label, y_label) = self.labels;
        series::draw_mesh(&mut chart, (&self.x_axis, x_label), (&self.y_axis, y_label), text::LABEL)?;
        for (i, (_, points)) in self.series.iter().enumerate() {
            series::draw_line(&mut chart, points.iter().copied(), color::categorical(i), points.len() <= MARKER_LIMIT)?;
        }
        self.legend.draw(root, (PAD, PAD + CHART_H + 12))
    }
}

/// The x axis over `xs`, with whole-number ticks when every x is a whole number (such as
/// an epoch count).
fn x_axis(xs: Vec<f64>) -> Axis {
    if !xs.is_empty() && xs.iter().all(|x| x.fract() == 0.0) {
        Axis::integer(xs, X_MARGIN, MAX_TICKS)
    } else {
        Axis::fitted(xs, X_MARGIN, MAX_TICKS)
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
        let paths = metric_curves("Curves test", "epoch", "loss", &series, &dir.join("loss")).expect("renders");
        let png = std::fs::read(&paths[0]).expect("png written");
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
        let svg = std::fs::read_to_string(&paths[1]).expect("svg written");
        assert!(svg.contains("<svg") && svg.contains("Curves test") && svg.contains("val loss"));
        assert!(svg.contains("\nloss\n"), "y axis label missing");
    }

    #[test]
    fn renders_empty_and_single_point_series() {
        let dir = TestDir::new("curves-degenerate");
        let series = vec![("empty".to_string(), Vec::new()), ("one".to_string(), vec![(3.0, 0.5)])];
        let paths = metric_curves("Degenerate", "step", "value", &series, &dir.join("a")).expect("renders");
        let svg = std::fs::read_to_string(&paths[1]).expect("svg written");
        assert!(svg.contains("<circle"), "a single point must be drawn as a dot");
        assert!(svg.contains("empty (no data)"));
        metric_curves("Nothing", "step", "value", &[], &dir.join("b")).expect("no series renders");
        let bad = vec![("nan".to_string(), vec![(f64::NAN, 1.0), (1.0, f64::INFINITY)])];
        metric_curves("Non-finite", "step", "value", &bad, &dir.join("c")).expect("non-finite renders");
    }

    #[test]
    fn epoch_counts_get_whole_ticks() {
        let one = x_axis(vec![1.0]);
        assert_eq!(one.ticks, vec![1.0]);
        let six = x_axis((1..=6).map(f64::from).collect());
        assert_eq!(six.ticks, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let many = x_axis((0..=200).map(f64::from).collect());
        assert!(many.ticks.len() <= MAX_TICKS && many.ticks.iter().all(|t| t.fract() == 0.0), "{:?}", many.ticks);
        let fractional = x_axis(vec![0.0, 0.5, 1.0]);
        assert!(fractional.ticks.iter().any(|t| t.fract() != 0.0) && fractional.decimals == 1);
    }

    #[test]
    fn y_axis_fits_flat_and_tiny_spread_series() {
        let flat = vec![("acc".to_string(), (1..=6).map(|e| (f64::from(e), 0.5)).collect::<Vec<_>>())];
        let figure = Curves::new("t", ("epoch", "accuracy"), &flat);
        let (lo, hi) = figure.y_axis.range;
        assert!(lo < 0.5 && hi > 0.5 && hi - lo > 0.01, "{lo}..{hi}");
        let tiny = vec![("loss".to_string(), vec![(1.0, 1.6094), (2.0, 1.6090), (3.0, 1.6081)])];
        let figure = Curves::new("t", ("epoch", "loss"), &tiny);
        let (lo, hi) = figure.y_axis.range;
        assert!(lo > 1.607 && lo < 1.6081 && hi > 1.6094 && hi < 1.611, "{lo}..{hi}");
        assert!(figure.y_axis.decimals >= 4, "{:?}", figure.y_axis);
    }
}
