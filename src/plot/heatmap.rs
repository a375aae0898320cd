//! Heatmap of one [`WeightTable`]: a coloured, annotated cell per (choice, candidate), the
//! row-wise argmax framed, and a colour bar. The cells hold architecture weights or, through
//! [`heatmap_of`], any other named quantity (such as a transport flow).

use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::{DrawingArea, DrawingBackend, Rectangle, Text};
use plotters::style::text_anchor::{HPos, VPos};
use plotters::style::{BLACK, Color, FontTransform, RGBColor};

use super::axis;
use super::color::{self, GRID, MISSING};
use super::render::{self, DrawResult, Figure};
use super::table::WeightTable;
use super::text;
use crate::error::Result;

/// Margin around the figure.
const PAD: i32 = 16;
/// Height of one cell.
const CELL_H: i32 = 30;
/// Narrowest cell; cells widen further to fit their annotations.
const MIN_CELL_W: i32 = 62;
/// Room left beside the widest annotation or column label in a cell.
const CELL_PAD: i32 = 12;
/// Widest cell; longer column labels are turned vertical instead.
const MAX_CELL_W: i32 = 130;
/// Width of the colour bar.
const BAR_W: i32 = 18;
/// Shortest colour bar, so few-row tables still get a usable scale.
const MIN_BAR_H: i32 = 150;
/// Thickness of the frame around a row's largest weight.
const FRAME: i32 = 3;
/// Colour of that frame.
const FRAME_COLOUR: RGBColor = RGBColor(230, 20, 60);
/// Most rows or columns drawn; larger tables could not be read as one image anyway.
const MAX_CELLS_PER_AXIS: usize = 4096;
/// Explanation of the marks of a weight table, printed under the grid.
const NOTE: &str = "red frame: largest weight in the row;  grey: not a candidate";
/// Vertical space between note lines.
const NOTE_GAP: i32 = 4;
/// How far a row's finite weights may sum from 1 and still count as a softmax.
const SOFTMAX_TOLERANCE: f64 = 1e-3;

/// Draws `table` as a heatmap to `<stem>.png` and `<stem>.svg` and returns both paths.
///
/// Cells are coloured with viridis from the smallest to the largest finite value, so that
/// weights which barely differ still get different colours, and annotated with as many
/// decimals as that spread needs (at least two; the colour bar's labels use the same).
/// A note under the grid states the colour range and, when every row is a softmax over
/// the same number `k` of candidates, the uniform weight `1/k`. The first largest value
/// of each row is framed. Non-finite cells (`NaN` marks a missing candidate) are drawn
/// grey without text. The image grows with the number of rows and columns.
///
/// # Errors
/// [`KdnasError::Plot`](crate::error::KdnasError::Plot) when the labels do not match the
/// shape of `values`, the table is empty or too large to draw, or rendering fails;
/// [`KdnasError::Io`](crate::error::KdnasError::Io) when the parent directory cannot be created.
pub fn heatmap(table: &WeightTable, stem: &Path) -> Result<Vec<PathBuf>> {
    draw(table, Cells::Weights, stem)
}

/// Draws `table`, whose cells hold `quantity` (e.g. `flow`) rather than architecture
/// weights, like [`heatmap`]: the colour bar and the notes name `quantity`, the notes
/// mention grey cells only when there are some, and rows are never read as a softmax.
///
/// # Errors
/// As [`heatmap`].
pub fn heatmap_of(table: &WeightTable, quantity: &str, stem: &Path) -> Result<Vec<PathBuf>> {
    draw(table, Cells::Quantity(quantity), stem)
}

/// What the cells of a heatmap hold.
#[derive(Debug, Clone, Copy)]
enum Cells<'a> {
    /// Architecture weights: rows are softmaxes over candidates, `NaN` marks a missing one.
    Weights,
    /// Any other quantity, by name.
    Quantity(&'a str),
}

impl<'a> Cells<'a> {
    /// The name of one cell's value, for the colour bar and the notes.
    fn name(self) -> &'a str {
        match self {
            Cells::Weights => "weight",
            Cells::Quantity(name) => name,
        }
    }
}

