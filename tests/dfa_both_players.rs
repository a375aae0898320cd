//! Both players move beta in the DFA search the CIFAR-10 1,000-per-class experiment runs: with the
//! loss settings, mode and architecture-step settings of `results/dfa/cifar10-1k/search.toml` (second
//! order, cross-entropy student-to-teacher path, overhaul distance), on a tiny pair of that config's
//! teacher and student models, each bridge path alone gives every stage's beta a non-zero gradient as
//! the search probes it ([`part_grads`]). In first order the cross-entropy student-to-teacher path gives
//! beta exactly zero: the reason results/dfa/README.md gives for choosing second order.

mod common;

use common::dfa::{arch_with, fixed_batches, tiny_student_of, tiny_task_in, tiny_teacher_of};
use common::{Cpu, manifest, temp_dir};
use kdnas::search::arch_grads::part_grads;
use kdnas::search::bilevel::StepSettings;
use kdnas::search::run::optimisers;
use kdnas::search::{SearchMode, SearchTask};
use kdnas::space::load_space;
use kdnas::supernet::ArchParams;
use kdnas::tasks::dfa::config::DfaSearchConfig;
use kdnas::tasks::dfa::{DfaSearchTask, DfaStudent, StudentToTeacher, TeacherBatch};

/// The search config whose default this file tests, relative to the crate.
const CONFIG: &str = "results/dfa/cifar10-1k/search.toml";
/// Side of the random images (stage outputs of 8x8, 4x4 and 2x2).
const SIDE: usize = 8;
/// Examples per batch.
const BATCH: usize = 4;

/// Per part (in the task's order), per stage, the row of beta gradients.
type PartGrads = Vec<Vec<Vec<Vec<f32>>>>;

/// The config's teacher and student on tiny images, its losses, its space, batches and architecture
/// logits away from uniform.
struct Setup {
    config: DfaSearchConfig,
    task: DfaSearchTask<Cpu>,
    net: DfaStudent<Cpu>,
    arch: ArchParams<Cpu>,
    train: TeacherBatch<Cpu>,
    val: TeacherBatch<Cpu>,
}

fn setup() -> Setup {
    let path = manifest(CONFIG);
    let config = DfaSearchConfig::load(&path).unwrap();
    let space = load_space(&path.parent().unwrap().join(&config.space)).unwrap();
    let section = tiny_teacher_of(&temp_dir("dfa-both-players"), config.teacher.model.clone(), SIDE);
    let task = tiny_task_in(&space, &section, config.dfa.clone(), BATCH, SIDE);
    let net = tiny_student_of(&task, &config.student.model, 5);
    let (train, val) = fixed_batches(&task, BATCH);
    let ids: Vec<_> = (0..3).map(|_| burn::module::ParamId::new()).collect();
    let arch = arch_with(&ids, &[vec![0.3, -0.2], vec![0.1, -0.4], vec![-0.5, 0.2]]);
    Setup { config, task, net, arch, train, val }
}

/// The architecture gradient of each part as the search's probes compute it in `mode`, with the
/// config's relaxation, rates and clip at the first epoch in which beta moves.
fn probe(s: &Setup, mode: SearchMode) -> PartGrads {
    let search = &s.config.search;
    let settings = StepSettings::<Cpu> {
        mode,
        relaxation: &search.relaxation,
        noise: None,
        w_lr: search.w_lr,
        arch_lr: search.arch_lr,
        grad_clip: search.grad_clip,
        epoch: search.warmup_epochs,
        epochs: search.epochs,
        step: 0,
        arch_moves: true,
    };
    let mut opt = optimisers::<Cpu>(search);
    part_grads(&s.task, &s.net, &s.arch, &mut opt, &s.train, Some(&s.val), &settings).unwrap()
}

fn max_abs(row: &[f32]) -> f32 {
    row.iter().fold(0.0, |m, v| m.max(v.abs()))
}

#[test]
fn in_the_shipped_default_each_bridge_path_alone_moves_every_stages_beta() {
    let _guard = common::serial();
    let s = setup();
    assert_eq!(s.config.search.mode, SearchMode::SecondOrder, "{CONFIG}: the default this file tests");
    assert_eq!(s.config.dfa.student_to_teacher, StudentToTeacher::CrossEntropy, "{CONFIG}");
    assert!(s.config.dfa.gamma_ts > 0.0 && s.config.dfa.gamma_st > 0.0, "{CONFIG}: both paths weighted");
    let grads = probe(&s, s.config.search.mode);
    let names = s.task.arch_loss_parts();
    assert_eq!(names, ["bridge_ts", "bridge_st"]);
    for (name, part) in names.iter().zip(&grads) {
        eprintln!("{name}, second order: {part:?}");
        assert_eq!(part.len(), 3, "{name}: one group per teacher stage");
        for (stage, rows) in part.iter().enumerate() {
            let row = &rows[0];
            assert!(row.iter().all(|g| g.is_finite()), "{name}, stage {stage}: {row:?}");
            assert!(max_abs(row) > 1e-7, "{name} alone gives stage {stage}'s beta no gradient: {row:?}");
        }
    }
}

#[test]
fn in_first_order_the_cross_entropy_student_to_teacher_path_gives_beta_exactly_zero() {
    let _guard = common::serial();
    let s = setup();
    let grads = probe(&s, SearchMode::FirstOrder);
    let (ts, st) = (&grads[0], &grads[1]);
    eprintln!("first order: bridge_ts {ts:?}, bridge_st {st:?}");
    assert!(st.iter().flatten().flatten().all(|&g| g == 0.0), "bridge_st reads beta in first order: {st:?}");
    assert!(ts.iter().flatten().all(|row| max_abs(row) > 1e-7), "bridge_ts does not move beta: {ts:?}");
}
