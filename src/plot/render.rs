//! Writes one figure to `<stem>.png` and `<stem>.svg` with the same drawing code.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::{
    BitMapBackend, DrawingArea, DrawingAreaErrorKind, DrawingBackend, IntoDrawingArea, SVGBackend,
};
use plotters::style::WHITE;

use super::font;
use crate::error::{KdnasError, Result};

/// What drawing on backend `DB` may fail with.
pub(crate) type DrawResult<DB> = std::result::Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

/// Largest canvas drawn (about 300 MB of RGB); bigger inputs are refused, not attempted.
const MAX_PIXELS: u64 = 100_000_000;

/// A figure that can draw itself on any plotters backend.
pub(crate) trait Figure {
    /// Canvas size in pixels, `(width, height)`.
    fn size(&self) -> (u32, u32);
    /// Draws the figure onto `root`, which is already filled white.
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB>;
}

/// A `Plot` error about `path`.
pub(crate) fn plot_error(path: &Path, message: impl Into<String>) -> KdnasError {
    KdnasError::Plot { path: path.to_path_buf(), message: message.into() }
}

/// `stem` with `.ext` appended (not replacing an extension, so `a.epoch3` stays intact).
fn with_suffix(stem: &Path, ext: &str) -> PathBuf {
    let mut name = OsString::from(stem.as_os_str());
    name.push(".");
    name.push(ext);
    PathBuf::from(name)
}

/// Renders `figure` to `<stem>.png` and `<stem>.svg`, creating the parent directory, and
/// returns both paths (PNG first).
pub(crate) fn render(figure: &impl Figure, stem: &Path) -> Result<Vec<PathBuf>> {
    if stem.file_name().is_none() {
        return Err(plot_error(stem, "the output stem must end in a file name"));
    }
    if let Some(parent) = stem.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| KdnasError::io(parent, e))?;
    }
    font::ensure_registered().map_err(|m| plot_error(stem, m))?;
    let size = figure.size();
    if size.0 == 0 || size.1 == 0 || u64::from(size.0) * u64::from(size.1) > MAX_PIXELS {
        return Err(plot_error(stem, format!("figure of {} x {} pixels is too large to draw", size.0, size.1)));
    }

    let png = with_suffix(stem, "png");
    draw_on(BitMapBackend::new(&png, size).into_drawing_area(), figure).map_err(|m| plot_error(&png, m))?;
    let svg = with_suffix(stem, "svg");
    draw_on(SVGBackend::new(&svg, size).into_drawing_area(), figure).map_err(|m| plot_error(&svg, m))?;
    Ok(vec![png, svg])
}

/// Clears `root`, draws `figure` and writes the result out.
fn draw_on<DB: DrawingBackend>(root: DrawingArea<DB, Shift>, figure: &impl Figure) -> std::result::Result<(), String> {
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    figure.draw(&root).map_err(|e| e.to_string())?;
    root.present().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffix_is_appended_not_substituted() {
        assert_eq!(with_suffix(Path::new("out/a.epoch3"), "png"), PathBuf::from("out/a.epoch3.png"));
        assert_eq!(with_suffix(Path::new("b"), "svg"), PathBuf::from("b.svg"));
    }
}
