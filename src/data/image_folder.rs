//! Image folders in torchvision's `ImageFolder` layout: `root/{train,test}/<class>/<image>`, where
//! `root` is a directory or a `.tar.gz` / `.tgz` archive (read as a stream, never extracted), and
//! the split folders sit directly in `root` or in its single top-level folder (as in the
//! CIFAR-10 JPEG archive, `CIFAR-10-images/train/cat/0003.jpg`).
//!
//! Classes are the class folder names in sorted order (torchvision's order) and must be the same
//! in both splits; the images of a class are taken in file-name order. PNG and JPEG images are
//! decoded with the `image` crate, in parallel, and normalised with the per-channel mean and
//! standard deviation of the kept training images.

mod decode;
mod layout;
mod stats;
mod tree;

use std::path::Path;

use rayon::prelude::*;

use self::decode::{all_grayscale, check_sizes, decode_all, planar_pixels};
use self::layout::{Member, layout};
use self::stats::channel_statistics;
use self::tree::FileTree;
use super::image_set::ImageSet;
use super::normalize::Normalization;
use crate::error::{KdnasError, Result};

/// File extensions (compared without case) of the images of an image folder.
pub const IMAGE_FOLDER_EXTENSIONS: [&str; 3] = ["png", "jpg", "jpeg"];

/// How many images of each class to keep (the first ones by file name); `None` keeps all.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PerClassLimits {
    /// Limit for the training split.
    pub train: Option<usize>,
    /// Limit for the test split.
    pub test: Option<usize>,
}

/// Both splits of an image folder, with the class names and the normalisation they use.
#[derive(Clone, Debug, PartialEq)]
pub struct ImageFolderSets {
    /// Training images, normalised with [`ImageFolderSets::normalization`].
    pub train: ImageSet,
    /// Test images, normalised with the same constants.
    pub test: ImageSet,
    /// Class folder names; label `i` is `class_names[i]`.
    pub class_names: Vec<String>,
    /// Per-channel mean and standard deviation (on the `[0, 1]` scale) of the kept training images.
    pub normalization: Normalization,
}

/// Loads an image folder (see the module documentation), keeping at most `limits` images per
/// class and decoding only those.
///
/// Images keep 1 channel when all of them are grayscale; otherwise all are converted to RGB
/// (alpha is dropped). The images of each split are interleaved class by class (first image of
/// every class, then the second, ...), so that any prefix of a split holds every class.
///
/// Fails with [`KdnasError::Io`] when `root` or a file cannot be read, and with
/// [`KdnasError::Data`] naming the file or folder (`archive.tar.gz:member` inside an archive)
/// when a split or class folder is missing or empty, the splits' class folders differ, there
/// are more than 256 classes, a class folder holds anything but images and hidden files, an
/// image cannot be decoded or is truncated, images differ in size, or a channel of the
/// training images is constant (its standard deviation is 0).
pub fn load_image_folder(root: &Path, limits: PerClassLimits) -> Result<ImageFolderSets> {
    let tree = FileTree::read(root)?;
    let layout = layout(&tree, limits)?;
    let train_images = decode_all(&tree, &layout.train)?;
    let test_images = decode_all(&tree, &layout.test)?;
    let (first_member, first_image) = layout.train.first().zip(train_images.first()).ok_or_else(|| {
        KdnasError::Data { path: root.to_path_buf(), message: "the training split holds no image".into() }
    })?;
    let (width, height) = (first_image.width() as usize, first_image.height() as usize);
    check_sizes(&tree, (first_member, first_image), &[(&layout.train, &train_images), (&layout.test, &test_images)])?;
    let grayscale = all_grayscale(&[&train_images, &test_images]);
    let channels = if grayscale { 1 } else { 3 };
    let plane = width * height;
    let train_pixels = planar_pixels(train_images, grayscale); // [n, channels, plane]
    let test_pixels = planar_pixels(test_images, grayscale); // [n, channels, plane]
    let normalization = channel_statistics(&train_pixels, channels, plane);
    if let Some(channel) = normalization.std.iter().position(|&s| s <= 0.0) {
        return Err(KdnasError::Data {
            path: root.to_path_buf(),
            message: format!("channel {channel} of the training images is constant; it cannot be normalised"),
        });
    }
    let image_set = |pixels: &[u8], members: &[Member<'_>]| -> Result<ImageSet> {
        Ok(ImageSet {
            images: normalize_in_parallel(&normalization, pixels, channels * plane, plane)?,
            labels: members.iter().map(|m| m.label).collect(),
            channels,
            height,
            width,
            classes: layout.classes.len(),
        })
    };
    Ok(ImageFolderSets {
        train: image_set(&train_pixels, &layout.train)?,
        test: image_set(&test_pixels, &layout.test)?,
        normalization,
        class_names: layout.classes.clone(),
    })
}

/// `normalization.normalize(pixels, plane)`, in chunks of whole images on rayon's threads, each
/// written into one output buffer (so at most a chunk is held twice).
fn normalize_in_parallel(
    normalization: &Normalization,
    pixels: &[u8],
    image_len: usize,
    plane: usize,
) -> Result<Vec<f32>> {
    const IMAGES_PER_CHUNK: usize = 256;
    let chunk = IMAGES_PER_CHUNK * image_len;
    let mut out = vec![0.0; pixels.len()];
    out.par_chunks_mut(chunk).zip(pixels.par_chunks(chunk)).try_for_each(|(out, pixels)| {
        out.copy_from_slice(&normalization.normalize(pixels, plane)?);
        Ok::<_, KdnasError>(())
    })?;
    Ok(out)
}

/// Whether `name` has one of the [`IMAGE_FOLDER_EXTENSIONS`].
fn is_image_name(name: &str) -> bool {
    name.rsplit_once('.').is_some_and(|(_, ext)| IMAGE_FOLDER_EXTENSIONS.iter().any(|e| ext.eq_ignore_ascii_case(e)))
}
