//! Image data: IDX (MNIST, Fashion-MNIST), CIFAR binary and image-folder (PNG/JPEG) loaders,
//! normalisation, the bundled Fashion-MNIST subset, CIFAR-style augmentation and batching into
//! burn tensors.

mod augment;
mod batch;
mod bundled;
mod cifar;
mod config;
mod idx;
mod image_folder;
mod image_set;
mod normalize;
pub mod sequence;

pub use augment::Augment;
pub use batch::image_batch;
pub use bundled::{BUNDLED_TEST_PER_CLASS, BUNDLED_TRAIN_PER_CLASS, FASHION_MNIST_CLASSES, bundled_fashion_mnist};
pub use cifar::{CIFAR_CHANNELS, CIFAR_IMAGE_BYTES, CIFAR_SIDE, CifarFormat, load_cifar_dir, read_cifar_files};
pub use config::{DataConfig, DataSource, IdxNormalization};
pub use idx::{
    IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC, IDX_TEST_IMAGES, IDX_TEST_LABELS, IDX_TRAIN_IMAGES, IDX_TRAIN_LABELS,
    IdxImages, decode_idx_images, decode_idx_labels, encode_idx, idx_file, idx_image_set, idx_pair_from_bytes,
    load_idx_dir, load_idx_pair, read_idx_images, read_idx_labels, write_idx_gz,
};
pub use image_folder::{IMAGE_FOLDER_EXTENSIONS, ImageFolderSets, PerClassLimits, load_image_folder};
pub use image_set::{ImageSet, stratified_prefix_indices};
pub use normalize::{
    CIFAR10_NORMALIZATION, CIFAR100_NORMALIZATION, FASHION_MNIST_NORMALIZATION, MNIST_NORMALIZATION, Normalization,
};
