//! Records the git commit the binary is built from as `KDNAS_COMMIT` (`unknown` outside a git
//! checkout), which every run's `result.json` names; `-dirty` is appended when the sources that make
//! the binary (src, vendor, build.rs, Cargo.toml, Cargo.lock) differ from that commit, so a binary
//! built before its changes were committed does not pass for the commit before them.

use std::path::Path;
use std::process::Command;

/// The trimmed output of `git args`, or `None` when git is absent or fails.
fn git(args: &[&str]) -> Option<String> {
    let output = Command::new("git").args(args).output().ok()?;
    let text = String::from_utf8(output.stdout).ok()?;
    (output.status.success() && !text.trim().is_empty()).then(|| text.trim().to_string())
}

/// What the binary is built from.
const SOURCES: [&str; 5] = ["src", "vendor", "build.rs", "Cargo.toml", "Cargo.lock"];

fn main() {
    let commit = git(&["rev-parse", "--short", "HEAD"]).unwrap_or_else(|| "unknown".to_string());
    let mut status = vec!["status", "--porcelain", "--"];
    status.extend(SOURCES);
    let dirty = git(&status).is_some();
    let suffix = if dirty && commit != "unknown" { "-dirty" } else { "" };
    println!("cargo:rustc-env=KDNAS_COMMIT={commit}{suffix}");
    // Any change to the sources reruns this script (they are recompiled then anyway), so the flag holds.
    for source in SOURCES {
        if Path::new(source).exists() {
            println!("cargo:rerun-if-changed={source}");
        }
    }
    // A new commit moves HEAD or the branch it names; watch the files that exist (a missing one would
    // rerun this script at every build), worktrees included.
    let branch = git(&["symbolic-ref", "-q", "HEAD"]);
    for path in ["HEAD", "packed-refs"].into_iter().chain(branch.as_deref()) {
        if let Some(file) = git(&["rev-parse", "--git-path", path]).filter(|f| Path::new(f).exists()) {
            println!("cargo:rerun-if-changed={file}");
        }
    }
}
