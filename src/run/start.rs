//! Where a run starts ([`RunStart`]): a new run of a config file, written into a fresh run folder, or
//! the run a folder holds, resumed from the folder's own copy of its config ([`open_run`]). One place
//! refuses to overwrite a run, overrides the seed, resolves relative paths and keeps the copy.

use super::checkpoint::refuse_existing_run;
use super::folder::{RUN_CONFIG, load_run_copy, write_run_copy};
use crate::error::{KdnasError, Result};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// Where a run starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunStart {
    /// A new run of a config file.
    New {
        /// The config file.
        config: PathBuf,
        /// Override of its seed.
        seed: Option<u64>,
    },
    /// Continue the run in the output folder from its last checkpoint.
    Resume,
}

impl RunStart {
    /// Whether the run continues from a checkpoint.
    pub fn resumes(&self) -> bool {
        matches!(self, RunStart::Resume)
    }

    /// The config file the run reads: the given file of a new run, or the copy in `out` when resuming
    /// (failing when `out` does not exist; `what` names the run, e.g. `teacher run`).
    pub fn config_file(&self, out: &Path, what: &str) -> Result<PathBuf> {
        match self {
            RunStart::New { config, .. } => Ok(config.clone()),
            RunStart::Resume if !out.is_dir() => {
                Err(KdnasError::Usage(format!("{}: no such {what} directory", out.display())))
            }
            RunStart::Resume => Ok(out.join(RUN_CONFIG)),
        }
    }
}

/// A config that a run folder keeps as its `config.toml`.
pub trait FolderConfig: Serialize + Sized {
    /// The command that runs and resumes it (`teacher train`), named in errors.
    const COMMAND: &'static str;
    /// What a folder of it holds (`training run`), named in errors.
    const WHAT: &'static str;
    /// Reads and validates the file (errors name the file, line and field).
    fn load(path: &Path) -> Result<Self>;
    /// Overrides the seed.
    fn set_seed(&mut self, seed: u64);
    /// Makes every relative path absolute against `base` (the folder of the file it was read from).
    fn resolve(&mut self, base: &Path);
}

/// The config of the run in `out`, its paths absolute. A new run reads its file, takes the seed
/// override, resolves against the file's folder, refuses an `out` that already holds a run, creates
/// `out`, lets `prepare_new` adjust the config there (e.g. copy an input file into the folder) and
/// writes the folder's copy. A resumed run reads that copy and resolves it against `out`.
pub fn open_run<C: FolderConfig>(
    start: &RunStart,
    out: &Path,
    prepare_new: impl FnOnce(&mut C, &Path) -> Result<()>,
) -> Result<C> {
    let (path, seed) = match start {
        RunStart::Resume => {
            start.config_file(out, C::WHAT)?;
            let resolve = |mut config: C, dir: &Path| {
                config.resolve(dir);
                config
            };
            return load_run_copy(out, C::load, resolve);
        }
        RunStart::New { config, seed } => (config, seed),
    };
    refuse_existing_run(out, C::WHAT, &format!("kdnas {}", C::COMMAND))?;
    let mut config = C::load(path)?;
    if let Some(seed) = seed {
        config.set_seed(*seed);
    }
    config.resolve(path.parent().unwrap_or(Path::new(".")));
    std::fs::create_dir_all(out).map_err(|e| KdnasError::io(out, e))?;
    prepare_new(&mut config, out)?;
    write_run_copy(&config, out)?;
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Serialize, Deserialize, PartialEq)]
    struct Toy {
        seed: u64,
        data: PathBuf,
    }

    impl FolderConfig for Toy {
        const COMMAND: &'static str = "toy train";
        const WHAT: &'static str = "toy run";
        fn load(path: &Path) -> Result<Self> {
            let text = std::fs::read_to_string(path).map_err(|e| KdnasError::io(path, e))?;
            toml::from_str(&text).map_err(|e| KdnasError::Usage(e.to_string()))
        }
        fn set_seed(&mut self, seed: u64) {
            self.seed = seed;
        }
        fn resolve(&mut self, base: &Path) {
            self.data = crate::files::absolute_from(base, &self.data);
        }
    }

    #[test]
    fn a_new_run_keeps_a_copy_that_resumes_to_the_same_config_and_is_never_overwritten() {
        let root = std::env::temp_dir().join(format!("kdnas-run-start-{}", std::process::id()));
        let (configs, out) = (root.join("configs"), root.join("runs").join("a"));
        std::fs::create_dir_all(&configs).unwrap();
        std::fs::write(configs.join("toy.toml"), "seed = 1\ndata = \"../data/set.txt\"\n").unwrap();
        let new = RunStart::New { config: configs.join("toy.toml"), seed: Some(5) };
        let mut prepared = Vec::new();
        let started: Toy = open_run(&new, &out, |_, dir| {
            prepared.push(dir.to_path_buf());
            Ok(())
        })
        .unwrap();
        assert_eq!(started, Toy { seed: 5, data: crate::files::absolute_from(&configs, Path::new("../data/set.txt")) });
        assert_eq!(prepared, std::slice::from_ref(&out));
        let resumed: Toy = open_run(&RunStart::Resume, &out, |_, _| panic!("a resumed run prepares nothing")).unwrap();
        // The same file, reached through the run folder's copy.
        std::fs::create_dir_all(root.join("data")).unwrap();
        std::fs::write(root.join("data").join("set.txt"), "").unwrap();
        let file = |toy: &Toy| toy.data.canonicalize().unwrap();
        assert_eq!((resumed.seed, file(&resumed)), (started.seed, file(&started)));
        std::fs::create_dir_all(out.join("checkpoint")).unwrap();
        std::fs::write(out.join("checkpoint").join("state.json"), "{}").unwrap();
        let err = open_run::<Toy>(&new, &out, |_, _| Ok(())).unwrap_err().to_string();
        assert!(err.contains("already holds a toy run") && err.contains("kdnas toy train --resume"), "{err}");
        let missing = open_run::<Toy>(&RunStart::Resume, &root.join("nowhere"), |_, _| Ok(())).unwrap_err();
        assert!(missing.to_string().contains("nowhere: no such toy run directory"), "{missing}");
        std::fs::remove_dir_all(&root).unwrap();
    }
}
