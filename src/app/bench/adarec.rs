//! `kdnas bench adarec`: AdaRec's search step and its inference cost on random item sequences; compare
//! with bench/torch_reference/adarec.py.
//!
//! - `adarec-step`: one single-level search step of [`AdarecSearchTask`] through [`search_step`], as the
//!   search loop does it: the training batch with the teacher's forward pass (`batches_ms` is that part
//!   alone), hard Gumbel noise and weights, the loss (cross-entropy, embedding MSE, hidden EMD with the
//!   exact transport and the mass update, logit KL, cost), one backward, the global clip 5 and AdamW on
//!   the weights (5e-3, wd 5e-4) and on the architecture (2e-5, wd 1e-4), with
//!   [`AdarecLosses::default`] over search_spaces/adarec_nextitnet.toml.
//! - `adarec-infer`: the teacher and a derived student scoring the next item of every user (the last
//!   position's scores, `forward_last` on the inner backend in evaluation mode, 256 users per pass as
//!   the ranking evaluation does), in ms per 1,000 users, and the student's speed-up. The derived
//!   student is the FIXED genotype [`DERIVED_OPS`] (not a searched one: the time depends on the ops
//!   kept, so a fixed choice keeps runs and the PyTorch twin comparable).
//!
//! The teacher is untrained (no checkpoint is needed, and the time of a step does not depend on the
//! values). Sequences are the synthetic generator's, all long enough to fill `max_len`: every position
//! of a training window has a target.

use super::{Samples, check_counts, rayon_threads, step_settings, timed};
use crate::data::sequence::{EvalSplit, IndexBatch, eval_batch, synthetic_sequences};
use crate::error::{KdnasError, Result};
use crate::export::{DeriveRule, Genotype};
use crate::models::nextitnet::NextItNetConfig;
use crate::models::sequence_cell_network::{SequenceCellNetwork, SequenceNetworkConfig};
use crate::ops::OpMode;
use crate::optim::OptimizerKind;
use crate::search::bilevel::{StepSettings, search_step};
use crate::search::run::optimisers;
use crate::search::{SearchConfig, SearchMode, SearchTask, Split};
use crate::space::{ArchGraph, parse_space};
use crate::supernet::cost::CostTable;
use crate::supernet::{ArchParams, GumbelNoise, OpEvaluation, Relaxation, TemperatureSchedule};
use crate::tasks::adarec::data::SequenceData;
use crate::tasks::adarec::losses::AdarecLosses;
use crate::tasks::adarec::recommender::SequenceRecommender;
use crate::tasks::adarec::search_task::AdarecSearchTask;
use crate::tasks::adarec::student::AdarecStudent;
use crate::tasks::adarec::teacher::FrozenSequenceTeacher;
use crate::validate::at_least_one;
use burn::tensor::backend::{AutodiffBackend, Backend};
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::path::Path;
use std::sync::Arc;

/// AdaRec's student space, compiled in for benchmarks.
const ADAREC_SPACE: &str = include_str!("../../../search_spaces/adarec_nextitnet.toml");

/// Where [`ADAREC_SPACE`] comes from (for error messages).
const ADAREC_SPACE_PATH: &str = "search_spaces/adarec_nextitnet.toml";

/// The derived student of `adarec-infer`: the op kept on every edge of the cell (by choice label), a
/// mix of convolutions, a pool and a skip as AdaRec's derived cells have.
pub const DERIVED_OPS: [(&str, &str); 6] = [
    ("n0<-c_k-1", "dil_cnn_3"),
    ("n1<-c_k-1", "std_cnn_5"),
    ("n1<-n0", "skip_connect"),
    ("n2<-c_k-1", "cau_cnn_3"),
    ("n2<-n0", "max_pool"),
    ("n2<-n1", "std_cnn_3"),
];

/// Users scored per forward pass in `adarec-infer` (as the ranking evaluation).
const EVAL_USERS_PER_PASS: usize = 256;

