//! The embedded font: plotters' `ab_glyph` text backend loads no system fonts, so every
//! figure draws with DejaVu Sans compiled into the binary (licence in
//! `assets/fonts/LICENSE-DejaVu.txt`).

use std::sync::OnceLock;

use plotters::style::{FontStyle, register_font};

/// DejaVu Sans, regular weight.
static DEJAVU_SANS: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

/// Family name the figures ask for; plotters' `FontFamily::SansSerif` resolves to it.
pub(crate) const FAMILY: &str = "sans-serif";

/// Outcome of the one-time registration, shared by every later caller.
static REGISTERED: OnceLock<Result<(), String>> = OnceLock::new();

/// Registers the embedded font for [`FAMILY`] (normal and bold) on first use.
///
/// Idempotent and thread-safe; returns the same outcome on every call.
pub(crate) fn ensure_registered() -> Result<(), String> {
    REGISTERED
        .get_or_init(|| {
            [FontStyle::Normal, FontStyle::Bold]
                .into_iter()
                .try_for_each(|style| register_font(FAMILY, style, DEJAVU_SANS))
                .map_err(|_| "the embedded DejaVuSans.ttf could not be parsed as a font".to_string())
        })
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registration_succeeds_and_is_repeatable() {
        assert_eq!(ensure_registered(), Ok(()));
        assert_eq!(ensure_registered(), Ok(()));
    }
}
