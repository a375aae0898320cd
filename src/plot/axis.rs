//! Scales fitted to the data: axis ranges with a margin, evenly spaced "nice" ticks, and
//! labels with just enough decimals to tell neighbouring ticks or values apart, whatever
//! the spread of the data.

use std::ops::Range;

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::coord::types::RangedCoordf64;

use super::text;

/// Fewest decimals a value annotation gets.
const MIN_DECIMALS: usize = 2;
/// Most decimals a value annotation gets; `f32` weights carry no more.
const MAX_DECIMALS: usize = 6;
/// Spans below this fraction of the values' magnitude are rounding noise: the data is constant.
const FLAT: f64 = 1e-6;
/// Half-width of the axis around a constant value, as a fraction of that value.
const FLAT_HALF: f64 = 0.1;
/// Gap between tick labels and the axis description, and around them.
const LABEL_GAP: i32 = 8;
/// Distance plotters leaves between an axis and its tick labels (twice its tick length).
const TICK_DIST: i32 = 10;

/// A numeric axis: the visible range, the tick positions in it and the decimals their
/// labels need to tell neighbouring ticks apart. It is also the plotters coordinate of
/// that axis, drawing grid lines and labels at exactly these ticks.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Axis {
    /// Visible range, `(low, high)`, never empty.
    pub(crate) range: (f64, f64),
    /// Tick positions inside `range`, ascending, evenly spaced.
    pub(crate) ticks: Vec<f64>,
    /// Decimals of a tick label.
    pub(crate) decimals: usize,
}

impl Axis {
    /// An axis over the finite `values`, widened by `margin` times their span on each side,
    /// with at most `max_ticks` ticks at multiples of 1, 2 or 5 times a power of ten.
    ///
    /// A constant series gets a range of ±10 % around its value (±0.5 around zero); no
    /// finite value at all gives `0..1`.
    pub(crate) fn fitted(values: impl IntoIterator<Item = f64>, margin: f64, max_ticks: usize) -> Self {
        let range = fitted_range(values, margin);
        Self::stepped(range, nice_step(range, max_ticks))
    }

    /// An axis for whole numbers such as epochs: like [`Axis::fitted`] but with ticks only
    /// on integers, and ±0.5 around a single value.
    pub(crate) fn integer(values: impl IntoIterator<Item = f64>, margin: f64, max_ticks: usize) -> Self {
        let range = match finite_range(values) {
            Some((lo, hi)) if hi > lo => pad((lo, hi), margin),
            Some((value, _)) => (value - 0.5, value + 0.5),
            None => (0.0, 1.0),
        };
        Self::stepped(range, nice_step(range, max_ticks).max(1.0))
    }

    /// The axis over `range` with a tick on every multiple of `step` inside it.
    fn stepped(range: (f64, f64), step: f64) -> Self {
        let ticks = if step.is_finite() && step > 0.0 {
            let (first, last) = ((range.0 / step).ceil() as i64, (range.1 / step).floor() as i64);
            (first..=last).map(|i| i as f64 * step).collect()
        } else {
            Vec::new()
        };
        Axis { range, ticks, decimals: step_decimals(step) }
    }

    /// The tick label of `value`.
    pub(crate) fn label(&self, value: f64) -> String {
        fixed(value, self.decimals)
    }

    /// Width of a vertical axis's label area that fits its tick labels at `label_size`
    /// pixels plus a rotated description at `desc_size` pixels.
    pub(crate) fn label_area_width(&self, label_size: f64, desc_size: f64) -> i32 {
        let labels = self.ticks.iter().map(|&t| text::size_of(&self.label(t), label_size).0).max().unwrap_or(0);
        let desc = text::size_of("Ag", desc_size).1 as i32;
        desc + LABEL_GAP + labels as i32 + TICK_DIST + LABEL_GAP / 2
    }
}

impl Ranged for Axis {
    // Labels come from `Axis::label` through the mesh's formatters, never from `Debug`.
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        RangedCoordf64::from(self.range()).map(value, limit)
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        // The ticks carry labels and bold grid lines; there are no light grid lines.
        if hint.weight().allow_light_points() { Vec::new() } else { self.ticks.clone() }
    }

    fn range(&self) -> Range<f64> {
        self.range.0..self.range.1
    }
}

/// Height of a horizontal axis's label area that fits tick labels at `label_size` pixels
/// and a description at `desc_size` pixels below them.
pub(crate) fn label_area_height(label_size: f64, desc_size: f64) -> i32 {
    let height = |size| text::size_of("Ag", size).1 as i32;
    TICK_DIST + height(label_size) + LABEL_GAP / 2 + height(desc_size) + LABEL_GAP / 2
}