/// Checks `table` and draws it as a heatmap of `cells`.
fn draw(table: &WeightTable, cells: Cells<'_>, stem: &Path) -> Result<Vec<PathBuf>> {
    if let Some(message) = table.shape_mismatch() {
        return Err(render::plot_error(stem, message));
    }
    let (rows, cols) = table.values.dim();
    if rows.max(cols) > MAX_CELLS_PER_AXIS {
        let message = format!(
            "weight table `{}` has shape [{rows}, {cols}]; at most {MAX_CELLS_PER_AXIS} rows and columns can be drawn",
            table.title
        );
        return Err(render::plot_error(stem, message));
    }
    render::render(&Heatmap::new(table, cells), stem)
}

/// Pixel geometry of a heatmap, derived from its labels.
struct Layout {
    /// Canvas size.
    size: (u32, u32),
    /// Cell width.
    cell_w: i32,
    /// Top-left corner of the grid.
    grid: (i32, i32),
    /// Whether column labels are drawn vertically.
    vertical_cols: bool,
    /// Top-left corner of the colour bar.
    bar: (i32, i32),
    /// Height of the colour bar.
    bar_h: i32,
    /// Top-left corner of the explanatory notes.
    note: (i32, i32),
    /// Distance from one note line to the next.
    note_step: i32,
}

/// A heatmap ready to draw.
struct Heatmap<'a> {
    /// The data.
    table: &'a WeightTable,
    /// Where everything goes.
    layout: Layout,
    /// Values mapped to the two ends of the colormap.
    range: (f64, f64),
    /// Decimals of the annotations and colour bar labels.
    decimals: usize,
    /// Lines of explanation under the grid.
    notes: Vec<String>,
    /// What the cells hold.
    cells: Cells<'a>,
}

impl<'a> Heatmap<'a> {
    /// Lays out `table` of `cells`, whose shape has been checked.
    fn new(table: &'a WeightTable, cells: Cells<'a>) -> Self {
        let range = axis::fitted_range(finite_values(table), 0.0);
        let decimals = axis::value_decimals(range.1 - range.0);
        let notes = notes(table, cells, range, decimals);
        let (rows, cols) = table.values.dim();
        let (title_w, title_h) = text::size_of(&table.title, text::TITLE);
        let row_w = text::max_width(&table.row_labels, text::LABEL) as i32;
        let (cell_w, header_h, vertical_cols) = cell_size(table, decimals);
        let grid = (PAD + row_w + 10, PAD + title_h as i32 + 16 + header_h);
        let (grid_w, grid_h) = (cell_w * cols as i32, CELL_H * rows as i32);

        let bar = (grid.0 + grid_w + 28, grid.1);
        let bar_h = grid_h.max(MIN_BAR_H);
        let tick_w = tick_values(range).iter().map(|&v| text::size_of(&axis::fixed(v, decimals), text::SMALL).0).max();
        let caption_w = text::size_of(cells.name(), text::SMALL).0 as i32;
        let bar_right = bar.0 + (BAR_W + 8 + tick_w.unwrap_or(0) as i32).max(caption_w);

        let note_step = text::size_of("Ag", text::SMALL).1 as i32 + NOTE_GAP;
        let note = (grid.0, grid.1 + grid_h.max(bar_h) + 12);
        let note_right = note.0 + text::max_width(&notes, text::SMALL) as i32;
        let width = (bar_right + PAD).max(title_w as i32 + 2 * PAD).max(note_right + PAD);
        let height = note.1 + note_step * notes.len() as i32 - NOTE_GAP + PAD;
        let size = (width as u32, height as u32);
        let layout = Layout { size, cell_w, grid, vertical_cols, bar, bar_h, note, note_step };
        Heatmap { table, layout, range, decimals, notes, cells }
    }

    /// Position of `value` in the colour range, in `[0, 1]`.
    fn fraction(&self, value: f64) -> f64 {
        let (lo, hi) = self.range;
        (value - lo) / (hi - lo)
    }