/// One kind of measurement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdarecStep {
    /// The single-level search step.
    Search,
    /// Teacher and derived-student inference.
    Infer,
}

impl AdarecStep {
    /// The steps of a `--step` value: `search`, `infer` or `all`.
    ///
    /// # Errors
    /// [`KdnasError::Usage`] for any other value.
    pub fn parse_list(value: &str) -> Result<Vec<AdarecStep>> {
        match value {
            "search" => Ok(vec![AdarecStep::Search]),
            "infer" => Ok(vec![AdarecStep::Infer]),
            "all" => Ok(vec![AdarecStep::Search, AdarecStep::Infer]),
            other => Err(KdnasError::Usage(format!("bench adarec --step: `{other}` is not search, infer or all"))),
        }
    }
}

/// Benchmark shapes and repetitions.
#[derive(Debug, Clone)]
pub struct AdarecBenchArgs {
    /// Training windows per search step (AdaRec 64).
    pub batch: usize,
    /// Most recent items a model sees (50).
    pub max_len: usize,
    /// Item vocabulary (10,000).
    pub items: usize,
    /// Users scored by `adarec-infer` (1,000).
    pub users: usize,
    /// The teacher's sizes ([`NextItNetConfig::default`]: 256-d, 16 blocks, dilations 1, 2, 4, 8).
    pub teacher: NextItNetConfig,
    /// The student's skeleton ([`SequenceNetworkConfig::default`]: 64-d, 4 cells).
    pub student: SequenceNetworkConfig,
    /// Untimed repetitions first.
    pub warmup: usize,
    /// Timed repetitions.
    pub iters: usize,
    /// What to measure, one report line per step kind (two for `Infer`).
    pub steps: Vec<AdarecStep>,
    /// Which ops of an edge the search step computes (`sampled`, or `all` as AdaRec's code and the
    /// AdaRec example configs; the PyTorch twin's `--all-ops`).
    pub evaluate: OpEvaluation,
    /// Device label for the report line.
    pub device_label: String,
}

impl AdarecBenchArgs {
    /// AdaRec's shapes: batch 64, length 50, 10,000 items, 1,000 users, default teacher and student.
    pub fn paper(warmup: usize, iters: usize, steps: Vec<AdarecStep>, device_label: String) -> Self {
        Self {
            batch: 64,
            max_len: 50,
            items: 10_000,
            users: 1_000,
            teacher: NextItNetConfig::default(),
            student: SequenceNetworkConfig::default(),
            warmup,
            iters,
            steps,
            evaluate: OpEvaluation::Sampled,
            device_label,
        }
    }

    /// Rejects shapes with nothing to time.
    fn validate(&self) -> Result<()> {
        check_counts(self.iters, self.batch)?;
        at_least_one("bench adarec --max-len", self.max_len)?;
        at_least_one("bench adarec users", self.users)?;
        self.teacher.validate("bench adarec teacher")?;
        self.student.validate("bench adarec student")
    }

    /// `device=.. threads=.. max_len=.. items=.. teacher=.. student=..`.
    fn shape_fields(&self) -> String {
        format!(
            "device={} threads={} max_len={} items={} teacher=nextitnet-{}x{} student=adarec-{}x{}",
            self.device_label,
            rayon_threads(),
            self.max_len,
            self.items,
            self.teacher.blocks,
            self.teacher.dim,
            self.student.cells,
            self.student.dim
        )
    }

    /// `users` synthetic users whose sequences fill a training window and an evaluation history of
    /// `max_len` items; no evaluation candidates (nothing is ranked).
    fn data(&self, users: usize) -> Result<SequenceData> {
        // Leave-one-out keeps n - 2 items for training, and a window needs max_len + 1 of them.
        let len = self.max_len + 3;
        let set = synthetic_sequences(users, self.items, len, len, 0)?;
        let train_windows = set.train_windows(self.max_len);
        Ok(SequenceData { set, train_windows, max_len: self.max_len, candidates: None, exclude_history: false })
    }
}

