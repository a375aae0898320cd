//! CIFAR-10 and CIFAR-100 in their "binary version" file format.
//!
//! Each file is a sequence of fixed-size records: the label byte(s), then 3072 pixel bytes
//! (1024 red, 1024 green, 1024 blue, each a 32x32 row-major plane), i.e. one `[3, 32, 32]` image.
//! CIFAR-10 records have one label byte; CIFAR-100 records have two (coarse, then fine) and the
//! fine label is used.

use std::path::{Path, PathBuf};

use super::image_set::ImageSet;
use super::normalize::{CIFAR10_NORMALIZATION, CIFAR100_NORMALIZATION, Normalization};
use crate::error::{KdnasError, Result};

/// Channels of a CIFAR image.
pub const CIFAR_CHANNELS: usize = 3;
/// Height and width of a CIFAR image.
pub const CIFAR_SIDE: usize = 32;
/// Pixel bytes of one CIFAR image (`3 * 32 * 32`).
pub const CIFAR_IMAGE_BYTES: usize = CIFAR_CHANNELS * CIFAR_SIDE * CIFAR_SIDE;

/// Which of the two CIFAR binary formats a file is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CifarFormat {
    /// CIFAR-10: 1 label byte per record, 10 classes, files `data_batch_1..5.bin`, `test_batch.bin`.
    Cifar10,
    /// CIFAR-100: 2 label bytes (coarse, fine) per record, 100 fine classes, `train.bin`, `test.bin`.
    Cifar100,
}

impl CifarFormat {
    /// Label bytes at the start of each record.
    pub fn label_bytes(self) -> usize {
        match self {
            CifarFormat::Cifar10 => 1,
            CifarFormat::Cifar100 => 2,
        }
    }

    /// Bytes per record (labels + pixels).
    pub fn record_len(self) -> usize {
        self.label_bytes() + CIFAR_IMAGE_BYTES
    }

    /// Number of classes of the label that is used.
    pub fn classes(self) -> usize {
        match self {
            CifarFormat::Cifar10 => 10,
            CifarFormat::Cifar100 => 100,
        }
    }

    /// The dataset's usual per-channel normalisation.
    pub fn normalization(self) -> Normalization {
        match self {
            CifarFormat::Cifar10 => CIFAR10_NORMALIZATION,
            CifarFormat::Cifar100 => CIFAR100_NORMALIZATION,
        }
    }

    /// Training file names, in the order they are concatenated.
    pub fn train_files(self) -> &'static [&'static str] {
        match self {
            CifarFormat::Cifar10 => {
                &["data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"]
            }
            CifarFormat::Cifar100 => &["train.bin"],
        }
    }

    /// Test file name.
    pub fn test_file(self) -> &'static str {
        match self {
            CifarFormat::Cifar10 => "test_batch.bin",
            CifarFormat::Cifar100 => "test.bin",
        }
    }

    /// The folder the official archive unpacks to, looked for inside the given directory.
    pub fn archive_dir(self) -> &'static str {
        match self {
            CifarFormat::Cifar10 => "cifar-10-batches-bin",
            CifarFormat::Cifar100 => "cifar-100-binary",
        }
    }
}

/// Loads `(train, test)` from `dir`, or from `dir/<archive_dir>` when that folder exists
/// (`cifar-10-batches-bin/` or `cifar-100-binary/`), normalised with the dataset's constants.
pub fn load_cifar_dir(dir: &Path, format: CifarFormat) -> Result<(ImageSet, ImageSet)> {
    let nested = dir.join(format.archive_dir());
    let root = if nested.is_dir() { nested } else { dir.to_path_buf() };
    let train_paths: Vec<PathBuf> = format.train_files().iter().map(|f| root.join(f)).collect();
    let train = read_cifar_files(&train_paths, format)?;
    let test = read_cifar_files(&[root.join(format.test_file())], format)?;
    Ok((train, test))
}

/// Reads and concatenates CIFAR binary files, in order, into one normalised [`ImageSet`].
pub fn read_cifar_files(paths: &[PathBuf], format: CifarFormat) -> Result<ImageSet> {
    let mut pixels = Vec::new();
    let mut labels = Vec::new();
    for path in paths {
        let bytes = std::fs::read(path).map_err(|e| KdnasError::io(path, e))?;
        decode_records(&bytes, path, format, &mut pixels, &mut labels)?;
    }
    // [n, 3, 32, 32]
    let images = format.normalization().normalize(&pixels, CIFAR_SIDE * CIFAR_SIDE)?;
    Ok(ImageSet {
        images,
        labels,
        channels: CIFAR_CHANNELS,
        height: CIFAR_SIDE,
        width: CIFAR_SIDE,
        classes: format.classes(),
    })
}

