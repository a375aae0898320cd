//! The search figures of an AdaRec run (EMD transport and masses, ranking metrics, cost against
//! NDCG@10) are drawn from hand-made records that carry an EMD state and ranking metrics, and only
//! then: DARTS-like records get none of them, and figures without data are skipped.

mod common;

use common::{manifest, temp_dir};
use kdnas::app::figures::write_search_figures;
use kdnas::distill::emd::LayerMasses;
use kdnas::search::history::SearchExtras;
use kdnas::search::{EpochRecord, SearchState};
use kdnas::space::{ArchGraph, load_space};
use kdnas::tasks::adarec::search_task::EmdState;
use std::collections::BTreeMap;
use std::path::Path;

/// The figures only AdaRec-like records get.
const ADAREC_FIGURES: [&str; 4] = ["emd_transport", "emd_masses", "cost_vs_ranking", "search_ranking"];

/// `name = value` pairs as a map.
fn named(pairs: &[(&str, f64)]) -> BTreeMap<String, f64> {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

/// A record of `epoch` over `space` with uniform architecture weights and the given loss terms.
fn record(space: &ArchGraph, epoch: usize, train_terms: &[(&str, f64)], val_terms: &[(&str, f64)]) -> EpochRecord {
    let arch_weights = space
        .groups
        .iter()
        .map(|g| vec![vec![1.0 / g.candidates.len() as f32; g.candidates.len()]; g.rows()])
        .collect();
    EpochRecord {
        epoch,
        lr: 0.01,
        train_loss: 2.0 - 0.1 * epoch as f64,
        train_acc: None,
        train_terms: named(train_terms),
        metrics: BTreeMap::new(),
        seconds: 0.1,
        extras: SearchExtras {
            temperature: None,
            val_loss: 2.0 - 0.1 * epoch as f64,
            val_acc: None,
            val_terms: named(val_terms),
            arch_weights,
            task_state: None,
            arch_moved: true,
            arch_grads: None,
        },
    }
}

/// Three single-level AdaRec epochs over 2 student cells and 3 teacher layers; the EMD state of each
/// epoch has its own masses, so the figures show which epoch they were drawn from.
fn adarec_state(space: &ArchGraph) -> SearchState {
    let masses = [([0.52, 0.48], [0.4, 0.3, 0.3]), ([0.55, 0.45], [0.45, 0.3, 0.25]), ([0.6, 0.4], [0.5, 0.25, 0.25])];
    let history = masses
        .iter()
        .enumerate()
        .map(|(epoch, (student, teacher))| {
            let e = epoch as f64;
            let terms = [
                ("cross_entropy", 5.0 - e),
                ("embedding_mse", 0.03),
                ("hidden_emd", 0.2),
                ("logit_kl", 0.07),
                ("cost", 3.0 - e),
            ];
            let mut r = record(space, epoch, &terms, &terms);
            r.metrics = named(&[
                ("valid_mrr", 0.1 + 0.1 * e),
                ("valid_hr@10", 0.2 + 0.1 * e),
                ("valid_ndcg@10", 0.15 + 0.1 * e),
                ("valid_ndcg@20", 0.2 + 0.1 * e),
            ]);
            let emd = EmdState {
                masses: LayerMasses { student: student.to_vec(), teacher: teacher.to_vec() },
                flow: vec![vec![0.4, 0.1, 0.0], vec![0.0, 0.2, 0.3]],
            };
            r.extras.task_state = Some(serde_json::to_value(emd).unwrap());
            r
        })
        .collect();
    SearchState { next_epoch: 3, history }
}

/// The stems of every figure in `run/plots` that has both a PNG and an SVG.
fn figures(run: &Path) -> Vec<String> {
    let dir = run.join("plots");
    let mut stems: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.unwrap().path().file_stem().map(|s| s.to_string_lossy().into_owned()))
        .filter(|stem| dir.join(format!("{stem}.png")).exists() && dir.join(format!("{stem}.svg")).exists())
        .collect();
    stems.sort();
    stems.dedup();
    stems
}

/// The SVG of figure `stem` in `run`.
fn svg(run: &Path, stem: &str) -> String {
    std::fs::read_to_string(run.join("plots").join(format!("{stem}.svg"))).unwrap()
}

