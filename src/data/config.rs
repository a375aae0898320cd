//! The `[data]` section of a run configuration: which image set to load and how to cut it down.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use serde::{Deserialize, Serialize};

use super::augment::Augment;
use super::bundled::{FASHION_MNIST_CLASSES, bundled_fashion_mnist};
use super::cifar::{CifarFormat, load_cifar_dir};
use super::idx::load_idx_dir;
use super::image_folder::{PerClassLimits, load_image_folder};
use super::image_set::ImageSet;
use super::normalize::{FASHION_MNIST_NORMALIZATION, MNIST_NORMALIZATION, Normalization};
use crate::error::Result;
use crate::validate::{at_least_one, field_error};

/// Where the images come from.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum DataSource {
    /// The Fashion-MNIST subset compiled into the library (4000 train / 1000 test); needs no `dir`.
    #[default]
    BundledFashionMnist,
    /// A directory of MNIST-style IDX files (`train-images-idx3-ubyte[.gz]`, ...), 10 classes.
    Idx,
    /// A directory of CIFAR-10 binary batches (`data_batch_1.bin`, ..., `test_batch.bin`),
    /// directly or under `cifar-10-batches-bin/`.
    Cifar10Bin,
    /// A directory of CIFAR-100 binary files (`train.bin`, `test.bin`), directly or under
    /// `cifar-100-binary/`.
    Cifar100Bin,
    /// PNG / JPEG images in `train/<class>/` and `test/<class>/` folders (torchvision's
    /// `ImageFolder` layout), in a directory or a `.tar.gz` / `.tgz` archive, directly or under
    /// one top-level folder; normalised with the statistics of the loaded training images.
    ImageFolder,
}

impl DataSource {
    /// The name used in configuration files.
    fn name(self) -> &'static str {
        match self {
            DataSource::BundledFashionMnist => "bundled-fashion-mnist",
            DataSource::Idx => "idx",
            DataSource::Cifar10Bin => "cifar10-bin",
            DataSource::Cifar100Bin => "cifar100-bin",
            DataSource::ImageFolder => "image-folder",
        }
    }
}

/// Normalisation constants for an `idx` source.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum IdxNormalization {
    /// Fashion-MNIST mean 0.2860, std 0.3530 (the default).
    #[default]
    FashionMnist,
    /// MNIST mean 0.1307, std 0.3081.
    Mnist,
}

/// The `[data]` section: the source, its directory and optional per-class limits.
///
/// Every field is optional; the default is the bundled Fashion-MNIST subset without augmentation.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    /// Which loader to use.
    #[serde(default)]
    pub source: DataSource,
    /// Directory of the files, relative to the configuration file's directory; required by every
    /// source except the bundled one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dir: Option<PathBuf>,
    /// Normalisation of an `idx` source (default Fashion-MNIST's); only allowed with `idx`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub normalization: Option<IdxNormalization>,
    /// Keep only the first this many training images of each class.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit_train_per_class: Option<usize>,
    /// Keep only the first this many test images of each class.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit_test_per_class: Option<usize>,
    /// Apply the standard random crop (pad 4) and horizontal flip to training batches.
    #[serde(default)]
    pub augment: bool,
    /// The normalisation an `image-folder` source computed in the last [`DataConfig::load`].
    #[serde(skip)]
    loaded: LoadedNormalization,
}

/// The normalisation computed by the last load of an `image-folder` source.
///
/// Derived state, not configuration: it is never written or read, and configurations compare
/// equal whatever it holds.
#[derive(Debug, Default)]
struct LoadedNormalization(Mutex<Option<Normalization>>);

impl LoadedNormalization {
    /// The stored normalisation, if a load stored one.
    fn get(&self) -> Option<Normalization> {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Stores `normalization`, replacing an earlier one.
    fn set(&self, normalization: Normalization) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(normalization);
    }
}

impl Clone for LoadedNormalization {
    fn clone(&self) -> Self {
        LoadedNormalization(Mutex::new(self.get()))
    }
}

