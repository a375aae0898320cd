//! A shared legend for line charts: coloured line swatches with labels, flowed into
//! centred rows that fit a given width.

use plotters::coord::Shift;
use plotters::element::{Circle, PathElement};
use plotters::prelude::{DrawingArea, DrawingBackend, Text};
use plotters::style::text_anchor::{HPos, VPos};
use plotters::style::{BLACK, Color, RGBColor};

use super::render::DrawResult;
use super::text;

/// Length of the line swatch in front of each label.
const SWATCH: u32 = 28;
/// Space between swatch and label.
const SWATCH_GAP: u32 = 6;
/// Horizontal space between entries.
const ENTRY_GAP: u32 = 24;
/// Height of one row of entries.
const ROW_HEIGHT: u32 = 24;

/// A legend laid out for a fixed width.
pub(crate) struct Legend {
    /// Label, colour and top-left corner (relative to the legend's origin) of each entry.
    entries: Vec<(String, RGBColor, (i32, i32))>,
    /// Number of rows the entries flow into.
    rows: u32,
}

impl Legend {
    /// Flows `items` into centred rows no wider than `width` pixels.
    pub(crate) fn new(items: Vec<(String, RGBColor)>, width: u32) -> Self {
        let entry_width = |label: &str| SWATCH + SWATCH_GAP + text::size_of(label, text::LABEL).0;
        // Group entries into rows, then centre each row.
        let mut rows: Vec<Vec<(String, RGBColor, u32)>> = Vec::new();
        let mut used = 0;
        for (label, colour) in items {
            let w = entry_width(&label);
            match rows.last_mut() {
                Some(row) if used + ENTRY_GAP + w <= width => {
                    used += ENTRY_GAP + w;
                    row.push((label, colour, w));
                }
                _ => {
                    used = w;
                    rows.push(vec![(label, colour, w)]);
                }
            }
        }
        let mut entries = Vec::new();
        for (r, row) in rows.iter().enumerate() {
            let row_width: u32 =
                row.iter().map(|e| e.2).sum::<u32>() + ENTRY_GAP * (row.len() as u32).saturating_sub(1);
            let mut x = width.saturating_sub(row_width) / 2;
            for (label, colour, w) in row {
                entries.push((label.clone(), *colour, (x as i32, (r as u32 * ROW_HEIGHT) as i32)));
                x += w + ENTRY_GAP;
            }
        }
        Legend { entries, rows: rows.len() as u32 }
    }

    /// Height in pixels the legend occupies.
    pub(crate) fn height(&self) -> u32 {
        self.rows * ROW_HEIGHT
    }

    /// Draws the legend with its top-left corner at `origin`.
    pub(crate) fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>, origin: (i32, i32)) -> DrawResult<DB> {
        let half_row = ROW_HEIGHT as i32 / 2;
        for (label, colour, (x, y)) in &self.entries {
            let (x, y) = (origin.0 + x, origin.1 + y + half_row);
            let style = colour.stroke_width(3);
            area.draw(&PathElement::new(vec![(x, y), (x + SWATCH as i32, y)], style))?;
            area.draw(&Circle::new((x + SWATCH as i32 / 2, y), 3, colour.filled()))?;
            let at = (x + (SWATCH + SWATCH_GAP) as i32, y);
            area.draw(&Text::new(label.clone(), at, text::style(text::LABEL, &BLACK, HPos::Left, VPos::Center)))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_wrap_into_rows_that_fit() {
        assert_eq!(super::super::font::ensure_registered(), Ok(()));
        let items: Vec<_> = (0..8).map(|i| (format!("sep_conv_{i}x{i}"), BLACK)).collect();
        let wide = Legend::new(items.clone(), 4000);
        assert_eq!(wide.height(), ROW_HEIGHT);
        let narrow = Legend::new(items, 300);
        assert!(narrow.height() > 2 * ROW_HEIGHT);
        for (_, _, (x, _)) in &narrow.entries {
            assert!(*x >= 0 && *x < 300);
        }
    }
}