/// Runs the benchmark and returns its report lines.
pub fn bench_adarec<AB: AutodiffBackend>(args: &AdarecBenchArgs, device: &AB::Device) -> Result<Vec<String>> {
    args.validate()?;
    let mut lines = Vec::new();
    for step in &args.steps {
        match step {
            AdarecStep::Search => lines.push(search_line::<AB>(args, device)?),
            AdarecStep::Infer => lines.extend(infer_lines::<AB>(args, device)?),
        }
    }
    Ok(lines)
}

/// The report's name for `evaluate` (the PyTorch twin's: `sampled`, `all_ops`).
fn edges_name(evaluate: OpEvaluation) -> &'static str {
    match evaluate {
        OpEvaluation::Sampled => "sampled",
        OpEvaluation::All => "all_ops",
    }
}

/// AdaRec's search settings: single level, hard Gumbel (tau 1 in the first epochs) computing the ops
/// `evaluate` says, AdamW on both sides.
fn adarec_search_config(batch: usize, evaluate: OpEvaluation) -> SearchConfig {
    SearchConfig {
        batch_size: batch,
        mode: SearchMode::SingleLevel,
        relaxation: Relaxation::Gumbel {
            hard: true,
            temperature: TemperatureSchedule::Step { start: 1.0, factor: 0.8, every: 5 },
            evaluate,
        },
        w_optimizer: OptimizerKind::AdamW,
        w_lr: 5e-3,
        w_lr_min: 5e-3,
        w_weight_decay: 5e-4,
        grad_clip: 5.0,
        arch_optimizer: OptimizerKind::AdamW,
        arch_lr: 2e-5,
        arch_betas: [0.9, 0.999],
        arch_weight_decay: 1e-4,
        ..SearchConfig::default()
    }
}

/// Times single-level search steps; fails when the architecture logits did not move.
fn search_line<AB: AutodiffBackend>(args: &AdarecBenchArgs, device: &AB::Device) -> Result<String> {
    AB::seed(device, 0);
    let space = parse_space(ADAREC_SPACE, Path::new(ADAREC_SPACE_PATH))?;
    let teacher = FrozenSequenceTeacher::<AB>::from_model(
        args.teacher.build::<AB::InnerBackend>(args.items, device)?,
        args.teacher.clone(),
    );
    let student = SequenceCellNetwork::<AB>::new(&space, &args.student, args.items, OpMode::Search, device)?;
    let mut net = AdarecStudent::new(student, args.student.dim, args.teacher.dim, device);
    let mut arch = ArchParams::<AB>::new(&space, device);
    let initial = arch.to_host();
    let task = AdarecSearchTask::new(
        Arc::new(args.data(args.batch)?),
        None,
        teacher,
        AdarecLosses::default(),
        CostTable::from_params(&space, args.student.dim)?,
        args.student.cells,
        device.clone(),
    )?;
    let config = adarec_search_config(args.batch, args.evaluate);
    let mut opt = optimisers::<AB>(&config);
    let indices: Vec<usize> = (0..args.batch).collect();
    let mut rng = StdRng::seed_from_u64(0);
    let (mut total, mut batches) = (Samples::new(args.warmup), Samples::new(args.warmup));
    for i in 0..args.warmup + args.iters {
        let (train, batch_ms) = timed::<AB, _>(device, || Ok(task.batch(Split::Train, &indices, &mut rng)))?;
        let ((n, a, _), step_ms) = timed::<AB, _>(device, || {
            let settings = StepSettings { noise: Some(GumbelNoise::sample(&arch)), ..step_settings(&config, i) };
            search_step(&task, net, arch, &mut opt, &train, None, &settings)
        })?;
        (net, arch) = (n, a);
        total.add(batch_ms + step_ms);
        batches.add(batch_ms);
    }
    if arch.to_host() == initial {
        return Err(KdnasError::Usage("bench adarec: the architecture logits did not move".into()));
    }
    Ok(format!(
        "adarec-step mode=single edges={} {} batch={} distance={:?} timed=batch+teacher_forward+step \
         batches_ms={:.1} {}",
        edges_name(args.evaluate),
        args.shape_fields(),
        args.batch,
        AdarecLosses::default().distance,
        batches.median(),
        total.fields()
    ))
}

