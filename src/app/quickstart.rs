//! `kdnas quickstart`: a complete small search + derive + train on the bundled Fashion-MNIST subset.
//! The config and space are compiled into the binary, so it runs from anywhere without files.

use super::search_cmd::{RUN_CONFIG, SearchControl, run_prepared};
use super::train_cmd::{TrainArgs, TrainStart, TrainSummary, train_command};
use crate::error::{KdnasError, Result};
use crate::search::prepare_new_run;
use crate::tasks::image::RunConfig;
use burn::tensor::backend::AutodiffBackend;
use std::path::Path;

/// The quickstart run config (examples/quickstart.toml).
pub const QUICKSTART_CONFIG: &str = include_str!("../../examples/quickstart.toml");
/// The quickstart search space (search_spaces/quickstart.toml).
pub const QUICKSTART_SPACE: &str = include_str!("../../search_spaces/quickstart.toml");

/// Runs the quickstart into `out/search` and `out/train` (both replaced if present).
pub fn quickstart<AB: AutodiffBackend>(out: &Path, progress: bool, device: &AB::Device) -> Result<TrainSummary> {
    let config = RunConfig::parse(QUICKSTART_CONFIG, Path::new("examples/quickstart.toml"))?;
    let (search_dir, train_dir) = (out.join("search"), out.join("train"));
    for dir in [&search_dir, &train_dir] {
        if dir.exists() {
            std::fs::remove_dir_all(dir).map_err(|e| KdnasError::io(dir, e))?;
        }
    }
    let run = prepare_new_run(
        config,
        Path::new("."),
        QUICKSTART_SPACE,
        Path::new("search_spaces/quickstart.toml"),
        &search_dir,
    )?;
    let genotype =
        run_prepared::<AB>(&run, &SearchControl { resume: false, progress, stop_after: None, device })?.genotype;
    if progress {
        eprintln!("derived genotype: {}", genotype.darts.as_deref().unwrap_or("-"));
    }
    let args = TrainArgs {
        start: TrainStart::New {
            genotype: search_dir.join("genotype.json"),
            config: Some(search_dir.join(RUN_CONFIG)),
            epochs: None,
            seed: None,
        },
        out: train_dir,
        progress,
        stop_after: None,
    };
    train_command::<AB>(&args, device)
}