    /// Draws the coloured, annotated cells and frames each row's argmax.
    fn draw_cells<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let Layout { cell_w, grid, .. } = self.layout;
        for (r, row) in self.table.values.rows().into_iter().enumerate() {
            let argmax = row_argmax(row.iter().copied());
            for (c, &value) in row.iter().enumerate() {
                let x0 = grid.0 + c as i32 * cell_w;
                let y0 = grid.1 + r as i32 * CELL_H;
                let value = f64::from(value);
                let fill = if value.is_finite() { color::viridis(self.fraction(value)) } else { MISSING };
                root.draw(&Rectangle::new([(x0 + 1, y0 + 1), (x0 + cell_w - 1, y0 + CELL_H - 1)], fill.filled()))?;
                if !value.is_finite() {
                    continue;
                }
                let centre = (x0 + cell_w / 2, y0 + CELL_H / 2);
                let style = text::style(text::SMALL, &color::text_on(fill), HPos::Center, VPos::Center);
                root.draw(&Text::new(axis::fixed(value, self.decimals), centre, style))?;
                if argmax == Some(c) {
                    frame(root, (x0 + 1, y0 + 1), (x0 + cell_w - 1, y0 + CELL_H - 1))?;
                }
            }
        }
        Ok(())
    }

    /// Draws the title, row and column labels and the note explaining the marks.
    fn draw_labels<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let Layout { size, cell_w, grid, vertical_cols, .. } = self.layout;
        let title = text::style(text::TITLE, &BLACK, HPos::Center, VPos::Top);
        root.draw(&Text::new(self.table.title.clone(), (size.0 as i32 / 2, PAD), title))?;
        for (r, label) in self.table.row_labels.iter().enumerate() {
            let at = (grid.0 - 8, grid.1 + r as i32 * CELL_H + CELL_H / 2);
            root.draw(&Text::new(label.clone(), at, text::style(text::LABEL, &BLACK, HPos::Right, VPos::Center)))?;
        }
        for (c, label) in self.table.col_labels.iter().enumerate() {
            let at = (grid.0 + c as i32 * cell_w + cell_w / 2, grid.1 - 6);
            let style = if vertical_cols {
                text::style(text::LABEL, &BLACK, HPos::Left, VPos::Center).transform(FontTransform::Rotate270)
            } else {
                text::style(text::LABEL, &BLACK, HPos::Center, VPos::Bottom)
            };
            root.draw(&Text::new(label.clone(), at, style))?;
        }
        let (x, y) = self.layout.note;
        for (i, line) in self.notes.iter().enumerate() {
            let style = text::style(text::SMALL, &BLACK, HPos::Left, VPos::Top);
            root.draw(&Text::new(line.clone(), (x, y + i as i32 * self.layout.note_step), style))?;
        }
        Ok(())
    }

    /// Draws the colour bar with its ticks and caption.
    fn draw_colour_bar<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let Layout { bar: (x, y), bar_h, .. } = self.layout;
        const BAND: i32 = 2;
        for top in (0..bar_h).step_by(BAND as usize) {
            let t = 1.0 - f64::from(top) / f64::from((bar_h - 1).max(1));
            let band = [(x, y + top), (x + BAR_W, (y + top + BAND).min(y + bar_h))];
            root.draw(&Rectangle::new(band, color::viridis(t).filled()))?;
        }
        root.draw(&Rectangle::new([(x, y), (x + BAR_W, y + bar_h)], GRID))?;
        for value in tick_values(self.range) {
            let ty = y + bar_h - (self.fraction(value) * f64::from(bar_h)).round() as i32;
            root.draw(&Rectangle::new([(x + BAR_W, ty), (x + BAR_W + 4, ty + 1)], BLACK.filled()))?;
            let style = text::style(text::SMALL, &BLACK, HPos::Left, VPos::Center);
            root.draw(&Text::new(axis::fixed(value, self.decimals), (x + BAR_W + 8, ty), style))?;
        }
        let caption = text::style(text::SMALL, &BLACK, HPos::Left, VPos::Bottom);
        root.draw(&Text::new(self.cells.name(), (x, y - 8), caption))?;
        Ok(())
    }
}

impl Figure for Heatmap<'_> {
    fn size(&self) -> (u32, u32) {
        self.layout.size
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        self.draw_cells(root)?;
        self.draw_labels(root)?;
        self.draw_colour_bar(root)
    }
}

