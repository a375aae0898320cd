//! `kdnas search`: prepare a run directory, search, and write the outputs.

use super::outputs::write_search_outputs;
use crate::data::{DataConfig, ImageSet};
use crate::error::Result;
use crate::export::{DeriveRule, Genotype};
use crate::manifest::Fingerprint;
use crate::models::{CellNetwork, NetworkSize, ensure_fits};
use crate::ops::conv2d::OpMode;
pub use crate::run::folder::RUN_CONFIG;
pub use crate::search::SearchControl;
use crate::search::{
    OnDeriveEpoch, PreparedRun, RUN_SPACE, SearchConfig, SearchRun, SearchTask, SpaceRunConfig, run_search,
};
use crate::supernet::ArchParams;
use crate::tasks::image::ImageSearchTask;
use crate::tasks::image::RunConfig;
use burn::tensor::backend::AutodiffBackend;
use std::path::Path;

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
pub fn run_prepared<AB: AutodiffBackend>(
    run: &PreparedRun<RunConfig>,
    control: &SearchControl<AB>,
) -> Result<SearchResult> {
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