impl PartialEq for LoadedNormalization {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

/// What [`DataConfig::normalization`] returns for an `image-folder` source before it is loaded.
const NOT_LOADED: Normalization = Normalization { mean: &[], std: &[] };

impl DataConfig {
    /// Makes a relative `dir` absolute against `base` (the folder of the file the section was read
    /// from), so the section can be copied elsewhere and still find its data.
    pub fn resolve(&mut self, base: &Path) {
        self.dir = self.dir.take().map(|dir| crate::files::absolute_from(base, &dir));
    }

    /// Checks that the fields fit together; [`DataConfig::load`] calls it first.
    ///
    /// Fails with a [`crate::KdnasError::Usage`] of the form `data.field: what is wrong`, which the config
    /// loader turns into an error naming the file and the line of the field.
    pub fn validate(&self) -> Result<()> {
        let source = self.source.name();
        match (self.source, &self.dir) {
            (DataSource::BundledFashionMnist, Some(dir)) => {
                return Err(field_error(
                    "data.dir",
                    format!(
                        "{:?} is not used with data.source = \"{source}\"; remove it or choose \"idx\", \
                         \"cifar10-bin\", \"cifar100-bin\" or \"image-folder\"",
                        dir.display().to_string()
                    ),
                ));
            }
            (DataSource::BundledFashionMnist, None) | (_, Some(_)) => {}
            (_, None) => {
                return Err(field_error(
                    "data.dir",
                    format!(
                        "required with data.source = \"{source}\": the directory that holds the data files, \
                         relative to the configuration file"
                    ),
                ));
            }
        }
        if self.normalization.is_some() && self.source != DataSource::Idx {
            return Err(field_error(
                "data.normalization",
                format!("only applies to data.source = \"idx\", not \"{source}\""),
            ));
        }
        for (field, limit) in [
            ("data.limit_train_per_class", self.limit_train_per_class),
            ("data.limit_test_per_class", self.limit_test_per_class),
        ] {
            if let Some(limit) = limit {
                at_least_one(field, limit)?;
            }
        }
        Ok(())
    }

    /// The normalisation the loaded images use (and augmentation padding must match).
    ///
    /// An `image-folder` source has no fixed constants: its normalisation is the per-channel mean
    /// and standard deviation of the training images, computed by [`DataConfig::load`] and
    /// remembered in this configuration (and its clones made afterwards). Before a load it has no
    /// channels, so call `load` first.
    pub fn normalization(&self) -> Normalization {
        match self.source {
            DataSource::BundledFashionMnist => FASHION_MNIST_NORMALIZATION,
            DataSource::Idx => match self.normalization.unwrap_or_default() {
                IdxNormalization::FashionMnist => FASHION_MNIST_NORMALIZATION,
                IdxNormalization::Mnist => MNIST_NORMALIZATION,
            },
            DataSource::Cifar10Bin => CifarFormat::Cifar10.normalization(),
            DataSource::Cifar100Bin => CifarFormat::Cifar100.normalization(),
            DataSource::ImageFolder => self.loaded.get().unwrap_or(NOT_LOADED),
        }
    }

    /// The training augmentation when `augment` is set, matched to the source's normalisation.
    pub fn augmenter(&self) -> Option<Augment> {
        self.augment.then(|| Augment::standard(&self.normalization()))
    }

