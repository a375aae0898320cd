//! A small Fashion-MNIST subset compiled into the library, so examples and tests run without
//! downloads. The files live in `examples/data/fashion-mnist-mini/` (see its README.md for the
//! origin, licence and the command that regenerates them).

use std::path::Path;

use super::idx::idx_pair_from_bytes;
use super::image_set::ImageSet;
use super::normalize::FASHION_MNIST_NORMALIZATION;
use crate::error::Result;

/// Class names of Fashion-MNIST, indexed by label.
pub const FASHION_MNIST_CLASSES: [&str; 10] =
    ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

/// Images per class in the bundled training set (the first ones of each class in the full
/// training file, in file order).
pub const BUNDLED_TRAIN_PER_CLASS: usize = 400;
/// Images per class in the bundled test set (the first ones of each class in the full test file).
pub const BUNDLED_TEST_PER_CLASS: usize = 100;

/// Where the bundled files live in the source tree, for error messages.
const BUNDLED_DIR: &str = "examples/data/fashion-mnist-mini";

const TRAIN_IMAGES: &[u8] = include_bytes!("../../examples/data/fashion-mnist-mini/train-images-idx3-ubyte.gz");
const TRAIN_LABELS: &[u8] = include_bytes!("../../examples/data/fashion-mnist-mini/train-labels-idx1-ubyte.gz");
const TEST_IMAGES: &[u8] = include_bytes!("../../examples/data/fashion-mnist-mini/t10k-images-idx3-ubyte.gz");
const TEST_LABELS: &[u8] = include_bytes!("../../examples/data/fashion-mnist-mini/t10k-labels-idx1-ubyte.gz");

/// The bundled Fashion-MNIST subset as `(train, test)`: 4000 and 1000 images of 1x28x28,
/// 10 classes, normalised with [`FASHION_MNIST_NORMALIZATION`].
pub fn bundled_fashion_mnist() -> Result<(ImageSet, ImageSet)> {
    let classes = FASHION_MNIST_CLASSES.len();
    let norm = &FASHION_MNIST_NORMALIZATION;
    let dir = Path::new(BUNDLED_DIR);
    let split = |images: &[u8], labels: &[u8], prefix: &str| {
        let images_name = dir.join(format!("{prefix}-images-idx3-ubyte.gz"));
        let labels_name = dir.join(format!("{prefix}-labels-idx1-ubyte.gz"));
        idx_pair_from_bytes(images, &images_name, labels, &labels_name, norm, classes)
    };
    let train = split(TRAIN_IMAGES, TRAIN_LABELS, "train")?;
    let test = split(TEST_IMAGES, TEST_LABELS, "t10k")?;
    Ok((train, test))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::idx::load_idx_dir;

    fn per_class(labels: &[u8]) -> Vec<usize> {
        let mut counts = vec![0; 10];
        for &l in labels {
            counts[l as usize] += 1;
        }
        counts
    }

    #[test]
    fn bundled_subset_has_expected_shape_and_balance() {
        let (train, test) = bundled_fashion_mnist().unwrap();
        assert_eq!((train.len(), test.len()), (4000, 1000));
        for set in [&train, &test] {
            assert_eq!((set.channels, set.height, set.width, set.classes), (1, 28, 28, 10));
            assert_eq!(set.images.len(), set.len() * 784);
            assert!(set.images.iter().all(|v| v.is_finite()));
            let mean = set.images.iter().map(|v| f64::from(*v)).sum::<f64>() / set.images.len() as f64;
            assert!(mean.abs() < 0.1, "mean {mean}");
        }
        assert_eq!(per_class(&train.labels), vec![BUNDLED_TRAIN_PER_CLASS; 10]);
        assert_eq!(per_class(&test.labels), vec![BUNDLED_TEST_PER_CLASS; 10]);
    }

    /// Checks the full Fashion-MNIST files when this checkout has them, and that the bundled
    /// subset is exactly their stratified prefix.
    #[test]
    fn full_fashion_mnist_when_available() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/fashion-mnist");
        if !dir.is_dir() {
            eprintln!("skipping: {} not found", dir.display());
            return;
        }
        let (train, test) = load_idx_dir(&dir, &FASHION_MNIST_NORMALIZATION, 10).unwrap();
        assert_eq!((train.len(), test.len()), (60000, 10000));
        assert_eq!(per_class(&train.labels), vec![6000; 10]);
        let (mini_train, mini_test) = bundled_fashion_mnist().unwrap();
        assert_eq!(train.stratified_prefix(BUNDLED_TRAIN_PER_CLASS), mini_train);
        assert_eq!(test.stratified_prefix(BUNDLED_TEST_PER_CLASS), mini_test);
    }
}
