//! Colours shared by the figures: a sequential colormap, a categorical palette and a
//! readable text colour for any background.

use plotters::style::{BLACK, Color, HSLColor, RGBColor, WHITE};

/// Matplotlib's viridis sampled at nine evenly spaced points (0, 1/8, ..., 1).
const VIRIDIS: [(u8, u8, u8); 9] = [
    (68, 1, 84),
    (71, 45, 123),
    (59, 82, 139),
    (44, 114, 142),
    (33, 145, 140),
    (40, 174, 128),
    (94, 201, 98),
    (173, 220, 48),
    (253, 231, 37),
];

/// Tableau's ten categorical colours.
const TABLEAU: [(u8, u8, u8); 10] = [
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
];

/// Fill for cells that hold no value.
pub(crate) const MISSING: RGBColor = RGBColor(224, 224, 224);

/// Light grey for grid lines and frames.
pub(crate) const GRID: RGBColor = RGBColor(200, 200, 200);

/// Viridis at `t`, clamped to `[0, 1]` (`NaN` maps to the low end).
pub(crate) fn viridis(t: f64) -> RGBColor {
    let t = if t.is_nan() { 0.0 } else { t.clamp(0.0, 1.0) };
    let scaled = t * (VIRIDIS.len() - 1) as f64;
    let lo = (scaled.floor() as usize).min(VIRIDIS.len() - 2);
    let frac = scaled - lo as f64;
    let (a, b) = (VIRIDIS[lo], VIRIDIS[lo + 1]);
    let mix = |x: u8, y: u8| (f64::from(x) + (f64::from(y) - f64::from(x)) * frac).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// The `i`-th categorical colour: Tableau 10 first, then evenly spread hues.
pub(crate) fn categorical(i: usize) -> RGBColor {
    match TABLEAU.get(i) {
        Some(&(r, g, b)) => RGBColor(r, g, b),
        None => {
            // Golden-angle hue steps keep successive extra colours apart.
            let hue = ((i - TABLEAU.len()) as f64 * 0.618_034).fract();
            let (r, g, b) = HSLColor(hue, 0.65, 0.45).rgb();
            RGBColor(r, g, b)
        }
    }
}

/// Black or white, whichever reads better on `background`.
pub(crate) fn text_on(background: RGBColor) -> RGBColor {
    let channel = |c: u8| {
        let c = f64::from(c) / 255.0;
        if c <= 0.040_45 { c / 12.92 } else { ((c + 0.055) / 1.055).powf(2.4) }
    };
    let luminance = 0.2126 * channel(background.0) + 0.7152 * channel(background.1) + 0.0722 * channel(background.2);
    // Equal contrast against black and white is reached at luminance ~0.18.
    if luminance > 0.18 { BLACK } else { WHITE }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn viridis_hits_its_end_points_and_clamps() {
        assert_eq!(viridis(0.0), RGBColor(68, 1, 84));
        assert_eq!(viridis(1.0), RGBColor(253, 231, 37));
        assert_eq!(viridis(-3.0), viridis(0.0));
        assert_eq!(viridis(7.0), viridis(1.0));
        assert_eq!(viridis(f64::NAN), viridis(0.0));
        assert_eq!(viridis(0.5), RGBColor(33, 145, 140));
    }

    #[test]
    fn text_contrasts_with_background() {
        assert_eq!(text_on(viridis(0.0)), WHITE);
        assert_eq!(text_on(viridis(1.0)), BLACK);
        assert_eq!(text_on(MISSING), BLACK);
    }

    #[test]
    fn categorical_colours_are_distinct() {
        let colours: Vec<_> = (0..16).map(categorical).collect();
        for (i, a) in colours.iter().enumerate() {
            for b in &colours[i + 1..] {
                assert_ne!(a, b);
            }
        }
    }
}