    /// Loads `(train, test)`, with `dir` resolved against `base_dir` (the directory of the
    /// configuration file) and the per-class limits applied.
    ///
    /// An `image-folder` source applies the limits while reading (only kept images are decoded)
    /// and stores its computed normalisation for [`DataConfig::normalization`].
    pub fn load(&self, base_dir: &Path) -> Result<(ImageSet, ImageSet)> {
        self.validate()?;
        let dir = self.dir.as_ref().map(|d| base_dir.join(d));
        let (train, test) = match (self.source, dir) {
            (DataSource::ImageFolder, Some(dir)) => {
                let limits = PerClassLimits { train: self.limit_train_per_class, test: self.limit_test_per_class };
                let sets = load_image_folder(&dir, limits)?;
                self.loaded.set(sets.normalization);
                return Ok((sets.train, sets.test));
            }
            (DataSource::Idx, Some(dir)) => load_idx_dir(&dir, &self.normalization(), FASHION_MNIST_CLASSES.len())?,
            (DataSource::Cifar10Bin, Some(dir)) => load_cifar_dir(&dir, CifarFormat::Cifar10)?,
            (DataSource::Cifar100Bin, Some(dir)) => load_cifar_dir(&dir, CifarFormat::Cifar100)?,
            // validate() guarantees that only the bundled source comes without a directory.
            _ => bundled_fashion_mnist()?,
        };
        let limit = |set: ImageSet, per_class: Option<usize>| match per_class {
            Some(n) => set.stratified_prefix(n),
            None => set,
        };
        Ok((limit(train, self.limit_train_per_class), limit(test, self.limit_test_per_class)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::idx::write_idx_gz;
    use crate::error::KdnasError;

    fn parse(text: &str) -> std::result::Result<DataConfig, toml::de::Error> {
        toml::from_str(text)
    }

    #[test]
    fn defaults_to_bundled_and_round_trips() {
        let config = parse("").unwrap();
        assert_eq!(config, DataConfig::default());
        assert_eq!(config.source, DataSource::BundledFashionMnist);
        assert!(config.augmenter().is_none());
        let config = parse("source = \"cifar100-bin\"\ndir = \"c\"\naugment = true").unwrap();
        assert_eq!(config.source, DataSource::Cifar100Bin);
        assert_eq!(parse(&toml::to_string(&config).unwrap()).unwrap(), config);
        assert!(config.augmenter().is_some());
    }

    #[test]
    fn rejects_unknown_fields_and_sources() {
        let err = parse("sauce = \"idx\"").unwrap_err().to_string();
        assert!(err.contains("sauce"), "{err}");
        let err = parse("source = \"imagenet\"").unwrap_err().to_string();
        assert!(err.contains("imagenet"), "{err}");
    }

    #[test]
    fn validation_names_the_field() {
        let msg = |text: &str| parse(text).unwrap().validate().unwrap_err().to_string();
        assert!(msg("source = \"idx\"").starts_with("data.dir: required with data.source = \"idx\""));
        assert!(msg("source = \"cifar10-bin\"").starts_with("data.dir: "));
        assert!(msg("dir = \"x\"").starts_with("data.dir: \"x\" is not used"));
        let wrong_normalization = "source = \"cifar10-bin\"\ndir = \"x\"\nnormalization = \"mnist\"";
        assert!(msg(wrong_normalization).starts_with("data.normalization: only applies"));
        assert_eq!(msg("limit_test_per_class = 0"), "data.limit_test_per_class: must be at least 1");
        let err = parse("source = \"idx\"").unwrap().load(Path::new(".")).unwrap_err();
        assert!(matches!(err, KdnasError::Usage(_)));
    }

    #[test]
    fn loads_bundled_with_limits() {
        let config = parse("limit_train_per_class = 3\nlimit_test_per_class = 2").unwrap();
        let (train, test) = config.load(Path::new("/nonexistent")).unwrap();
        assert_eq!((train.len(), test.len()), (30, 20));
    }

    #[test]
    fn idx_dir_is_resolved_against_base_dir() {
        let base = std::env::temp_dir().join(format!("kdnas-config-{}", std::process::id()));
        let dir = base.join("mnist");
        std::fs::create_dir_all(&dir).unwrap();
        let pixels = [0u8, 255, 0, 255];
        for split in ["train", "t10k"] {
            let images = dir.join(format!("{split}-images-idx3-ubyte.gz"));
            write_idx_gz(&images, &[4, 1, 1], &pixels).unwrap();
            let labels = dir.join(format!("{split}-labels-idx1-ubyte.gz"));
            write_idx_gz(&labels, &[4], &[0, 0, 1, 1]).unwrap();
        }
        let config = parse(
            "source = \"idx\"\ndir = \"mnist\"\nnormalization = \"mnist\"\n\
                            limit_train_per_class = 1",
        )
        .unwrap();
        let (train, test) = config.load(&base).unwrap();
        assert_eq!((train.len(), test.len(), train.classes), (2, 4, 10));
        assert_eq!(train.labels, vec![0, 1]);
        assert!((train.images[0] + 0.1307 / 0.3081).abs() < 1e-5);
        std::fs::remove_dir_all(base).unwrap();
    }
}
