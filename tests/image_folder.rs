//! The image-folder source: tiny PNG/JPEG trees written to a temporary directory and packed as
//! `.tar.gz`, their errors, the `[data] source = "image-folder"` configuration path, and (when the
//! shared data is present) the CIFAR-10 JPEG archive.

mod common;

use std::io::Cursor;
use std::path::{Path, PathBuf};

use common::{manifest, temp_dir};
use flate2::Compression;
use flate2::write::GzEncoder;
use image::{DynamicImage, GrayImage, ImageFormat, RgbImage};
use kdnas::KdnasError;
use kdnas::data::{ImageFolderSets, PerClassLimits, load_image_folder};
use kdnas::tasks::image::RunConfig;
use rand::SeedableRng;
use rand::rngs::StdRng;

/// One file of a test tree: path below the root and bytes.
type Entry = (String, Vec<u8>);

/// Classes in the order the folders are written (not sorted) and their sorted order.
const WRITTEN_CLASSES: [&str; 3] = ["dog", "ant", "cat"];
const SORTED_CLASSES: [&str; 3] = ["ant", "cat", "dog"];
/// Side of the test images.
const SIDE: u32 = 2;
/// Training images per class (written in the file order 2, 0, 1).
const TRAIN_PER_CLASS: usize = 3;

/// The raw value of channel `c`, pixel `p` of image `index` of class `class` (sorted position):
/// all distinct, so a value identifies its image.
fn raw(class: usize, index: usize, c: usize, p: usize) -> u8 {
    (class * 60 + index * 16 + c * 4 + p) as u8
}

/// An RGB image whose pixels are [`raw`] values.
fn rgb_image(class: usize, index: usize) -> DynamicImage {
    let image = RgbImage::from_fn(SIDE, SIDE, |x, y| {
        let p = (y * SIDE + x) as usize;
        image::Rgb([0, 1, 2].map(|c| raw(class, index, c, p)))
    });
    DynamicImage::ImageRgb8(image)
}

/// `image` encoded as `format`.
fn encode(image: &DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut bytes = Vec::new();
    image.write_to(Cursor::new(&mut bytes), format).unwrap();
    bytes
}

/// The standard tree: 3 classes x 3 PNG training images, 1 JPEG test image per class, a README at
/// the top and a hidden file in every class folder, all under `prefix`.
fn standard_tree(prefix: &str) -> Vec<Entry> {
    let mut files = vec![(format!("{prefix}README.md"), b"not an image".to_vec())];
    for class in WRITTEN_CLASSES {
        let label = SORTED_CLASSES.iter().position(|c| *c == class).unwrap();
        for index in [2, 0, 1] {
            let png = encode(&rgb_image(label, index), ImageFormat::Png);
            files.push((format!("{prefix}train/{class}/{index}.png"), png));
        }
        files.push((format!("{prefix}train/{class}/.DS_Store"), vec![0; 3]));
        let jpeg = encode(&rgb_image(label, 3), ImageFormat::Jpeg);
        files.push((format!("{prefix}test/{class}/0.jpg"), jpeg));
    }
    files
}

/// Writes `files` under the directory `root`.
fn write_tree(root: &Path, files: &[Entry]) {
    for (rel, bytes) in files {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
}

/// Packs `files` into the `.tar.gz` archive `path`, in the given (unsorted) order.
fn write_tar_gz(path: &Path, files: &[Entry]) {
    let mut builder = tar::Builder::new(GzEncoder::new(std::fs::File::create(path).unwrap(), Compression::fast()));
    for (rel, bytes) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder.append_data(&mut header, rel, bytes.as_slice()).unwrap();
    }
    builder.into_inner().unwrap().finish().unwrap();
}

/// Loads `root` with the given limits.
fn load(root: &Path, train: Option<usize>, test: Option<usize>) -> kdnas::Result<ImageFolderSets> {
    load_image_folder(root, PerClassLimits { train, test })
}

/// Loads `root`, expecting a [`KdnasError::Data`] error, and returns its message.
fn data_error(root: &Path) -> String {
    let err = load(root, None, None).unwrap_err();
    assert!(matches!(err, KdnasError::Data { .. }), "{err:?}");
    err.to_string()
}

