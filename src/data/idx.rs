//! IDX files (the MNIST / Fashion-MNIST format), raw or gzip-compressed: reading, checking and
//! writing.
//!
//! An IDX file is big-endian: a 4-byte magic `0x0000 08 d` (`0x08` = unsigned bytes, `d` = number
//! of dimensions), `d` 4-byte sizes, then the payload row-major. Image files have magic
//! `0x00000803` and dimensions `N, H, W`; label files have magic `0x00000801` and dimension `N`.

use std::borrow::Cow;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;
use flate2::{Compression, GzBuilder};

use super::image_set::ImageSet;
use super::normalize::Normalization;
use crate::error::{KdnasError, Result};

/// Magic number of an IDX file of unsigned-byte images `N x H x W`.
pub const IDX_IMAGES_MAGIC: u32 = 0x0000_0803;
/// Magic number of an IDX file of unsigned-byte labels `N`.
pub const IDX_LABELS_MAGIC: u32 = 0x0000_0801;

/// Standard file stem of the training images (`.gz` optional).
pub const IDX_TRAIN_IMAGES: &str = "train-images-idx3-ubyte";
/// Standard file stem of the training labels (`.gz` optional).
pub const IDX_TRAIN_LABELS: &str = "train-labels-idx1-ubyte";
/// Standard file stem of the test images (`.gz` optional).
pub const IDX_TEST_IMAGES: &str = "t10k-images-idx3-ubyte";
/// Standard file stem of the test labels (`.gz` optional).
pub const IDX_TEST_LABELS: &str = "t10k-labels-idx1-ubyte";

/// The two bytes every gzip stream starts with.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Raw 8-bit images as stored in an IDX file, before normalisation.
#[derive(Clone, Debug, PartialEq)]
pub struct IdxImages {
    /// Pixels, `[count, height, width]` row-major.
    pub pixels: Vec<u8>,
    /// Number of images.
    pub count: usize,
    /// Image height in pixels.
    pub height: usize,
    /// Image width in pixels.
    pub width: usize,
}

impl IdxImages {
    /// A new set holding the images at `indices`, in that order.
    ///
    /// Panics if an index is `>= count`, like slice indexing.
    pub fn subset(&self, indices: &[usize]) -> IdxImages {
        let len = self.height * self.width;
        let mut pixels = Vec::with_capacity(indices.len() * len);
        for &i in indices {
            pixels.extend_from_slice(&self.pixels[i * len..(i + 1) * len]);
        }
        IdxImages { pixels, count: indices.len(), height: self.height, width: self.width }
    }
}

/// Decodes an IDX image file held in memory (raw or gzip). `name` is only used in error
/// messages, so embedded data can say where it came from.
pub fn decode_idx_images(bytes: &[u8], name: &Path) -> Result<IdxImages> {
    let bytes = gunzip_if_needed(bytes, name)?;
    let (dims, payload) = split_header(&bytes, name, IDX_IMAGES_MAGIC, "IDX images")?;
    let [count, height, width] = [dims[0], dims[1], dims[2]];
    if height == 0 || width == 0 {
        return Err(data_error(name, format!("header says images of {height}x{width} pixels")));
    }
    let expected = checked_product(&dims, name)?;
    check_payload(payload.len(), expected, name, || format!("{count} images of {height}x{width} = {expected} bytes"))?;
    Ok(IdxImages { pixels: payload.to_vec(), count, height, width })
}

/// Decodes an IDX label file held in memory (raw or gzip). `name` is only used in error messages.
pub fn decode_idx_labels(bytes: &[u8], name: &Path) -> Result<Vec<u8>> {
    let bytes = gunzip_if_needed(bytes, name)?;
    let (dims, payload) = split_header(&bytes, name, IDX_LABELS_MAGIC, "IDX labels")?;
    let count = dims[0];
    check_payload(payload.len(), count, name, || format!("{count} labels = {count} bytes"))?;
    Ok(payload.to_vec())
}

/// Reads an IDX image file from disk (raw or gzip).
pub fn read_idx_images(path: &Path) -> Result<IdxImages> {
    decode_idx_images(&read_file(path)?, path)
}

