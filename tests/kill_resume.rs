//! Kill-and-resume soak (issue 9, item 19): a search and a derived-network training are killed with
//! SIGKILL at random moments and continued the way a user would — rerun the original command, and when
//! the command line refuses to overwrite a checkpointed run, resume it as told — until they finish.
//! Each finished run must be bit-identical to an uninterrupted reference run of the same command.
//!
//! `KDNAS_SOAK_KILLS` sets the number of kills per run kind (default 3, sized for CI);
//! `KDNAS_SOAK_SEED` draws the kill moments of a printed seed again (what they hit still depends on
//! timing). `scripts/soak.sh` runs a long soak.

mod common;

use common::{CliRun, kdnas_binary, run_kdnas_ok, temp_dir, write_quickstart_genotype, write_run_config};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime};

/// A search of several short epochs (about 0.5 s each on 2 cores), so kills land in different epochs.
const SEARCH: &str = r#"seed = 3
[data]
source = "bundled-fashion-mnist"
limit_train_per_class = 4
[network]
channels = 4
layers = 3
[search]
epochs = 8
batch_size = 8
steps_per_epoch = 2
mode = "first_order"
"#;

/// Training of a derived network over several short epochs.
const TRAIN: &str = r#"seed = 5
[data]
source = "bundled-fashion-mnist"
limit_train_per_class = 6
limit_test_per_class = 4
[network]
channels = 4
layers = 3
[train]
epochs = 8
batch_size = 8
augment = true
cutout = 8
drop_path = 0.2
"#;

/// What one soak saw.
#[derive(Default)]
struct Figures {
    /// Kills whose moment came (the process was killed then, or had already finished).
    delivered: usize,
    /// Kills that found the process running and ended it.
    landed: usize,
    /// Landed kills by the epochs the run had finished when the kill came.
    landed_after_epochs: BTreeMap<usize, usize>,
    /// Kills aimed at a checkpoint write (the others come at any moment).
    aimed_at_write: usize,
    /// Landed kills that cut a checkpoint write short (see [`WriteTrace`]; diagnostic only).
    mid_checkpoint_write: usize,
    /// New runs started again from scratch because a kill came before the first checkpoint.
    restarts: usize,
    /// New runs the command line refused because the directory held a checkpoint (then resumed).
    refusals: usize,
    /// Runs started with `--resume`.
    resumes: usize,
    /// Resumed runs that went on to the end.
    resumes_finished: usize,
    /// Runs taken to the end through kills.
    runs: usize,
    /// Of those, runs bit-identical to the reference.
    identical: usize,
}

impl Figures {
    /// The figures, one per line.
    fn report(&self, kind: &str, seed: u64, reference: Duration) -> String {
        format!(
            "kill-and-resume soak, {kind} (seed {seed}, uninterrupted run {:.1} s):\n\
             \x20 kills delivered {} ({} aimed at a checkpoint write), landed while the process was alive {} \
             (by epochs finished then: {:?}), cut a checkpoint write short {}\n\
             \x20 restarts from scratch (no checkpoint yet) {}, new runs refused over a checkpoint {}\n\
             \x20 resumes {}, resumes that ran to the end {} (a failed resume fails the test)\n\
             \x20 runs finished {}, bit-identical to the reference {}",
            reference.as_secs_f64(),
            self.delivered,
            self.aimed_at_write,
            self.landed,
            self.landed_after_epochs,
            self.mid_checkpoint_write,
            self.restarts,
            self.refusals,
            self.resumes,
            self.resumes_finished,
            self.runs,
            self.identical
        )
    }
}

