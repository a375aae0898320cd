//! Running the `kdnas` binary from integration tests, with a tiny run config.

use super::{manifest, temp_dir};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs `kdnas args` in `cwd` to its end.
pub fn kdnas(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kdnas")).args(args).current_dir(cwd).output().expect("run kdnas")
}

/// Runs `kdnas args` in `cwd`, expects it to succeed, and returns its stdout.
pub fn succeeds(args: &[&str], cwd: &Path) -> String {
    let out = kdnas(args, cwd);
    assert!(out.status.success(), "kdnas {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs and expects failure with exit code 1 (an error, not a panic or a clap usage error); returns stderr.
pub fn fails(args: &[&str], cwd: &Path) -> String {
    let out = kdnas(args, cwd);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "expected failure of {args:?}, stderr: {stderr}");
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

/// A tiny search config (space.toml beside it): 2 epochs of 2 steps on 40 bundled images.
pub const TINY_CONFIG: &str = r#"space = "space.toml"
seed = 1

[data]
source = "bundled-fashion-mnist"
limit_train_per_class = 4

[network]
channels = 2
layers = 2

[search]
epochs = 2
batch_size = 8
steps_per_epoch = 2
"#;

/// A fresh directory holding `run.toml` ([`TINY_CONFIG`]) and `space.toml` (the quickstart space).
pub fn tiny_run_dir(name: &str) -> PathBuf {
    let dir = temp_dir(name);
    std::fs::copy(manifest("search_spaces/quickstart.toml"), dir.join("space.toml")).unwrap();
    std::fs::write(dir.join("run.toml"), TINY_CONFIG).unwrap();
    dir
}