/// The derived space of [`DERIVED_OPS`] over `space`'s single cell.
fn derived_space(space: &ArchGraph) -> Result<ArchGraph> {
    let probs = space
        .groups
        .iter()
        .map(|group| {
            group
                .row_labels
                .iter()
                .map(|label| {
                    let op = DERIVED_OPS.iter().find(|(l, _)| l == label).map(|(_, op)| *op);
                    let column = op.and_then(|op| group.candidates.iter().position(|c| c == op));
                    let column = column.ok_or_else(|| {
                        KdnasError::Usage(format!("bench adarec: no derived op for the choice `{label}`"))
                    })?;
                    Ok((0..group.candidates.len()).map(|c| if c == column { 1.0 } else { 0.0 }).collect())
                })
                .collect::<Result<Vec<Vec<f32>>>>()
        })
        .collect::<Result<Vec<_>>>()?;
    Genotype::derive(space, &probs, DeriveRule::Argmax).to_arch_graph()
}

/// Scores the next item of every user of `batches`, one forward pass per batch.
fn score_users<B: Backend, M: SequenceRecommender<B>>(model: &M, batches: &[IndexBatch], device: &B::Device) {
    for batch in batches {
        model.next_item_scores(batch.to_tensor::<B>(device)); // [users, items + 1]
    }
}

