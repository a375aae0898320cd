//! The ground floor shared by search, training and export: atomic writes (a crash or a failed write
//! never leaves a half-written file or checkpoint in place), file-name-safe names, content hashes, and
//! the path arithmetic of run directories.

use crate::error::{KdnasError, Result};
use std::io::Write;
use std::path::{Component, Path, PathBuf};

/// Writes `dir`'s contents with `write` into a sibling temp directory, then swaps it in by renames:
/// at every moment either the old or the new complete directory exists (as `dir` or `dir.old`).
/// If `write` fails, `dir` is left untouched and the error is returned.
pub fn write_dir_atomically(dir: &Path, write: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let tmp = dir.with_extension("tmp");
    let old = dir.with_extension("old");
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(|e| KdnasError::io(&tmp, e))?;
    }
    std::fs::create_dir_all(&tmp).map_err(|e| KdnasError::io(&tmp, e))?;
    if let Err(err) = write(&tmp) {
        let _ = std::fs::remove_dir_all(&tmp);
        let kept = if dir.exists() { "the previous one is unchanged" } else { "there is no previous one" };
        return Err(KdnasError::Checkpoint {
            path: dir.to_path_buf(),
            message: format!("could not be written ({err}); {kept}"),
        });
    }
    if dir.exists() {
        if old.exists() {
            std::fs::remove_dir_all(&old).map_err(|e| KdnasError::io(&old, e))?;
        }
        std::fs::rename(dir, &old).map_err(|e| KdnasError::io(dir, e))?;
    }
    std::fs::rename(&tmp, dir).map_err(|e| KdnasError::io(dir, e))?;
    sync_parent(dir);
    if old.exists() {
        std::fs::remove_dir_all(&old).map_err(|e| KdnasError::io(&old, e))?;
    }
    Ok(())
}

/// Writes a file atomically: a temp file in the same directory, flushed to disk, then renamed over
/// `path`. A failed write (disk full, no permission) removes the temp file and leaves `path` as it was.
pub fn write_file_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let written = std::fs::File::create(&tmp).and_then(|mut file| {
        file.write_all(bytes)?;
        file.sync_all()
    });
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(KdnasError::io(&tmp, e));
    }
    std::fs::rename(&tmp, path).map_err(|e| KdnasError::io(path, e))?;
    sync_parent(path);
    Ok(())
}

/// Flushes the directory entry of `path` (best effort: not every file system supports it).
fn sync_parent(path: &Path) {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        let _ = std::fs::File::open(parent).and_then(|d| d.sync_all());
    }
}

/// A name usable as one file-name component: letters, digits, `-`, `_` and inner `.` are kept,
/// anything else (path separators, quotes, spaces) becomes `_`; never empty, never `.`/`..`-led.
pub fn safe_file_name(name: &str) -> String {
    let cleaned: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') { c } else { '_' }).collect();
    let trimmed = cleaned.trim_start_matches('.');
    if trimmed.is_empty() { "_".to_string() } else { trimmed.to_string() }
}

/// 64-bit FNV-1a hash of `bytes`, as 16 hex digits: a cheap content check for checkpoint files.
pub fn content_hash(bytes: &[u8]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safe_names_stay_inside_one_directory_level() {
        assert_eq!(safe_file_name("../escaped_by_name"), "_escaped_by_name");
        assert_eq!(safe_file_name("nor/mal"), "nor_mal");
        assert_eq!(safe_file_name("q\"uote"), "q_uote");
        assert_eq!(safe_file_name(".."), "_");
        assert_eq!(safe_file_name("normal_ops_0.v2"), "normal_ops_0.v2");
    }

    #[test]
    fn relative_paths_climb_to_the_shared_folder() {
        let rel = |dir: &str, path: &str| relative_to(Path::new(dir), Path::new(path));
        assert_eq!(rel("/p/runs/a", "/p/runs/teacher/model.mpk"), Path::new("../teacher/model.mpk"));
        assert_eq!(rel("/p/runs/a", "/p/runs/a/genotype.json"), Path::new("genotype.json"));
        assert_eq!(rel("/p/runs/a", "/p/runs/a"), Path::new("."));
        assert_eq!(rel("/p/x/../runs/./a", "/data/set"), Path::new("../../../data/set"));
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(rel("runs/a", &cwd.join("data").to_string_lossy()), Path::new("../../data"));
        let (run, target) = (Path::new("runs/a"), Path::new("../shared/data"));
        assert_eq!(normalised_absolute(&run.join(relative_to(run, target))), normalised_absolute(target));
    }

    #[test]
    fn content_hash_is_fnv1a() {
        assert_eq!(content_hash(b""), "cbf29ce484222325");
        assert_eq!(content_hash(b"a"), "af63dc4c8601ec8c");
    }

    #[test]
    fn a_failed_directory_write_leaves_the_old_directory() {
        let root = std::env::temp_dir().join(format!("kdnas-files-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let dir = root.join("ck");
        write_dir_atomically(&dir, |d| write_file_atomically(&d.join("a"), b"first")).unwrap();
        let failed = write_dir_atomically(&dir, |d| {
            write_file_atomically(&d.join("a"), b"second")?;
            Err(KdnasError::Usage("disk full".into()))
        });
        assert!(failed.is_err());
        assert_eq!(std::fs::read(dir.join("a")).unwrap(), b"first");
        assert!(!dir.with_extension("tmp").exists(), "the partial directory is removed");
        std::fs::remove_dir_all(&root).unwrap();
    }
}

/// `path` resolved against `base` (a config file's folder) and made absolute, so that a config copied
/// into a run directory still finds its files.
pub fn absolute_from(base: &Path, path: &Path) -> PathBuf {
    let resolved = base.join(path);
    std::path::absolute(&resolved).unwrap_or(resolved)
}

/// `path` as seen from the folder `dir` (`../teacher/model.mpk`), both first made absolute against the
/// working directory and normalised without touching the disk (`a/../b` is `b`). A path with no
/// relative form (on another Windows drive) is returned absolute.
pub fn relative_to(dir: &Path, path: &Path) -> PathBuf {
    let (dir, path) = (normalised_absolute(dir), normalised_absolute(path));
    let (dir_parts, path_parts): (Vec<_>, Vec<_>) = (dir.components().collect(), path.components().collect());
    let shared = dir_parts.iter().zip(&path_parts).take_while(|(a, b)| a == b).count();
    if shared == 0 {
        return path;
    }
    let mut relative: PathBuf = dir_parts[shared..].iter().map(|_| Component::ParentDir).collect();
    relative.extend(&path_parts[shared..]);
    if relative.as_os_str().is_empty() { PathBuf::from(".") } else { relative }
}

/// `path` made absolute against the working directory, with `.` and `..` resolved lexically.
fn normalised_absolute(path: &Path) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut normal = PathBuf::new();
    for component in absolute.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                normal.pop();
            }
            other => normal.push(other),
        }
    }
    normal
}
