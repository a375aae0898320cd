//! The file tree of an image folder: read from a directory (names only; files are read on demand)
//! or streamed from a `.tar.gz` / `.tgz` archive (image members are held in memory, nothing is
//! extracted to disk).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Component, Path, PathBuf};

use flate2::read::MultiGzDecoder;

use super::is_image_name;
use crate::error::{KdnasError, Result};

/// Folder levels read below a directory root: `<top>/<split>/<class>/<file>`.
const DIR_DEPTH: usize = 4;

/// A folder of the tree; children are sorted by name (byte order, like Python's `sorted`).
#[derive(Debug, Default)]
pub(super) struct Folder {
    /// Sub-folders by name.
    pub(super) folders: BTreeMap<String, Folder>,
    /// Files by name, each with its bytes when they were read from an archive.
    pub(super) files: BTreeMap<String, Content>,
}

/// Where the bytes of a file are.
#[derive(Debug)]
pub(super) enum Content {
    /// On disk, at the tree's root joined with the file's relative path.
    OnDisk,
    /// Read from the archive.
    InMemory(Vec<u8>),
    /// An archive member that is not an image; only its name was kept.
    NotKept,
}

/// A directory or archive, listed into [`Folder`]s. Hidden entries (names starting with `.`) are
/// left out at every level.
#[derive(Debug)]
pub(super) struct FileTree {
    /// The directory or the archive file.
    root: PathBuf,
    /// Whether `root` is an archive (member paths are then shown as `archive:member`).
    archive: bool,
    /// The top folder.
    pub(super) top: Folder,
}

impl FileTree {
    /// Lists `root`: a directory, or a `.tar.gz` / `.tgz` archive read as one stream.
    ///
    /// Fails with [`KdnasError::Io`] when `root` does not exist or cannot be read, and with
    /// [`KdnasError::Data`] when it is a file of another kind or the archive is corrupt.
    pub(super) fn read(root: &Path) -> Result<FileTree> {
        let meta = std::fs::metadata(root).map_err(|e| KdnasError::io(root, e))?;
        let (archive, top) = if meta.is_dir() {
            (false, list_dir(root, DIR_DEPTH)?)
        } else if is_tar_gz(root) {
            (true, list_archive(root)?)
        } else {
            return Err(KdnasError::Data {
                path: root.to_path_buf(),
                message: "an image folder must be a directory or a .tar.gz / .tgz archive".into(),
            });
        };
        Ok(FileTree { root: root.to_path_buf(), archive, top })
    }

    /// The path to show for `rel` (names below the root): `root/rel` for a directory,
    /// `archive:rel` for an archive, the root itself for an empty `rel`.
    pub(super) fn display(&self, rel: &[&str]) -> PathBuf {
        if self.archive && !rel.is_empty() {
            PathBuf::from(format!("{}:{}", self.root.display(), rel.join("/")))
        } else {
            rel.iter().fold(self.root.clone(), |path, name| path.join(name))
        }
    }

    /// The bytes of the file at `rel`.
    pub(super) fn read_file<'a>(&self, rel: &[&str], content: &'a Content) -> Result<Cow<'a, [u8]>> {
        match content {
            Content::InMemory(bytes) => Ok(Cow::Borrowed(bytes)),
            Content::OnDisk => {
                let path = self.display(rel);
                std::fs::read(&path).map(Cow::Owned).map_err(|e| KdnasError::io(path, e))
            }
            Content::NotKept => Err(KdnasError::Data {
                path: self.display(rel),
                message: "member was not kept while reading the archive".into(),
            }),
        }
    }
}

/// Whether `path` ends in `.tar.gz` or `.tgz` (any case).
fn is_tar_gz(path: &Path) -> bool {
    let name = path.file_name().map(|n| n.to_string_lossy().to_lowercase()).unwrap_or_default();
    name.ends_with(".tar.gz") || name.ends_with(".tgz")
}

/// Whether a file or folder name is hidden (starts with `.`).
fn is_hidden(name: &str) -> bool {
    name.starts_with('.')
}

/// Lists `dir` down to `depth` levels of names (folders at the last level are kept, empty).
fn list_dir(dir: &Path, depth: usize) -> Result<Folder> {
    let mut folder = Folder::default();
    if depth == 0 {
        return Ok(folder);
    }
    let entries = std::fs::read_dir(dir).map_err(|e| KdnasError::io(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| KdnasError::io(dir, e))?;
        let path = entry.path();
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            return Err(KdnasError::Data { path, message: "the name is not valid UTF-8".into() });
        };
        if is_hidden(&name) {
            continue;
        }
        // Follows symbolic links, as torchvision's ImageFolder does.
        let meta = std::fs::metadata(&path).map_err(|e| KdnasError::io(&path, e))?;
        if meta.is_dir() {
            folder.folders.insert(name, list_dir(&path, depth - 1)?);
        } else if meta.is_file() {
            folder.files.insert(name, Content::OnDisk);
        }
    }
    Ok(folder)
}

/// Streams the `.tar.gz` archive at `path`, keeping the bytes of members with an image extension.
fn list_archive(path: &Path) -> Result<Folder> {
    let corrupt = |e: std::io::Error| KdnasError::Data { path: path.to_path_buf(), message: format!("{e}") };
    let file = File::open(path).map_err(|e| KdnasError::io(path, e))?;
    let mut archive = tar::Archive::new(MultiGzDecoder::new(BufReader::new(file)));
    let mut top = Folder::default();
    for entry in archive.entries().map_err(corrupt)? {
        let mut entry = entry.map_err(corrupt)?;
        let kind = entry.header().entry_type();
        if !(kind.is_file() || kind.is_dir()) {
            continue;
        }
        let member = entry.path().map_err(corrupt)?.into_owned();
        let rel = member_components(&member).map_err(|message| KdnasError::Data {
            path: PathBuf::from(format!("{}:{}", path.display(), member.display())),
            message,
        })?;
        if rel.iter().any(|name| is_hidden(name)) {
            continue;
        }
        if kind.is_dir() {
            folder_at(&mut top, &rel);
            continue;
        }
        let Some((name, parents)) = rel.split_last() else { continue };
        let content = if is_image_name(name) {
            let mut bytes = Vec::with_capacity(entry.size() as usize);
            entry.read_to_end(&mut bytes).map_err(corrupt)?;
            Content::InMemory(bytes)
        } else {
            Content::NotKept
        };
        folder_at(&mut top, parents).files.insert(name.clone(), content);
    }
    Ok(top)
}

/// The folder at `rel` below `top`, created with its parents when missing.
fn folder_at<'a>(top: &'a mut Folder, rel: &[String]) -> &'a mut Folder {
    rel.iter().fold(top, |folder, name| folder.folders.entry(name.clone()).or_default())
}

/// The names of a member path; `.` and a leading `/` are dropped, `..` is refused.
fn member_components(member: &Path) -> std::result::Result<Vec<String>, String> {
    let mut names = Vec::new();
    for component in member.components() {
        match component {
            Component::Normal(name) => match name.to_str() {
                Some(name) => names.push(name.to_owned()),
                None => return Err("the member name is not valid UTF-8".into()),
            },
            Component::CurDir | Component::RootDir => {}
            Component::ParentDir | Component::Prefix(_) => {
                return Err("member paths with `..` are not supported".into());
            }
        }
    }
    Ok(names)
}
