//! "No panic on user input", checked by generation. Valid search spaces, run configs, genotypes, IDX
//! and CIFAR files and search checkpoints are mutated at random: truncated, bytes flipped or
//! overwritten, 4/8-byte words overwritten with extreme values, lines dropped or duplicated, numbers
//! replaced by extreme values (0, -1, 1e308, 2^64 - 1, nan, inf, ...), and, through the parsed tree,
//! keys and array elements dropped or duplicated and values replaced by extreme values, values of
//! another type, empty containers, huge strings or other parts of the same file. Loading must never
//! panic, and every error must name the file (or run directory) the loader was given. What loads is
//! also used the way the program uses it (networks built, a derived network run forward, a search
//! resumed), which must not panic either.
//!
//! Case counts are sized for CI; `KDNAS_FUZZ_CASES=N` multiplies every count by N for longer runs.
//! The inputs are drawn from a fixed seed, so a CI run is reproducible; `KDNAS_FUZZ_SEED=N` draws
//! another sequence. Failures are not persisted (no files are written into the repository).

mod common;

use burn::backend::Flex;
use burn::tensor::Tensor;
use common::{Cpu, manifest};
use flate2::Compression;
use flate2::write::GzEncoder;
use kdnas::KdnasError;
use kdnas::app::search_cmd::{SearchControl, run_prepared};
use kdnas::data::{
    CIFAR_IMAGE_BYTES, CifarFormat, FASHION_MNIST_NORMALIZATION, encode_idx, load_cifar_dir, load_idx_dir,
};
use kdnas::export::{DeriveRule, Genotype};
use kdnas::files::content_hash;
use kdnas::manifest::{FileRecord, MANIFEST, Manifest};
use kdnas::models::{CellNetwork, NetworkConfig};
use kdnas::ops::conv2d::OpMode;
use kdnas::search::{prepare_new_run, reopen_run};
use kdnas::space::{ArchGraph, load_space};
use kdnas::tasks::image::RunConfig;
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::fmt;
use std::io::Write;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock};

// ---------------------------------------------------------------------------------------------
// Running properties

/// Case count of a property: `base` times the `KDNAS_FUZZ_CASES` multiplier (default 1).
fn cases(base: u32) -> u32 {
    let factor = std::env::var("KDNAS_FUZZ_CASES").ok().and_then(|v| v.parse::<u32>().ok()).unwrap_or(1);
    base.saturating_mul(factor.max(1))
}

/// A proptest configuration running `cases(base)` cases, with at most `shrink_iters` shrinking steps and
/// no failure persistence.
fn config(base: u32, shrink_iters: u32) -> Config {
    let seed = std::env::var("KDNAS_FUZZ_SEED").ok().and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    Config {
        cases: cases(base),
        max_shrink_iters: shrink_iters,
        failure_persistence: None,
        rng_seed: proptest::test_runner::RngSeed::Fixed(seed),
        ..Config::default()
    }
}

/// Runs `test` on inputs drawn from `strategy` under `config`; a failed assertion or a panic fails
/// the calling test with the minimal failing input.
fn check<S: Strategy>(config: Config, strategy: S, test: impl Fn(S::Value) -> Result<(), TestCaseError>) {
    if let Err(err) = TestRunner::new(config).run(&strategy, test) {
        panic!("{err}");
    }
}

/// Fails the case unless the message of `err` contains one of `paths`.
fn names_file(err: &KdnasError, paths: &[&Path]) -> Result<(), TestCaseError> {
    let message = err.to_string();
    prop_assert!(
        paths.iter().any(|p| message.contains(&p.display().to_string())),
        "the error does not name {paths:?}: {message}"
    );
    Ok(())
}

/// A fresh empty directory for one property under the system temp dir, removed when dropped (also
/// when the property fails).
struct ScratchDir(PathBuf);

