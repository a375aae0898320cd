//! The `kdnas` command line: a thin front end over the library.

use anyhow::{Context, Result, bail};
use burn::backend::Autodiff;
use burn::tensor::backend::AutodiffBackend;
use clap::{Args, Parser, Subcommand, ValueEnum};
use kdnas::app::adarec_cmd::run_adarec_search;
use kdnas::app::adarec_finetune_cmd::adarec_finetune_command;
use kdnas::app::bench::{
    AdarecBenchArgs, AdarecStep, BenchArgs, DfaBenchArgs, DfaStep, bench_adarec, bench_darts, bench_dfa,
};
use kdnas::app::dfa_cmd::run_dfa_search;
use kdnas::app::distill_cmd::{DistillArgs, distill_command};
use kdnas::app::eval_cmd::{EvalArgs, eval_command, locate};
use kdnas::app::figures::tradeoff::write_tradeoff_figures;
use kdnas::app::inspect_cmd::inspect_report;
use kdnas::app::outputs::write_search_outputs;
use kdnas::app::quickstart::quickstart;
use kdnas::app::quickstart_adarec::quickstart_adarec;
use kdnas::app::quickstart_dfa::quickstart_dfa;
use kdnas::app::ranking_eval_cmd::{evaluate_runs, ranking_eval, ranking_table};
use kdnas::app::search_cmd::{RUN_CONFIG, SearchControl, run_prepared};
use kdnas::app::sequence_teacher_cmd::sequence_teacher_command;
use kdnas::app::teacher_cmd::{TeacherArgs, teacher_command, teacher_config_file};
use kdnas::app::train_cmd::{TrainArgs, TrainStart, train_command};
use kdnas::config_file::locate_in_config;
use kdnas::export::DeriveRule;
use kdnas::models::NetworkConfig;
use kdnas::run::{RunStart, run_end_text};
use kdnas::search::SearchMode;
use kdnas::search::checkpoint::load_search_state;
use kdnas::search::{PreparedRun, SpaceRunConfig, prepare_from_file, reopen_run};
use kdnas::space::load_space;
use kdnas::supernet::OpEvaluation;
use kdnas::tasks::adarec::config::AdarecSearchConfig;
use kdnas::tasks::adarec::run_model::is_ranking_run;
use kdnas::tasks::dfa::config::DfaSearchConfig;
use kdnas::tasks::image::RunConfig;
use kdnas::tasks::{TaskKind, TaskSection, task_kind_of};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

/// Large tensor buffers are recycled instead of being mapped, faulted in and zeroed afresh each time;
/// `KDNAS_BLOCK_CACHE_MIB` sets the budget (0 turns the cache off).
#[global_allocator]
static ALLOCATOR: kdnas::memory::LargeBlockCache = kdnas::memory::LargeBlockCache::from_environment();

/// Rejects a `KDNAS_BLOCK_CACHE_MIB` that is not a whole number (the allocator would ignore it).
fn check_block_cache_budget() -> Result<()> {
    let var = kdnas::memory::BUDGET_VAR;
    match std::env::var(var) {
        Ok(text) if kdnas::memory::parse_mib(text.as_bytes()).is_none() => {
            bail!("{var}=`{text}` is not a whole number of MiB (0 turns the block cache off)")
        }
        _ => Ok(()),
    }
}

