//! Per-channel mean and standard deviation of 8-bit images, as a [`Normalization`].

use std::sync::Mutex;

use rayon::prelude::*;

use crate::data::normalize::Normalization;

/// Counts of each byte value, per channel.
type Histograms = Vec<[u64; 256]>;

/// The mean and (population) standard deviation of each channel of `pixels` on the `[0, 1]`
/// scale, laid out `[n, channels, plane]`, as torchvision users compute dataset constants.
///
/// Exact: the statistics come from per-channel histograms of the byte values. `pixels` must hold a
/// whole, non-zero number of images.
pub(super) fn channel_statistics(pixels: &[u8], channels: usize, plane: usize) -> Normalization {
    let histograms = pixels
        .par_chunks(channels * plane)
        .fold(
            || vec![[0u64; 256]; channels],
            |mut counts: Histograms, image| {
                // [channels, plane]
                for (count, channel) in counts.iter_mut().zip(image.chunks_exact(plane)) {
                    channel.iter().for_each(|&v| count[usize::from(v)] += 1);
                }
                counts
            },
        )
        .reduce(|| vec![[0u64; 256]; channels], add_histograms);
    let (mean, std): (Vec<f32>, Vec<f32>) = histograms.iter().map(mean_std).unzip();
    Normalization { mean: interned(mean), std: interned(std) }
}

/// Element-wise sum of two sets of histograms.
fn add_histograms(mut a: Histograms, b: Histograms) -> Histograms {
    for (a, b) in a.iter_mut().zip(&b) {
        a.iter_mut().zip(b).for_each(|(a, b)| *a += b);
    }
    a
}

/// Mean and population standard deviation of the values `v / 255` counted in `histogram`.
fn mean_std(histogram: &[u64; 256]) -> (f32, f32) {
    let n = histogram.iter().sum::<u64>().max(1) as f64;
    let value = |v: usize| v as f64 / 255.0;
    let mean = histogram.iter().enumerate().map(|(v, &c)| value(v) * c as f64).sum::<f64>() / n;
    let var = histogram.iter().enumerate().map(|(v, &c)| (value(v) - mean).powi(2) * c as f64).sum::<f64>() / n;
    (mean as f32, var.sqrt() as f32)
}

/// A `'static` copy of `values`, as [`Normalization`] holds `'static` slices.
///
/// Each distinct list is leaked once and reused afterwards, so loading the same data again does
/// not grow memory.
fn interned(values: Vec<f32>) -> &'static [f32] {
    static INTERNED: Mutex<Vec<&'static [f32]>> = Mutex::new(Vec::new());
    let mut interned = INTERNED.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(&found) = interned.iter().find(|found| ***found == values[..]) {
        return found;
    }
    let leaked: &'static [f32] = Vec::leak(values);
    interned.push(leaked);
    leaked
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statistics_are_exact_per_channel() {
        // Two images, [2 channels, plane 2]: channel 0 holds 0, 255, 0, 255; channel 1 is all 51.
        let pixels = [0, 255, 51, 51, 0, 255, 51, 51];
        let norm = channel_statistics(&pixels, 2, 2);
        assert_eq!(norm.mean, &[0.5, 0.2]);
        assert_eq!(norm.std, &[0.5, 0.0]);
    }

    #[test]
    fn equal_statistics_share_one_allocation() {
        let a = interned(vec![0.25, 0.5]);
        let b = interned(vec![0.25, 0.5]);
        assert!(std::ptr::eq(a, b));
        assert!(!std::ptr::eq(a, interned(vec![0.5])));
    }
}