/// Draws a [`FRAME`]-thick border just inside the rectangle from `a` to `b`.
fn frame<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, a: (i32, i32), b: (i32, i32)) -> DrawResult<DB> {
    let style = FRAME_COLOUR.filled();
    root.draw(&Rectangle::new([a, (b.0, a.1 + FRAME)], style))?;
    root.draw(&Rectangle::new([(a.0, b.1 - FRAME), b], style))?;
    root.draw(&Rectangle::new([a, (a.0 + FRAME, b.1)], style))?;
    root.draw(&Rectangle::new([(b.0 - FRAME, a.1), b], style))?;
    Ok(())
}

/// Index of the first largest finite value, or `None` when there is none.
fn row_argmax(values: impl Iterator<Item = f32>) -> Option<usize> {
    values
        .enumerate()
        .filter(|(_, v)| v.is_finite())
        .fold(None, |best: Option<(usize, f32)>, (i, v)| match best {
            Some((_, b)) if b >= v => best,
            _ => Some((i, v)),
        })
        .map(|(i, _)| i)
}

/// Cell width, column header height and whether column labels turn vertical: cells fit
/// the widest annotation with `decimals` decimals and, up to [`MAX_CELL_W`], the widest
/// column label.
fn cell_size(table: &WeightTable, decimals: usize) -> (i32, i32, bool) {
    let label_h = text::size_of("Ag", text::LABEL).1 as i32;
    let col_w = text::max_width(&table.col_labels, text::LABEL) as i32;
    let value_w = finite_values(table).map(|v| text::size_of(&axis::fixed(v, decimals), text::SMALL).0).max();
    let min_cell_w = MIN_CELL_W.max(value_w.unwrap_or(0) as i32 + CELL_PAD);
    if col_w + CELL_PAD > MAX_CELL_W.max(min_cell_w) {
        (min_cell_w, col_w + 10, true)
    } else {
        ((col_w + CELL_PAD).max(min_cell_w), label_h + 10, false)
    }
}

/// The finite values of `table`.
fn finite_values(table: &WeightTable) -> impl Iterator<Item = f64> + '_ {
    table.values.iter().copied().filter(|v| v.is_finite()).map(f64::from)
}

/// The lines under the grid: what the marks mean, the colour range and, for softmax
/// rows of weights, the uniform weight.
fn notes(table: &WeightTable, cells: Cells<'_>, (lo, hi): (f64, f64), decimals: usize) -> Vec<String> {
    let (lo, hi) = (axis::fixed(lo, decimals), axis::fixed(hi, decimals));
    let mut range = format!("colour scale fitted to the data: {lo} (dark) to {hi} (bright)");
    let marks = match cells {
        Cells::Weights => {
            if let Some(k) = softmax_candidates(table) {
                range.push_str(&format!(";  uniform weight 1/{k} = {}", axis::fixed(1.0 / k as f64, decimals)));
            }
            NOTE.to_string()
        }
        Cells::Quantity(name) => {
            let missing = table.values.iter().any(|v| !v.is_finite());
            format!("red frame: largest {name} in the row{}", if missing { ";  grey: no value" } else { "" })
        }
    };
    vec![marks, range]
}

/// The number of candidates `k` when every row's finite weights are non-negative, sum to
/// 1 and number `k`; `None` otherwise.
fn softmax_candidates(table: &WeightTable) -> Option<usize> {
    let mut counts = table.values.rows().into_iter().map(|row| {
        let finite: Vec<f64> = row.iter().copied().filter(|v| v.is_finite()).map(f64::from).collect();
        let is_softmax =
            finite.iter().all(|&v| v >= 0.0) && (finite.iter().sum::<f64>() - 1.0).abs() <= SOFTMAX_TOLERANCE;
        is_softmax.then_some(finite.len())
    });
    let first = counts.next()??;
    counts.all(|k| k == Some(first)).then_some(first)
}