#[derive(Parser)]
#[command(
    name = "kdnas",
    version,
    about = "Differentiable architecture search and distillation (DARTS supernets on petgraph, burn)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Search an architecture: bi-level optimisation of a supernet, then derive the genotype.
    Search {
        #[command(flatten)]
        run: RunArgs,
    },
    /// Derive the genotype, DOT and plots of a run directory from its last checkpoint.
    Derive {
        /// Run directory.
        run_dir: PathBuf,
        /// Derivation rule (default: the run config's).
        #[arg(long, value_enum)]
        rule: Option<RuleArg>,
    },
    /// Train the derived network of a genotype from scratch and report its test accuracy.
    Train {
        /// genotype.json from a search.
        #[arg(long, required_unless_present = "resume")]
        genotype: Option<PathBuf>,
        /// Continue the training run in this directory from its last checkpoint.
        #[arg(long, conflicts_with_all = ["genotype", "config", "out", "epochs", "seed"])]
        resume: Option<PathBuf>,
        /// Stop after this many finished epochs (resume later with --resume).
        #[arg(long, value_parser = at_least_one)]
        stop_after: Option<usize>,
        /// Run config with data/network/train sections (default: config.toml beside the genotype).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Output directory (default: a `train` folder beside the genotype).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Override train.epochs.
        #[arg(long, value_parser = at_least_one)]
        epochs: Option<usize>,
        /// Override the seed.
        #[arg(long)]
        seed: Option<u64>,
        /// cpu, or cuda[:N].
        #[arg(long, default_value = "cpu")]
        device: String,
    },
    /// Teacher networks (CIFAR ResNet / WRN) for distillation.
    Teacher {
        #[command(subcommand)]
        which: TeacherCommand,
    },
    /// Score trained weights (a teacher run directory or a weights file in one): top-1, top-5, per-class
    /// accuracy and a confusion-matrix heatmap.
    Eval {
        /// Teacher run directory, or its model.mpk, best/model.mpk or snapshots/epoch_NNNN.mpk.
        checkpoint: PathBuf,
        /// TOML file with a [data] section to evaluate on (default: the run's test set).
        #[arg(long)]
        data: Option<PathBuf>,
        /// Output directory (default: eval/ inside the run directory).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Images per forward pass.
        #[arg(long, default_value_t = 256, value_parser = at_least_one)]
        batch_size: usize,
        /// cpu, or cuda[:N].
        #[arg(long, default_value = "cpu")]
        device: String,
    },
    /// Summarise a search-space file and write its DOT drawing.
    Inspect {
        /// Search-space TOML.
        space: PathBuf,
        /// Node channels for parameter counts.
        #[arg(long, default_value_t = 16)]
        channels: usize,
        /// Cells of the search network.
        #[arg(long, default_value_t = 8)]
        layers: usize,
        /// Input image channels.
        #[arg(long, default_value_t = 3)]
        in_channels: usize,
        /// Input image side, for the memory estimate.
        #[arg(long, default_value_t = 32)]
        image: usize,
        /// Classes.
        #[arg(long, default_value_t = 10)]
        classes: usize,
        /// Sequence length of the multiply-add counts of a `causal1d` space.
        #[arg(long, default_value_t = 50)]
        time: usize,
        /// Where to write the DOT file (default: <space name>.dot in the current directory).
        #[arg(long)]
        dot: Option<PathBuf>,
        /// Also measure each op's forward time on this CPU (`causal1d` spaces).
        #[arg(long)]
        latency: bool,
    },
    /// Small complete run on the bundled Fashion-MNIST subset: search, derive, train (a few minutes on 2 cores).
    Quickstart {
        /// image: DARTS search + derived network; dfa: teacher, DFA search, distillation (DFA and Last);
        /// adarec: NextItNet teacher, student search, fine-tuning with and without KD, ranking table.
        #[arg(long, value_enum, default_value = "image")]
        task: QuickstartTask,
        /// Output directory (default results/quickstart, results/quickstart-dfa or results/quickstart-adarec;
        /// its step folders are replaced).
        #[arg(long)]
        out: Option<PathBuf>,
        /// cpu, or cuda[:N].
        #[arg(long, default_value = "cpu")]
        device: String,
    },
    /// DFA: search a frozen teacher's per-stage feature aggregation (stage 1; see examples/dfa_search.toml).
    Dfa {
        #[command(subcommand)]
        which: DfaCommand,
    },
    /// AdaRec: search a causal 1-D student distilled from a NextItNet teacher (see examples/adarec/).
    Adarec {
        #[command(subcommand)]
        which: AdarecCommand,
    },
    /// Distil a fresh student from a frozen teacher with weighted objectives (DFA stage 2 and the baselines;
    /// see examples/distill_*.toml).
    Distill {
        #[command(flatten)]
        run: RunArgs,
    },
    /// Benchmarks.
    Bench {
        #[command(subcommand)]
        which: BenchCommand,
    },
}

