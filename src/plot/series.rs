//! Drawing one data series as a line on a chart, with gaps where values are not finite.

use plotters::chart::ChartContext;
use plotters::element::Circle;
use plotters::prelude::{Cartesian2d, DrawingBackend, LineSeries};
use plotters::style::{Color, RGBColor};

use super::axis::Axis;
use super::color::GRID;
use super::render::DrawResult;
use super::text;

/// A chart whose two axes are fitted [`Axis`] scales.
pub(crate) type Chart<'a, DB> = ChartContext<'a, DB, Cartesian2d<Axis, Axis>>;

/// Splits `points` into maximal runs of finite points; non-finite points end a run.
pub(crate) fn finite_runs(points: impl IntoIterator<Item = (f64, f64)>) -> Vec<Vec<(f64, f64)>> {
    let mut runs = vec![Vec::new()];
    for (x, y) in points {
        match runs.last_mut() {
            Some(run) if x.is_finite() && y.is_finite() => run.push((x, y)),
            Some(run) if !run.is_empty() => runs.push(Vec::new()),
            _ => {}
        }
    }
    runs.retain(|run| !run.is_empty());
    runs
}

/// Draws `points` in `colour`: a line through each finite run, plus a dot on every point
/// when `markers` is set and always on points that have no finite neighbour.
pub(crate) fn draw_line<DB: DrawingBackend>(
    chart: &mut Chart<'_, DB>,
    points: impl IntoIterator<Item = (f64, f64)>,
    colour: RGBColor,
    markers: bool,
) -> DrawResult<DB> {
    for run in finite_runs(points) {
        if run.len() > 1 {
            chart.draw_series(LineSeries::new(run.iter().copied(), colour.stroke_width(2)))?;
        }
        if markers || run.len() == 1 {
            chart.draw_series(run.iter().map(|&p| Circle::new(p, 3, colour.filled())))?;
        }
    }
    Ok(())
}

/// Draws the grid and both axes of `chart` with the ticks of `x` and `y`, each axis with
/// its description (a `(axis, description)` pair) at `desc_size` pixels.
pub(crate) fn draw_mesh<DB: DrawingBackend>(
    chart: &mut Chart<'_, DB>,
    (x, x_desc): (&Axis, &str),
    (y, y_desc): (&Axis, &str),
    desc_size: f64,
) -> DrawResult<DB> {
    chart
        .configure_mesh()
        .x_label_formatter(&|v| x.label(*v))
        .y_label_formatter(&|v| y.label(*v))
        .label_style(text::font(text::SMALL))
        .axis_desc_style(text::font(desc_size))
        .x_desc(x_desc)
        .y_desc(y_desc)
        .bold_line_style(GRID.mix(0.6))
        .draw()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_break_at_non_finite_points() {
        let nan = f64::NAN;
        let runs = finite_runs([(0.0, 1.0), (1.0, nan), (2.0, 2.0), (3.0, 3.0), (f64::INFINITY, 1.0), (5.0, 5.0)]);
        assert_eq!(runs, vec![vec![(0.0, 1.0)], vec![(2.0, 2.0), (3.0, 3.0)], vec![(5.0, 5.0)]]);
        assert!(finite_runs([(nan, nan)]).is_empty());
        assert!(finite_runs(Vec::new()).is_empty());
    }
}
