//! The standard CIFAR training augmentation: random crop with padding, then random horizontal flip.

use rand::RngExt;
use rand::rngs::StdRng;

use super::normalize::Normalization;

/// Random crop with `pad` pixels of padding on every side, then a horizontal flip with
/// probability 1/2 — torchvision's `RandomCrop(32, padding=4)` + `RandomHorizontalFlip()`.
///
/// Works on already normalised images. PyTorch pads the raw image with 0 before `ToTensor` and
/// `Normalize`, so the padding here is the normalised value of a raw 0 (`-mean / std` per
/// channel), which gives the same result as PyTorch.
#[derive(Clone, Debug, PartialEq)]
pub struct Augment {
    /// Padding on each side, in pixels; the crop offset is drawn from `0..=2 * pad` per axis.
    pad: usize,
    /// Whether to flip horizontally with probability 1/2.
    flip: bool,
    /// Padding value per channel (normalised value of a raw 0 pixel).
    fill: Vec<f32>,
    /// Side of the Cutout square (DeVries & Taylor 2017; DARTS's evaluation uses 16), if any.
    cutout: Option<usize>,
}

impl Augment {
    /// The standard CIFAR augmentation: pad 4, flip with probability 1/2, padding with the
    /// normalised value of a raw 0 pixel under `norm`.
    pub fn standard(norm: &Normalization) -> Augment {
        Augment::new(4, true, norm)
    }

    /// A crop with `pad` pixels of padding (0 disables the crop) and, when `flip`, a horizontal
    /// flip with probability 1/2; padding uses the normalised value of a raw 0 under `norm`.
    pub fn new(pad: usize, flip: bool, norm: &Normalization) -> Augment {
        Augment { pad, flip, fill: norm.zero_values(), cutout: None }
    }

    /// The same augmentation followed by Cutout: a `length x length` square (clipped to the image)
    /// around a uniformly drawn centre is set to 0 in normalised space, as DARTS's `utils.Cutout`.
    pub fn with_cutout(mut self, length: Option<usize>) -> Augment {
        self.cutout = length.filter(|&l| l > 0);
        self
    }

    /// Writes an augmented copy of `image` (`[channels, height, width]`) into `out` (same
    /// shape), drawing the crop offset and the flip from `rng`.
    ///
    /// Panics if `image` or `out` is not `channels * height * width` long or `channels` differs
    /// from the normalisation the augmenter was built with.
    pub fn apply(&self, image: &[f32], [channels, height, width]: [usize; 3], rng: &mut StdRng, out: &mut [f32]) {
        let dy = rng.random_range(0..=2 * self.pad);
        let dx = rng.random_range(0..=2 * self.pad);
        let flip = self.flip && rng.random_bool(0.5);
        self.crop_flip(image, [channels, height, width], [dy, dx], flip, out);
        if let Some(length) = self.cutout {
            let centre = [rng.random_range(0..height), rng.random_range(0..width)];
            cut_out(out, [channels, height, width], centre, length);
        }
    }

    /// Crops the `height x width` window at offset `(dy, dx)` of the padded image (offsets in
    /// `0..=2 * pad`), then mirrors it left-right when `flip`.
    fn crop_flip(
        &self,
        image: &[f32],
        [channels, height, width]: [usize; 3],
        [dy, dx]: [usize; 2],
        flip: bool,
        out: &mut [f32],
    ) {
        assert_eq!(image.len(), channels * height * width, "image is not [c, h, w]");
        assert_eq!(out.len(), image.len(), "output is not [c, h, w]");
        assert_eq!(channels, self.fill.len(), "channels differ from the normalisation");
        // Source coordinate in the unpadded image, or None when it falls in the padding.
        let source =
            |pos: usize, offset: usize, size: usize| (pos + offset).checked_sub(self.pad).filter(|s| *s < size);
        for c in 0..channels {
            let plane = &image[c * height * width..(c + 1) * height * width]; // [h, w]
            let out_plane = &mut out[c * height * width..(c + 1) * height * width]; // [h, w]
            for y in 0..height {
                let row = &mut out_plane[y * width..(y + 1) * width]; // [w]
                let Some(sy) = source(y, dy, height) else {
                    row.fill(self.fill[c]);
                    continue;
                };
                for (x, value) in row.iter_mut().enumerate() {
                    let cx = if flip { width - 1 - x } else { x };
                    *value = match source(cx, dx, width) {
                        Some(sx) => plane[sy * width + sx],
                        None => self.fill[c],
                    };
                }
            }
        }
    }
}