/// The arguments of every command that starts or resumes a run from a config file.
#[derive(Args)]
struct RunArgs {
    /// Config file (TOML); not needed with --resume.
    #[arg(long, required_unless_present = "resume")]
    config: Option<PathBuf>,
    /// Continue the run in this directory from its last checkpoint (its config, seed and directory are
    /// the run's own; the checkpoint refuses a run whose config or inputs were changed).
    #[arg(long, conflicts_with_all = ["config", "out", "seed"])]
    resume: Option<PathBuf>,
    /// Run directory (default: runs/<config name>).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Override the config's seed.
    #[arg(long)]
    seed: Option<u64>,
    /// Stop after this many finished epochs (checkpointed); continue later with --resume.
    #[arg(long, value_parser = at_least_one)]
    stop_after: Option<usize>,
    /// cpu, or cuda[:N] (needs a binary built with --features cuda).
    #[arg(long, default_value = "cpu")]
    device: String,
}

impl RunArgs {
    /// The config of a new run (`None` when resuming) and the run directory: --resume DIR, --out DIR or
    /// runs/<config name>.
    fn start(&self) -> Result<(Option<PathBuf>, PathBuf)> {
        match (&self.resume, &self.config) {
            (Some(dir), _) => Ok((None, dir.clone())),
            (None, Some(config)) => {
                let stem = config.file_stem().map_or_else(|| "run".into(), |s| s.to_string_lossy().into_owned());
                Ok((Some(config.clone()), self.out.clone().unwrap_or_else(|| PathBuf::from("runs").join(stem))))
            }
            (None, None) => bail!("give --config FILE or --resume RUN_DIR"),
        }
    }

    /// The arguments of a training command (teacher, fine-tuning).
    fn training_args(&self) -> Result<TeacherArgs> {
        let (start, out) = self.run_start()?;
        Ok(TeacherArgs { start, out, progress: std::io::stderr().is_terminal(), stop_after: self.stop_after })
    }

    /// Where the run starts (a new run of `--config` with `--seed`, or `--resume`) and its folder.
    fn run_start(&self) -> Result<(RunStart, PathBuf)> {
        let (config, out) = self.start()?;
        Ok((config.map_or(RunStart::Resume, |config| RunStart::New { config, seed: self.seed }), out))
    }
}

#[derive(Subcommand)]
enum TeacherCommand {
    /// Train a teacher from a config with [data], [model] and [train] sections (see examples/teacher_resnet20.toml).
    Train {
        #[command(flatten)]
        run: RunArgs,
    },
}

#[derive(Subcommand)]
enum DfaCommand {
    /// Search the aggregation weights with the bridge loss (a `[task] kind = "dfa"` config).
    Search {
        #[command(flatten)]
        run: RunArgs,
    },
}

#[derive(Subcommand)]
enum AdarecCommand {
    /// Search the student's shared op choices with the cost-sensitive distillation loss (a `[task] kind =
    /// "adarec"` config with `space`, `[teacher]` and `[student]`).
    Search {
        #[command(flatten)]
        run: RunArgs,
    },
    /// Train the derived student of a search from scratch: cross-entropy, or with continued distillation
    /// (`[kd]`); see examples/adarec/finetune.toml.
    Finetune {
        #[command(flatten)]
        run: RunArgs,
    },
    /// Rank the test targets with every run given (teachers and fine-tuned students; their best epochs)
    /// and print one markdown table: parameters, MRR, HR@k, NDCG@k, ms per 1,000 users, speed-up against
    /// the first teacher.
    Table {
        /// Run directories (`kdnas teacher train` on sequences, `kdnas adarec finetune`).
        #[arg(required = true)]
        runs: Vec<PathBuf>,
        /// TOML file with a [data] section to rank on instead of each run's own data.
        #[arg(long)]
        data: Option<PathBuf>,
        /// Also write the table to this file.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Also draw test NDCG@10 against parameters and against inference time to STEM_params and
        /// STEM_latency (.png and .svg): teachers, distilled students, cross-entropy-only students.
        #[arg(long, value_name = "STEM")]
        plot: Option<PathBuf>,
        /// cpu, or cuda[:N].
        #[arg(long, default_value = "cpu")]
        device: String,
    },
}

