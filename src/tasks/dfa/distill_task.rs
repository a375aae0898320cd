//! Stage 2 as a [`TrainTask`]: a fresh student (with connectors) trained from scratch with a weighted
//! list of objectives against a frozen teacher. The baselines (student alone, KD, FitNet, AT) and
//! DFA's aggregation targets (searched, Last, Average, Random) are all instances of it.

use super::connector::{Connector, stage_connectors};
use super::losses::Distance;
use super::objectives::{Objective, apply, feature_taps};
use super::search_task::{TeacherBatch, stage_outputs, teacher_batch};
use super::teacher::FrozenTeacher;
use crate::data::{Augment, ImageSet};
use crate::distill::rkd_loss;
use crate::metrics::{correct_count, cross_entropy};
use crate::models::residual::STEM_CHANNELS;
use crate::models::{Model, StageShape, StagedClassifier, TapPoint};
use crate::run::TaskLoss;
use crate::train::classify::score_classifier;
use crate::train::image_task::EVAL_BATCH;
use crate::train::task::{EpochAt, TrainTask};
use burn::module::Module;
use burn::tensor::Tensor;
use burn::tensor::backend::{AutodiffBackend, Backend};
use rand::rngs::StdRng;

/// The student of a distillation run with its connectors (student stage i -> teacher channels).
#[derive(Module, Debug)]
pub struct DistillStudent<B: Backend> {
    /// The student network (the weights a finished run exports).
    pub student: Model<B>,
    /// One connector per compared position (every stage, after the stem for pre-activation taps);
    /// empty when no objective compares features through connectors.
    pub connectors: Vec<Connector<B>>,
}

impl<B: Backend> DistillStudent<B> {
    /// Wraps `student`, with connectors to a teacher of `teacher` stages when `connect` names the tap
    /// point of the compared features (pre-activation taps add one for the stem, 16 -> 16 channels).
    pub fn new(student: Model<B>, teacher: &[StageShape], connect: Option<TapPoint>, device: &B::Device) -> Self {
        let stem = match connect {
            Some(TapPoint::PreActivation) => vec![STEM_CHANNELS],
            _ => Vec::new(),
        };
        let connectors = if connect.is_some() {
            let from: Vec<usize> =
                stem.iter().copied().chain(student.stage_shapes().iter().map(|s| s.channels)).collect();
            let to: Vec<usize> = stem.iter().copied().chain(teacher.iter().map(|s| s.channels)).collect();
            stage_connectors(&from, &to, device)
        } else {
            Vec::new()
        };
        Self { student, connectors }
    }
}

/// An objective with what it needs resolved (the aggregation's fixed weights).
#[derive(Debug, Clone)]
pub struct BoundObjective {
    /// The configured objective.
    pub objective: Objective,
    /// `[stage][block]` weights of an aggregation objective.
    pub aggregation: Option<Vec<Vec<f32>>>,
}

/// Image distillation from a frozen teacher.
pub struct DistillTask<AB: AutodiffBackend> {
    /// Training images.
    pub train: ImageSet,
    /// Test images (evaluated after every epoch).
    pub test: ImageSet,
    /// Augmentation of training images, if any.
    pub augment: Option<Augment>,
    /// The frozen teacher.
    pub teacher: FrozenTeacher<AB>,
    /// The weighted terms of the loss (at most one tap point: [`super::objectives::feature_taps`]).
    pub objectives: Vec<BoundObjective>,
    /// Device batches are built on.
    pub device: AB::Device,
}