/// Appends the pixels (`[n, 3, 32, 32]`) and used labels of every record in `bytes`.
fn decode_records(
    bytes: &[u8],
    path: &Path,
    format: CifarFormat,
    pixels: &mut Vec<u8>,
    labels: &mut Vec<u8>,
) -> Result<()> {
    let record = format.record_len();
    let data_error = |message: String| KdnasError::Data { path: path.to_path_buf(), message };
    if bytes.is_empty() || !bytes.len().is_multiple_of(record) {
        return Err(data_error(format!(
            "size {} bytes is not a positive multiple of the {format:?} record size {record} \
             ({} label byte(s) + {CIFAR_IMAGE_BYTES} pixels)",
            bytes.len(),
            format.label_bytes()
        )));
    }
    let label_at = format.label_bytes() - 1; // the fine label is the last label byte
    pixels.reserve(bytes.len() / record * CIFAR_IMAGE_BYTES);
    for (i, rec) in bytes.chunks_exact(record).enumerate() {
        let label = rec[label_at];
        if label as usize >= format.classes() {
            return Err(data_error(format!(
                "label {label} of record {i} is out of range for {} classes",
                format.classes()
            )));
        }
        labels.push(label);
        pixels.extend_from_slice(&rec[format.label_bytes()..]);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(test: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("kdnas-cifar-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// `labels.len()` records; record `i` has pixels all equal to `fill + i` and the given
    /// label bytes.
    fn records(labels: &[&[u8]], fill: u8) -> Vec<u8> {
        let mut out = Vec::new();
        for (i, l) in labels.iter().enumerate() {
            out.extend_from_slice(l);
            out.extend(std::iter::repeat_n(fill + i as u8, CIFAR_IMAGE_BYTES));
        }
        out
    }

    #[test]
    fn cifar10_round_trip_with_archive_subdir() {
        let dir = temp_dir("c10");
        let sub = dir.join("cifar-10-batches-bin");
        std::fs::create_dir_all(&sub).unwrap();
        for (b, name) in CifarFormat::Cifar10.train_files().iter().enumerate() {
            std::fs::write(sub.join(name), records(&[&[b as u8], &[9]], 10 * b as u8)).unwrap();
        }
        std::fs::write(sub.join("test_batch.bin"), records(&[&[3]], 255)).unwrap();
        let (train, test) = load_cifar_dir(&dir, CifarFormat::Cifar10).unwrap();
        assert_eq!((train.len(), test.len()), (10, 1));
        assert_eq!((train.channels, train.height, train.width, train.classes), (3, 32, 32, 10));
        assert_eq!(train.labels, vec![0, 9, 1, 9, 2, 9, 3, 9, 4, 9]);
        assert_eq!(test.labels, vec![3]);
        // Image 3 (second record of batch 2) has raw value 11 in all channels.
        let image = train.image(3);
        for c in 0..3 {
            let want = (11.0 / 255.0 - CIFAR10_NORMALIZATION.mean[c]) / CIFAR10_NORMALIZATION.std[c];
            assert!((image[c * 1024] - want).abs() < 1e-5);
            assert!((image[c * 1024 + 1023] - want).abs() < 1e-5);
        }
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn cifar100_uses_fine_label() {
        let dir = temp_dir("c100");
        std::fs::write(dir.join("train.bin"), records(&[&[1, 99], &[19, 0]], 0)).unwrap();
        std::fs::write(dir.join("test.bin"), records(&[&[5, 42]], 0)).unwrap();
        let (train, test) = load_cifar_dir(&dir, CifarFormat::Cifar100).unwrap();
        assert_eq!(train.labels, vec![99, 0]);
        assert_eq!(test.labels, vec![42]);
        assert_eq!(train.classes, 100);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn bad_size_missing_file_and_bad_label_are_reported() {
        let dir = temp_dir("bad");
        let mut bytes = records(&[&[1], &[2]], 0);
        bytes.pop();
        std::fs::write(dir.join("train.bin"), &bytes).unwrap();
        let err = read_cifar_files(&[dir.join("train.bin")], CifarFormat::Cifar10).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, KdnasError::Data { .. }));
        assert!(msg.contains("train.bin") && msg.contains("6145 bytes"), "{msg}");
        assert!(msg.contains("record size 3073"), "{msg}");

        std::fs::write(dir.join("train.bin"), records(&[&[0], &[10]], 0)).unwrap();
        let msg = read_cifar_files(&[dir.join("train.bin")], CifarFormat::Cifar10).unwrap_err().to_string();
        assert!(msg.contains("label 10 of record 1 is out of range for 10 classes"), "{msg}");

        let err = load_cifar_dir(&dir, CifarFormat::Cifar10).unwrap_err();
        assert!(matches!(err, KdnasError::Io { .. }));
        assert!(err.to_string().contains("data_batch_1.bin"), "{err}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
