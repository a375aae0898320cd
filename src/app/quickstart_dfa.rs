//! `kdnas quickstart --task dfa`: the whole DFA pipeline on the bundled Fashion-MNIST subset — teacher
//! training, aggregation search, distillation with the searched weights and with the Last ablation.
//! It runs the files of examples/dfa/ (compiled in), rewritten to point into the output folder and
//! kept in `out/configs/`, so every step can be rerun by hand.

use super::dfa_cmd::run_dfa_search;
use super::distill_cmd::{DistillArgs, distill_command};
use super::search_cmd::SearchControl;
use super::teacher_cmd::{TeacherArgs, teacher_command};
use crate::error::{KdnasError, Result};
use crate::export::Genotype;
use crate::files::write_file_atomically;
use crate::run::RunStart;
use crate::search::prepare_from_file;
use crate::tasks::dfa::config::DfaSearchConfig;
use crate::tasks::dfa::distill_config::DistillConfig;
use crate::tasks::dfa::objectives::Objective;
use crate::tasks::image::TeacherSummary;
use burn::tensor::backend::AutodiffBackend;
use std::path::{Path, PathBuf};

const TEACHER: &str = include_str!("../../examples/dfa/teacher.toml");
const SEARCH: &str = include_str!("../../examples/dfa/search.toml");
const SPACE: &str = include_str!("../../search_spaces/dfa_resnet14.toml");
const DISTILL_DFA: &str = include_str!("../../examples/dfa/distill_dfa.toml");
const DISTILL_LAST: &str = include_str!("../../examples/dfa/distill_last.toml");

/// What the DFA quickstart produced.
pub struct DfaQuickstart {
    /// The teacher's training summary.
    pub teacher: TeacherSummary,
    /// The searched weights.
    pub genotype: Genotype,
    /// The student distilled with the searched aggregation.
    pub dfa: TeacherSummary,
    /// The student distilled with the Last ablation.
    pub last: TeacherSummary,
}

/// Step folders of the quickstart output, in order.
const STEPS: [&str; 5] = ["configs", "teacher", "search", "distill_dfa", "distill_last"];

/// A distillation config of examples/dfa/ pointed at the quickstart's teacher and search folders.
fn distill_config(text: &str, name: &str) -> Result<DistillConfig> {
    let mut config: DistillConfig =
        toml::from_str(text).map_err(|e| KdnasError::Usage(format!("examples/dfa/{name}: {}", e.message())))?;
    config.teacher.checkpoint = PathBuf::from("../teacher/model.mpk");
    for objective in &mut config.objective {
        if let Objective::Aggregation { search: Some(dir), .. } = objective {
            *dir = PathBuf::from("../search");
        }
    }
    Ok(config)
}

/// Runs the pipeline into `out` (its step folders are replaced).
pub fn quickstart_dfa<AB: AutodiffBackend>(out: &Path, progress: bool, device: &AB::Device) -> Result<DfaQuickstart> {
    for step in STEPS {
        let dir = out.join(step);
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(|e| KdnasError::io(&dir, e))?;
        }
    }
    let configs = out.join("configs");
    std::fs::create_dir_all(&configs).map_err(|e| KdnasError::io(&configs, e))?;
    write_file_atomically(&configs.join("teacher.toml"), TEACHER.as_bytes())?;
    write_file_atomically(&configs.join("dfa_resnet14.toml"), SPACE.as_bytes())?;
    let mut search = DfaSearchConfig::parse(SEARCH, Path::new("examples/dfa/search.toml"))?;
    search.space = PathBuf::from("dfa_resnet14.toml");
    search.teacher.checkpoint = PathBuf::from("../teacher/model.mpk");
    write_file_atomically(&configs.join("search.toml"), search.to_toml()?.as_bytes())?;
    for (text, name) in [(DISTILL_DFA, "distill_dfa.toml"), (DISTILL_LAST, "distill_last.toml")] {
        write_file_atomically(&configs.join(name), distill_config(text, name)?.to_toml()?.as_bytes())?;
    }

    let teacher_args = TeacherArgs {
        start: RunStart::New { config: configs.join("teacher.toml"), seed: None },
        out: out.join("teacher"),
        progress,
        stop_after: None,
    };
    let teacher = teacher_command::<AB>(&teacher_args, device)?;
    let run = prepare_from_file::<DfaSearchConfig>(&configs.join("search.toml"), &out.join("search"), None)?;
    let genotype =
        run_dfa_search::<AB>(&run, &SearchControl { resume: false, progress, stop_after: None, device })?.genotype;
    if progress {
        eprintln!("searched aggregation weights:\n{}", genotype.summary());
    }
    let distill = |name: &str| {
        let args = DistillArgs {
            start: RunStart::New { config: configs.join(format!("{name}.toml")), seed: None },
            out: out.join(name),
            progress,
            stop_after: None,
        };
        distill_command::<AB>(&args, device)
    };
    let dfa = distill("distill_dfa")?;
    let last = distill("distill_last")?;
    Ok(DfaQuickstart { teacher, genotype, dfa, last })
}
