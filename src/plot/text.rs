//! Text styles and measurement for hand-placed labels.

use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{Color, FontDesc, FontFamily, FontStyle, RGBColor, TextStyle};

use super::font::FAMILY;

/// Pixel size of figure titles.
pub(crate) const TITLE: f64 = 22.0;
/// Pixel size of axis, row and column labels.
pub(crate) const LABEL: f64 = 15.0;
/// Pixel size of cell annotations, tick labels and legend entries.
pub(crate) const SMALL: f64 = 13.0;

/// The embedded font at `size` pixels.
pub(crate) fn font(size: f64) -> FontDesc<'static> {
    FontDesc::new(FontFamily::Name(FAMILY), size, FontStyle::Normal)
}

/// A text style of `size` pixels in `color`, anchored at `pos`.
pub(crate) fn style(size: f64, color: &RGBColor, h: HPos, v: VPos) -> TextStyle<'static> {
    TextStyle { color: color.to_backend_color(), ..TextStyle::from(font(size)).pos(Pos::new(h, v)) }
}

/// Width and height in pixels that `text` takes at `size` pixels, horizontal.
///
/// Falls back to an estimate (0.6 em per character) should the font be unavailable.
pub(crate) fn size_of(text: &str, size: f64) -> (u32, u32) {
    font(size).box_size(text).unwrap_or_else(|_| {
        let chars = text.chars().count() as f64;
        ((chars * size * 0.6).ceil() as u32, size.ceil() as u32)
    })
}

/// Width of the widest of `texts` at `size` pixels (0 for none).
pub(crate) fn max_width<'a>(texts: impl IntoIterator<Item = &'a String>, size: f64) -> u32 {
    texts.into_iter().map(|t| size_of(t, size).0).max().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longer_text_measures_wider() {
        assert_eq!(super::super::font::ensure_registered(), Ok(()));
        let (short, h) = size_of("ab", LABEL);
        let (long, _) = size_of("abcdefgh", LABEL);
        assert!(short > 0 && h > 0 && long > 3 * short, "{short} {long} {h}");
        assert_eq!(max_width(&["ab".to_string(), "abcdefgh".to_string()], LABEL), long);
    }
}
