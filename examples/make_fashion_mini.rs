//! Regenerates the bundled Fashion-MNIST subset in `examples/data/fashion-mnist-mini/`: the first
//! 400 images of each class from the training file and the first 100 of each class from the
//! test file, in file order, written as gzip IDX files with a fixed header (byte-identical on
//! every run).
//!
//! Usage: `cargo run --release --example make_fashion_mini -- SRC_DIR OUT_DIR`, where SRC_DIR
//! holds the four standard Fashion-MNIST files (`train-images-idx3-ubyte.gz`, ...).

use std::error::Error;
use std::path::{Path, PathBuf};

use kdnas::data::{
    BUNDLED_TEST_PER_CLASS, BUNDLED_TRAIN_PER_CLASS, FASHION_MNIST_CLASSES, IDX_TEST_IMAGES, IDX_TEST_LABELS,
    IDX_TRAIN_IMAGES, IDX_TRAIN_LABELS, idx_file, read_idx_images, read_idx_labels, stratified_prefix_indices,
    write_idx_gz,
};

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [src, out] = args.as_slice() else {
        return Err("usage: make_fashion_mini SRC_DIR OUT_DIR".into());
    };
    let (src, out) = (PathBuf::from(src), PathBuf::from(out));
    std::fs::create_dir_all(&out)?;
    subset_pair(&src, &out, IDX_TRAIN_IMAGES, IDX_TRAIN_LABELS, BUNDLED_TRAIN_PER_CLASS)?;
    subset_pair(&src, &out, IDX_TEST_IMAGES, IDX_TEST_LABELS, BUNDLED_TEST_PER_CLASS)?;
    Ok(())
}

/// Writes the first `per_class` images of each class of one image/label file pair to `out`.
fn subset_pair(
    src: &Path,
    out: &Path,
    images_stem: &str,
    labels_stem: &str,
    per_class: usize,
) -> Result<(), Box<dyn Error>> {
    let images = read_idx_images(&idx_file(src, images_stem)?)?;
    let labels = read_idx_labels(&idx_file(src, labels_stem)?)?;
    if labels.len() != images.count {
        return Err(format!("{labels_stem}: {} labels for {} images", labels.len(), images.count).into());
    }
    let classes = FASHION_MNIST_CLASSES.len();
    let keep = stratified_prefix_indices(&labels, classes, per_class);
    if keep.len() != classes * per_class {
        return Err(format!("{images_stem}: fewer than {per_class} images in some class").into());
    }
    let picked = images.subset(&keep);
    let picked_labels: Vec<u8> = keep.iter().map(|&i| labels[i]).collect();
    let images_out = out.join(format!("{images_stem}.gz"));
    let labels_out = out.join(format!("{labels_stem}.gz"));
    write_idx_gz(&images_out, &[picked.count, picked.height, picked.width], &picked.pixels)?;
    write_idx_gz(&labels_out, &[picked_labels.len()], &picked_labels)?;
    println!("wrote {} and {} ({} images)", images_out.display(), labels_out.display(), keep.len());
    Ok(())
}