#[test]
fn adarec_records_get_the_emd_and_ranking_figures() {
    let space = load_space(&manifest("search_spaces/adarec_nextitnet.toml")).unwrap();
    let run = temp_dir("adarec-figures");
    write_search_figures(&run, &space, &adarec_state(&space)).unwrap();
    let made = figures(&run);
    for stem in ADAREC_FIGURES.iter().chain(&["search_loss", "loss_terms_weights"]) {
        assert!(made.iter().any(|m| m == stem), "{stem} missing from {made:?}");
    }
    // No accuracy at all, and single-level steps: the arch-step terms repeat the weight-step terms.
    for stem in ["search_accuracy", "loss_terms_arch"] {
        assert!(!made.iter().any(|m| m == stem), "{stem} drawn without data of its own: {made:?}");
    }

    // The last epoch's flow, labelled with that epoch's masses.
    let transport = svg(&run, "emd_transport");
    for label in ["epoch 3", "cell 1 (mass 0.600)", "cell 2 (mass 0.400)", "teacher layer 3 (mass 0.250)", "\nflow\n"] {
        assert!(transport.contains(label), "emd_transport lacks {label:?}");
    }
    assert!(!transport.contains("mass 0.520") && !transport.contains("cell 3"), "not the last epoch's state");

    let masses = svg(&run, "emd_masses");
    for label in ["student: mass of each cell", "teacher: mass of each layer", "cell 2 / teacher layer 2"] {
        assert!(masses.contains(label), "emd_masses lacks {label:?}");
    }
    // The teacher has a third layer, the student no third cell.
    assert!(masses.contains("\nteacher layer 3\n") && !masses.contains("cell 3"));

    let ranking = svg(&run, "search_ranking");
    for label in ["valid_mrr", "valid_hr@10", "valid_ndcg@10"] {
        assert!(ranking.contains(label), "search_ranking lacks {label}");
    }
    assert!(!ranking.contains("valid_ndcg@20"));
    let cost = svg(&run, "cost_vs_ranking");
    for label in ["epochs 1 to 3, joined in order", "epoch 1\n", "epoch 3\n", "valid NDCG@10", "cost term"] {
        assert!(cost.contains(label), "cost_vs_ranking lacks {label:?}");
    }

    let loss = svg(&run, "search_loss");
    assert!(loss.contains("total loss") && loss.contains("train = val"), "single-level loss not merged");
    assert!(!loss.contains("eval pass"), "a ranking run's evaluation pass has no loss to draw");
    std::fs::remove_dir_all(&run).unwrap();
}

#[test]
fn darts_like_records_get_none_of_them() {
    let space = load_space(&manifest("search_spaces/quickstart.toml")).unwrap();
    let run = temp_dir("darts-figures");
    let history = (0..2)
        .map(|epoch| {
            let mut r = record(&space, epoch, &[("cross_entropy", 1.5)], &[("cross_entropy", 1.6)]);
            r.extras.val_loss = 1.6;
            r.train_acc = Some(0.4);
            r.extras.val_acc = Some(0.35);
            r
        })
        .collect();
    write_search_figures(&run, &space, &SearchState { next_epoch: 2, history }).unwrap();
    let made = figures(&run);
    for stem in ADAREC_FIGURES.iter().chain(&["loss_terms_weights", "loss_terms_arch"]) {
        assert!(!made.iter().any(|m| m == stem), "{stem} drawn for a DARTS run: {made:?}");
    }
    for stem in ["search_loss", "search_accuracy"] {
        assert!(made.iter().any(|m| m == stem), "{stem} missing from {made:?}");
    }
    let loss = svg(&run, "search_loss");
    assert!(loss.contains("cross-entropy loss") && loss.contains("val (arch steps, running mean)"));
    std::fs::remove_dir_all(&run).unwrap();
}

#[test]
fn bilevel_terms_and_a_state_before_any_step() {
    let space = load_space(&manifest("search_spaces/adarec_nextitnet.toml")).unwrap();
    let run = temp_dir("bilevel-figures");
    let mut state = adarec_state(&space);
    for r in &mut state.history {
        r.extras.val_terms.insert("cost".into(), 9.0);
        r.extras.val_loss += 1.0;
        let empty = EmdState { masses: LayerMasses::uniform(2, 3).unwrap(), flow: Vec::new() };
        r.extras.task_state = Some(serde_json::to_value(empty).unwrap());
    }
    write_search_figures(&run, &space, &state).unwrap();
    let made = figures(&run);
    assert!(made.iter().any(|m| m == "loss_terms_arch"), "bi-level arch terms differ: {made:?}");
    assert!(made.iter().any(|m| m == "emd_masses"));
    assert!(!made.iter().any(|m| m == "emd_transport"), "no flow yet, no transport figure: {made:?}");
    assert!(svg(&run, "search_loss").contains("val (arch steps, running mean)"));
    std::fs::remove_dir_all(&run).unwrap();
}
