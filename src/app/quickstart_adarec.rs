//! `kdnas quickstart --task adarec`: the whole AdaRec pipeline on the bundled SYNTHETIC sequences —
//! NextItNet teacher, student search, fine-tuning of the derived student with continued distillation
//! and without it (the from-scratch baseline), and the ranking/latency table. It runs the files of
//! examples/adarec/ (compiled in), rewritten to point into the output folder and kept in
//! `out/configs/`, so every step can be rerun by hand.

use super::adarec_cmd::run_adarec_search;
use super::adarec_finetune_cmd::adarec_finetune_command;
use super::ranking_eval_cmd::{RankingReport, evaluate_runs, ranking_table};
use super::search_cmd::SearchControl;
use super::sequence_teacher_cmd::sequence_teacher_command;
use super::teacher_cmd::TeacherArgs;
use crate::error::{KdnasError, Result};
use crate::export::Genotype;
use crate::files::write_file_atomically;
use crate::run::RunStart;
use crate::search::prepare_from_file;
use crate::tasks::adarec::config::{AdarecFinetuneConfig, AdarecSearchConfig};
use burn::tensor::backend::AutodiffBackend;
use std::path::{Path, PathBuf};

const TEACHER: &str = include_str!("../../examples/adarec/teacher.toml");
const SEARCH: &str = include_str!("../../examples/adarec/search.toml");
const SPACE: &str = include_str!("../../search_spaces/adarec_nextitnet.toml");
const FINETUNE: &str = include_str!("../../examples/adarec/finetune.toml");

/// Step folders of the quickstart output, in order.
const STEPS: [&str; 6] = ["configs", "teacher", "search", "finetune_kd", "finetune_scratch", "table.md"];

/// What the AdaRec quickstart produced.
pub struct AdarecQuickstart {
    /// The searched student.
    pub genotype: Genotype,
    /// Teacher, distilled student and from-scratch student, ranked on the test targets.
    pub reports: Vec<RankingReport>,
    /// The markdown table of the reports (also `out/table.md`).
    pub table: String,
}

/// Writes the example configs into `configs`, pointed at the quickstart's step folders.
fn write_configs(configs: &Path) -> Result<()> {
    let example = |name: &str| PathBuf::from("examples/adarec").join(name);
    write_file_atomically(&configs.join("teacher.toml"), TEACHER.as_bytes())?;
    write_file_atomically(&configs.join("adarec_nextitnet.toml"), SPACE.as_bytes())?;
    let mut search = AdarecSearchConfig::parse(SEARCH, &example("search.toml"))?;
    search.space = PathBuf::from("adarec_nextitnet.toml");
    search.teacher.checkpoint = PathBuf::from("../teacher/best/model.mpk");
    write_file_atomically(&configs.join("search.toml"), search.to_toml()?.as_bytes())?;
    let mut finetune: AdarecFinetuneConfig = toml::from_str(FINETUNE)
        .map_err(|e| KdnasError::Usage(format!("{}: {}", example("finetune.toml").display(), e.message())))?;
    finetune.genotype = PathBuf::from("../search/genotype.json");
    if let Some(kd) = &mut finetune.kd {
        kd.teacher.checkpoint = PathBuf::from("../teacher/best/model.mpk");
    }
    write_file_atomically(&configs.join("finetune_kd.toml"), crate::config_file::config_toml(&finetune)?.as_bytes())?;
    finetune.kd = None;
    write_file_atomically(
        &configs.join("finetune_scratch.toml"),
        crate::config_file::config_toml(&finetune)?.as_bytes(),
    )
}

/// Runs the pipeline into `out` (its step folders are replaced).
pub fn quickstart_adarec<AB: AutodiffBackend>(
    out: &Path,
    progress: bool,
    device: &AB::Device,
) -> Result<AdarecQuickstart> {
    for step in STEPS {
        let path = out.join(step);
        let removed = if path.is_dir() { std::fs::remove_dir_all(&path) } else { std::fs::remove_file(&path) };
        if let Err(e) = removed
            && path.exists()
        {
            return Err(KdnasError::io(&path, e));
        }
    }
    let configs = out.join("configs");
    std::fs::create_dir_all(&configs).map_err(|e| KdnasError::io(&configs, e))?;
    write_configs(&configs)?;
    let training = |config: &str, dir: &str| TeacherArgs {
        start: RunStart::New { config: configs.join(config), seed: None },
        out: out.join(dir),
        progress,
        stop_after: None,
    };
    sequence_teacher_command::<AB>(&training("teacher.toml", "teacher"), device)?;
    let run = prepare_from_file::<AdarecSearchConfig>(&configs.join("search.toml"), &out.join("search"), None)?;
    let genotype =
        run_adarec_search::<AB>(&run, &SearchControl { resume: false, progress, stop_after: None, device })?.genotype;
    if progress {
        eprintln!("searched student:\n{}", genotype.summary());
    }
    adarec_finetune_command::<AB>(&training("finetune_kd.toml", "finetune_kd"), device)?;
    adarec_finetune_command::<AB>(&training("finetune_scratch.toml", "finetune_scratch"), device)?;
    let runs = ["teacher", "finetune_kd", "finetune_scratch"].map(|dir| out.join(dir));
    let reports = evaluate_runs::<AB::InnerBackend>(&runs, None, device)?;
    let table = ranking_table(&reports);
    write_file_atomically(&out.join("table.md"), table.as_bytes())?;
    Ok(AdarecQuickstart { genotype, reports, table })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tasks::adarec::teacher_config::SequenceTeacherConfig;

    #[test]
    fn the_example_configs_it_writes_load_and_point_into_the_output_folder() {
        let dir = std::env::temp_dir().join(format!("kdnas-quickstart-adarec-configs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        write_configs(&dir).unwrap();
        SequenceTeacherConfig::load(&dir.join("teacher.toml")).unwrap();
        let search = AdarecSearchConfig::load(&dir.join("search.toml")).unwrap();
        assert_eq!(search.teacher.checkpoint, PathBuf::from("../teacher/best/model.mpk"));
        assert!(dir.join(&search.space).is_file());
        let kd = AdarecFinetuneConfig::load(&dir.join("finetune_kd.toml")).unwrap();
        let scratch = AdarecFinetuneConfig::load(&dir.join("finetune_scratch.toml")).unwrap();
        assert!(kd.kd.is_some() && scratch.kd.is_none(), "the two fine-tunings differ by [kd] only");
        assert_eq!(AdarecFinetuneConfig { kd: None, ..kd }, scratch);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
