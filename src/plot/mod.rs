//! Figures of a search run: architecture-weight heatmaps, their evolution over epochs and
//! training curves. Every figure is written as both `<stem>.png` and `<stem>.svg`, drawn
//! with the embedded DejaVu Sans font.

mod axis;
mod color;
mod curves;
mod evolution;
mod font;
mod heatmap;
mod legend;
mod render;
mod series;
mod table;
#[cfg(test)]
mod testdir;
mod text;

pub use curves::metric_curves;
pub use evolution::evolution;
pub use heatmap::{heatmap, heatmap_of};
pub use table::WeightTable;