#[derive(Subcommand)]
enum BenchCommand {
    /// One DARTS search step at DARTS's shapes (compare with bench/torch_reference/darts.py).
    Darts {
        /// first, second or both.
        #[arg(long, value_enum, default_value = "both")]
        order: OrderArg,
        #[arg(long, default_value_t = 64)]
        batch: usize,
        #[arg(long, default_value_t = 16)]
        channels: usize,
        #[arg(long, default_value_t = 8)]
        layers: usize,
        #[arg(long, default_value_t = 32)]
        image: usize,
        #[arg(long, default_value_t = 1)]
        warmup: usize,
        #[arg(long, default_value_t = 5)]
        iters: usize,
        /// cpu, or cuda[:N].
        #[arg(long, default_value = "cpu")]
        device: String,
    },
    /// DFA's search step (first / second order) and distillation step, ResNet-56 -> ResNet-20
    /// (compare with bench/torch_reference/dfa.py).
    Dfa {
        /// first, second, distill or all.
        #[arg(long, value_enum, default_value = "all")]
        step: DfaStepArg,
        #[arg(long, default_value_t = 64)]
        batch: usize,
        #[arg(long, default_value_t = 32)]
        image: usize,
        #[arg(long, default_value_t = 1)]
        warmup: usize,
        #[arg(long, default_value_t = 3)]
        iters: usize,
        /// cpu, or cuda[:N].
        #[arg(long, default_value = "cpu")]
        device: String,
    },
    /// AdaRec's single-level search step (NextItNet 16x256 teacher, 4x64 student) and the inference of
    /// the teacher and a derived student (compare with bench/torch_reference/adarec.py).
    Adarec {
        /// search, infer or all.
        #[arg(long, default_value = "all", value_parser = ["search", "infer", "all"])]
        step: String,
        #[arg(long, default_value_t = 64)]
        batch: usize,
        #[arg(long, default_value_t = 50)]
        max_len: usize,
        #[arg(long, default_value_t = 10_000)]
        items: usize,
        #[arg(long, default_value_t = 1)]
        warmup: usize,
        #[arg(long, default_value_t = 3)]
        iters: usize,
        /// Which ops of an edge the search step computes: sampled, or all (AdaRec's code and the AdaRec
        /// example configs; the PyTorch twin's --all-ops).
        #[arg(long, default_value = "sampled", value_parser = ["sampled", "all"])]
        edges: String,
        /// cpu, or cuda[:N].
        #[arg(long, default_value = "cpu")]
        device: String,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum DfaStepArg {
    First,
    Second,
    Distill,
    All,
}

#[derive(Clone, Copy, ValueEnum)]
enum QuickstartTask {
    Image,
    Dfa,
    Adarec,
}

#[derive(Clone, Copy, ValueEnum)]
enum RuleArg {
    Darts,
    Argmax,
}

#[derive(Clone, Copy, ValueEnum)]
enum OrderArg {
    First,
    Second,
    Both,
}

/// Which backend and device a command runs on.
enum DeviceChoice {
    Cpu,
    Cuda(usize),
}

/// Parses a count that must be at least 1 (`--stop-after 0` would otherwise still run an epoch).
fn at_least_one(text: &str) -> std::result::Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}

/// The genotype line printed after a search or derivation.
fn genotype_line(genotype: &kdnas::export::Genotype) -> String {
    genotype.summary().replace('\n', "\n          ")
}

fn parse_device(text: &str) -> Result<DeviceChoice> {
    match text {
        "cpu" => Ok(DeviceChoice::Cpu),
        "cuda" => Ok(DeviceChoice::Cuda(0)),
        other => match other.strip_prefix("cuda:").map(str::parse::<usize>) {
            Some(Ok(i)) => Ok(DeviceChoice::Cuda(i)),
            _ => bail!("--device `{other}`: expected `cpu`, `cuda` or `cuda:N`"),
        },
    }
}

/// A command that runs on any autodiff backend.
trait OnBackend {
    type Output;
    fn run<AB: AutodiffBackend>(self, device: &AB::Device) -> Result<Self::Output>;
}

fn with_device<C: OnBackend>(device: &str, command: C) -> Result<C::Output> {
    match parse_device(device)? {
        DeviceChoice::Cpu => command.run::<Autodiff<burn::backend::Flex>>(&Default::default()),
        DeviceChoice::Cuda(index) => cuda(index, command),
    }
}

#[cfg(feature = "cuda")]
fn cuda<C: OnBackend>(index: usize, command: C) -> Result<C::Output> {
    command.run::<Autodiff<burn::backend::Cuda>>(&burn::backend::cuda::CudaDevice::new(index))
}

#[cfg(not(feature = "cuda"))]
fn cuda<C: OnBackend>(index: usize, _command: C) -> Result<C::Output> {
    bail!(
        "--device cuda:{index}: this kdnas binary was built without CUDA; rebuild with `cargo build --release --features cuda`"
    )
}

struct SearchJob {
    run: RunArgs,
    /// The task the command is for (`kdnas dfa search`); `None`: whatever the config's `[task]` says.
    expected: Option<TaskKind>,
}

impl SearchJob {
    fn prepare<C: SpaceRunConfig>(&self, config: Option<&Path>, dir: &Path) -> Result<PreparedRun<C>> {
        Ok(match config {
            Some(config) => prepare_from_file(config, dir, self.run.seed)?,
            None => reopen_run(dir)?,
        })
    }
}

impl OnBackend for SearchJob {
    type Output = ();
    fn run<AB: AutodiffBackend>(self, device: &AB::Device) -> Result<()> {
        let progress = std::io::stderr().is_terminal();
        let (config, dir) = self.run.start()?;
        let resume = config.is_none();
        if resume && !dir.is_dir() {
            bail!("{}: no such run directory", dir.display());
        }
        let config_file = config.clone().unwrap_or_else(|| dir.join(RUN_CONFIG));
        let kind = task_kind_of(&config_file)?;
        if let Some(expected) = self.expected {
            TaskSection { kind }.expect(expected).map_err(|e| locate_in_config(&config_file, e))?;
        }
        let control = SearchControl { resume, progress, stop_after: self.run.stop_after, device };
        let (dir, genotype) = match kind {
            TaskKind::Image => {
                let run = self.prepare::<RunConfig>(config.as_deref(), &dir)?;
                (run.dir.clone(), run_prepared::<AB>(&run, &control)?.genotype)
            }
            TaskKind::Dfa => {
                let run = self.prepare::<DfaSearchConfig>(config.as_deref(), &dir)?;
                (run.dir.clone(), run_dfa_search::<AB>(&run, &control)?.genotype)
            }
            TaskKind::Adarec => {
                let run = self.prepare::<AdarecSearchConfig>(config.as_deref(), &dir)?;
                (run.dir.clone(), run_adarec_search::<AB>(&run, &control)?.genotype)
            }
        };
        println!("run directory: {}", dir.display());
        println!("genotype: {}", genotype_line(&genotype));
        Ok(())
    }
}

struct TrainJob(TrainArgs);

impl OnBackend for TrainJob {
    type Output = ();
    fn run<AB: AutodiffBackend>(self, device: &AB::Device) -> Result<()> {
        let summary = train_command::<AB>(&self.0, device)?;
        print!("{}", run_end_text("derived network:", &summary, &self.0.out, "train"));
        Ok(())
    }
}

struct TeacherJob(TeacherArgs);

impl OnBackend for TeacherJob {
    type Output = ();
    fn run<AB: AutodiffBackend>(self, device: &AB::Device) -> Result<()> {
        if task_kind_of(&teacher_config_file(&self.0)?)? == TaskKind::Adarec {
            let summary = sequence_teacher_command::<AB>(&self.0, device)?;
            print!("{}", run_end_text("teacher", &summary, &self.0.out, "teacher train"));
            return Ok(());
        }
        let summary = teacher_command::<AB>(&self.0, device)?;
        print!("{}", run_end_text("teacher", &summary, &self.0.out, "teacher train"));
        Ok(())
    }
}

struct FinetuneJob(TeacherArgs);

impl OnBackend for FinetuneJob {
    type Output = ();
    fn run<AB: AutodiffBackend>(self, device: &AB::Device) -> Result<()> {
        let summary = adarec_finetune_command::<AB>(&self.0, device)?;
        print!("{}", run_end_text("student", &summary, &self.0.out, "adarec finetune"));
        Ok(())
    }
}

struct TableJob {
    runs: Vec<PathBuf>,
    data: Option<PathBuf>,
    out: Option<PathBuf>,
    plot: Option<PathBuf>,
}

impl OnBackend for TableJob {
    type Output = ();
    fn run<AB: AutodiffBackend>(self, device: &AB::Device) -> Result<()> {
        let reports = evaluate_runs::<AB::InnerBackend>(&self.runs, self.data.as_deref(), device)?;
        let table = ranking_table(&reports);
        print!("{table}");
        if let Some(out) = &self.out {
            kdnas::files::write_file_atomically(out, table.as_bytes())?;
        }
        if let Some(stem) = &self.plot {
            for file in write_tradeoff_figures(&reports, stem)? {
                println!("wrote {}", file.display());
            }
        }
        Ok(())
    }
}

struct DistillJob(DistillArgs);

impl OnBackend for DistillJob {
    type Output = ();
    fn run<AB: AutodiffBackend>(self, device: &AB::Device) -> Result<()> {
        let summary = distill_command::<AB>(&self.0, device)?;
        print!("{}", run_end_text("student", &summary, &self.0.out, "distill"));
        Ok(())
    }
}

struct EvalJob(EvalArgs);

impl OnBackend for EvalJob {
    type Output = ();
    fn run<AB: AutodiffBackend>(self, device: &AB::Device) -> Result<()> {
        let (run_dir, _) = locate(&self.0.checkpoint)?;
        if is_ranking_run(&run_dir) {
            let args = &self.0;
            let report =
                ranking_eval::<AB::InnerBackend>(&args.checkpoint, args.data.as_deref(), args.out.as_deref(), device)?;
            print!("{}", report.text());
            println!("written to {}", args.out.clone().unwrap_or_else(|| run_dir.join("eval")).display());
            return Ok(());
        }
        let report = eval_command::<AB::InnerBackend>(&self.0, device)?;
        print!("{}", report.table());
        println!("written to {}", report.out.display());
        Ok(())
    }
}

struct QuickstartJob(PathBuf);

impl OnBackend for QuickstartJob {
    type Output = ();
    fn run<AB: AutodiffBackend>(self, device: &AB::Device) -> Result<()> {
        let summary = quickstart::<AB>(&self.0, true, device)?;
        println!("genotype: {}", summary.genotype.as_deref().unwrap_or("-"));
        println!(
            "derived network: {} parameters, test accuracy {:.2}% ({} epochs)",
            summary.params,
            100.0 * summary.test_acc,
            summary.epochs
        );
        println!("results: {}", self.0.display());
        Ok(())
    }
}

struct AdarecQuickstartJob(PathBuf);

impl OnBackend for AdarecQuickstartJob {
    type Output = ();
    fn run<AB: AutodiffBackend>(self, device: &AB::Device) -> Result<()> {
        let q = quickstart_adarec::<AB>(&self.0, true, device)?;
        println!("searched student: {}", genotype_line(&q.genotype));
        print!("{}", q.table);
        println!("results: {}", self.0.display());
        Ok(())
    }
}

struct DfaQuickstartJob(PathBuf);

impl OnBackend for DfaQuickstartJob {
    type Output = ();
    fn run<AB: AutodiffBackend>(self, device: &AB::Device) -> Result<()> {
        let q = quickstart_dfa::<AB>(&self.0, true, device)?;
        let acc = |s: &kdnas::tasks::image::TeacherSummary| format!("{:.2}%", 100.0 * s.test_acc);
        println!("teacher {} ({} parameters): test accuracy {}", q.teacher.model, q.teacher.params, acc(&q.teacher));
        println!("searched aggregation weights:\n  {}", q.genotype.summary().replace('\n', "\n  "));
        println!("student {} distilled with DFA weights: test accuracy {}", q.dfa.model, acc(&q.dfa));
        println!("student {} distilled with Last weights: test accuracy {}", q.last.model, acc(&q.last));
        println!("results: {}", self.0.display());
        Ok(())
    }
}

/// One benchmark of `kdnas bench`; each prints its report lines.
enum BenchJob {
    Darts(BenchArgs),
    Dfa(DfaBenchArgs),
    Adarec(AdarecBenchArgs),
}

impl OnBackend for BenchJob {
    type Output = ();
    fn run<AB: AutodiffBackend>(self, device: &AB::Device) -> Result<()> {
        let lines = match &self {
            BenchJob::Darts(args) => bench_darts::<AB>(args, device)?,
            BenchJob::Dfa(args) => bench_dfa::<AB>(args, device)?,
            BenchJob::Adarec(args) => bench_adarec::<AB>(args, device)?,
        };
        for line in lines {
            println!("{line}");
        }
        Ok(())
    }
}

/// Restores the default SIGPIPE action, so that `kdnas inspect ... | head -1` ends quietly when the
/// reader closes the pipe (Rust ignores SIGPIPE, which turns every later print into a panic).
fn exit_quietly_on_closed_pipe() {
    #[cfg(unix)]
    // SAFETY: setting a signal disposition to its default before any thread is started.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn main() {
    exit_quietly_on_closed_pipe();
    if let Err(err) = check_block_cache_budget().and_then(|()| run(Cli::parse())) {
        eprintln!("error: {err:#}");
        std::process::exit(1);
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Search { run } => with_device(&run.device.clone(), SearchJob { run, expected: None }),
        Command::Dfa { which: DfaCommand::Search { run } } => {
            with_device(&run.device.clone(), SearchJob { run, expected: Some(TaskKind::Dfa) })
        }
        Command::Adarec { which: AdarecCommand::Search { run } } => {
            with_device(&run.device.clone(), SearchJob { run, expected: Some(TaskKind::Adarec) })
        }
        Command::Distill { run } => {
            let (start, out) = run.run_start()?;
            let args =
                DistillArgs { start, out, progress: std::io::stderr().is_terminal(), stop_after: run.stop_after };
            with_device(&run.device, DistillJob(args))
        }
        Command::Derive { run_dir, rule } => {
            let run = reopen_run::<RunConfig>(&run_dir)?;
            let rule = match rule {
                Some(RuleArg::Darts) => DeriveRule::Darts,
                Some(RuleArg::Argmax) => DeriveRule::Argmax,
                None => run.config.derive,
            };
            let state = load_search_state(&run_dir)?;
            let genotype = write_search_outputs(&run_dir, &run.space, &state, rule, run.config.search.derive_from)?;
            println!("genotype: {}", genotype_line(&genotype));
            Ok(())
        }
        Command::Train { genotype, resume, stop_after, config, out, epochs, seed, device } => {
            let progress = std::io::stderr().is_terminal();
            let (start, out) = match (resume, genotype) {
                (Some(dir), _) => (TrainStart::Resume, dir),
                (None, Some(genotype)) => {
                    let out = out.unwrap_or_else(|| {
                        genotype.parent().map_or_else(|| PathBuf::from("train"), |p| p.join("train"))
                    });
                    (TrainStart::New { genotype, config, epochs, seed }, out)
                }
                (None, None) => bail!("train: give --genotype FILE or --resume DIR"),
            };
            with_device(&device, TrainJob(TrainArgs { start, out, progress, stop_after }))
        }
        Command::Teacher { which: TeacherCommand::Train { run } } => {
            with_device(&run.device, TeacherJob(run.training_args()?))
        }
        Command::Adarec { which: AdarecCommand::Table { runs, data, out, plot, device } } => {
            with_device(&device, TableJob { runs, data, out, plot })
        }
        Command::Adarec { which: AdarecCommand::Finetune { run } } => {
            with_device(&run.device, FinetuneJob(run.training_args()?))
        }
        Command::Eval { checkpoint, data, out, batch_size, device } => {
            with_device(&device, EvalJob(EvalArgs { checkpoint, data, out, batch_size }))
        }
        Command::Inspect { space, channels, layers, in_channels, image, classes, time, dot, latency } => {
            let arch = load_space(&space)?;
            let network = NetworkConfig { channels, layers, stem_multiplier: 3, reduction_layers: None };
            print!("{}", inspect_report(&arch, &network, in_channels, image, classes, time, latency)?);
            let dot = dot.unwrap_or_else(|| PathBuf::from(kdnas::files::safe_file_name(&format!("{}.dot", arch.name))));
            std::fs::write(&dot, kdnas::space::dot::space_to_dot(&arch))
                .with_context(|| format!("writing {}", dot.display()))?;
            println!("DOT written to {}", dot.display());
            Ok(())
        }
        Command::Quickstart { task: QuickstartTask::Image, out, device } => {
            with_device(&device, QuickstartJob(out.unwrap_or_else(|| PathBuf::from("results/quickstart"))))
        }
        Command::Quickstart { task: QuickstartTask::Adarec, out, device } => {
            let out = out.unwrap_or_else(|| PathBuf::from("results/quickstart-adarec"));
            with_device(&device, AdarecQuickstartJob(out))
        }
        Command::Quickstart { task: QuickstartTask::Dfa, out, device } => {
            with_device(&device, DfaQuickstartJob(out.unwrap_or_else(|| PathBuf::from("results/quickstart-dfa"))))
        }
        Command::Bench {
            which: BenchCommand::Darts { order, batch, channels, layers, image, warmup, iters, device },
        } => {
            let modes = match order {
                OrderArg::First => vec![SearchMode::FirstOrder],
                OrderArg::Second => vec![SearchMode::SecondOrder],
                OrderArg::Both => vec![SearchMode::FirstOrder, SearchMode::SecondOrder],
            };
            let args = BenchArgs { batch, channels, layers, image, warmup, iters, modes, device_label: device.clone() };
            with_device(&device, BenchJob::Darts(args))
        }
        Command::Bench { which: BenchCommand::Dfa { step, batch, image, warmup, iters, device } } => {
            let steps = match step {
                DfaStepArg::First => vec![DfaStep::Search(SearchMode::FirstOrder)],
                DfaStepArg::Second => vec![DfaStep::Search(SearchMode::SecondOrder)],
                DfaStepArg::Distill => vec![DfaStep::Distill],
                DfaStepArg::All => vec![
                    DfaStep::Search(SearchMode::FirstOrder),
                    DfaStep::Search(SearchMode::SecondOrder),
                    DfaStep::Distill,
                ],
            };
            let args = DfaBenchArgs { batch, image, warmup, iters, steps, device_label: device.clone() };
            with_device(&device, BenchJob::Dfa(args))
        }
        Command::Bench {
            which: BenchCommand::Adarec { step, batch, max_len, items, warmup, iters, edges, device },
        } => {
            let paper = AdarecBenchArgs::paper(warmup, iters, AdarecStep::parse_list(&step)?, device.clone());
            let evaluate = if edges == "all" { OpEvaluation::All } else { OpEvaluation::Sampled };
            with_device(&device, BenchJob::Adarec(AdarecBenchArgs { batch, max_len, items, evaluate, ..paper }))
        }
    }
}