impl ScratchDir {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("kdnas-fuzz-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        ScratchDir(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Writes `bytes` to `path`, panicking with the path when the disk refuses.
fn write(path: &Path, bytes: &[u8]) {
    std::fs::write(path, bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

/// The small network every loaded architecture is built into (DARTS's skeleton at C=4, 3 cells).
fn tiny_network() -> NetworkConfig {
    NetworkConfig { channels: 4, layers: 3, stem_multiplier: 3, reduction_layers: None }
}

// ---------------------------------------------------------------------------------------------
// Byte edits: any file

/// Values a word edit writes, as 8 bytes in either byte order (so it also lands on 4-byte fields).
const WORDS: &[u64] = &[0, 1, u32::MAX as u64, i32::MAX as u64, 1 << 31, 1 << 62, u64::MAX];

/// Tokens a number is replaced with: extreme values and values of other types.
static NUMBER_TOKENS: LazyLock<Vec<String>> = LazyLock::new(|| {
    let fixed = [
        "0",
        "-1",
        "1e308",
        "-1e308",
        "1e999",
        "18446744073709551615",
        "18446744073709551616",
        "-9223372036854775809",
        "4294967296",
        "nan",
        "inf",
        "-inf",
        "1e-320",
        "0.5",
        "\"\"",
        "true",
        "[]",
        "{}",
        "null",
    ];
    fixed.iter().map(|t| t.to_string()).chain([format!("1{}", "0".repeat(400))]).collect()
});

/// One change to the bytes of a file. Offsets are [`Index`]es, resolved against the file being edited.
#[derive(Clone, Debug)]
enum ByteEdit {
    /// Cut the file at an offset.
    Truncate(Index),
    /// XOR one byte with a non-zero mask.
    Flip(Index, u8),
    /// Overwrite one byte.
    Overwrite(Index, u8),
    /// Overwrite up to 8 bytes with one of [`WORDS`], little-endian when the flag is set.
    Word(Index, Index, bool),
    /// Remove one line (for binary files: one run of bytes between newline bytes).
    DropLine(Index),
    /// Repeat one line right after itself.
    DuplicateLine(Index),
    /// Replace one number with one of [`NUMBER_TOKENS`].
    ReplaceNumber(Index, Index),
}

/// Any byte edit.
fn byte_edit() -> impl Strategy<Value = ByteEdit> {
    prop_oneof![
        any::<Index>().prop_map(ByteEdit::Truncate),
        (any::<Index>(), 1..=255u8).prop_map(|(i, m)| ByteEdit::Flip(i, m)),
        (any::<Index>(), any::<u8>()).prop_map(|(i, b)| ByteEdit::Overwrite(i, b)),
        (any::<Index>(), any::<Index>(), any::<bool>()).prop_map(|(i, w, le)| ByteEdit::Word(i, w, le)),
        any::<Index>().prop_map(ByteEdit::DropLine),
        any::<Index>().prop_map(ByteEdit::DuplicateLine),
        (any::<Index>(), any::<Index>()).prop_map(|(i, t)| ByteEdit::ReplaceNumber(i, t)),
    ]
}

/// The lines of `bytes`, each with its newline.
fn line_spans(bytes: &[u8]) -> Vec<Range<usize>> {
    let mut spans = Vec::new();
    let mut start = 0;
    for line in bytes.split_inclusive(|&b| b == b'\n') {
        spans.push(start..start + line.len());
        start += line.len();
    }
    spans
}

/// The numbers of `bytes`: runs of digits with an optional leading `-`, a fraction and an exponent.
fn number_spans(bytes: &[u8]) -> Vec<Range<usize>> {
    let mut spans = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if !bytes[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = if i > 0 && bytes[i - 1] == b'-' { i - 1 } else { i };
        while i < bytes.len() && (bytes[i].is_ascii_digit() || matches!(bytes[i], b'.' | b'e' | b'E' | b'+' | b'-')) {
            i += 1;
        }
        spans.push(start..i);
    }
    spans
}

impl ByteEdit {
    /// Applies the edit to `bytes` and says what it did, with the resolved offsets.
    fn apply(&self, bytes: &mut Vec<u8>) -> String {
        let len = bytes.len();
        let splice = |bytes: &mut Vec<u8>, spans: Vec<Range<usize>>, at: &Index, with: &dyn Fn(&[u8]) -> Vec<u8>| {
            if spans.is_empty() {
                return None;
            }
            let span = at.get(&spans).clone();
            let replacement = with(&bytes[span.clone()]);
            bytes.splice(span.clone(), replacement);
            Some(span)
        };
        match self {
            ByteEdit::Truncate(at) => {
                let at = at.index(len + 1);
                bytes.truncate(at);
                format!("truncate to {at} bytes")
            }
            _ if len == 0 => "nothing to edit in an empty file".into(),
            ByteEdit::Flip(at, mask) => {
                let at = at.index(len);
                bytes[at] ^= mask;
                format!("xor byte {at} with {mask:#04x}")
            }
            ByteEdit::Overwrite(at, value) => {
                let at = at.index(len);
                bytes[at] = *value;
                format!("set byte {at} to {value:#04x}")
            }
            ByteEdit::Word(at, word, little) => {
                let (at, word) = (at.index(len), *word.get(WORDS));
                let encoded = if *little { word.to_le_bytes() } else { word.to_be_bytes() };
                let n = (len - at).min(8);
                bytes[at..at + n].copy_from_slice(&encoded[..n]);
                format!("write {word:#x} ({}) over bytes {at}..{}", if *little { "LE" } else { "BE" }, at + n)
            }
            ByteEdit::DropLine(at) => spliced("drop the line", splice(bytes, line_spans(bytes), at, &|_| Vec::new())),
            ByteEdit::DuplicateLine(at) => {
                spliced("duplicate the line", splice(bytes, line_spans(bytes), at, &|line| [line, line].concat()))
            }
            ByteEdit::ReplaceNumber(at, token) => {
                let token = token.get(&NUMBER_TOKENS);
                let span = splice(bytes, number_spans(bytes), at, &|_| token.as_bytes().to_vec());
                spliced(&format!("replace by {} the number", abbreviate(token)), span)
            }
        }
    }
}

/// Log line of an edit that replaced the bytes at `span` (`None`: there was nothing to edit).
fn spliced(what: &str, span: Option<Range<usize>>) -> String {
    match span {
        Some(span) => format!("{what} at bytes {}..{}", span.start, span.end),
        None => format!("{what}: none in the file"),
    }
}

/// `text`, cut to 40 characters for logs.
fn abbreviate(text: &str) -> String {
    let count = text.chars().count();
    if count <= 40 {
        text.to_string()
    } else {
        format!("{}... ({count} chars)", text.chars().take(40).collect::<String>())
    }
}

// ---------------------------------------------------------------------------------------------
// Tree edits: TOML and JSON files, through their parsed value

/// Values a tree edit puts in place of another: extremes, other types, empty containers, a huge string.
static REPLACEMENTS: LazyLock<Vec<Value>> = LazyLock::new(|| {
    vec![
        json!(0),
        json!(-1),
        json!(1e308),
        json!(-1e308),
        json!(u64::MAX),
        json!(i64::MIN),
        json!(4_294_967_296u64),
        json!(0.5),
        json!(""),
        Value::String("x".repeat(100_000)),
        json!(true),
        Value::Null,
        json!([]),
        json!({}),
        json!([0]),
        json!([""]),
    ]
});

/// A value of a parsed tree, chosen in two steps so that every kind of field is hit as often as any
/// other: first a shape (a JSON pointer with array positions replaced by `*`, such as
/// `/cells/*/nodes/*/name`), then one of the values of that shape.
#[derive(Clone, Debug)]
struct Target {
    shape: Index,
    instance: Index,
}

impl Target {
    /// The JSON pointer of the chosen value of `doc`; `None` when `doc` has no value below its root.
    fn resolve(&self, doc: &Value) -> Option<String> {
        let mut by_shape: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (shape, pointer) in pointers(doc) {
            by_shape.entry(shape).or_default().push(pointer);
        }
        if by_shape.is_empty() {
            return None;
        }
        let shapes: Vec<&Vec<String>> = by_shape.values().collect();
        Some(self.instance.get::<String>(self.shape.get::<&Vec<String>>(&shapes)).clone())
    }
}

/// One change to the parsed tree of a text file.
#[derive(Clone, Debug)]
enum TreeEdit {
    /// Remove a key of its table or an element of its array.
    Remove(Target),
    /// Insert a copy of an array element after it, or of a key under a new (unknown) name.
    Duplicate(Target),
    /// Replace a value with one of [`REPLACEMENTS`].
    Replace(Target, Index),
    /// Replace a value with a copy of another value of the same file.
    Graft(Target, Target),
}

/// Any target.
fn target() -> impl Strategy<Value = Target> {
    (any::<Index>(), any::<Index>()).prop_map(|(shape, instance)| Target { shape, instance })
}

/// Any tree edit.
fn tree_edit() -> impl Strategy<Value = TreeEdit> {
    prop_oneof![
        target().prop_map(TreeEdit::Remove),
        target().prop_map(TreeEdit::Duplicate),
        (target(), any::<Index>()).prop_map(|(t, v)| TreeEdit::Replace(t, v)),
        (target(), target()).prop_map(|(t, from)| TreeEdit::Graft(t, from)),
    ]
}

/// `(shape, pointer)` of every value of `value` below the root, depth first (see [`Target`]).
fn pointers(value: &Value) -> Vec<(String, String)> {
    let children: Vec<(String, String, &Value)> = match value {
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| (k.replace('~', "~0").replace('/', "~1"), v))
            .map(|(k, v)| (k.clone(), k, v))
            .collect(),
        Value::Array(items) => items.iter().enumerate().map(|(i, v)| ("*".to_string(), i.to_string(), v)).collect(),
        _ => Vec::new(),
    };
    let mut out = Vec::new();
    for (shape, token, child) in children {
        let (shape, here) = (format!("/{shape}"), format!("/{token}"));
        out.extend(pointers(child).into_iter().map(|(s, p)| (format!("{shape}{s}"), format!("{here}{p}"))));
        out.push((shape, here));
    }
    out
}

/// Splits a pointer into its parent pointer and its last token (unescaped).
fn split_pointer(pointer: &str) -> (&str, String) {
    let cut = pointer.rfind('/').unwrap_or(0);
    (&pointer[..cut], pointer[cut + 1..].replace("~1", "/").replace("~0", "~"))
}

impl TreeEdit {
    /// Applies the edit to `doc` and says what it did; `None` when the tree has no value below the root.
    fn apply(&self, doc: &mut Value) -> Option<String> {
        match self {
            TreeEdit::Remove(at) | TreeEdit::Duplicate(at) => {
                let pointer = at.resolve(doc)?;
                let (parent, token) = split_pointer(&pointer);
                let duplicate = matches!(self, TreeEdit::Duplicate(_));
                match doc.pointer_mut(parent)? {
                    Value::Object(map) if duplicate => {
                        let copy = map.get(&token)?.clone();
                        map.insert(format!("{token}_copy"), copy);
                    }
                    Value::Object(map) => {
                        map.remove(&token);
                    }
                    Value::Array(items) => {
                        let i: usize = token.parse().ok()?;
                        if duplicate {
                            items.insert(i + 1, items[i].clone());
                        } else {
                            items.remove(i);
                        }
                    }
                    _ => return None,
                }
                Some(format!("{} {pointer}", if duplicate { "duplicate" } else { "remove" }))
            }
            TreeEdit::Replace(at, with) => {
                let pointer = at.resolve(doc)?;
                let with = with.get(&REPLACEMENTS).clone();
                let shown = abbreviate(&with.to_string());
                *doc.pointer_mut(&pointer)? = with;
                Some(format!("set {pointer} to {shown}"))
            }
            TreeEdit::Graft(at, from) => {
                let (pointer, source) = (at.resolve(doc)?, from.resolve(doc)?);
                let copy = doc.pointer(&source)?.clone();
                *doc.pointer_mut(&pointer)? = copy;
                Some(format!("set {pointer} to a copy of {source}"))
            }
        }
    }
}

/// The syntax of a text file, for reading and writing its tree.
#[derive(Clone, Copy, Debug)]
enum Syntax {
    Toml,
    Json,
}

impl Syntax {
    /// The tree of `text`; `None` when it does not parse.
    fn parse(self, text: &str) -> Option<Value> {
        match self {
            Syntax::Toml => toml::from_str(text).ok(),
            Syntax::Json => serde_json::from_str(text).ok(),
        }
    }

    /// The tree as text; `None` when this syntax cannot express it (TOML has no null, no u64 above
    /// i64::MAX).
    fn print(self, value: &Value) -> Option<String> {
        match self {
            Syntax::Toml => toml::to_string(value).ok(),
            Syntax::Json => serde_json::to_string_pretty(value).ok(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Mutated files

/// A mutated copy of a valid file and what was done to it (shown when a case fails).
#[derive(Clone)]
struct Mutated {
    bytes: Vec<u8>,
    log: Vec<String>,
}

impl fmt::Debug for Mutated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "edits: {:#?}", self.log)?;
        match std::str::from_utf8(&self.bytes) {
            Ok(text) if text.len() <= 20_000 => write!(f, "file ({} bytes):\n{text}", text.len()),
            _ => write!(f, "file: {} bytes", self.bytes.len()),
        }
    }
}

/// Applies `tree` edits through `syntax` (each kept only when the result can be written back in that
/// syntax; none when `syntax` is `None`), then `bytes` edits, to `base`; `origin` names the base in the log.
fn mutate(origin: &str, base: &[u8], syntax: Option<Syntax>, tree: &[TreeEdit], bytes: &[ByteEdit]) -> Mutated {
    let mut log = vec![format!("start from {origin}")];
    let mut out = base.to_vec();
    let parsed = syntax.zip(std::str::from_utf8(base).ok()).and_then(|(s, text)| Some((s, s.parse(text)?)));
    if let Some((syntax, mut doc)) = parsed {
        for edit in tree {
            let mut edited = doc.clone();
            if let Some((what, text)) = edit.apply(&mut edited).zip(syntax.print(&edited)) {
                (doc, out) = (edited, text.into_bytes());
                log.push(what);
            }
        }
    }
    log.extend(bytes.iter().map(|edit| edit.apply(&mut out)));
    Mutated { bytes: out, log }
}

/// Edits of a text file: in half of the cases one to three tree edits alone (which mostly keep the
/// syntax valid and so reach validation), else up to two tree edits and one or two byte edits.
fn edits() -> impl Strategy<Value = (Vec<TreeEdit>, Vec<ByteEdit>)> {
    prop_oneof![
        vec(tree_edit(), 1..=3).prop_map(|tree| (tree, Vec::new())),
        (vec(tree_edit(), 0..=2), vec(byte_edit(), 1..=2)),
    ]
}

/// One to three byte edits.
fn binary_edits() -> impl Strategy<Value = Vec<ByteEdit>> {
    vec(byte_edit(), 1..=3)
}

/// A mutation of one of `bases` (`(name, text)` pairs, all in `syntax`).
fn mutated_text(bases: Vec<(String, String)>, syntax: Syntax) -> impl Strategy<Value = Mutated> {
    (any::<Index>(), edits()).prop_map(move |(base, (tree, bytes))| {
        let (name, text) = base.get(&bases);
        mutate(name, text.as_bytes(), Some(syntax), &tree, &bytes)
    })
}

/// `(name, text)` of files of the crate.
fn crate_files(paths: &[&str]) -> Vec<(String, String)> {
    paths.iter().map(|p| (p.to_string(), std::fs::read_to_string(manifest(p)).unwrap())).collect()
}

// ---------------------------------------------------------------------------------------------
// Search spaces, run configs, genotypes

/// Uses a loaded space the way a search does: builds the search network and derives a genotype from
/// uniform weights. Errors are allowed (a space need not fit every network), panics are not.
fn use_space(space: &ArchGraph) {
    let _ = CellNetwork::<Flex>::new(space, &tiny_network(), 1, 10, OpMode::Search, &Default::default());
    let uniform: Vec<Vec<Vec<f32>>> = space
        .groups
        .iter()
        .map(|g| vec![vec![1.0 / g.candidates.len().max(1) as f32; g.candidates.len()]; g.rows()])
        .collect();
    let _ = Genotype::derive(space, &uniform, DeriveRule::Darts).to_arch_graph();
}

#[test]
fn mutated_search_spaces_load_without_panicking_and_errors_name_the_file() {
    let scratch = ScratchDir::new("spaces");
    let dir = scratch.path();
    let path = dir.join("space.toml");
    let bases = crate_files(&["search_spaces/quickstart.toml", "search_spaces/darts_cifar.toml"]);
    check(config(500, 256), mutated_text(bases, Syntax::Toml), |file| {
        write(&path, &file.bytes);
        match load_space(&path) {
            Ok(space) => use_space(&space),
            Err(err) => names_file(&err, &[&path])?,
        }
        Ok(())
    });
}

/// Whether a network is small enough to build in a few milliseconds (8 channels, 6 cells).
fn quick_to_build(network: &NetworkConfig) -> bool {
    network.channels <= 8 && network.layers <= 6 && network.stem_multiplier <= 4
}

#[test]
fn mutated_run_configs_load_without_panicking_and_errors_name_the_file() {
    let scratch = ScratchDir::new("configs");
    let dir = scratch.path();
    let path = dir.join("run.toml");
    let space = load_space(&manifest("search_spaces/quickstart.toml")).unwrap();
    check(config(500, 256), mutated_text(crate_files(&["examples/quickstart.toml"]), Syntax::Toml), |file| {
        write(&path, &file.bytes);
        match RunConfig::load(&path) {
            Ok(run) if quick_to_build(&run.network) => {
                let _ = CellNetwork::<Flex>::new(&space, &run.network, 1, 10, OpMode::Search, &Default::default());
            }
            Ok(_) => {}
            Err(err) => names_file(&err, &[&path])?,
        }
        Ok(())
    });
}

/// A genotype of each bundled space (every choice's second candidate strongest), as saved JSON.
fn genotype_files(dir: &Path) -> Vec<(String, String)> {
    ["quickstart", "darts_cifar"]
        .iter()
        .map(|name| {
            let space = load_space(&manifest(&format!("search_spaces/{name}.toml"))).unwrap();
            let probs: Vec<Vec<Vec<f32>>> = space
                .groups
                .iter()
                .map(|g| vec![(0..g.candidates.len()).map(|c| if c == 1 { 0.6 } else { 0.1 }).collect(); g.rows()])
                .collect();
            let path = dir.join(format!("{name}-genotype.json"));
            Genotype::derive(&space, &probs, DeriveRule::Darts).save(&path).unwrap();
            (format!("the genotype of {name}"), std::fs::read_to_string(path).unwrap())
        })
        .collect()
}

#[test]
fn mutated_genotypes_load_without_panicking_errors_name_the_file_and_loaded_ones_build() {
    let scratch = ScratchDir::new("genotypes");
    let dir = scratch.path();
    let path = dir.join("genotype.json");
    let device = Default::default();
    check(config(300, 256), mutated_text(genotype_files(dir), Syntax::Json), |file| {
        write(&path, &file.bytes);
        let genotype = match Genotype::load(&path) {
            Ok(genotype) => genotype,
            Err(err) => return names_file(&err, &[&path]),
        };
        // A genotype that loads has passed its checks: converting and building it must succeed, since
        // their errors could not name the file.
        let built = genotype
            .to_arch_graph()
            .and_then(|arch| CellNetwork::<Flex>::new(&arch, &tiny_network(), 1, 10, OpMode::Derived, &device));
        let net = built.map_err(|err| TestCaseError::fail(format!("loads, but does not build: {err}")))?;
        let logits = net.forward(Tensor::zeros([1, 1, 8, 8], &device), None);
        prop_assert_eq!(logits.dims(), [1, 10]);
        Ok(())
    });
}

// ---------------------------------------------------------------------------------------------
// IDX and CIFAR files

/// The four standard IDX files: (stem, valid uncompressed content).
fn idx_files() -> [(&'static str, Vec<u8>); 4] {
    let pixels: Vec<u8> = (0..24).map(|v| v * 10).collect();
    [
        ("train-images-idx3-ubyte", encode_idx(&[4, 2, 3], &pixels).unwrap()),
        ("train-labels-idx1-ubyte", encode_idx(&[4], &[0, 1, 2, 9]).unwrap()),
        ("t10k-images-idx3-ubyte", encode_idx(&[2, 2, 3], &pixels[..12]).unwrap()),
        ("t10k-labels-idx1-ubyte", encode_idx(&[2], &[4, 5]).unwrap()),
    ]
}

/// gzip of `bytes`.
fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// How the IDX files of a case are stored, and where the mutation happens.
#[derive(Clone, Copy, Debug)]
enum IdxStorage {
    /// Uncompressed files; the mutation edits the IDX bytes.
    Raw,
    /// gzip files; the mutation edits the IDX bytes before compression.
    GzipOfMutated,
    /// gzip files; the mutation edits the compressed bytes.
    MutatedGzip,
}

/// A directory of IDX files, one of them mutated.
#[derive(Clone, Debug)]
struct IdxCase {
    storage: IdxStorage,
    /// Which of [`idx_files`] is mutated.
    file: usize,
    mutated: Mutated,
}

impl IdxCase {
    /// Writes the four files into `dir` and returns the paths of the mutated file and its partner
    /// (images and labels of one split).
    fn write(&self, dir: &Path) -> [PathBuf; 2] {
        let gz = !matches!(self.storage, IdxStorage::Raw);
        let path = |stem: &str| dir.join(if gz { format!("{stem}.gz") } else { stem.to_string() });
        let files = idx_files();
        for (i, (stem, content)) in files.iter().enumerate() {
            let bytes = match (i == self.file, self.storage) {
                (true, IdxStorage::Raw | IdxStorage::MutatedGzip) => self.mutated.bytes.clone(),
                (true, IdxStorage::GzipOfMutated) => gzip(&self.mutated.bytes),
                (false, _) if gz => gzip(content),
                (false, _) => content.clone(),
            };
            write(&path(stem), &bytes);
        }
        [path(files[self.file].0), path(files[self.file ^ 1].0)]
    }
}

/// A mutation of one IDX file of the standard four.
fn idx_case() -> impl Strategy<Value = IdxCase> {
    let storage = prop_oneof![Just(IdxStorage::Raw), Just(IdxStorage::GzipOfMutated), Just(IdxStorage::MutatedGzip)];
    (storage, 0..4usize, binary_edits()).prop_map(|(storage, file, edits)| {
        let (stem, content) = &idx_files()[file];
        let base = if matches!(storage, IdxStorage::MutatedGzip) { gzip(content) } else { content.clone() };
        IdxCase { storage, file, mutated: mutate(stem, &base, None, &[], &edits) }
    })
}

#[test]
fn mutated_idx_files_load_without_panicking_and_errors_name_the_file() {
    let scratch = ScratchDir::new("idx");
    let dir = scratch.path();
    check(config(500, 256), idx_case(), |case| {
        for entry in std::fs::read_dir(dir).unwrap() {
            std::fs::remove_file(entry.unwrap().path()).unwrap();
        }
        let [mutated, partner] = case.write(dir);
        if let Err(err) = load_idx_dir(dir, &FASHION_MNIST_NORMALIZATION, 10) {
            names_file(&err, &[&mutated, &partner])?;
        }
        Ok(())
    });
}

/// `labels.len()` CIFAR records of `format`, record `i` with fine label `labels[i]` (coarse label 7).
fn cifar_records(format: CifarFormat, labels: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, &label) in labels.iter().enumerate() {
        if format == CifarFormat::Cifar100 {
            out.push(7);
        }
        out.push(label);
        out.extend(std::iter::repeat_n(i as u8 * 40, CIFAR_IMAGE_BYTES));
    }
    out
}

/// A CIFAR directory with one file mutated.
#[derive(Clone, Debug)]
struct CifarCase {
    format: CifarFormat,
    /// Whether the files sit in the archive's folder (`cifar-10-batches-bin/`, `cifar-100-binary/`).
    nested: bool,
    /// Which file (training files, then the test file) is mutated.
    file: usize,
    mutated: Mutated,
}

/// The file names of `format`: training files, then the test file.
fn cifar_names(format: CifarFormat) -> Vec<&'static str> {
    format.train_files().iter().copied().chain([format.test_file()]).collect()
}

/// A mutation of one file of a CIFAR-10 or CIFAR-100 directory.
fn cifar_case() -> impl Strategy<Value = CifarCase> {
    let format = prop_oneof![Just(CifarFormat::Cifar10), Just(CifarFormat::Cifar100)];
    (format, any::<bool>(), any::<Index>(), binary_edits()).prop_map(|(format, nested, file, edits)| {
        let names = cifar_names(format);
        let file = file.index(names.len());
        let base = cifar_records(format, &[3, (format.classes() - 1) as u8]);
        CifarCase { format, nested, file, mutated: mutate(names[file], &base, None, &[], &edits) }
    })
}

#[test]
fn mutated_cifar_files_load_without_panicking_and_errors_name_the_file() {
    let scratch = ScratchDir::new("cifar");
    let dir = scratch.path().join("data");
    check(config(300, 256), cifar_case(), |case| {
        let _ = std::fs::remove_dir_all(&dir);
        let root = if case.nested { dir.join(case.format.archive_dir()) } else { dir.clone() };
        std::fs::create_dir_all(&root).unwrap();
        let names = cifar_names(case.format);
        for (i, name) in names.iter().enumerate() {
            let valid = cifar_records(case.format, &[i as u8, 1]);
            write(&root.join(name), if i == case.file { &case.mutated.bytes } else { &valid });
        }
        if let Err(err) = load_cifar_dir(&dir, case.format) {
            names_file(&err, &[&root.join(names[case.file])])?;
        }
        Ok(())
    });
}

// ---------------------------------------------------------------------------------------------
// Search checkpoints

/// A tiny two-epoch search (4 channels, 3 cells, one step of 8 images per epoch).
const TINY_SEARCH: &str = r#"
space = "quickstart.toml"
seed = 5
[data]
source = "bundled-fashion-mnist"
limit_train_per_class = 4
[network]
channels = 4
layers = 3
[search]
epochs = 2
batch_size = 8
steps_per_epoch = 1
mode = "first_order"
"#;

/// The files of a search checkpoint: the JSON ones first, then the binary ones.
const CHECKPOINT_FILES: [&str; 6] =
    ["state.json", MANIFEST, "net.mpk", "arch.mpk", "arch_adam_moments.bin", "sgd_velocity.bin"];

/// How many of [`CHECKPOINT_FILES`] are JSON.
const CHECKPOINT_JSON_FILES: usize = 2;

/// Runs the first epoch of [`TINY_SEARCH`] into `dir`, leaving a checkpoint to resume.
fn checkpointed_run(dir: &Path) {
    let config = RunConfig::parse(TINY_SEARCH, Path::new("tiny.toml")).unwrap();
    let space_path = manifest("search_spaces/quickstart.toml");
    let space_text = std::fs::read_to_string(&space_path).unwrap();
    let run = prepare_new_run(config, &manifest("search_spaces"), &space_text, &space_path, dir).unwrap();
    run_prepared::<Cpu>(
        &run,
        &SearchControl { resume: false, progress: false, stop_after: Some(1), device: &Default::default() },
    )
    .unwrap();
}

/// Copies the directory tree `from` to `to` (created).
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// A run directory whose checkpoint has one mutated file.
#[derive(Clone, Debug)]
struct CheckpointCase {
    /// Which of [`CHECKPOINT_FILES`] is mutated.
    file: &'static str,
    /// Whether the manifest is rewritten to record the mutated file's new size and hash, so that the
    /// mutation gets past the manifest's check to the file's own loader (ignored for the manifest).
    reseal: bool,
    mutated: Mutated,
}

impl CheckpointCase {
    /// Writes the mutated file into the checkpoint of `run_dir` (and re-seals the manifest if asked).
    fn write(&self, run_dir: &Path) {
        let checkpoint = run_dir.join("checkpoint");
        write(&checkpoint.join(self.file), &self.mutated.bytes);
        if self.reseal && self.file != MANIFEST {
            let manifest_path = checkpoint.join(MANIFEST);
            let mut manifest: Manifest = serde_json::from_slice(&std::fs::read(&manifest_path).unwrap()).unwrap();
            let record = FileRecord { bytes: self.mutated.bytes.len() as u64, hash: content_hash(&self.mutated.bytes) };
            manifest.files.insert(self.file.to_string(), record);
            write(&manifest_path, &serde_json::to_vec_pretty(&manifest).unwrap());
        }
    }
}

/// A mutation of one file of the checkpoint (`files` holds the valid content of each of
/// [`CHECKPOINT_FILES`]): tree and byte edits for JSON files, byte edits for the others.
fn checkpoint_case(files: Arc<Vec<Vec<u8>>>) -> impl Strategy<Value = CheckpointCase> {
    let json_files = files.clone();
    let json = (0..CHECKPOINT_JSON_FILES, any::<bool>(), edits()).prop_map(move |(i, reseal, (tree, bytes))| {
        let file = CHECKPOINT_FILES[i];
        CheckpointCase { file, reseal, mutated: mutate(file, &json_files[i], Some(Syntax::Json), &tree, &bytes) }
    });
    let binary = (CHECKPOINT_JSON_FILES..CHECKPOINT_FILES.len(), any::<bool>(), binary_edits()).prop_map(
        move |(i, reseal, edits)| {
            let file = CHECKPOINT_FILES[i];
            CheckpointCase { file, reseal, mutated: mutate(file, &files[i], None, &[], &edits) }
        },
    );
    prop_oneof![json, binary]
}

#[test]
fn resuming_from_a_mutated_checkpoint_never_panics_and_errors_name_the_run() {
    let scratch = ScratchDir::new("checkpoints");
    let dir = scratch.path();
    let template = dir.join("template");
    checkpointed_run(&template);
    let files: Vec<Vec<u8>> =
        CHECKPOINT_FILES.iter().map(|f| std::fs::read(template.join("checkpoint").join(f)).unwrap()).collect();
    check(config(16, 8), checkpoint_case(Arc::new(files)), |case| {
        let run_dir = dir.join("run");
        let _ = std::fs::remove_dir_all(&run_dir);
        copy_dir(&template, &run_dir);
        case.write(&run_dir);
        let resumed = reopen_run(&run_dir).and_then(|run| {
            run_prepared::<Cpu>(
                &run,
                &SearchControl { resume: true, progress: false, stop_after: Some(2), device: &Default::default() },
            )
        });
        match resumed {
            // A forged (re-sealed) optimiser or weight state may drive the loss to NaN: the run stops
            // with its own error (epoch, step, term) and keeps its checkpoint, as for any NaN.
            Err(KdnasError::NonFinite { .. }) | Ok(_) => {}
            Err(err) => names_file(&err, &[&run_dir])?,
        }
        Ok(())
    });
}
