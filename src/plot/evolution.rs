//! Small multiples of architecture weights over epochs: one panel per choice (edge), one
//! line per candidate operation, a shared legend.

use std::path::{Path, PathBuf};

use ndarray::Array3;
use plotters::coord::Shift;
use plotters::prelude::{ChartBuilder, DrawingArea, DrawingBackend, Text};
use plotters::style::BLACK;
use plotters::style::text_anchor::{HPos, VPos};

use super::axis::{self, Axis};
use super::color;
use super::legend::Legend;
use super::render::{self, DrawResult, Figure};
use super::series;
use super::text;
use crate::error::Result;

/// Margin around the figure.
const PAD: i32 = 16;
/// Panels per row of the grid.
const PANELS_PER_ROW: usize = 4;
/// Size of one panel.
const PANEL: (i32, i32) = (300, 250);
/// Histories with at most this many epochs get a dot on every point.
const MARKER_LIMIT: usize = 25;
/// Most ticks on the epoch axis of a panel.
const X_TICKS: usize = 7;
/// Most ticks on the weight axis of a panel.
const Y_TICKS: usize = 6;
/// Space left around the data on each axis, as a fraction of its span.
const MARGIN: f64 = 0.05;

/// Draws how each row's candidate weights evolve over `epochs` to `<stem>.png` and
/// `<stem>.svg` and returns both paths.
///
/// `history` has shape `[epochs, rows, cols]`: one panel per row (titled with its row
/// label, laid out four to a line), one line per column in the same colour in every
/// panel, and one legend for all. Every panel shares one y axis, described by `y_label`
/// and fitted to the finite weights with a small margin (so barely moving weights still
/// show their differences, and a constant history gets a proper axis around its value);
/// the x axis has ticks on whole epochs only. Non-finite entries are skipped (the line
/// breaks there); a single epoch is drawn as dots, spread sideways per candidate so that
/// equal weights stay visible.
///
/// # Errors
/// [`KdnasError::Plot`](crate::error::KdnasError::Plot) when the numbers of epochs, row
/// labels or column labels do not match the shape of `history`, any of them is zero, or
/// rendering fails; [`KdnasError::Io`](crate::error::KdnasError::Io) when the parent
/// directory cannot be created.
pub fn evolution(
    title: &str,
    y_label: &str,
    row_labels: &[String],
    col_labels: &[String],
    epochs: &[usize],
    history: &Array3<f32>,
    stem: &Path,
) -> Result<Vec<PathBuf>> {
    let (e, r, c) = history.dim();
    let given =
        [(epochs.len(), e, "epochs"), (row_labels.len(), r, "row labels"), (col_labels.len(), c, "column labels")];
    for (count, expected, what) in given {
        if count != expected {
            return Err(render::plot_error(
                stem,
                format!(
                    "evolution `{title}`: {count} {what} but history has shape [{e}, {r}, {c}] (epochs, rows, columns)"
                ),
            ));
        }
    }
    if e == 0 || r == 0 || c == 0 {
        return Err(render::plot_error(stem, format!("evolution `{title}`: history is empty (shape [{e}, {r}, {c}])")));
    }
    let figure = Evolution::new(title, y_label, row_labels, col_labels, epochs, history);
    render::render(&figure, stem)
}

/// An evolution figure ready to draw.
struct Evolution<'a> {
    /// Figure title.
    title: &'a str,
    /// Description of the y axis.
    y_label: &'a str,
    /// Panel titles.
    row_labels: &'a [String],
    /// Epoch of each history slice.
    epochs: &'a [usize],
    /// Weights, `[epochs, rows, cols]`.
    history: &'a Array3<f32>,
    /// The epoch axis shared by every panel.
    x_axis: Axis,
    /// The weight axis shared by every panel.
    y_axis: Axis,
    /// Legend of the candidates.
    legend: Legend,
    /// Panels per row of the grid.
    per_row: usize,
    /// Top of the first panel row.
    panels_top: i32,
    /// Canvas size.
    size: (u32, u32),
}