/// Mean and population std of each channel of the kept training images, computed directly.
fn expected_statistics(per_class: usize) -> Vec<(f64, f64)> {
    (0..3)
        .map(|c| {
            let values: Vec<f64> = (0..3)
                .flat_map(|class| (0..per_class).flat_map(move |i| (0..4).map(move |p| (class, i, p))))
                .map(|(class, i, p)| raw(class, i, c, p) as f64 / 255.0)
                .collect();
            let mean = values.iter().sum::<f64>() / values.len() as f64;
            let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / values.len() as f64;
            (mean, var.sqrt())
        })
        .collect()
}

/// Checks classes, interleaved labels, shapes and exact normalised PNG values of a load with
/// `per_class` training images per class.
fn check_standard(sets: &ImageFolderSets, per_class: usize) {
    assert_eq!(sets.class_names, SORTED_CLASSES);
    let train = &sets.train;
    assert_eq!((train.channels, train.height, train.width, train.classes), (3, 2, 2, 3));
    let labels: Vec<u8> = (0..per_class).flat_map(|_| [0, 1, 2]).collect();
    assert_eq!(train.labels, labels);
    assert_eq!((sets.test.labels.clone(), sets.test.image_len()), (vec![0, 1, 2], 12));
    let stats = expected_statistics(per_class);
    for (c, (mean, std)) in stats.iter().enumerate() {
        assert!((sets.normalization.mean[c] as f64 - mean).abs() < 1e-6, "{:?}", sets.normalization);
        assert!((sets.normalization.std[c] as f64 - std).abs() < 1e-6, "{:?}", sets.normalization);
    }
    // Image k of the interleaved set is file k / 3 of class k % 3.
    for k in 0..train.len() {
        let (class, index) = (k % 3, k / 3);
        let image = train.image(k); // [3, 2, 2]
        for c in 0..3 {
            for p in 0..4 {
                let (mean, std) = stats[c];
                let want = (raw(class, index, c, p) as f64 / 255.0 - mean) / std;
                let got = image[c * 4 + p] as f64;
                assert!((got - want).abs() < 1e-4, "image {k} channel {c} pixel {p}: {got} vs {want}");
            }
        }
    }
}