/// Decimals that tell apart values spread over `spread`: one digit finer than the
/// spread's leading digit, between 2 and 6 (e.g. 2 for a spread of 1, 4 for 0.006).
pub(crate) fn value_decimals(spread: f64) -> usize {
    if !(spread.is_finite() && spread > 0.0) {
        return MIN_DECIMALS;
    }
    let decimals = (-spread.log10()).ceil() + 1.0;
    (decimals.max(MIN_DECIMALS as f64) as usize).min(MAX_DECIMALS)
}

/// `value` with `decimals` decimals, without a minus sign on a value that rounds to zero.
pub(crate) fn fixed(value: f64, decimals: usize) -> String {
    let text = format!("{value:.decimals$}");
    let unsigned = text.trim_start_matches('-');
    if unsigned.chars().all(|c| c == '0' || c == '.') { unsigned.to_string() } else { text }
}

/// The range of the finite `values` widened by `margin` of its span on each side; see
/// [`Axis::fitted`] for constant and empty data.
pub(crate) fn fitted_range(values: impl IntoIterator<Item = f64>, margin: f64) -> (f64, f64) {
    match finite_range(values) {
        None => (0.0, 1.0),
        Some((lo, hi)) if hi - lo <= FLAT * lo.abs().max(hi.abs()) => {
            let centre = (lo + hi) / 2.0;
            let half = if centre == 0.0 { 0.5 } else { centre.abs() * FLAT_HALF };
            (centre - half, centre + half)
        }
        Some(range) => pad(range, margin),
    }
}

/// Smallest and largest finite value, or `None` without any.
fn finite_range(values: impl IntoIterator<Item = f64>) -> Option<(f64, f64)> {
    values.into_iter().filter(|v| v.is_finite()).fold(None, |range, v| match range {
        None => Some((v, v)),
        Some((lo, hi)) => Some((v.min(lo), v.max(hi))),
    })
}

/// `(lo, hi)` widened by `margin` of its span on each side.
fn pad((lo, hi): (f64, f64), margin: f64) -> (f64, f64) {
    let m = (hi - lo) * margin;
    (lo - m, hi + m)
}

/// The smallest step of 1, 2 or 5 times a power of ten that puts at most `max_ticks`
/// ticks (at least 2) on `range`; 0 for an empty range.
fn nice_step((lo, hi): (f64, f64), max_ticks: usize) -> f64 {
    let max_ticks = max_ticks.max(2);
    // A step of `raw` or more always fits; the candidates run from below it to above it.
    let raw = (hi - lo) / (max_ticks - 1) as f64;
    if !(raw.is_finite() && raw > 0.0) {
        return 0.0;
    }
    let scale = 10f64.powf(raw.log10().floor() - 1.0);
    let count = |step: f64| (hi / step).floor() - (lo / step).ceil() + 1.0;
    [1.0, 2.0, 5.0, 10.0, 20.0, 50.0]
        .into_iter()
        .map(|m| m * scale)
        .find(|&step| count(step) <= max_ticks as f64)
        .unwrap_or(100.0 * scale)
}

