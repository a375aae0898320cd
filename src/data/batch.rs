//! Turning a list of image indices into one image tensor and one label tensor on the device.

use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor, TensorData};
use rand::rngs::StdRng;

use super::augment::Augment;
use super::image_set::ImageSet;

/// Builds the batch of images `indices` of `set`: images `[n, channels, height, width]` and
/// labels `[n]` (Int).
///
/// With `augment`, every image is augmented on the host with the given random generator. The
/// batch is assembled in one host buffer and uploaded with a single `from_data` per tensor.
///
/// Panics if an index is `>= set.len()` (indices come from the caller's sampler, not from
/// user input).
pub fn image_batch<B: Backend>(
    set: &ImageSet,
    indices: &[usize],
    augment: Option<(&Augment, &mut StdRng)>,
    device: &B::Device,
) -> (Tensor<B, 4>, Tensor<B, 1, Int>) {
    let n = indices.len();
    let shape = [set.channels, set.height, set.width];
    let len = set.image_len();
    let mut pixels = vec![0.0f32; n * len]; // [n, c, h, w]
    match augment {
        Some((augment, rng)) => {
            for (out, &i) in pixels.chunks_exact_mut(len).zip(indices) {
                augment.apply(set.image(i), shape, rng, out);
            }
        }
        None => {
            for (out, &i) in pixels.chunks_exact_mut(len).zip(indices) {
                out.copy_from_slice(set.image(i));
            }
        }
    }
    let labels: Vec<i64> = indices.iter().map(|&i| i64::from(set.labels[i])).collect(); // [n]
    let images = Tensor::from_data(TensorData::new(pixels, [n, shape[0], shape[1], shape[2]]), device);
    let labels = Tensor::from_data(TensorData::new(labels, [n]), device);
    (images, labels)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::normalize::Normalization;
    use burn::backend::Flex;
    use rand::SeedableRng;

    /// Three 1x2x2 images whose pixels encode the image index; labels 4, 5, 6.
    fn set() -> ImageSet {
        ImageSet {
            images: (0..12).map(|v| v as f32).collect(),
            labels: vec![4, 5, 6],
            channels: 1,
            height: 2,
            width: 2,
            classes: 7,
        }
    }

    #[test]
    fn batch_gathers_images_and_labels() {
        let device = Default::default();
        let (images, labels) = image_batch::<Flex>(&set(), &[2, 0], None, &device);
        assert_eq!(images.dims(), [2, 1, 2, 2]);
        assert_eq!(labels.dims(), [2]);
        let values = images.into_data().to_vec::<f32>().unwrap();
        assert_eq!(values, vec![8.0, 9.0, 10.0, 11.0, 0.0, 1.0, 2.0, 3.0]);
        let labels = labels.into_data().convert::<i64>().to_vec::<i64>().unwrap();
        assert_eq!(labels, vec![6, 4]);
    }

    #[test]
    fn augmented_batch_keeps_shape_and_is_seeded() {
        let device = Default::default();
        let aug = Augment::new(1, true, &Normalization { mean: &[0.5], std: &[0.5] });
        let run = || {
            let mut rng = StdRng::seed_from_u64(3);
            let (images, _) = image_batch::<Flex>(&set(), &[0, 1, 2, 0], Some((&aug, &mut rng)), &device);
            assert_eq!(images.dims(), [4, 1, 2, 2]);
            images.into_data().to_vec::<f32>().unwrap()
        };
        let a = run();
        assert_eq!(a, run());
        assert!(a.iter().all(|v| *v == -1.0 || (0.0..12.0).contains(v)));
    }
}