impl<AB: AutodiffBackend> DistillTask<AB> {
    fn term(
        &self,
        bound: &BoundObjective,
        net: &DistillStudent<AB>,
        s: &StudentView<AB>,
        batch: &TeacherBatch<AB>,
    ) -> Tensor<AB, 1> {
        let teacher_stages = || stage_outputs(&batch.teacher);
        match &bound.objective {
            Objective::CrossEntropy { .. } => cross_entropy(s.logits.clone(), batch.labels.clone()),
            Objective::Kd { temperature, .. } => {
                apply::kd(s.logits.clone(), batch.teacher.logits.clone(), *temperature)
            }
            Objective::Rkd { distance_weight, angle_weight, .. } => {
                rkd_loss(s.logits.clone(), batch.teacher.logits.clone(), *distance_weight, *angle_weight)
            }
            Objective::Attention { p, .. } => apply::attention(&s.stages, &teacher_stages(), *p),
            Objective::Fitnet { distance, .. } => apply::features(&s.connected(net), &teacher_stages(), &[], *distance),
            Objective::Overhaul { .. } => {
                let margins = self.teacher.margin_tensors(&self.device);
                let margins: Vec<_> = margins.stage_ends().into_iter().cloned().collect();
                let targets = with_stem(&batch.stem, teacher_stages());
                apply::features(&s.connected(net), &targets, &margins, Distance::Overhaul)
            }
            Objective::Aggregation { distance, .. } => {
                let weights = bound.aggregation.as_ref().expect("aggregation weights are bound before training");
                let targets = with_stem(&batch.stem, apply::fixed_aggregates(&batch.teacher.stages, weights));
                let margins = match distance {
                    Distance::Overhaul => {
                        let margins = self.teacher.margin_tensors(&self.device);
                        let mixed = apply::fixed_aggregates(&margins.stages, weights);
                        with_stem(&Some(margins.stem), mixed)
                    }
                    Distance::L2 | Distance::MarginL2 => Vec::new(),
                };
                apply::features(&s.connected(net), &targets, &margins, *distance)
            }
        }
    }

    /// The tap point of the teacher's and student's features.
    fn taps(&self) -> TapPoint {
        let objectives: Vec<Objective> = self.objectives.iter().map(|b| b.objective.clone()).collect();
        feature_taps(&objectives).expect("the config checked the objectives' tap points").unwrap_or_default()
    }
}

/// `stem` (when the taps have one) followed by `stages`: the compared positions.
fn with_stem<T: Clone>(stem: &Option<T>, stages: Vec<T>) -> Vec<T> {
    stem.iter().cloned().chain(stages).collect()
}

/// The student's outputs on a batch.
struct StudentView<B: Backend> {
    logits: Tensor<B, 2>,
    /// The stem tap, for pre-activation taps.
    stem: Option<Tensor<B, 4>>,
    stages: Vec<Tensor<B, 4>>,
}

impl<B: Backend> StudentView<B> {
    /// Every compared position (the stem tap, if any, then every stage output) mapped to the teacher's
    /// channels.
    fn connected(&self, net: &DistillStudent<B>) -> Vec<Tensor<B, 4>> {
        with_stem(&self.stem, self.stages.clone()).into_iter().zip(&net.connectors).map(|(s, c)| c.forward(s)).collect()
    }
}

impl<AB: AutodiffBackend> TrainTask<AB> for DistillTask<AB> {
    type Net = DistillStudent<AB>;
    type Batch = TeacherBatch<AB>;

    fn train_len(&self) -> usize {
        self.train.len()
    }

    fn batch(&self, indices: &[usize], rng: &mut StdRng) -> Self::Batch {
        let augment = self.augment.as_ref().map(|a| (a, rng));
        teacher_batch(&self.train, indices, augment, &self.teacher, self.taps(), &self.device)
    }

    fn loss(&self, net: &Self::Net, batch: &Self::Batch, _at: EpochAt) -> TaskLoss<AB> {
        let (features, stem) = net.student.forward_at(batch.images.clone(), self.taps());
        let view = StudentView { stages: stage_outputs(&features), logits: features.logits, stem };
        let mut total: Option<Tensor<AB, 1>> = None;
        let mut terms = Vec::with_capacity(self.objectives.len());
        for bound in &self.objectives {
            let value = self.term(bound, net, &view, batch);
            let weighted = value.clone().mul_scalar(bound.objective.weight());
            total = Some(total.map_or(weighted.clone(), |t| t + weighted));
            terms.push((bound.objective.name(), value));
        }
        TaskLoss {
            total: total.expect("a distillation config has at least one objective"),
            terms,
            correct: Some(correct_count(view.logits, batch.labels.clone())),
            count: batch.labels.dims()[0],
        }
    }

    fn evaluate(&self, net: &DistillStudent<AB::InnerBackend>) -> Vec<(String, f64)> {
        let scores = score_classifier(&net.student, &self.test, EVAL_BATCH, &self.device);
        vec![
            ("test_acc".to_string(), scores.top1),
            ("test_top5".to_string(), scores.top5),
            ("test_loss".to_string(), scores.loss),
        ]
    }
}
