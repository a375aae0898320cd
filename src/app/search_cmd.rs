//! `kdnas search`: prepare a run directory, search, and write the outputs.

use super::outputs::write_search_outputs;
use crate::data::{DataConfig, ImageSet};
use crate::error::{KdnasError, Result};
use crate::export::{DeriveRule, Genotype};
use crate::files::write_file_atomically;
use crate::manifest::Fingerprint;
use crate::models::{CellNetwork, NetworkSize, ensure_fits};
use crate::ops::conv2d::OpMode;
use crate::run::checkpoint::refuse_existing_run;
pub use crate::run::folder::RUN_CONFIG;
use crate::run::folder::{load_run_copy, write_run_copy};
pub use crate::search::SearchControl;
use crate::search::{OnDeriveEpoch, SearchConfig, SearchRun, SearchTask, run_search};
use crate::space::{ArchGraph, parse_space};
use crate::supernet::ArchParams;
use crate::tasks::image::ImageSearchTask;
use crate::tasks::image::RunConfig;
use burn::tensor::backend::AutodiffBackend;
use std::path::{Path, PathBuf};

/// Copy of the search space inside a run directory.
pub const RUN_SPACE: &str = "space.toml";

/// A run config that names a search space and can be copied into its run directory.
pub trait SpaceRunConfig: serde::Serialize + Sized {
    /// The command that runs and resumes such configs (`kdnas search`).
    const COMMAND: &'static str;
    /// Reads and validates the config file at `path`.
    fn load(path: &Path) -> Result<Self>;
    /// The search-space file, relative to the config file.
    fn space(&self) -> &Path;
    /// The config as it is kept in the run directory: relative data and checkpoint paths made
    /// absolute against `base` (the config file's folder) and the space renamed to `space`.
    fn into_run_copy(self, base: &Path, space: &Path) -> Self;
    /// Overrides the seed.
    fn set_seed(&mut self, seed: u64);
    /// The seed of everything random.
    fn seed(&self) -> u64;
    /// The search hyper-parameters.
    fn search(&self) -> &SearchConfig;
}

/// The [`SpaceRunConfig`] methods `set_seed`, `seed` and `search` of a config with `seed: u64` and
/// `search: SearchConfig` fields (every search config has both).
macro_rules! seed_and_search_accessors {
    () => {
        fn set_seed(&mut self, seed: u64) {
            self.seed = seed;
        }
        fn seed(&self) -> u64 {
            self.seed
        }
        fn search(&self) -> &SearchConfig {
            &self.search
        }
    };
}
pub(crate) use seed_and_search_accessors;

/// How a search's genotype is derived: the rule, and what to keep whenever an epoch becomes the
/// derivation epoch.
pub struct Derivation<'a, N> {
    /// Which ops and edges the genotype keeps.
    pub rule: DeriveRule,
    /// Called with the supernet at each new derivation epoch (see [`OnDeriveEpoch`]).
    pub on_epoch: Option<OnDeriveEpoch<'a, N>>,
}

impl<N> From<DeriveRule> for Derivation<'_, N> {
    fn from(rule: DeriveRule) -> Self {
        Self { rule, on_epoch: None }
    }
}

/// Searches `task` from `net` and `arch` in `run`'s directory with its config's search settings and
/// seed (every checkpoint carries `fingerprint`), then writes the genotype derived by `rule`, its DOT,
/// the metrics and the plots.
pub fn search_and_write<AB: AutodiffBackend, T: SearchTask<AB>, C: SpaceRunConfig>(
    run: &PreparedRun<C>,
    task: &T,
    net: T::Net,
    arch: ArchParams<AB>,
    fingerprint: &Fingerprint,
    control: &SearchControl<AB>,
    derivation: Derivation<T::Net>,
) -> Result<SearchResult> {
    let search_run = SearchRun {
        config: run.config.search(),
        seed: run.config.seed(),
        run_dir: &run.dir,
        control,
        fingerprint,
        on_derive_epoch: derivation.on_epoch,
    };
    let outcome = run_search(task, net, arch, &search_run)?;
    let genotype =
        write_search_outputs(&run.dir, &run.space, &outcome.state, derivation.rule, run.config.search().derive_from)?;
    Ok(SearchResult { genotype, epochs_run: outcome.epochs_run })
}

impl SpaceRunConfig for RunConfig {
    const COMMAND: &'static str = "kdnas search";
    fn load(path: &Path) -> Result<Self> {
        RunConfig::load(path)
    }
    fn space(&self) -> &Path {
        &self.space
    }
    fn into_run_copy(self, base: &Path, space: &Path) -> Self {
        Self { space: space.to_path_buf(), ..self.with_absolute_data_dir(base) }
    }
    seed_and_search_accessors!();
}

/// A prepared run: its directory, config and space.
pub struct PreparedRun<C = RunConfig> {
    /// Run directory.
    pub dir: PathBuf,
    /// Resolved config (space path relative to the run directory).
    pub config: C,
    /// Validated space.
    pub space: ArchGraph,
    /// Text of the run's copy of the space (part of the checkpoint fingerprint).
    pub space_text: String,
}