impl<'a> Evolution<'a> {
    /// Lays out the figure; the shapes have been checked.
    fn new(
        title: &'a str,
        y_label: &'a str,
        row_labels: &'a [String],
        col_labels: &[String],
        epochs: &'a [usize],
        history: &'a Array3<f32>,
    ) -> Self {
        let per_row = row_labels.len().min(PANELS_PER_ROW);
        let panel_rows = row_labels.len().div_ceil(per_row);
        let (title_w, title_h) = text::size_of(title, text::TITLE);
        let width = (per_row as i32 * PANEL.0 + 2 * PAD).max(title_w as i32 + 2 * PAD);
        let items = col_labels.iter().enumerate().map(|(i, l)| (l.clone(), color::categorical(i))).collect();
        let legend = Legend::new(items, (width - 2 * PAD) as u32);
        let panels_top = PAD + title_h as i32 + 12;
        let height = panels_top + panel_rows as i32 * PANEL.1 + 12 + legend.height() as i32 + PAD;
        let x_axis = Axis::integer(epochs.iter().map(|&e| e as f64), MARGIN / 2.0, X_TICKS);
        let y_axis = Axis::fitted(history.iter().map(|&v| f64::from(v)), MARGIN, Y_TICKS);
        Evolution {
            title,
            y_label,
            row_labels,
            epochs,
            history,
            x_axis,
            y_axis,
            legend,
            per_row,
            panels_top,
            size: (width as u32, height as u32),
        }
    }

    /// Draws the panel of `row` into `area`.
    fn draw_panel<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>, row: usize) -> DrawResult<DB> {
        let mut chart = ChartBuilder::on(area)
            .caption(&self.row_labels[row], text::font(text::LABEL))
            .margin(8)
            .x_label_area_size(axis::label_area_height(text::SMALL, text::SMALL))
            .y_label_area_size(self.y_axis.label_area_width(text::SMALL, text::SMALL))
            .build_cartesian_2d(self.x_axis.clone(), self.y_axis.clone())?;
        series::draw_mesh(&mut chart, (&self.x_axis, "epoch"), (&self.y_axis, self.y_label), text::SMALL)?;
        let markers = self.epochs.len() <= MARKER_LIMIT;
        let cols = self.history.dim().2;
        for col in 0..cols {
            // A lone epoch gets its dots spread sideways so equal weights stay visible.
            let dodge =
                if self.epochs.len() == 1 { (col as f64 - (cols - 1) as f64 / 2.0) * 0.8 / cols as f64 } else { 0.0 };
            let points = self
                .epochs
                .iter()
                .enumerate()
                .map(|(e, &epoch)| (epoch as f64 + dodge, f64::from(self.history[[e, row, col]])));
            series::draw_line(&mut chart, points, color::categorical(col), markers)?;
        }
        Ok(())
    }
}