/// Reads an IDX label file from disk (raw or gzip).
pub fn read_idx_labels(path: &Path) -> Result<Vec<u8>> {
    decode_idx_labels(&read_file(path)?, path)
}

/// Pairs decoded images with their labels, checks counts and label range, and normalises.
///
/// `labels_name` names the label file in errors. `norm` must describe one channel.
pub fn idx_image_set(
    images: &IdxImages,
    labels: Vec<u8>,
    labels_name: &Path,
    norm: &Normalization,
    classes: usize,
) -> Result<ImageSet> {
    if labels.len() != images.count {
        return Err(data_error(
            labels_name,
            format!("count mismatch: {} labels but the image file holds {} images", labels.len(), images.count),
        ));
    }
    if let Some((i, &label)) = labels.iter().enumerate().find(|(_, l)| **l as usize >= classes) {
        return Err(data_error(
            labels_name,
            format!("label {label} at index {i} is out of range for {classes} classes"),
        ));
    }
    if norm.channels() != 1 {
        return Err(KdnasError::Usage(format!(
            "IDX images have 1 channel but the normalisation has {}",
            norm.channels()
        )));
    }
    // [n, 1, h, w]
    let pixels = norm.normalize(&images.pixels, images.height * images.width)?;
    Ok(ImageSet { images: pixels, labels, channels: 1, height: images.height, width: images.width, classes })
}

/// Decodes an image file and a label file held in memory into a normalised [`ImageSet`];
/// the names are used in error messages only.
pub fn idx_pair_from_bytes(
    images: &[u8],
    images_name: &Path,
    labels: &[u8],
    labels_name: &Path,
    norm: &Normalization,
    classes: usize,
) -> Result<ImageSet> {
    let decoded = decode_idx_images(images, images_name)?;
    let labels = decode_idx_labels(labels, labels_name)?;
    idx_image_set(&decoded, labels, labels_name, norm, classes)
}

/// Loads an image file and a label file from disk into a normalised [`ImageSet`].
pub fn load_idx_pair(images: &Path, labels: &Path, norm: &Normalization, classes: usize) -> Result<ImageSet> {
    let decoded = read_idx_images(images)?;
    let label_values = read_idx_labels(labels)?;
    idx_image_set(&decoded, label_values, labels, norm, classes)
}

/// Loads `(train, test)` from a directory holding the four standard MNIST file names
/// (`train-images-idx3-ubyte`, `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte`,
/// `t10k-labels-idx1-ubyte`, each optionally with `.gz`).
pub fn load_idx_dir(dir: &Path, norm: &Normalization, classes: usize) -> Result<(ImageSet, ImageSet)> {
    let train = load_idx_pair(&idx_file(dir, IDX_TRAIN_IMAGES)?, &idx_file(dir, IDX_TRAIN_LABELS)?, norm, classes)?;
    let test = load_idx_pair(&idx_file(dir, IDX_TEST_IMAGES)?, &idx_file(dir, IDX_TEST_LABELS)?, norm, classes)?;
    Ok((train, test))
}

/// The path of `stem.gz` or `stem` in `dir`, whichever exists (`.gz` first).
///
/// Fails with [`KdnasError::Io`] (not found) naming the `.gz` path when neither exists.
pub fn idx_file(dir: &Path, stem: &str) -> Result<PathBuf> {
    let gz = dir.join(format!("{stem}.gz"));
    let raw = dir.join(stem);
    if gz.is_file() {
        Ok(gz)
    } else if raw.is_file() {
        Ok(raw)
    } else {
        let message = format!("no such file (nor {})", raw.display());
        Err(KdnasError::io(gz, std::io::Error::new(std::io::ErrorKind::NotFound, message)))
    }
}

