//! Small builders shared by the integration tests (tiny shapes so the suite stays fast).
#![allow(dead_code)]

use burn::backend::{Autodiff, Flex};
use kdnas::data::ImageSet;
use kdnas::space::{ArchGraph, parse_space};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use std::path::{Path, PathBuf};

/// The CPU autodiff backend used by the tests.
pub type Cpu = Autodiff<Flex>;

/// Path inside the crate.
pub fn manifest(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// The quickstart space (2 nodes, 5 ops).
pub fn quickstart_space() -> ArchGraph {
    kdnas::space::load_space(&manifest("search_spaces/quickstart.toml")).unwrap()
}

/// A space from inline text.
pub fn space(text: &str) -> ArchGraph {
    parse_space(text, Path::new("inline.toml")).unwrap()
}

/// `n` random images of `channels` x `side` x `side` with labels below `classes`.
pub fn random_images(n: usize, channels: usize, side: usize, classes: u8, seed: u64) -> ImageSet {
    let mut rng = StdRng::seed_from_u64(seed);
    let images = (0..n * channels * side * side).map(|_| rng.random_range(-1.0f32..1.0)).collect();
    let labels = (0..n).map(|i| (i % classes as usize) as u8).collect();
    ImageSet { images, labels, channels, height: side, width: side, classes: classes as usize }
}

/// A fresh empty temporary directory.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kdnas-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Serialises tests of one binary that seed burn's global CPU RNG (tests run on parallel threads).
pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