/// Five evenly spaced values across `range`, ends included.
fn tick_values((lo, hi): (f64, f64)) -> Vec<f64> {
    (0..5).map(|k| lo + (hi - lo) * f64::from(k) / 4.0).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plot::testdir::TestDir;
    use ndarray::Array2;

    /// A 14 x 8 table whose last row has only 7 candidates.
    fn darts_like() -> WeightTable {
        let mut values = Array2::from_shape_fn((14, 8), |(r, c)| ((r * 8 + c) % 13) as f32 / 30.0);
        values[[0, 3]] = 0.42;
        values[[13, 7]] = f32::NAN;
        WeightTable {
            title: "Heatmap test table".into(),
            row_labels: (0..14).map(|r| format!("n{} <- in{}", r / 3, r % 3)).collect(),
            col_labels: crate::space::Catalogue::CONV2D.ops().into_iter().map(String::from).collect(),
            values,
        }
    }

    #[test]
    fn writes_png_and_svg() {
        let dir = TestDir::new("heatmap");
        let stem = dir.join("nested").join("alpha");
        let paths = heatmap(&darts_like(), &stem).expect("heatmap renders");
        assert_eq!(paths.len(), 2);
        let png = std::fs::read(&paths[0]).expect("png written");
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
        let svg = std::fs::read_to_string(&paths[1]).expect("svg written");
        assert!(svg.contains("<svg"));
        assert!(svg.contains("Heatmap test table"));
        assert!(svg.contains("\n0.42\n"), "annotation missing");
        assert!(svg.contains("sep_conv_3x3") && svg.contains("n0 &lt;- in1"));
    }

    #[test]
    fn long_column_labels_turn_vertical() {
        let mut table = darts_like();
        table.col_labels[2] = "a_rather_long_operation_name".into();
        let figure = Heatmap::new(&table, Cells::Weights);
        assert!(figure.layout.vertical_cols);
        assert!(!Heatmap::new(&darts_like(), Cells::Weights).layout.vertical_cols);
        let dir = TestDir::new("heatmap-vertical");
        let paths = heatmap(&table, &dir.join("alpha")).expect("renders");
        let svg = std::fs::read_to_string(&paths[1]).expect("svg written");
        assert!(svg.contains("rotate(270"));
    }

    #[test]
    fn shape_mismatch_is_an_error() {
        let mut table = darts_like();
        table.row_labels.pop();
        let dir = TestDir::new("heatmap-mismatch");
        let stem = dir.join("alpha");
        let err = heatmap(&table, &stem).expect_err("mismatch rejected").to_string();
        assert!(err.contains("13 row labels") && err.contains("14 rows"), "{err}");
        assert!(!stem.with_extension("png").exists());
    }

    #[test]
    fn unusable_output_directory_is_an_io_error() {
        let dir = TestDir::new("heatmap-blocked");
        let blocker = dir.join("blocker");
        std::fs::create_dir_all(blocker.parent().expect("blocker has a parent")).expect("test dir");
        std::fs::write(&blocker, b"not a directory").expect("blocker file");
        let err = heatmap(&darts_like(), &blocker.join("alpha")).expect_err("cannot create the directory");
        assert!(matches!(err, crate::error::KdnasError::Io { .. }), "{err}");
    }

    #[test]
    fn oversized_table_is_an_error() {
        let table = WeightTable {
            title: "huge".into(),
            row_labels: vec![String::new(); MAX_CELLS_PER_AXIS + 1],
            col_labels: vec!["op".into()],
            values: Array2::zeros((MAX_CELLS_PER_AXIS + 1, 1)),
        };
        let dir = TestDir::new("heatmap-huge");
        let err = heatmap(&table, &dir.join("alpha")).expect_err("refused");
        assert!(err.to_string().contains("at most"), "{err}");
    }

    #[test]
    fn argmax_skips_missing_and_keeps_first_tie() {
        assert_eq!(row_argmax([0.1, f32::NAN, 0.3, 0.3].into_iter()), Some(2));
        assert_eq!(row_argmax([f32::NAN, f32::NAN].into_iter()), None);
    }

    #[test]
    fn colour_range_covers_values() {
        let range = |table: &WeightTable| Heatmap::new(table, Cells::Weights).range;
        let mut table = darts_like();
        assert_eq!(range(&table), (0.0, f64::from(0.42_f32)));
        table.values.fill(f32::NAN);
        assert_eq!(range(&table), (0.0, 1.0));
        table.values[[0, 0]] = -2.0;
        table.values[[0, 1]] = 3.0;
        assert_eq!(range(&table), (-2.0, 3.0));
        table.values.fill(0.25);
        let (lo, hi) = range(&table);
        assert!(lo < 0.25 && hi > 0.25, "constant table needs a proper range: {lo}..{hi}");
    }

    /// Softmax rows over 5 candidates that barely leave the uniform 0.2.
    fn barely_moved() -> WeightTable {
        let offsets = [-0.003, -0.001, 0.0, 0.001, 0.003];
        let values = Array2::from_shape_fn((5, 5), |(r, c)| 0.2 + offsets[(r + c) % 5] as f32);
        WeightTable {
            title: "barely moved".into(),
            row_labels: (0..5).map(|r| format!("e{r}")).collect(),
            col_labels: (0..5).map(|c| format!("op{c}")).collect(),
            values,
        }
    }

    #[test]
    fn tiny_spread_is_scaled_and_annotated_finely() {
        let table = barely_moved();
        let figure = Heatmap::new(&table, Cells::Weights);
        let (lo, hi) = figure.range;
        assert!((lo - 0.197).abs() < 1e-6 && (hi - 0.203).abs() < 1e-6, "{lo}..{hi}");
        assert_eq!(figure.decimals, 4);
        assert!(figure.fraction(0.197) < 0.01 && figure.fraction(0.203) > 0.99);
        assert_eq!(softmax_candidates(&table), Some(5));
        assert!(figure.notes[1].contains("0.1970") && figure.notes[1].contains("0.2030"), "{:?}", figure.notes);
        assert!(figure.notes[1].contains("1/5 = 0.2000"), "{:?}", figure.notes);
        let dir = TestDir::new("heatmap-tiny");
        let paths = heatmap(&table, &dir.join("alpha")).expect("renders");
        let svg = std::fs::read_to_string(&paths[1]).expect("svg written");
        for annotation in ["\n0.1970\n", "\n0.1990\n", "\n0.2000\n", "\n0.2010\n", "\n0.2030\n"] {
            assert!(svg.contains(annotation), "missing annotation {annotation:?}");
        }
    }

    #[test]
    fn named_quantity_is_not_read_as_weights() {
        // One row summing to 1 would pass for a softmax over 2 candidates.
        let table = WeightTable {
            title: "transport".into(),
            row_labels: vec!["cell 1".into()],
            col_labels: vec!["layer 1".into(), "layer 2".into()],
            values: ndarray::arr2(&[[0.25, 0.75]]),
        };
        let figure = Heatmap::new(&table, Cells::Quantity("flow"));
        assert_eq!(figure.notes[0], "red frame: largest flow in the row");
        assert!(!figure.notes[1].contains("uniform"), "{:?}", figure.notes);
        assert!(Heatmap::new(&table, Cells::Weights).notes[1].contains("uniform weight 1/2"));
        let mut gappy = table.clone();
        gappy.values[[0, 0]] = f32::NAN;
        assert!(Heatmap::new(&gappy, Cells::Quantity("flow")).notes[0].ends_with("grey: no value"));
        let dir = TestDir::new("heatmap-quantity");
        let paths = heatmap_of(&table, "flow", &dir.join("flow")).expect("renders");
        let svg = std::fs::read_to_string(&paths[1]).expect("svg written");
        assert!(svg.contains("\nflow\n") && !svg.contains("\nweight\n"), "colour bar caption");
    }

    #[test]
    fn softmax_needs_equal_candidate_counts() {
        assert_eq!(softmax_candidates(&darts_like()), None);
        let mut table = barely_moved();
        table.values[[4, 4]] = f32::NAN;
        assert_eq!(softmax_candidates(&table), None);
        table.values.row_mut(4).assign(&ndarray::arr1(&[0.25, 0.25, 0.25, 0.25, f32::NAN]));
        assert_eq!(softmax_candidates(&table), None);
        assert!(!Heatmap::new(&table, Cells::Weights).notes[1].contains("uniform"));
    }
}