/// Encodes an unsigned-byte IDX file (uncompressed) with the given dimensions.
///
/// Fails with [`KdnasError::Usage`] when `data` does not hold exactly the product of `dims`
/// bytes, or a dimension does not fit the format.
pub fn encode_idx(dims: &[usize], data: &[u8]) -> Result<Vec<u8>> {
    let rank = u8::try_from(dims.len())
        .ok()
        .filter(|r| *r > 0)
        .ok_or_else(|| KdnasError::Usage(format!("IDX needs 1..=255 dimensions, got {}", dims.len())))?;
    let product = dims.iter().try_fold(1usize, |acc, d| acc.checked_mul(*d));
    if product != Some(data.len()) {
        return Err(KdnasError::Usage(format!("IDX dimensions {dims:?} do not match {} data bytes", data.len())));
    }
    let mut out = Vec::with_capacity(4 + 4 * dims.len() + data.len());
    out.extend_from_slice(&[0, 0, 0x08, rank]);
    for &d in dims {
        let d =
            u32::try_from(d).map_err(|_| KdnasError::Usage(format!("IDX dimension {d} does not fit in 32 bits")))?;
        out.extend_from_slice(&d.to_be_bytes());
    }
    out.extend_from_slice(data);
    Ok(out)
}

/// Writes an unsigned-byte IDX file, gzip-compressed (best level, mtime 0, no file name), so that
/// the same input always gives the same bytes.
pub fn write_idx_gz(path: &Path, dims: &[usize], data: &[u8]) -> Result<()> {
    let encoded = encode_idx(dims, data)?;
    let file = std::fs::File::create(path).map_err(|e| KdnasError::io(path, e))?;
    let mut encoder = GzBuilder::new().mtime(0).write(file, Compression::best());
    encoder.write_all(&encoded).map_err(|e| KdnasError::io(path, e))?;
    encoder.finish().map_err(|e| KdnasError::io(path, e))?.sync_all().map_err(|e| KdnasError::io(path, e))
}

/// Reads a whole file, naming it in the error.
fn read_file(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| KdnasError::io(path, e))
}

/// Builds a [`KdnasError::Data`] for `name`.
fn data_error(name: &Path, message: String) -> KdnasError {
    KdnasError::Data { path: name.to_path_buf(), message }
}

/// Decompresses `bytes` when they start with the gzip magic, else borrows them unchanged.
fn gunzip_if_needed<'a>(bytes: &'a [u8], name: &Path) -> Result<Cow<'a, [u8]>> {
    if !bytes.starts_with(&GZIP_MAGIC) {
        return Ok(Cow::Borrowed(bytes));
    }
    let mut out = Vec::new();
    MultiGzDecoder::new(bytes)
        .read_to_end(&mut out)
        .map_err(|e| data_error(name, format!("gzip decompression failed: {e}")))?;
    Ok(Cow::Owned(out))
}

/// Checks the magic of an IDX file (whose rank is its low byte) and returns its dimensions and
/// the payload after the header.
fn split_header<'a>(bytes: &'a [u8], name: &Path, magic: u32, what: &str) -> Result<(Vec<usize>, &'a [u8])> {
    let rank = (magic & 0xff) as usize;
    let header = 4 + 4 * rank;
    let truncated =
        |len: usize| data_error(name, format!("truncated: {what} header needs {header} bytes, found {len}"));
    if bytes.len() < 4 {
        return Err(truncated(bytes.len()));
    }
    let word = |i: usize| u32::from_be_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
    let found = word(0);
    if found != magic {
        return Err(data_error(name, format!("expected magic 0x{magic:08x} ({what}), found 0x{found:08x}")));
    }
    if bytes.len() < header {
        return Err(truncated(bytes.len()));
    }
    let dims = (0..rank).map(|k| word(4 + 4 * k) as usize).collect();
    Ok((dims, &bytes[header..]))
}

/// Product of the header dimensions, failing on overflow.
fn checked_product(dims: &[usize], name: &Path) -> Result<usize> {
    dims.iter()
        .try_fold(1usize, |acc, d| acc.checked_mul(*d))
        .ok_or_else(|| data_error(name, format!("header dimensions {dims:?} overflow")))
}

