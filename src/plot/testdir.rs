//! Scratch output directories for the figure tests.

use std::path::{Path, PathBuf};

/// A unique directory under the system temp dir, removed again when dropped.
pub(crate) struct TestDir(PathBuf);

impl TestDir {
    /// A fresh, not yet existing directory named after the test and this process.
    pub(crate) fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("kdnas-plot-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        TestDir(dir)
    }

    /// `name` inside the directory.
    pub(crate) fn join(&self, name: impl AsRef<Path>) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