/// Decimals that write every multiple of `step` (1, 2 or 5 times a power of ten) exactly.
fn step_decimals(step: f64) -> usize {
    if !(step.is_finite() && step > 0.0) || step >= 1.0 {
        return 0;
    }
    // The small bias keeps log10(0.01) = -1.9999999999999996 from adding a decimal.
    (-(step.log10() + 1e-9).floor()) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether every tick label of `axis` is distinct.
    fn labels_distinct(axis: &Axis) -> bool {
        let labels: Vec<_> = axis.ticks.iter().map(|&t| axis.label(t)).collect();
        labels.windows(2).all(|w| w[0] != w[1])
    }

    #[test]
    fn value_decimals_follow_the_spread() {
        assert_eq!(value_decimals(1.0), 2);
        assert_eq!(value_decimals(0.5), 2);
        assert_eq!(value_decimals(0.1), 2);
        assert_eq!(value_decimals(0.05), 3);
        assert_eq!(value_decimals(0.006), 4);
        assert_eq!(value_decimals(0.0004), 5);
        assert_eq!(value_decimals(1e-12), MAX_DECIMALS);
        assert_eq!(value_decimals(40.0), 2);
        assert_eq!(value_decimals(0.0), 2);
        assert_eq!(value_decimals(f64::NAN), 2);
    }

    #[test]
    fn value_decimals_separate_quarter_steps() {
        for spread in [3.0, 1.0, 0.3, 0.1, 0.05, 0.006, 0.0011, 2e-5] {
            let decimals = value_decimals(spread);
            let quarters: Vec<_> = (0..5).map(|k| fixed(0.2 + spread * f64::from(k) / 4.0, decimals)).collect();
            assert!(quarters.windows(2).all(|w| w[0] != w[1]), "spread {spread}: {quarters:?}");
        }
    }

    #[test]
    fn fixed_drops_the_sign_of_zero() {
        assert_eq!(fixed(-0.0001, 2), "0.00");
        assert_eq!(fixed(-0.0, 0), "0");
        assert_eq!(fixed(-0.25, 2), "-0.25");
        assert_eq!(fixed(0.19723, 4), "0.1972");
    }

    #[test]
    fn constant_series_gets_a_proper_axis() {
        let axis = Axis::fitted([0.2; 6], 0.05, 6);
        let (lo, hi) = axis.range;
        assert!(lo < 0.2 && hi > 0.2 && hi - lo > 0.01, "{lo}..{hi}");
        assert!(axis.ticks.len() >= 2 && labels_distinct(&axis), "{axis:?}");
        assert_eq!(Axis::fitted([0.0, 0.0], 0.05, 6).range, (-0.5, 0.5));
        assert_eq!(Axis::fitted([f64::NAN], 0.05, 6).range, (0.0, 1.0));
        assert_eq!(Axis::fitted([-4.0], 0.05, 6).range, (-4.4, -3.6));
    }

    #[test]
    fn tiny_spread_zooms_in_with_enough_decimals() {
        let values = [0.197, 0.2, 0.203, 0.1995];
        let axis = Axis::fitted(values, 0.05, 6);
        let (lo, hi) = axis.range;
        assert!((lo - 0.1967).abs() < 1e-9 && (hi - 0.2033).abs() < 1e-9, "{lo}..{hi}");
        assert!(axis.ticks.len() >= 3 && axis.ticks.len() <= 6, "{:?}", axis.ticks);
        assert!(axis.ticks.iter().all(|t| (lo..=hi).contains(t)));
        assert_eq!(axis.decimals, 3);
        assert!(labels_distinct(&axis));
        assert_eq!(axis.label(0.2), "0.200");
    }

    #[test]
    fn wide_spread_keeps_short_labels() {
        let axis = Axis::fitted([0.0, 1.0], 0.05, 6);
        assert_eq!(axis.ticks.len(), 6);
        assert_eq!(axis.decimals, 1);
        assert_eq!(axis.label(axis.ticks[5]), "1.0");
        let big = Axis::fitted([0.0, 2500.0], 0.0, 6);
        assert_eq!(big.ticks, vec![0.0, 500.0, 1000.0, 1500.0, 2000.0, 2500.0]);
        assert_eq!(big.label(1500.0), "1500");
    }

    #[test]
    fn epoch_ticks_are_integers() {
        for last in 1..=60 {
            let axis = Axis::integer((1..=last).map(f64::from), 0.02, 7);
            assert!(!axis.ticks.is_empty() && axis.ticks.len() <= 7, "last {last}: {:?}", axis.ticks);
            assert!(axis.ticks.iter().all(|t| t.fract() == 0.0), "last {last}: {:?}", axis.ticks);
            assert_eq!(axis.decimals, 0);
        }
        let six = Axis::integer((1..=6).map(f64::from), 0.02, 7);
        assert_eq!(six.ticks, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let one = Axis::integer([3.0], 0.02, 7);
        assert_eq!((one.range, one.ticks.clone()), ((2.5, 3.5), vec![3.0]));
        assert_eq!(one.label(3.0), "3");
    }

    #[test]
    fn nice_steps_bound_the_tick_count() {
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-12 * b.abs();
        assert!(close(nice_step((0.0, 1.0), 6), 0.2));
        assert!(close(nice_step((-0.05, 1.05), 6), 0.2));
        assert!(close(nice_step((0.1967, 0.2033), 6), 0.002));
        assert!(close(nice_step((0.0, 50.0), 6), 10.0));
        assert_eq!(nice_step((1.0, 1.0), 6), 0.0);
        assert_eq!(step_decimals(0.002), 3);
        assert_eq!(step_decimals(0.01), 2);
        assert_eq!(step_decimals(0.5), 1);
        assert_eq!(step_decimals(5.0), 0);
    }
}