/// Starts `kdnas` with `args`, its output captured.
fn spawn(bin: &Path, args: &[OsString]) -> Child {
    Command::new(bin).args(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("start kdnas")
}

/// When a kill comes, counted from the start of the process.
enum Moment {
    /// This long after the start.
    After(Duration),
    /// `jitter` into the first checkpoint write under way this long after the start.
    InCheckpointWrite { after: Duration, jitter: Duration },
}

impl Moment {
    /// Half of the moments fall anywhere within `span`; the other half come during a checkpoint write
    /// (checkpoints are written in a few milliseconds, which a moment anywhere would seldom hit).
    fn random(rng: &mut StdRng, span: Duration) -> Self {
        let after = span.mul_f64(rng.random_range(0.0..1.0));
        if rng.random_bool(0.5) {
            Moment::After(after)
        } else {
            Moment::InCheckpointWrite { after, jitter: Duration::from_micros(rng.random_range(0..2000)) }
        }
    }
}

/// What a run directory shows of checkpoint writes: the temporary directory a write fills (told apart
/// from another by inode and modification time) and the previous checkpoint set aside during the swap.
/// Only diagnostics and the timing of aimed kills read it; the checks do not depend on these names.
struct WriteTrace {
    tmp: Option<(u64, SystemTime)>,
    old: bool,
}

impl WriteTrace {
    /// The trace in `out` now.
    fn of(out: &Path) -> Self {
        let meta = std::fs::metadata(out.join("checkpoint.tmp")).ok();
        let tmp = meta.and_then(|m| Some((m.ino(), m.modified().ok()?)));
        WriteTrace { tmp, old: out.join("checkpoint.old").exists() }
    }

    /// Whether a write began after `before` was taken (a stale temporary directory left by an
    /// earlier kill does not count).
    fn write_began_since(&self, before: &WriteTrace) -> bool {
        self.tmp.is_some() && self.tmp != before.tmp
    }

    /// Whether a write was cut short after `before` was taken.
    fn cut_since(&self, before: &WriteTrace) -> bool {
        self.write_began_since(before) || (self.old && !before.old)
    }
}

/// Kills `child` (writing into `out`) with SIGKILL at `moment`; returns its output and whether the kill
/// found it running (`false`: it had exited by itself before the moment came).
fn kill_at(mut child: Child, moment: &Moment, out: &Path, before: &WriteTrace) -> (Output, bool) {
    let started = Instant::now();
    loop {
        if child.try_wait().expect("poll kdnas").is_some() {
            return (child.wait_with_output().expect("kdnas output"), false);
        }
        let elapsed = started.elapsed();
        let poll = match moment {
            Moment::After(after) if elapsed >= *after => break,
            Moment::InCheckpointWrite { after, jitter } if elapsed >= *after => {
                if WriteTrace::of(out).write_began_since(before) {
                    std::thread::sleep(*jitter);
                    break;
                }
                Duration::from_micros(100)
            }
            _ => Duration::from_millis(2),
        };
        std::thread::sleep(poll);
    }
    child.kill().expect("SIGKILL"); // also fine if it exited just now: it is not reaped yet
    let output = child.wait_with_output().expect("kdnas output");
    let landed = output.status.signal() == Some(libc::SIGKILL);
    (output, landed)
}

/// Takes one run of `kind` into `out` to its end while spending kills (moments within `reference`)
/// from `kills_left`. A launch the command line refuses spends no kill: it moves to the next launch.
fn run_through_kills(
    bin: &Path,
    kind: &CliRun,
    out: &Path,
    reference: Duration,
    rng: &mut StdRng,
    kills_left: &mut usize,
    figures: &mut Figures,
) {
    let (mut resume, mut first) = (false, true);
    loop {
        let args = if resume { kind.resume_args(out) } else { kind.start_args(out) };
        let before = WriteTrace::of(out);
        let child = spawn(bin, &args);
        let moment = (*kills_left > 0).then(|| Moment::random(rng, reference));
        let (output, landed) = match &moment {
            Some(moment) => kill_at(child, moment, out, &before),
            None => (child.wait_with_output().expect("kdnas output"), false),
        };
        let stderr = String::from_utf8_lossy(&output.stderr);
        if !resume && !landed && !output.status.success() && stderr.contains(kind.refusal) {
            let told = format!("kdnas {} --resume {}", kind.command, out.display());
            assert!(stderr.contains(&told), "the refusal should say how to resume (`{told}`): {stderr}");
            figures.refusals += 1;
            resume = true;
            continue;
        }
        if let Some(moment) = moment {
            *kills_left -= 1;
            figures.delivered += 1;
            figures.aimed_at_write += usize::from(matches!(moment, Moment::InCheckpointWrite { .. }));
        }
        if resume {
            figures.resumes += 1;
        } else if !first {
            figures.restarts += 1;
        }
        first = false;
        if landed {
            figures.landed += 1;
            *figures.landed_after_epochs.entry(kind.finished_epochs(out)).or_default() += 1;
            figures.mid_checkpoint_write += usize::from(WriteTrace::of(out).cut_since(&before));
            resume = false; // after a crash, rerun the original command
            continue;
        }
        assert!(output.status.success(), "{args:?} failed: {stderr}");
        figures.resumes_finished += usize::from(resume);
        return;
    }
}

/// Runs `kind` once uninterrupted as the reference, then soaks it with kills until
/// `KDNAS_SOAK_KILLS` kills are delivered (a fresh run directory whenever a run finishes), checks every
/// finished run against the reference, prints the figures and removes `dir`.
fn soak(name: &str, dir: &Path, kind: &CliRun) {
    let bin = kdnas_binary();
    let kills: usize = std::env::var("KDNAS_SOAK_KILLS").map_or(3, |v| v.parse().expect("KDNAS_SOAK_KILLS: a count"));
    let seed = std::env::var("KDNAS_SOAK_SEED").map_or_else(
        |_| std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64,
        |v| v.parse().expect("KDNAS_SOAK_SEED: a number"),
    );
    println!("{name} soak: seed {seed} (replay with KDNAS_SOAK_SEED={seed}), {kills} kills");
    let mut rng = StdRng::seed_from_u64(seed);

    let reference_dir = dir.join("reference");
    let started = Instant::now();
    run_kdnas_ok(&bin, &kind.start_args(&reference_dir));
    let reference = started.elapsed();

    let mut figures = Figures::default();
    let mut kills_left = kills;
    while figures.runs == 0 || kills_left > 0 {
        let out = dir.join(format!("run-{}", figures.runs));
        run_through_kills(&bin, kind, &out, reference, &mut rng, &mut kills_left, &mut figures);
        figures.runs += 1;
        kind.assert_same_result(&reference_dir, &out);
        figures.identical += 1;
    }
    println!("{}", figures.report(name, seed, reference));
    assert_eq!((figures.delivered, figures.identical), (kills, figures.runs));
    std::fs::remove_dir_all(dir).unwrap(); // kept for inspection when a check fails
}

#[test]
fn killed_and_resumed_search_ends_bit_identical() {
    let _guard = common::serial();
    let dir = temp_dir("kill-resume-search");
    let config = write_run_config(&dir, "search.toml", SEARCH);
    soak("search", &dir, &CliRun::search(&config));
}

#[test]
fn killed_and_resumed_training_ends_bit_identical() {
    let _guard = common::serial();
    let dir = temp_dir("kill-resume-train");
    let config = write_run_config(&dir, "train.toml", TRAIN);
    let genotype = write_quickstart_genotype(&dir);
    soak("training", &dir, &CliRun::training(&genotype, &config));
}
