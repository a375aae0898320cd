//! An in-memory labelled image set: normalised pixels on the host, ready to be batched.

/// A labelled set of equally sized images, stored on the host as one normalised `f32` buffer.
///
/// `images` holds `len()` images in `[n, channels, height, width]` row-major order (already
/// normalised, see [`super::Normalization`]); `labels[i]` is the class of image `i`, always
/// `< classes`.
#[derive(Clone, Debug, PartialEq)]
pub struct ImageSet {
    /// Pixels, `[n, channels, height, width]` row-major, already normalised.
    pub images: Vec<f32>,
    /// One class index per image, each `< classes`.
    pub labels: Vec<u8>,
    /// Channels per image (1 for MNIST-like sets, 3 for CIFAR).
    pub channels: usize,
    /// Image height in pixels.
    pub height: usize,
    /// Image width in pixels.
    pub width: usize,
    /// Number of classes of the task (not necessarily all present in this set).
    pub classes: usize,
}

impl ImageSet {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether the set holds no image.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Number of `f32` values in one image (`channels * height * width`).
    pub fn image_len(&self) -> usize {
        self.channels * self.height * self.width
    }

    /// The pixels of image `index`, `[channels, height, width]` row-major.
    ///
    /// Panics if `index >= len()`, like slice indexing.
    pub fn image(&self, index: usize) -> &[f32] {
        let len = self.image_len();
        &self.images[index * len..(index + 1) * len]
    }

    /// A new set holding the images at `indices`, in that order (repeats allowed).
    ///
    /// Panics if an index is `>= len()`, like slice indexing.
    pub fn subset(&self, indices: &[usize]) -> ImageSet {
        let len = self.image_len();
        let mut images = Vec::with_capacity(indices.len() * len);
        let mut labels = Vec::with_capacity(indices.len());
        for &i in indices {
            images.extend_from_slice(self.image(i));
            labels.push(self.labels[i]);
        }
        ImageSet { images, labels, ..self.empty_like() }
    }

    /// Splits into the first `floor(fraction * len())` images and the rest, as DARTS splits the
    /// CIFAR training set 50/50 into a weight-training half and an architecture-validation half.
    ///
    /// `fraction` is clamped to `[0, 1]`; NaN counts as 0.
    pub fn split_at_fraction(&self, fraction: f64) -> (ImageSet, ImageSet) {
        let fraction = if fraction.is_nan() { 0.0 } else { fraction.clamp(0.0, 1.0) };
        let first = ((self.len() as f64) * fraction).floor() as usize;
        let cut = first * self.image_len();
        let head = ImageSet {
            images: self.images[..cut].to_vec(),
            labels: self.labels[..first].to_vec(),
            ..self.empty_like()
        };
        let tail = ImageSet {
            images: self.images[cut..].to_vec(),
            labels: self.labels[first..].to_vec(),
            ..self.empty_like()
        };
        (head, tail)
    }

    /// The first `per_class` images of each class, kept in their original order.
    ///
    /// A class with fewer images keeps all of them.
    pub fn stratified_prefix(&self, per_class: usize) -> ImageSet {
        self.subset(&stratified_prefix_indices(&self.labels, self.classes, per_class))
    }

    /// An empty set with the same image geometry and class count.
    fn empty_like(&self) -> ImageSet {
        ImageSet {
            images: Vec::new(),
            labels: Vec::new(),
            channels: self.channels,
            height: self.height,
            width: self.width,
            classes: self.classes,
        }
    }
}

/// Indices of the first `per_class` items of each class in `labels`, in original order.
///
/// Labels `>= classes` are skipped.
pub fn stratified_prefix_indices(labels: &[u8], classes: usize, per_class: usize) -> Vec<usize> {
    let mut taken = vec![0usize; classes];
    let mut indices = Vec::new();
    for (i, &label) in labels.iter().enumerate() {
        if let Some(count) = taken.get_mut(label as usize)
            && *count < per_class
        {
            *count += 1;
            indices.push(i);
        }
    }
    indices
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Six 1x1x2 images whose pixels encode their index; labels cycle 0,1,2,0,1,2.
    fn tiny() -> ImageSet {
        ImageSet {
            images: (0..12).map(|v| v as f32).collect(),
            labels: vec![0, 1, 2, 0, 1, 2],
            channels: 1,
            height: 1,
            width: 2,
            classes: 3,
        }
    }

    #[test]
    fn subset_picks_images_and_labels_in_order() {
        let s = tiny().subset(&[4, 1, 4]);
        assert_eq!(s.len(), 3);
        assert_eq!(s.labels, vec![1, 1, 1]);
        assert_eq!(s.images, vec![8.0, 9.0, 2.0, 3.0, 8.0, 9.0]);
        assert_eq!((s.channels, s.height, s.width, s.classes), (1, 1, 2, 3));
    }

    #[test]
    fn split_at_fraction_floors_and_clamps() {
        let (a, b) = tiny().split_at_fraction(0.5);
        assert_eq!((a.len(), b.len()), (3, 3));
        assert_eq!(a.labels, vec![0, 1, 2]);
        assert_eq!(b.images[0], 6.0);
        let (a, b) = tiny().split_at_fraction(0.4);
        assert_eq!((a.len(), b.len()), (2, 4));
        let (a, b) = tiny().split_at_fraction(7.0);
        assert_eq!((a.len(), b.len()), (6, 0));
        assert!(b.is_empty());
        let (a, _) = tiny().split_at_fraction(f64::NAN);
        assert!(a.is_empty());
    }

    #[test]
    fn stratified_prefix_keeps_first_per_class_in_order() {
        let s = tiny().stratified_prefix(1);
        assert_eq!(s.labels, vec![0, 1, 2]);
        assert_eq!(s.images, vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
        assert_eq!(tiny().stratified_prefix(5).len(), 6);
        assert_eq!(stratified_prefix_indices(&[1, 1, 0, 9, 1, 0], 2, 2), vec![0, 1, 2, 5]);
    }
}
