//! Every checkpoint committed under results/ still loads into the one epoch record and is written
//! back unchanged, so a fresh clone resumes each run (the structure of the loops may change; the
//! files their runs wrote may not).

use kdnas::search::SearchState;
use kdnas::train::TrainEpoch;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Every `checkpoint/state.json` (and interrupted-swap `checkpoint.old/state.json`) under `dir`.
fn checkpoint_states(dir: &Path, found: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            checkpoint_states(&path, found);
        } else if path.file_name().is_some_and(|n| n == "state.json")
            && path.parent().and_then(|p| p.file_name()).is_some_and(|n| n.to_string_lossy().starts_with("checkpoint"))
        {
            found.push(path);
        }
    }
}

fn json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The JSON path of the first place where `a` and `b` differ, with both values there.
fn first_difference(a: &Value, b: &Value, at: String) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            keys.into_iter().find_map(|k| match (x.get(k), y.get(k)) {
                (Some(u), Some(v)) => first_difference(u, v, format!("{at}.{k}")),
                (u, v) => Some(format!("{at}.{k}: {u:?} vs {v:?}")),
            })
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            x.iter().zip(y).enumerate().find_map(|(i, (u, v))| first_difference(u, v, format!("{at}[{i}]")))
        }
        _ => (a != b).then(|| format!("{at}: {a} vs {b}")),
    }
}

/// `value` written as text and read back (as the checkpoint's file went: `f32`s print shortest).
fn reread(value: &impl serde::Serialize) -> Value {
    serde_json::from_str(&serde_json::to_string(value).unwrap()).unwrap()
}

#[test]
fn every_committed_checkpoint_loads_and_writes_back_unchanged() {
    let mut states = Vec::new();
    checkpoint_states(&Path::new(env!("CARGO_MANIFEST_DIR")).join("results"), &mut states);
    assert!(!states.is_empty(), "results/ holds resumable runs");
    for path in &states {
        let written = json(path);
        let kind = json(&path.with_file_name("manifest.json"))["kind"].as_str().map(str::to_string);
        let back = match kind.as_deref() {
            Some("search") => {
                let state: SearchState =
                    serde_json::from_value(written.clone()).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                assert_eq!(state.next_epoch, state.history.len(), "{}", path.display());
                reread(&state)
            }
            Some("train") => {
                let history: Vec<TrainEpoch> = serde_json::from_value(written["history"].clone())
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                reread(&serde_json::json!({ "history": history }))
            }
            other => panic!("{}: unknown checkpoint kind {other:?}", path.display()),
        };
        let difference = first_difference(&back, &written, String::new());
        assert!(difference.is_none(), "{} is not written back as it was: {difference:?}", path.display());
    }
}
