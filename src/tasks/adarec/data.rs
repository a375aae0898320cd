//! The `[data]` section of AdaRec runs (teacher, search, fine-tune): a sequence file the user names, or
//! the bundled synthetic generator; leave-one-out evaluation against sampled negatives or all items.

use crate::data::sequence::{
    DEFAULT_MIN_LEN, DEFAULT_NEGATIVES, EvalCandidates, EvalMode, EvalSplit, NegativeSampler, SequenceFormat,
    SequenceSet, TrainWindow, lagged_synthetic_sequences, load_sequences,
};
use crate::error::Result;
use crate::validate::{at_least_one, field_error};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The bundled SYNTHETIC sequences with a planted successor structure (for the quickstart and tests;
/// see `data::sequence::lagged_synthetic_sequences`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyntheticConfig {
    /// Number of users.
    pub users: usize,
    /// Number of items.
    pub items: usize,
    /// Shortest sequence.
    pub min_len: usize,
    /// Longest sequence.
    pub max_len: usize,
    /// Generator seed.
    #[serde(default)]
    pub seed: u64,
    /// How many positions back the item is whose successor comes next (default 1: the current item;
    /// 2 needs a model that sees further than the last item).
    #[serde(default = "unit_lag", skip_serializing_if = "is_unit_lag")]
    pub lag: usize,
}

fn unit_lag() -> usize {
    1
}

fn is_unit_lag(lag: &usize) -> bool {
    *lag == 1
}

/// The `[data]` section: either `path` (+ `format`) or `synthetic`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SequenceDataConfig {
    /// A sequence file (relative paths are resolved against the config file's folder).
    #[serde(default)]
    pub path: Option<PathBuf>,
    /// Its layout: `lines` (user item item ...), `pairs` (user item [timestamp]) or `inter` (RecBole).
    #[serde(default)]
    pub format: Option<SequenceFormat>,
    /// Users with fewer interactions in the file are dropped (default 3: leave-one-out needs one
    /// training item).
    #[serde(default = "default_min_len")]
    pub min_len: usize,
    /// Synthetic sequences instead of a file.
    #[serde(default)]
    pub synthetic: Option<SyntheticConfig>,
    /// Most recent items a model sees (default 50).
    #[serde(default = "default_max_len")]
    pub max_len: usize,
    /// Negatives the held-out item is ranked against (default 100, AdaRec's protocol).
    #[serde(default = "default_negatives")]
    pub negatives: usize,
    /// Rank against every item instead of sampled negatives (default false).
    #[serde(default)]
    pub full_ranking: bool,
    /// Never sample a negative from the user's own sequence (default true, as SASRec and S3Rec).
    #[serde(default = "default_true")]
    pub exclude_history: bool,
    /// Seed of the evaluation negatives (drawn once, so every epoch ranks the same candidates).
    #[serde(default)]
    pub eval_seed: u64,
}

fn default_min_len() -> usize {
    DEFAULT_MIN_LEN
}

fn default_max_len() -> usize {
    50
}

fn default_negatives() -> usize {
    DEFAULT_NEGATIVES
}

fn default_true() -> bool {
    true
}

/// Where the sequences of a checked config come from.
enum Source<'a> {
    File(&'a Path, SequenceFormat),
    Synthetic(&'a SyntheticConfig),
}

/// The loaded data of a run: the sequences and the fixed evaluation candidates of each split.
pub struct SequenceData {
    /// Users' sequences, ids remapped to `1..=n_items`.
    pub set: SequenceSet,
    /// The training examples: windows that together predict every training item once
    /// (`SequenceSet::train_windows`).
    pub train_windows: Vec<TrainWindow>,
    /// Most recent items a model sees.
    pub max_len: usize,
    /// Candidates per user for validation and test; `None` for full ranking.
    pub candidates: Option<[EvalCandidates; 2]>,
    /// Whether a user's own history is excluded from its candidates.
    pub exclude_history: bool,
}

impl SequenceDataConfig {
    /// Makes a relative `path` absolute against `base` (the folder of the file the section was read
    /// from), so the section can be copied elsewhere and still find its data.
    pub fn resolve(&mut self, base: &Path) {
        self.path = self.path.take().map(|path| crate::files::absolute_from(base, &path));
    }

    /// How the held-out item is ranked.
    pub fn eval_mode(&self) -> EvalMode {
        match self.full_ranking {
            true => EvalMode::Full,
            false => EvalMode::Sampled { negatives: self.negatives },
        }
    }

    /// Checks the values, naming the field.
    pub fn validate(&self) -> Result<()> {
        self.source().map(|_| ())
    }

    /// The checked source of the sequences.
    fn source(&self) -> Result<Source<'_>> {
        at_least_one("data.max_len", self.max_len)?;
        at_least_one("data.negatives", self.negatives)?;
        if self.min_len < DEFAULT_MIN_LEN {
            return Err(field_error(
                "data.min_len",
                format!("{}: leave-one-out needs at least {DEFAULT_MIN_LEN} items per user", self.min_len),
            ));
        }
        match (&self.path, &self.format, &self.synthetic) {
            (Some(path), Some(format), None) => Ok(Source::File(path, *format)),
            (None, None, Some(synthetic)) => Ok(Source::Synthetic(synthetic)),
            (Some(_), None, _) => {
                Err(field_error("data.format", "name the file's layout: \"lines\", \"pairs\" or \"inter\""))
            }
            (None, Some(_), _) => Err(field_error("data.path", "`format` is given but no file")),
            (Some(_), Some(_), Some(_)) => {
                Err(field_error("data.synthetic", "give either a file (`path`) or `synthetic`, not both"))
            }
            (None, None, None) => {
                Err(field_error("data.path", "name a sequence file (`path` and `format`) or `synthetic` data"))
            }
        }
    }

    /// Loads the sequences (a relative `path` against `base`) and draws the evaluation candidates.
    pub fn load(&self, base: &Path) -> Result<SequenceData> {
        let set = match self.source()? {
            Source::File(path, format) => load_sequences(&base.join(path), format, self.min_len)?,
            Source::Synthetic(s) => lagged_synthetic_sequences(s.users, s.items, s.min_len, s.max_len, s.lag, s.seed)?,
        };
        let candidates = match self.eval_mode() {
            EvalMode::Full => None,
            EvalMode::Sampled { negatives } => {
                let sampler = NegativeSampler::new(set.n_items(), negatives, self.exclude_history)?;
                let draw =
                    |split, offset| EvalCandidates::draw(&set, split, &sampler, self.eval_seed.wrapping_add(offset));
                Some([draw(EvalSplit::Valid, 0)?, draw(EvalSplit::Test, 1)?])
            }
        };
        let train_windows = set.train_windows(self.max_len);
        Ok(SequenceData {
            set,
            train_windows,
            max_len: self.max_len,
            candidates,
            exclude_history: self.exclude_history,
        })
    }
}