/// Times the teacher's and the derived student's scoring of `args.users` users, alternating the two
/// in every repetition: a teacher line and a student line with its speed-up.
fn infer_lines<AB: AutodiffBackend>(args: &AdarecBenchArgs, device: &AB::Device) -> Result<[String; 2]> {
    AB::seed(device, 0);
    let space = parse_space(ADAREC_SPACE, Path::new(ADAREC_SPACE_PATH))?;
    let teacher = args.teacher.build::<AB::InnerBackend>(args.items, device)?;
    let student = SequenceCellNetwork::<AB::InnerBackend>::new(
        &derived_space(&space)?,
        &args.student,
        args.items,
        OpMode::Derived,
        device,
    )?;
    let data = args.data(args.users)?;
    let users: Vec<usize> = (0..args.users).collect();
    let batches: Vec<IndexBatch> = users
        .chunks(EVAL_USERS_PER_PASS)
        .map(|chunk| eval_batch(&data.set, chunk, EvalSplit::Test, args.max_len).histories)
        .collect();
    let per_1000_users = 1000.0 / args.users as f64;
    let (mut teacher_ms, mut student_ms) = (Samples::new(args.warmup), Samples::new(args.warmup));
    for _ in 0..args.warmup + args.iters {
        let ((), ms) = timed::<AB, _>(device, || Ok(score_users(&teacher, &batches, device)))?;
        teacher_ms.add(ms * per_1000_users);
        let ((), ms) = timed::<AB, _>(device, || Ok(score_users(&student, &batches, device)))?;
        student_ms.add(ms * per_1000_users);
    }
    let fields = format!(
        "{} users={} users_per_pass={EVAL_USERS_PER_PASS} unit=ms_per_1000_users",
        args.shape_fields(),
        args.users
    );
    Ok([
        format!("adarec-infer model=teacher {fields} {}", teacher_ms.fields()),
        format!(
            "adarec-infer model=student genotype=fixed {fields} speedup={:.2} {}",
            teacher_ms.median() / student_ms.median(),
            student_ms.fields()
        ),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::{Autodiff, Flex};

    fn tiny(steps: Vec<AdarecStep>, iters: usize) -> AdarecBenchArgs {
        AdarecBenchArgs {
            batch: 4,
            max_len: 6,
            items: 30,
            users: 10,
            teacher: NextItNetConfig { dim: 8, blocks: 2, ..NextItNetConfig::default() },
            student: SequenceNetworkConfig { dim: 4, cells: 2, dropout: 0.1 },
            warmup: 0,
            iters,
            steps,
            evaluate: OpEvaluation::Sampled,
            device_label: "cpu".into(),
        }
    }

    fn field(line: &str, name: &str) -> f64 {
        let value = line.split(&format!(" {name}=")).nth(1).and_then(|r| r.split(' ').next());
        value.and_then(|v| v.parse().ok()).unwrap_or_else(|| panic!("no numeric {name}= in {line}"))
    }

    #[test]
    fn times_the_all_ops_search_step_when_asked() {
        let args = AdarecBenchArgs { evaluate: OpEvaluation::All, ..tiny(vec![AdarecStep::Search], 1) };
        let lines = bench_adarec::<Autodiff<Flex>>(&args, &Default::default()).unwrap();
        assert!(lines[0].starts_with("adarec-step mode=single edges=all_ops device=cpu"), "{lines:?}");
    }

    #[test]
    fn times_the_search_step_and_both_models_at_a_tiny_shape() {
        let lines =
            bench_adarec::<Autodiff<Flex>>(&tiny(AdarecStep::parse_list("all").unwrap(), 2), &Default::default())
                .unwrap();
        let prefixes = [
            "adarec-step mode=single edges=sampled device=cpu",
            "adarec-infer model=teacher device=cpu",
            "adarec-infer model=student",
        ];
        assert_eq!(lines.len(), prefixes.len(), "{lines:?}");
        for (line, prefix) in lines.iter().zip(prefixes) {
            assert!(line.starts_with(prefix), "{line}");
            assert!(line.contains("max_len=6 items=30 teacher=nextitnet-2x8 student=adarec-2x4"), "{line}");
            assert!(field(line, "median_ms") > 0.0 && field(line, "iters") == 2.0, "{line}");
        }
        assert!(lines[0].contains("batch=4 distance=KlStudentTeacher"), "{}", lines[0]);
        assert!(field(&lines[0], "batches_ms") > 0.0, "{}", lines[0]);
        assert!(lines[1].contains("users=10 users_per_pass=256 unit=ms_per_1000_users"), "{}", lines[1]);
        let ratio = field(&lines[1], "median_ms") / field(&lines[2], "median_ms");
        // The medians are printed to 0.1 ms and the speed-up to 0.01: it is their ratio up to that rounding.
        let speedup = field(&lines[2], "speedup");
        assert!((speedup - ratio).abs() <= 0.005 + 0.05 * ratio, "{ratio} vs {}", lines[2]);
    }

    #[test]
    fn the_derived_student_keeps_exactly_the_fixed_ops() {
        let space = parse_space(ADAREC_SPACE, Path::new(ADAREC_SPACE_PATH)).unwrap();
        let derived = derived_space(&space).unwrap();
        assert!(derived.groups.is_empty(), "a derived space has no choices left");
        let graph = &derived.cells[0].graph;
        let mut edges: Vec<(String, String)> = graph
            .edge_indices()
            .map(|e| {
                let (from, to) = graph.edge_endpoints(e).unwrap();
                (format!("{}<-{}", graph[to].name, graph[from].name), graph[e].ops.join("+"))
            })
            .collect();
        edges.sort();
        let mut expected: Vec<(String, String)> =
            DERIVED_OPS.iter().map(|(label, op)| (label.to_string(), op.to_string())).collect();
        expected.sort();
        assert_eq!(edges, expected);
    }

    #[test]
    fn refuses_nothing_to_time_and_unknown_steps() {
        assert!(bench_adarec::<Autodiff<Flex>>(&tiny(vec![AdarecStep::Search], 0), &Default::default()).is_err());
        assert!(AdarecStep::parse_list("train").is_err());
    }
}