#[test]
fn directory_and_archive_load_the_same_sorted_interleaved_sets() {
    let dir = temp_dir("image-folder-standard");
    let tree = dir.join("tree");
    write_tree(&tree, &standard_tree(""));
    let from_dir = load(&tree, None, None).unwrap();
    check_standard(&from_dir, TRAIN_PER_CLASS);
    assert_eq!(load(&tree, None, None).unwrap(), from_dir, "loading is deterministic");
    let archive = dir.join("images.tar.gz");
    let mut files = standard_tree("top/");
    files.reverse();
    write_tar_gz(&archive, &files);
    assert_eq!(load(&archive, None, None).unwrap(), from_dir);
    let nested = dir.join("nested");
    write_tree(&nested, &standard_tree("top/"));
    assert_eq!(load(&nested, None, None).unwrap(), from_dir);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn per_class_limits_keep_the_first_files_by_name() {
    let dir = temp_dir("image-folder-limits");
    let archive = dir.join("images.tgz");
    write_tar_gz(&archive, &standard_tree("top/"));
    let limited = load(&archive, Some(2), Some(1)).unwrap();
    check_standard(&limited, 2);
    let full = load(&archive, None, None).unwrap();
    assert_ne!(limited.normalization, full.normalization, "statistics come from the kept images");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn grayscale_stays_one_channel_unless_mixed_with_colour() {
    let dir = temp_dir("image-folder-gray");
    // A 2x2 gray PNG with pixels v, v + 1 in each row.
    let gray = |v: u8| {
        let image = GrayImage::from_fn(2, 2, |x, _| image::Luma([v + x as u8]));
        encode(&DynamicImage::ImageLuma8(image), ImageFormat::Png)
    };
    let files: Vec<Entry> = vec![
        ("train/a/0.png".into(), gray(10)),
        ("train/b/0.png".into(), gray(200)),
        ("test/a/0.png".into(), gray(50)),
        ("test/b/0.png".into(), gray(60)),
    ];
    write_tree(&dir.join("gray"), &files);
    let sets = load(&dir.join("gray"), None, None).unwrap();
    assert_eq!((sets.train.channels, sets.normalization.mean.len()), (1, 1));
    // Pixels 10, 11, 200, 201.
    assert!((sets.normalization.mean[0] - 105.5 / 255.0).abs() < 1e-6);
    let mut mixed = files;
    mixed.push(("test/b/1.png".into(), encode(&rgb_image(1, 0), ImageFormat::Png)));
    write_tree(&dir.join("mixed"), &mixed);
    let sets = load(&dir.join("mixed"), None, None).unwrap();
    assert_eq!(sets.train.channels, 3);
    let first = sets.train.image(0); // [3, 2, 2]: the gray image repeated in every channel
    for c in 0..3 {
        let want = (10.0 / 255.0 - sets.normalization.mean[c]) / sets.normalization.std[c];
        assert!((first[c * 4] - want).abs() < 1e-5);
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn missing_root_and_missing_split_name_the_path() {
    let dir = temp_dir("image-folder-missing");
    let err = load(&dir.join("nowhere.tar.gz"), None, None).unwrap_err();
    assert!(matches!(err, KdnasError::Io { .. }) && err.to_string().contains("nowhere.tar.gz"), "{err}");
    let train_only: Vec<Entry> = standard_tree("top/").into_iter().filter(|(rel, _)| !rel.contains("/test/")).collect();
    write_tar_gz(&dir.join("train-only.tar.gz"), &train_only);
    let msg = data_error(&dir.join("train-only.tar.gz"));
    assert!(msg.contains("train-only.tar.gz:top/test") && msg.contains("missing the `test` split folder"), "{msg}");
    write_tree(&dir.join("flat"), &[("a/b.png".into(), vec![1])]);
    assert!(data_error(&dir.join("flat")).contains("no `train` / `test` split folders"));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn truncated_jpeg_in_an_archive_is_a_data_error_naming_the_member() {
    let dir = temp_dir("image-folder-corrupt");
    let mut files = standard_tree("top/");
    let jpeg = files.iter_mut().find(|(rel, _)| rel == "top/test/cat/0.jpg").unwrap();
    // Cut inside the entropy-coded data, which the lenient decoder alone would accept.
    jpeg.1.truncate(jpeg.1.len() - 3);
    let archive = dir.join("archive.tar.gz");
    write_tar_gz(&archive, &files);
    let msg = data_error(&archive);
    assert!(msg.contains(&format!("{}:top/test/cat/0.jpg", archive.display())), "{msg}");
    assert!(msg.contains("truncated JPEG"), "{msg}");
    let garbage = files.iter_mut().find(|(rel, _)| rel == "top/train/ant/0.png").unwrap();
    garbage.1 = b"\x89PNG\r\n\x1a\n garbage".to_vec();
    write_tar_gz(&archive, &files);
    let msg = data_error(&archive);
    assert!(msg.contains("archive.tar.gz:top/train/ant/0.png") && msg.contains("cannot decode"), "{msg}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn an_image_of_another_size_names_both_files() {
    let dir = temp_dir("image-folder-size");
    let mut files = standard_tree("");
    let big = encode(&DynamicImage::ImageRgb8(RgbImage::new(3, 2)), ImageFormat::Png);
    files.push(("train/dog/9.png".into(), big));
    write_tree(&dir, &files);
    let msg = data_error(&dir);
    let odd = dir.join("train").join("dog").join("9.png");
    let first = dir.join("train").join("ant").join("0.png");
    assert!(msg.contains(&odd.display().to_string()) && msg.contains("3x2"), "{msg}");
    assert!(msg.contains(&first.display().to_string()) && msg.contains("2x2"), "{msg}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn class_folder_problems_are_data_errors() {
    let dir = temp_dir("image-folder-classes");
    // Writes the standard tree without the files under `drop`, plus `extra`, and loads it.
    let case = |name: &str, extra: &[Entry], drop: Option<&str>| -> String {
        let dropped = |rel: &str| drop.is_some_and(|d| rel.starts_with(d));
        let mut files: Vec<Entry> = standard_tree("").into_iter().filter(|(rel, _)| !dropped(rel)).collect();
        files.extend_from_slice(extra);
        let root = dir.join(name);
        write_tree(&root, &files);
        data_error(&root)
    };
    let msg = case("differ", &[("test/eel/0.jpg".into(), vec![])], None);
    assert!(msg.contains(r#"train ["ant", "cat", "dog"] and test ["ant", "cat", "dog", "eel"]"#), "{msg}");
    let msg = case("gif", &[("train/cat/x.gif".into(), vec![])], None);
    assert!(msg.contains("x.gif") && msg.contains("not a .png, .jpg or .jpeg image"), "{msg}");
    let msg = case("empty", &[("train/cat/.hidden".into(), vec![])], Some("train/cat/"));
    assert!(msg.contains(&Path::new("train").join("cat").display().to_string()) && msg.contains("no .png"), "{msg}");
    let msg = case("nested", &[("train/cat/sub/0.png".into(), vec![])], None);
    assert!(msg.contains("sub") && msg.contains("folders inside a class folder"), "{msg}");
    let many: Vec<Entry> = (0..257).map(|i| (format!("train/c{i:03}/0.png"), vec![])).collect();
    let msg = case("many", &many, None);
    assert!(msg.contains("260 class folders; at most 256"), "{msg}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn run_config_with_image_folder_source_loads_and_normalises() {
    let dir = temp_dir("image-folder-config");
    write_tar_gz(&dir.join("images.tar.gz"), &standard_tree("top/"));
    let text = "space = \"space.toml\"\n[network]\nchannels = 8\nlayers = 5\n\
                [data]\nsource = \"image-folder\"\ndir = \"images.tar.gz\"\nlimit_train_per_class = 2\naugment = true\n";
    let path = dir.join("run.toml");
    std::fs::write(&path, text).unwrap();
    let config = RunConfig::load(&path).unwrap();
    assert_eq!(config.data.normalization().channels(), 0, "unknown before the load");
    let (train, test) = config.data.load(&dir).unwrap();
    assert_eq!((train.len(), test.len(), train.channels), (6, 3, 3));
    let direct = load(&dir.join("images.tar.gz"), Some(2), None).unwrap();
    assert_eq!((&train, &test), (&direct.train, &direct.test));
    assert_eq!(config.data.normalization(), direct.normalization);
    assert_eq!(config.clone().data.normalization(), direct.normalization);
    let augment = config.data.augmenter().unwrap();
    let mut out = vec![0.0; train.image_len()];
    augment.apply(train.image(0), [3, 2, 2], &mut StdRng::seed_from_u64(0), &mut out);
    let reparsed = RunConfig::parse(&config.to_toml().unwrap(), &path).unwrap();
    assert_eq!(reparsed, config);
    std::fs::remove_dir_all(dir).unwrap();
}

/// The CIFAR-10 JPEG archive of the shared data, if present.
fn cifar10_jpeg_archive() -> Option<PathBuf> {
    let path = manifest("../shared/data/cifar10-jpeg/CIFAR-10-images.tar.gz");
    path.is_file().then_some(path)
}

#[test]
fn cifar10_jpeg_archive_loads_with_limits() {
    let Some(archive) = cifar10_jpeg_archive() else {
        eprintln!("skipped: the CIFAR-10 JPEG archive (../shared/data/cifar10-jpeg/) is not present");
        return;
    };
    let sets = load(&archive, Some(20), Some(10)).unwrap();
    let names =
        ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"].map(String::from);
    assert_eq!(sets.class_names, names);
    assert_eq!((sets.train.len(), sets.test.len()), (200, 100));
    for set in [&sets.train, &sets.test] {
        assert_eq!((set.channels, set.height, set.width, set.classes), (3, 32, 32, 10));
        assert_eq!(&set.labels[..10], &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    }
    for (mean, cifar) in sets.normalization.mean.iter().zip([0.4914, 0.4822, 0.4465]) {
        assert!((mean - cifar).abs() < 0.1, "{:?}", sets.normalization);
    }
}