/// Checks that exactly `expected` payload bytes follow the header; `describe` says what the
/// header promised, for the message.
fn check_payload(found: usize, expected: usize, name: &Path, describe: impl Fn() -> String) -> Result<()> {
    if found < expected {
        Err(data_error(name, format!("truncated: header says {}, found {found}", describe())))
    } else if found > expected {
        Err(data_error(name, format!("header says {}, but {found} bytes follow the header", describe())))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::normalize::FASHION_MNIST_NORMALIZATION;

    /// A fresh empty directory under the system temp dir, unique to this test.
    fn temp_dir(test: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("kdnas-idx-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// Three 2x3 images with distinct pixels, and labels 2, 0, 1.
    fn sample() -> (Vec<u8>, Vec<u8>) {
        ((0..18u8).map(|v| v * 10).collect(), vec![2, 0, 1])
    }

    fn message(err: KdnasError) -> String {
        err.to_string()
    }

    #[test]
    fn round_trip_gzip_and_raw() {
        let dir = temp_dir("round-trip");
        let (pixels, labels) = sample();
        write_idx_gz(&dir.join("img.gz"), &[3, 2, 3], &pixels).unwrap();
        write_idx_gz(&dir.join("lab.gz"), &[3], &labels).unwrap();
        std::fs::write(dir.join("img"), encode_idx(&[3, 2, 3], &pixels).unwrap()).unwrap();
        std::fs::write(dir.join("lab"), encode_idx(&[3], &labels).unwrap()).unwrap();
        for (img, lab) in [("img.gz", "lab.gz"), ("img", "lab")] {
            let raw = read_idx_images(&dir.join(img)).unwrap();
            assert_eq!((raw.count, raw.height, raw.width), (3, 2, 3));
            assert_eq!(raw.pixels, pixels);
            assert_eq!(raw.subset(&[2]).pixels, pixels[12..]);
            assert_eq!(read_idx_labels(&dir.join(lab)).unwrap(), labels);
            let set = load_idx_pair(&dir.join(img), &dir.join(lab), &FASHION_MNIST_NORMALIZATION, 3).unwrap();
            assert_eq!((set.len(), set.channels, set.height, set.width), (3, 1, 2, 3));
            assert_eq!(set.labels, labels);
            let zero = (0.0 - 0.2860) / 0.3530;
            assert!((set.images[0] - zero).abs() < 1e-5);
        }
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn gzip_output_is_deterministic() {
        let dir = temp_dir("deterministic");
        let (pixels, _) = sample();
        write_idx_gz(&dir.join("a.gz"), &[3, 2, 3], &pixels).unwrap();
        write_idx_gz(&dir.join("b.gz"), &[3, 2, 3], &pixels).unwrap();
        let a = std::fs::read(dir.join("a.gz")).unwrap();
        assert_eq!(a, std::fs::read(dir.join("b.gz")).unwrap());
        assert_eq!(&a[4..8], &[0, 0, 0, 0], "gzip mtime must be 0");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn directory_loader_accepts_standard_names_with_or_without_gz() {
        let dir = temp_dir("dir");
        let (pixels, labels) = sample();
        write_idx_gz(&dir.join("train-images-idx3-ubyte.gz"), &[3, 2, 3], &pixels).unwrap();
        write_idx_gz(&dir.join("train-labels-idx1-ubyte.gz"), &[3], &labels).unwrap();
        let test_images = encode_idx(&[1, 2, 3], &pixels[..6]).unwrap();
        std::fs::write(dir.join("t10k-images-idx3-ubyte"), test_images).unwrap();
        std::fs::write(dir.join("t10k-labels-idx1-ubyte"), encode_idx(&[1], &[1]).unwrap()).unwrap();
        let (train, test) = load_idx_dir(&dir, &FASHION_MNIST_NORMALIZATION, 10).unwrap();
        assert_eq!((train.len(), test.len(), train.classes), (3, 1, 10));
        std::fs::remove_file(dir.join("t10k-labels-idx1-ubyte")).unwrap();
        let err = message(load_idx_dir(&dir, &FASHION_MNIST_NORMALIZATION, 10).unwrap_err());
        assert!(err.contains("t10k-labels-idx1-ubyte.gz") && err.contains("no such file"), "{err}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn missing_file_is_io_error_with_path() {
        let err = read_idx_images(Path::new("/nonexistent/kdnas/imgs.gz")).unwrap_err();
        assert!(matches!(err, KdnasError::Io { .. }));
        assert!(message(err).contains("/nonexistent/kdnas/imgs.gz"));
    }

    #[test]
    fn wrong_magic_is_reported() {
        let mut bytes = encode_idx(&[1, 1, 1], &[0]).unwrap();
        bytes[..4].copy_from_slice(&0x1234_5678u32.to_be_bytes());
        let err = decode_idx_images(&bytes, Path::new("bad-images.idx")).unwrap_err();
        assert!(matches!(err, KdnasError::Data { .. }));
        let err = message(err);
        assert!(err.contains("bad-images.idx"), "{err}");
        assert!(err.contains("expected magic 0x00000803 (IDX images), found 0x12345678"), "{err}");
        // A label file given where images are expected.
        let labels = encode_idx(&[1], &[0]).unwrap();
        let err = message(decode_idx_images(&labels, Path::new("l.idx")).unwrap_err());
        assert!(err.contains("found 0x00000801"), "{err}");
    }

    #[test]
    fn truncated_payload_and_header_are_reported() {
        let mut bytes = encode_idx(&[100, 28, 28], &vec![0; 78400]).unwrap();
        bytes.truncate(16 + 5000);
        let err = message(decode_idx_images(&bytes, Path::new("short.idx")).unwrap_err());
        assert!(err.contains("short.idx"), "{err}");
        assert!(err.contains("truncated: header says 100 images of 28x28 = 78400 bytes, found 5000"), "{err}");
        let err = message(decode_idx_labels(&[0, 0, 8, 1, 0], Path::new("tiny.idx")).unwrap_err());
        assert!(err.contains("tiny.idx") && err.contains("truncated"), "{err}");
        let mut long = encode_idx(&[2], &[0, 1]).unwrap();
        long.push(7);
        let err = message(decode_idx_labels(&long, Path::new("long.idx")).unwrap_err());
        assert!(err.contains("3 bytes follow the header"), "{err}");
    }

    #[test]
    fn empty_image_size_is_reported() {
        let bytes = encode_idx(&[2, 0, 28], &[]).unwrap();
        let err = message(decode_idx_images(&bytes, Path::new("flat.idx")).unwrap_err());
        assert!(err.contains("flat.idx") && err.contains("images of 0x28 pixels"), "{err}");
    }

    #[test]
    fn corrupt_gzip_is_reported() {
        let err = message(decode_idx_labels(&[0x1f, 0x8b, 8, 0, 1, 2], Path::new("broken.gz")).unwrap_err());
        assert!(err.contains("broken.gz") && err.contains("gzip"), "{err}");
    }

    #[test]
    fn count_mismatch_and_label_range_are_reported() {
        let (pixels, _) = sample();
        let images = encode_idx(&[3, 2, 3], &pixels).unwrap();
        let two = encode_idx(&[2], &[0, 1]).unwrap();
        let err = idx_pair_from_bytes(
            &images,
            Path::new("imgs"),
            &two,
            Path::new("labels-file"),
            &FASHION_MNIST_NORMALIZATION,
            10,
        )
        .unwrap_err();
        let err = message(err);
        assert!(err.contains("labels-file"), "{err}");
        assert!(err.contains("count mismatch: 2 labels but the image file holds 3 images"), "{err}");
        let bad = encode_idx(&[3], &[0, 1, 12]).unwrap();
        let err = idx_pair_from_bytes(
            &images,
            Path::new("imgs"),
            &bad,
            Path::new("labels-file"),
            &FASHION_MNIST_NORMALIZATION,
            10,
        )
        .unwrap_err();
        let err = message(err);
        assert!(err.contains("label 12 at index 2 is out of range for 10 classes"), "{err}");
    }

    #[test]
    fn encoder_rejects_inconsistent_dimensions() {
        assert!(encode_idx(&[2, 2], &[0; 3]).is_err());
        assert!(encode_idx(&[], &[]).is_err());
    }
}
