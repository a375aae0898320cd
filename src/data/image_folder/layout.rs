//! Finding the `train` / `test` split folders, their class folders and the images to keep.

use super::PerClassLimits;
use super::is_image_name;
use super::tree::{Content, FileTree, Folder};
use crate::error::{KdnasError, Result};

/// Split folder names, training split first.
const SPLITS: [&str; 2] = ["train", "test"];

/// Labels are `u8`, so at most this many classes.
const MAX_CLASSES: usize = 256;

/// One image to decode.
#[derive(Debug)]
pub(super) struct Member<'t> {
    /// Class index (position of the class folder in sorted order).
    pub(super) label: u8,
    /// Path below the tree's root, one name per level.
    pub(super) rel: Vec<&'t str>,
    /// Where its bytes are.
    pub(super) content: &'t Content,
}

/// The classes and the images kept from each split.
#[derive(Debug)]
pub(super) struct Layout<'t> {
    /// Class folder names, sorted; the label of a class is its index here.
    pub(super) classes: Vec<String>,
    /// Kept training images, classes interleaved (see [`interleave`]).
    pub(super) train: Vec<Member<'t>>,
    /// Kept test images, classes interleaved.
    pub(super) test: Vec<Member<'t>>,
}

/// Finds the split folders of `tree` (directly under its root or under its single top-level
/// folder), checks that both splits have the same class folders, and keeps the first
/// `limits` images (by file name) of each class.
pub(super) fn layout(tree: &FileTree, limits: PerClassLimits) -> Result<Layout<'_>> {
    let (prefix, base) = split_base(tree)?;
    let (train_rel, train) = split_folder(tree, &prefix, base, "train")?;
    let (test_rel, test) = split_folder(tree, &prefix, base, "test")?;
    let classes = class_names(tree, &train_rel, train)?;
    let test_classes = class_names(tree, &test_rel, test)?;
    if classes != test_classes {
        return Err(KdnasError::Data {
            path: tree.display(&prefix),
            message: format!("the class folders differ between train {classes:?} and test {test_classes:?}"),
        });
    }
    Ok(Layout {
        train: split_members(tree, &train_rel, train, limits.train)?,
        test: split_members(tree, &test_rel, test, limits.test)?,
        classes: classes.into_iter().map(str::to_owned).collect(),
    })
}

/// The folder that holds the splits and its path: the root itself when it has a `train` or
/// `test` folder, otherwise its only folder.
fn split_base(tree: &FileTree) -> Result<(Vec<&str>, &Folder)> {
    let top = &tree.top;
    let has_split = |folder: &Folder| SPLITS.iter().any(|s| folder.folders.contains_key(*s));
    if has_split(top) {
        return Ok((Vec::new(), top));
    }
    match top.folders.iter().next() {
        Some((name, folder)) if top.folders.len() == 1 && has_split(folder) => Ok((vec![name.as_str()], folder)),
        _ => Err(KdnasError::Data {
            path: tree.display(&[]),
            message: "no `train` / `test` split folders, neither directly inside nor inside a single top-level \
                      folder: expected train/<class>/<image> and test/<class>/<image>"
                .into(),
        }),
    }
}

/// The folder of `split` inside `base` (at `prefix`) and its path.
fn split_folder<'t>(
    tree: &FileTree,
    prefix: &[&'t str],
    base: &'t Folder,
    split: &'static str,
) -> Result<(Vec<&'t str>, &'t Folder)> {
    let rel: Vec<&str> = prefix.iter().copied().chain([split]).collect();
    match base.folders.get(split) {
        Some(folder) => Ok((rel, folder)),
        None => Err(KdnasError::Data {
            path: tree.display(&rel),
            message: format!(
                "missing the `{split}` split folder: an image folder holds train/<class>/<image> and \
                 test/<class>/<image>, directly or inside one top-level folder"
            ),
        }),
    }
}

/// The sorted class folder names of a split (at least one, at most [`MAX_CLASSES`]).
fn class_names<'t>(tree: &FileTree, rel: &[&str], split: &'t Folder) -> Result<Vec<&'t str>> {
    let names: Vec<&str> = split.folders.keys().map(String::as_str).collect();
    let problem = match names.len() {
        0 => Some("the split folder has no class folders".to_owned()),
        n if n > MAX_CLASSES => Some(format!("{n} class folders; at most {MAX_CLASSES} are supported (u8 labels)")),
        _ => None,
    };
    match problem {
        Some(message) => Err(KdnasError::Data { path: tree.display(rel), message }),
        None => Ok(names),
    }
}

/// The kept images of every class of a split, interleaved.
fn split_members<'t>(
    tree: &FileTree,
    split_rel: &[&'t str],
    split: &'t Folder,
    limit: Option<usize>,
) -> Result<Vec<Member<'t>>> {
    let mut per_class = Vec::with_capacity(split.folders.len());
    for (label, (class, folder)) in split.folders.iter().enumerate() {
        let rel: Vec<&str> = split_rel.iter().copied().chain([class.as_str()]).collect();
        let label = u8::try_from(label).expect("class_names allows at most 256 classes");
        per_class.push(class_members(tree, &rel, folder, label, limit)?);
    }
    Ok(interleave(per_class))
}

/// The first `limit` images of a class folder by file name; fails on a nested folder, a file
/// that is not an image, or a folder without images.
fn class_members<'t>(
    tree: &FileTree,
    rel: &[&'t str],
    folder: &'t Folder,
    label: u8,
    limit: Option<usize>,
) -> Result<Vec<Member<'t>>> {
    let path = |name: &'t str| -> Vec<&'t str> { rel.iter().copied().chain([name]).collect() };
    if let Some(nested) = folder.folders.keys().next() {
        return Err(KdnasError::Data {
            path: tree.display(&path(nested)),
            message: "folders inside a class folder are not supported".into(),
        });
    }
    if let Some(other) = folder.files.keys().find(|name| !is_image_name(name)) {
        return Err(KdnasError::Data {
            path: tree.display(&path(other)),
            message: "not a .png, .jpg or .jpeg image; a class folder may hold only images (and hidden files)".into(),
        });
    }
    if folder.files.is_empty() {
        return Err(KdnasError::Data {
            path: tree.display(rel),
            message: "the class folder holds no .png, .jpg or .jpeg image".into(),
        });
    }
    let kept = folder.files.iter().take(limit.unwrap_or(usize::MAX));
    Ok(kept.map(|(name, content)| Member { label, rel: path(name), content }).collect())
}

/// Round-robin over the classes (first image of every class, then the second, ...), so that any
/// prefix of the set is balanced: `ImageSet::split_at_fraction` (the search's weight / architecture
/// split) and `ImageSet::stratified_prefix` then see every class, as with the shuffled CIFAR
/// binaries. A class that runs out of images drops out of the rotation.
fn interleave<T>(per_class: Vec<Vec<T>>) -> Vec<T> {
    let total = per_class.iter().map(Vec::len).sum();
    let mut queues: Vec<_> = per_class.into_iter().map(Vec::into_iter).collect();
    let mut out = Vec::with_capacity(total);
    while out.len() < total {
        out.extend(queues.iter_mut().filter_map(Iterator::next));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::interleave;

    #[test]
    fn interleave_is_round_robin_and_keeps_every_item() {
        let out = interleave(vec![vec![1, 2, 3], vec![10], vec![20, 21]]);
        assert_eq!(out, vec![1, 10, 20, 2, 21, 3]);
        assert!(interleave::<u8>(vec![vec![], vec![]]).is_empty());
    }
}
