//! Write failures (issue 9, item 20): a checkpoint write that fails mid-run stops the run with a clear
//! error (non-zero exit, the file named) and leaves the previous checkpoint loadable; resuming it
//! afterwards ends bit-identical to an uninterrupted run.
//!
//! A full disk is simulated for real: the resumed run goes under a file-size limit (`ulimit -f`) with
//! SIGXFSZ ignored, so writing the checkpoint's network past the limit fails with EFBIG, as a write to
//! a full disk fails with ENOSPC. (Tests may run as root, so read-only permissions would not stop it.)

mod common;

use common::{CliRun, kdnas_binary, run_kdnas_ok, temp_dir, write_quickstart_genotype, write_run_config};
use std::ffi::OsString;
use std::path::Path;
use std::process::{Command, Output};

const SEARCH: &str = r#"seed = 11
[data]
source = "bundled-fashion-mnist"
limit_train_per_class = 4
[network]
channels = 4
layers = 3
[search]
epochs = 3
batch_size = 8
steps_per_epoch = 2
mode = "second_order"
"#;

const TRAIN: &str = r#"seed = 13
[data]
source = "bundled-fashion-mnist"
limit_train_per_class = 3
limit_test_per_class = 2
[network]
channels = 4
layers = 3
[train]
epochs = 3
batch_size = 8
"#;

/// Runs `bin` with `args` where no file may grow past `kib` KiB; SIGXFSZ is ignored (the ignored
/// disposition survives `exec`), so such a write fails with EFBIG instead of killing the process.
fn kdnas_under_file_size_limit(bin: &Path, kib: u64, args: &[OsString]) -> Output {
    Command::new("bash")
        .args(["-c", r#"trap "" XFSZ; ulimit -f "$0"; exec "$@""#])
        .arg(kib.to_string())
        .arg(bin)
        .args(args)
        .output()
        .expect("start bash")
}

/// Every file of the checkpoint directory of `out` with its bytes.
fn checkpoint_files(out: &Path) -> Vec<(OsString, Vec<u8>)> {
    let mut files: Vec<_> = std::fs::read_dir(out.join("checkpoint"))
        .unwrap()
        .map(|entry| {
            let entry = entry.unwrap();
            (entry.file_name(), std::fs::read(entry.path()).unwrap())
        })
        .collect();
    files.sort();
    files
}

/// Runs `kind` for one epoch, resumes it where its next checkpoint's `net.mpk` cannot be written, checks
/// the error and the kept checkpoint, resumes it to the end, compares it with an uninterrupted run and
/// removes `dir`.
fn failed_checkpoint_write_is_reported_and_recoverable(dir: &Path, kind: &CliRun) {
    let bin = kdnas_binary();
    let (reference, run) = (dir.join("reference"), dir.join("run"));
    run_kdnas_ok(&bin, &kind.start_args(&reference));
    let mut first_epoch = kind.start_args(&run);
    first_epoch.extend(["--stop-after".into(), "1".into()]);
    run_kdnas_ok(&bin, &first_epoch);
    let kept = checkpoint_files(&run);

    let net_bytes = std::fs::metadata(run.join("checkpoint/net.mpk")).unwrap().len();
    let limit_kib = net_bytes / 2 / 1024;
    assert!(limit_kib >= 1, "net.mpk ({net_bytes} bytes) is too small for a KiB limit below its size");
    let failed = kdnas_under_file_size_limit(&bin, limit_kib, &kind.resume_args(&run));
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert_eq!(failed.status.code(), Some(1), "a failed checkpoint write must fail the run: {stderr}");
    assert!(stderr.contains("net.mpk"), "the error should name the file that could not be written: {stderr}");
    assert!(stderr.contains("File too large"), "the error should give the system's reason: {stderr}");
    assert!(stderr.contains("the previous one is unchanged"), "the error should say the checkpoint is kept: {stderr}");
    assert_eq!(kind.finished_epochs(&run), 1, "no epoch recorded past the last good checkpoint");
    assert!(checkpoint_files(&run) == kept, "the previous checkpoint is left as it was");

    run_kdnas_ok(&bin, &kind.resume_args(&run));
    kind.assert_same_result(&reference, &run);
    std::fs::remove_dir_all(dir).unwrap(); // kept for inspection when a check fails
}

#[test]
fn failed_checkpoint_write_stops_the_search_and_keeps_the_last_checkpoint() {
    let dir = temp_dir("write-failure-search");
    let config = write_run_config(&dir, "search.toml", SEARCH);
    failed_checkpoint_write_is_reported_and_recoverable(&dir, &CliRun::search(&config));
}

#[test]
fn failed_checkpoint_write_stops_training_and_keeps_the_last_checkpoint() {
    let dir = temp_dir("write-failure-train");
    let config = write_run_config(&dir, "train.toml", TRAIN);
    let genotype = write_quickstart_genotype(&dir);
    failed_checkpoint_write_is_reported_and_recoverable(&dir, &CliRun::training(&genotype, &config));
}