impl Figure for Evolution<'_> {
    fn size(&self) -> (u32, u32) {
        self.size
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let title = text::style(text::TITLE, &BLACK, HPos::Center, VPos::Top);
        root.draw(&Text::new(self.title, (self.size.0 as i32 / 2, PAD), title))?;
        for row in 0..self.row_labels.len() {
            let left = PAD + (row % self.per_row) as i32 * PANEL.0;
            let top = self.panels_top + (row / self.per_row) as i32 * PANEL.1;
            let area = root.clone().shrink((left, top), (PANEL.0 as u32, PANEL.1 as u32));
            self.draw_panel(&area, row)?;
        }
        let legend_top = self.size.1 as i32 - PAD - self.legend.height() as i32;
        self.legend.draw(root, (PAD, legend_top))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plot::testdir::TestDir;

    fn labels(prefix: &str, n: usize) -> Vec<String> {
        (0..n).map(|i| format!("{prefix}{i}")).collect()
    }

    /// Softmax-like weights with a missing candidate in the last row.
    fn history(epochs: usize) -> Array3<f32> {
        let mut h = Array3::from_shape_fn((epochs, 14, 8), |(e, r, c)| (1.0 + ((e + r + c) % 5) as f32) / 24.0);
        h.slice_mut(ndarray::s![.., 13, 7]).fill(f32::NAN);
        h
    }

    #[test]
    fn renders_three_epochs() {
        let dir = TestDir::new("evolution-3");
        let stem = dir.join("alpha_normal");
        let paths = evolution(
            "Evolution test",
            "weight",
            &labels("edge", 14),
            &labels("op", 8),
            &[0, 5, 10],
            &history(3),
            &stem,
        )
        .expect("evolution renders");
        let png = std::fs::read(&paths[0]).expect("png written");
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
        let svg = std::fs::read_to_string(&paths[1]).expect("svg written");
        assert!(
            svg.contains("<svg") && svg.contains("Evolution test") && svg.contains("edge13") && svg.contains("op7")
        );
        assert!(svg.contains("\nweight\n"), "y axis label missing");
    }

    #[test]
    fn renders_a_single_epoch() {
        let dir = TestDir::new("evolution-1");
        let stem = dir.join("alpha_reduce");
        let paths = evolution("One epoch", "alpha", &labels("edge", 14), &labels("op", 8), &[7], &history(1), &stem)
            .expect("single epoch renders");
        let svg = std::fs::read_to_string(&paths[1]).expect("svg written");
        assert!(svg.contains("<circle"), "single epoch must be drawn as dots");
    }

    #[test]
    fn axes_fit_barely_moving_weights() {
        let (rows, cols) = (labels("edge", 14), labels("op", 8));
        let mut h = history(6);
        h.mapv_inplace(|v| 0.2 + (v - 0.125) / 20.0);
        let epochs: Vec<usize> = (1..=6).collect();
        let figure = Evolution::new("t", "weight", &rows, &cols, &epochs, &h);
        let (lo, hi) = figure.y_axis.range;
        assert!(lo > 0.19 && hi < 0.21 && hi - lo > 0.005, "y axis {lo}..{hi} does not zoom in");
        assert!(figure.y_axis.decimals >= 3);
        assert_eq!(figure.x_axis.ticks, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    }

    #[test]
    fn constant_history_and_single_epoch_get_proper_axes() {
        let (rows, cols) = (labels("edge", 14), labels("op", 8));
        let flat = Array3::from_elem((1, 14, 8), 0.125_f32);
        let figure = Evolution::new("t", "weight", &rows, &cols, &[4], &flat);
        let (lo, hi) = figure.y_axis.range;
        assert!(lo < 0.125 && hi > 0.125 && hi - lo > 0.01, "{lo}..{hi}");
        assert_eq!(figure.x_axis.ticks, vec![4.0]);
        assert!(figure.x_axis.range.0 < 4.0 && figure.x_axis.range.1 > 4.0);
    }

    #[test]
    fn mismatched_epochs_are_an_error() {
        let dir = TestDir::new("evolution-mismatch");
        let stem = dir.join("alpha");
        let err = evolution("t", "w", &labels("edge", 14), &labels("op", 8), &[0, 1], &history(3), &stem)
            .expect_err("mismatch rejected")
            .to_string();
        assert!(err.contains("2 epochs") && err.contains("[3, 14, 8]"), "{err}");
        let err = evolution("t", "w", &labels("edge", 14), &labels("op", 7), &[0, 1, 2], &history(3), &stem)
            .expect_err("mismatch rejected")
            .to_string();
        assert!(err.contains("7 column labels"), "{err}");
        let empty = Array3::<f32>::zeros((0, 14, 8));
        let err = evolution("t", "w", &labels("edge", 14), &labels("op", 8), &[], &empty, &stem)
            .expect_err("empty rejected")
            .to_string();
        assert!(err.contains("empty"), "{err}");
    }
}