/// Zeroes, in every channel of `image` (`[channels, height, width]`), the `length x length` square
/// with top-left corner `centre - length / 2`, clipped to the image.
fn cut_out(image: &mut [f32], [channels, height, width]: [usize; 3], [cy, cx]: [usize; 2], length: usize) {
    let (y0, y1) = (cy.saturating_sub(length / 2), (cy + length.div_ceil(2)).min(height));
    let (x0, x1) = (cx.saturating_sub(length / 2), (cx + length.div_ceil(2)).min(width));
    for c in 0..channels {
        for y in y0..y1 {
            image[(c * height + y) * width + x0..(c * height + y) * width + x1].fill(0.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    /// One-channel normalisation whose raw-0 value is -1.
    const NORM: Normalization = Normalization { mean: &[0.5], std: &[0.5] };

    /// A 1x3x3 image with pixels 1..=9.
    fn image() -> Vec<f32> {
        (1..=9).map(|v| v as f32).collect()
    }

    #[test]
    fn centre_crop_without_flip_is_identity() {
        let aug = Augment::new(4, true, &NORM);
        let mut out = vec![0.0; 9];
        aug.crop_flip(&image(), [1, 3, 3], [4, 4], false, &mut out);
        assert_eq!(out, image());
    }

    #[test]
    fn shifted_and_flipped_crop_matches_hand_computed() {
        let aug = Augment::new(4, true, &NORM);
        let mut out = vec![0.0; 9];
        // Window starts one row and two columns into the padding (dy = 3, dx = 2 with pad 4):
        // out[y][x] = image[y - 1][x - 2], padding -1.
        aug.crop_flip(&image(), [1, 3, 3], [3, 2], false, &mut out);
        #[rustfmt::skip]
        let shifted = vec![
            -1.0, -1.0, -1.0,
            -1.0, -1.0, 1.0,
            -1.0, -1.0, 4.0,
        ];
        assert_eq!(out, shifted);
        aug.crop_flip(&image(), [1, 3, 3], [3, 2], true, &mut out);
        #[rustfmt::skip]
        let flipped = vec![
            -1.0, -1.0, -1.0,
            1.0, -1.0, -1.0,
            4.0, -1.0, -1.0,
        ];
        assert_eq!(out, flipped);
        // Pure flip of the centred window.
        aug.crop_flip(&image(), [1, 3, 3], [4, 4], true, &mut out);
        assert_eq!(out, vec![3.0, 2.0, 1.0, 6.0, 5.0, 4.0, 9.0, 8.0, 7.0]);
    }

    #[test]
    fn padding_uses_normalised_raw_zero_per_channel() {
        let norm = Normalization { mean: &[0.5, 0.25], std: &[0.5, 0.25] };
        let aug = Augment::new(1, false, &norm);
        let mut out = vec![0.0; 2];
        // [c=2, h=1, w=1], window fully in the padding.
        aug.crop_flip(&[7.0, 8.0], [2, 1, 1], [0, 0], false, &mut out);
        assert_eq!(out, vec![-1.0, -1.0]);
        let norm = Normalization { mean: &[0.5, 0.0], std: &[0.5, 1.0] };
        let aug = Augment::new(1, false, &norm);
        aug.crop_flip(&[7.0, 8.0], [2, 1, 1], [0, 0], false, &mut out);
        assert_eq!(out, vec![-1.0, 0.0]);
    }

    #[test]
    fn random_apply_keeps_shape_values_and_is_seeded() {
        let aug = Augment::standard(&NORM);
        let img: Vec<f32> = (0..2 * 8 * 8).map(|v| v as f32).collect();
        let aug2 = Augment::standard(&Normalization { mean: &[0.5, 0.5], std: &[0.5, 0.5] });
        let run = |seed: u64| {
            let mut rng = StdRng::seed_from_u64(seed);
            (0..20)
                .map(|_| {
                    let mut out = vec![0.0; img.len()];
                    aug2.apply(&img, [2, 8, 8], &mut rng, &mut out);
                    out
                })
                .collect::<Vec<_>>()
        };
        let a = run(7);
        assert_eq!(a, run(7));
        assert!(a.iter().any(|o| o != &a[0]), "20 draws should not all be the same");
        for out in &a {
            assert_eq!(out.len(), img.len());
            assert!(out.iter().all(|v| *v == -1.0 || img.contains(v)));
        }
        let mut out = vec![0.0; 9];
        aug.apply(&image(), [1, 3, 3], &mut StdRng::seed_from_u64(1), &mut out);
        assert!(out.iter().all(|v| *v == -1.0 || image().contains(v)));
    }

    #[test]
    fn cutout_zeroes_a_clipped_square_in_every_channel() {
        let mut img: Vec<f32> = (1..=18).map(|v| v as f32).collect(); // [2, 3, 3]
        // Length 2 around (0, 2): rows -1..1 and columns 1..3, clipped to row 0, columns 1..3.
        cut_out(&mut img, [2, 3, 3], [0, 2], 2);
        #[rustfmt::skip]
        let expected = vec![
            1.0, 0.0, 0.0,   4.0, 5.0, 6.0,   7.0, 8.0, 9.0,
            10.0, 0.0, 0.0,  13.0, 14.0, 15.0, 16.0, 17.0, 18.0,
        ];
        assert_eq!(img, expected);
    }

    #[test]
    fn cutout_applies_after_the_crop() {
        let aug = Augment::new(0, false, &NORM).with_cutout(Some(2));
        let mut rng = StdRng::seed_from_u64(3);
        let mut out = vec![0.0; 9];
        aug.apply(&image(), [1, 3, 3], &mut rng, &mut out);
        let zeros = out.iter().filter(|v| **v == 0.0).count();
        assert!((1..=4).contains(&zeros), "a clipped 2x2 square is cut: {out:?}");
        assert!(out.iter().all(|v| *v == 0.0 || image().contains(v)), "the rest is the image: {out:?}");
    }
}
