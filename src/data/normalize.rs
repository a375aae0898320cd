//! Per-channel mean/std normalisation of 8-bit pixels, with the usual dataset constants.

use crate::error::{KdnasError, Result};

/// Per-channel normalisation `(x / 255 - mean[c]) / std[c]`, as torchvision's
/// `ToTensor()` followed by `Normalize(mean, std)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Normalization {
    /// Mean of each channel on the `[0, 1]` scale.
    pub mean: &'static [f32],
    /// Standard deviation of each channel on the `[0, 1]` scale.
    pub std: &'static [f32],
}

/// Fashion-MNIST (1 channel).
pub const FASHION_MNIST_NORMALIZATION: Normalization = Normalization { mean: &[0.2860], std: &[0.3530] };

/// MNIST (1 channel).
pub const MNIST_NORMALIZATION: Normalization = Normalization { mean: &[0.1307], std: &[0.3081] };

/// CIFAR-10 (RGB).
pub const CIFAR10_NORMALIZATION: Normalization =
    Normalization { mean: &[0.4914, 0.4822, 0.4465], std: &[0.2470, 0.2435, 0.2616] };

/// CIFAR-100 (RGB).
pub const CIFAR100_NORMALIZATION: Normalization =
    Normalization { mean: &[0.5071, 0.4865, 0.4409], std: &[0.2673, 0.2564, 0.2762] };

impl Normalization {
    /// Number of channels these constants describe.
    pub fn channels(&self) -> usize {
        self.mean.len()
    }

    /// The normalised value of a raw 0 pixel in each channel (`-mean / std`): the fill used
    /// when padding, so padding matches PyTorch, which pads the raw image before normalising.
    pub fn zero_values(&self) -> Vec<f32> {
        self.mean.iter().zip(self.std).map(|(m, s)| -m / s).collect()
    }

    /// Normalises `pixels`, laid out `[n, channels, plane]` with `plane = height * width`,
    /// into a new `f32` buffer of the same layout.
    ///
    /// Fails with [`KdnasError::Usage`] when mean and std disagree in length, a std is not
    /// positive, or the buffer is not a whole number of images.
    pub fn normalize(&self, pixels: &[u8], plane: usize) -> Result<Vec<f32>> {
        let channels = self.channels();
        if self.std.len() != channels || channels == 0 {
            return Err(KdnasError::Usage(format!(
                "normalisation has {} means and {} stds; need the same non-zero number",
                channels,
                self.std.len()
            )));
        }
        if let Some(s) = self.std.iter().find(|s| !(s.is_finite() && **s > 0.0)) {
            return Err(KdnasError::Usage(format!("normalisation std {s} is not a positive number")));
        }
        let image = channels * plane;
        if image == 0 || !pixels.len().is_multiple_of(image) {
            return Err(KdnasError::Usage(format!(
                "{} pixels are not a whole number of {channels}x{plane}-pixel images",
                pixels.len()
            )));
        }
        // Per channel: y = x * scale + shift with scale = 1 / (255 std), shift = -mean / std.
        let scale: Vec<f32> = self.std.iter().map(|s| 1.0 / (255.0 * s)).collect();
        let shift = self.zero_values();
        let mut out = Vec::with_capacity(pixels.len());
        // [n * channels, plane]: channel of a plane is its index modulo `channels`.
        for (p, chunk) in pixels.chunks_exact(plane).enumerate() {
            let c = p % channels;
            out.extend(chunk.iter().map(|&x| x as f32 * scale[c] + shift[c]));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_per_channel() {
        let norm = Normalization { mean: &[0.5, 0.0], std: &[0.5, 1.0] };
        // [n=1, c=2, plane=2]
        let out = norm.normalize(&[0, 255, 0, 255], 2).unwrap();
        let want = [-1.0, 1.0, 0.0, 1.0];
        for (o, w) in out.iter().zip(want) {
            assert!((o - w).abs() < 1e-6, "{out:?}");
        }
        assert_eq!(norm.zero_values(), vec![-1.0, 0.0]);
    }

    #[test]
    fn matches_torchvision_formula() {
        let out = FASHION_MNIST_NORMALIZATION.normalize(&[128], 1).unwrap();
        let want = (128.0 / 255.0 - 0.2860) / 0.3530;
        assert!((out[0] - want).abs() < 1e-5);
    }

    #[test]
    fn rejects_ragged_buffer_and_bad_constants() {
        assert!(CIFAR10_NORMALIZATION.normalize(&[0; 5], 2).is_err());
        let bad = Normalization { mean: &[0.5], std: &[0.0] };
        assert!(bad.normalize(&[0], 1).is_err());
        let ragged = Normalization { mean: &[0.5, 0.5], std: &[0.5] };
        assert!(ragged.normalize(&[0, 0], 1).is_err());
    }
}