/// Creates `out` for a new run of `config` (refusing to overwrite a run that has a checkpoint) and
/// writes the resolved config and the space into it. `base` resolves relative paths of the config.
pub fn prepare_new_run<C: SpaceRunConfig>(
    config: C,
    base: &Path,
    space_text: &str,
    space_path: &Path,
    out: &Path,
) -> Result<PreparedRun<C>> {
    refuse_existing_run(out, "search", C::COMMAND)?;
    let space = parse_space(space_text, space_path)?;
    std::fs::create_dir_all(out).map_err(|e| KdnasError::io(out, e))?;
    let config = config.into_run_copy(base, Path::new(RUN_SPACE));
    write_file_atomically(&out.join(RUN_SPACE), space_text.as_bytes())?;
    write_run_copy(&config, out)?;
    Ok(PreparedRun { dir: out.to_path_buf(), config, space, space_text: space_text.to_string() })
}

/// Prepares a run from a config file, with optional seed override.
pub fn prepare_from_file<C: SpaceRunConfig>(
    config_path: &Path,
    out: &Path,
    seed: Option<u64>,
) -> Result<PreparedRun<C>> {
    let mut config = C::load(config_path)?;
    if let Some(seed) = seed {
        config.set_seed(seed);
    }
    let base = config_path.parent().unwrap_or(Path::new("."));
    let space_path = base.join(config.space());
    let space_text = std::fs::read_to_string(&space_path).map_err(|e| KdnasError::io(&space_path, e))?;
    prepare_new_run(config, base, &space_text, &space_path, out)
}

/// Re-opens an existing run directory for resuming.
pub fn reopen_run<C: SpaceRunConfig>(dir: &Path) -> Result<PreparedRun<C>> {
    if !dir.is_dir() {
        return Err(KdnasError::Usage(format!("{}: no such run directory", dir.display())));
    }
    let config = load_run_copy(dir, C::load, |config, dir| config.into_run_copy(dir, Path::new(RUN_SPACE)))?;
    let space_path = dir.join(RUN_SPACE);
    let space_text = std::fs::read_to_string(&space_path).map_err(|e| KdnasError::io(&space_path, e))?;
    let space = parse_space(&space_text, &space_path)?;
    Ok(PreparedRun { dir: dir.to_path_buf(), config, space, space_text })
}

/// What a search command produced.
pub struct SearchResult {
    /// The derived genotype (also written to the run directory).
    pub genotype: Genotype,
    /// Epochs this call ran (after the checkpoint, when resuming).
    pub epochs_run: usize,
}

/// The weight- and architecture-training splits of a search: the first `search.train_fraction` of
/// `data`'s training images and the rest (relative data paths against `run_dir`). A batch larger
/// than the weight split, or an empty architecture split, is an error located in the run's config.
pub fn search_splits(data: &DataConfig, search: &SearchConfig, run_dir: &Path) -> Result<(ImageSet, ImageSet)> {
    let (train_full, _test) = data.load(run_dir)?;
    let (train, val) = train_full.split_at_fraction(search.train_fraction);
    if train.len() < search.batch_size || val.is_empty() {
        let err = crate::validate::field_error(
            "search.batch_size",
            format!(
                "{} is larger than the weight-training split ({} of {} images, search.train_fraction = {})",
                search.batch_size,
                train.len(),
                train.len() + val.len(),
                search.train_fraction
            ),
        );
        return Err(crate::config_file::locate_in_config(&run_dir.join(RUN_CONFIG), err));
    }
    Ok((train, val))
}

/// Runs (or resumes) the search of a prepared run and writes genotype, DOT and plots.
pub fn run_prepared<AB: AutodiffBackend>(run: &PreparedRun, control: &SearchControl<AB>) -> Result<SearchResult> {
    let (device, progress) = (control.device, control.progress);
    let cfg = &run.config;
    let (train, val) = search_splits(&cfg.data, &cfg.search, &run.dir)?;
    let size = NetworkSize::of(&run.space, &cfg.network, train.channels, train.classes, train.height, OpMode::Search);
    let what = format!(
        "{}: network.channels = {}, layers = {}",
        run.dir.join(RUN_CONFIG).display(),
        cfg.network.channels,
        cfg.network.layers
    );
    ensure_fits(size, cfg.search.batch_size, &what)?;
    AB::seed(device, cfg.seed);
    let net = CellNetwork::<AB>::new(&run.space, &cfg.network, train.channels, train.classes, OpMode::Search, device)?;
    let arch = ArchParams::<AB>::new(&run.space, device);
    let task = ImageSearchTask::<AB> { train, val, augment: cfg.data.augmenter(), device: device.clone() };
    if progress {
        eprintln!(
            "search: space `{}`, {} choices, {} weights, {:?}, {} epochs -> {}",
            run.space.name,
            run.space.choice_count(),
            crate::metrics::trainable_params(&net),
            cfg.search.mode,
            cfg.search.epochs,
            run.dir.display()
        );
    }
    let fingerprint = Fingerprint::new(cfg, &[(RUN_SPACE, run.space_text.as_bytes())], &net)?;
    search_and_write(run, &task, net, arch, &fingerprint, control, cfg.derive.into())
}
