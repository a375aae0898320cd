//! DFA's stage 1 as a [`SearchTask`]: the student and its connectors are the weights, softmax(beta)
//! per teacher stage the architecture. L_train = CE + lambda * sum_i d(conn_i(S_i), A_i(beta)); the
//! architecture loss is the bridge loss gamma_TS * L_TS + gamma_ST * L_ST on the validation split.

use super::losses::{DfaLosses, Distance, StudentToTeacher};
use super::net::DfaStudent;
use super::teacher::FrozenTeacher;
use crate::data::{Augment, ImageSet, image_batch};
use crate::metrics::{correct_count, cross_entropy};
use crate::models::{Features, StagedClassifier, TapPoint};
use crate::ops::conv2d::batch_norm::hold_running_statistics;
use crate::run::TaskLoss;
use crate::search::task::Evaluation;
use crate::search::{SearchTask, Split};
use crate::space::ChoiceSlot;
use crate::supernet::{ArchWeights, weighted_sum};
use crate::tasks::image::{evaluation_of, split_set};
use crate::train::classify::score_classifier;
use crate::train::image_task::EVAL_BATCH;
use burn::tensor::{Int, Tensor, backend::AutodiffBackend};
use rand::rngs::StdRng;

/// A batch with the frozen teacher's outputs on it.
pub struct TeacherBatch<AB: AutodiffBackend> {
    /// `[n, c, h, w]`.
    pub images: Tensor<AB, 4>,
    /// `[n]`.
    pub labels: Tensor<AB, 1, Int>,
    /// The teacher's logits and features at the run's tap point (constants): block outputs, or
    /// pre-activation taps ([`crate::models::preact`]).
    pub teacher: Features<AB>,
    /// The teacher's stem tap, for pre-activation taps.
    pub stem: Option<Tensor<AB, 4>>,
}

/// Builds the batch of `indices` of `set` and runs the teacher on it once, tapping it at `at`.
pub fn teacher_batch<AB: AutodiffBackend>(
    set: &ImageSet,
    indices: &[usize],
    augment: Option<(&Augment, &mut StdRng)>,
    teacher: &FrozenTeacher<AB>,
    at: TapPoint,
    device: &AB::Device,
) -> TeacherBatch<AB> {
    let (images, labels) = image_batch::<AB::InnerBackend>(set, indices, augment, device);
    let (teacher, stem) = teacher.features(images.clone(), at);
    TeacherBatch { images: Tensor::from_inner(images), labels: Tensor::from_inner(labels), teacher, stem }
}

/// A_i = sum_j w_ij * T_i^j for every stage, `[n, c_i, h_i, w_i]` each.
pub fn aggregates<AB: AutodiffBackend>(
    teacher: &Features<AB>,
    weights: &ArchWeights<AB>,
    slots: &[ChoiceSlot],
) -> Vec<Tensor<AB, 4>> {
    teacher
        .stages
        .iter()
        .zip(slots)
        .map(|(blocks, &slot)| weighted_sum(blocks.iter().cloned(), weights.row(slot)))
        .collect()
}

/// The margin of every stage's aggregation target: the teacher margins of the stage's taps mixed
/// with the same weights as the taps, `[c_i]` each.
pub fn aggregate_margins<AB: AutodiffBackend>(
    teacher: &FrozenTeacher<AB>,
    weights: &ArchWeights<AB>,
    slots: &[ChoiceSlot],
    device: &AB::Device,
) -> Vec<Tensor<AB, 1>> {
    let margins = teacher.margin_tensors(device);
    margins.stages.into_iter().zip(slots).map(|(blocks, &slot)| weighted_sum(blocks, weights.row(slot))).collect()
}

/// The last block output of every stage: the stage's feature, `[n, c_i, h_i, w_i]`.
pub fn stage_outputs<B: burn::tensor::backend::Backend>(features: &Features<B>) -> Vec<Tensor<B, 4>> {
    features.stages.iter().map(|blocks| blocks.last().expect("a stage has blocks").clone()).collect()
}

/// The student's stage outputs mapped to the teacher's channels, `[n, c_teacher_i, h_i, w_i]` each.
fn connect<AB: AutodiffBackend>(net: &DfaStudent<AB>, features: &Features<AB>) -> Vec<Tensor<AB, 4>> {
    stage_outputs(features).into_iter().zip(&net.to_teacher).map(|(s, conn)| conn.forward(s)).collect()
}

/// DFA's search problem.
pub struct DfaSearchTask<AB: AutodiffBackend> {
    /// Weight-training images.
    pub train: ImageSet,
    /// Architecture-training images (the bridge loss).
    pub val: ImageSet,
    /// Augmentation of both splits, if any.
    pub augment: Option<Augment>,
    /// The frozen teacher.
    pub teacher: FrozenTeacher<AB>,
    /// The choice of every teacher stage.
    pub slots: Vec<ChoiceSlot>,
    /// Loss weights and distance.
    pub losses: DfaLosses,
    /// Device batches are built on.
    pub device: AB::Device,
}

/// The two bridge paths, each averaged over stages, `[1]`.
struct Bridges<AB: AutodiffBackend> {
    teacher_to_student: Tensor<AB, 1>,
    student_to_teacher: Tensor<AB, 1>,
}

/// The two players of DFA's bridge loss, as the architecture-gradient probes name them.
const BRIDGE_PARTS: [&str; 2] = ["bridge_ts", "bridge_st"];

impl<AB: AutodiffBackend> DfaSearchTask<AB> {
    /// The student's features and both bridge paths on `batch`.
    fn bridges_of(
        &self,
        net: &DfaStudent<AB>,
        weights: &ArchWeights<AB>,
        batch: &TeacherBatch<AB>,
    ) -> (Features<AB>, Bridges<AB>) {
        let (features, _) = net.student.forward_at(batch.images.clone(), self.losses.distance.taps());
        let connected = connect(net, &features);
        let targets = aggregates(&batch.teacher, weights, &self.slots);
        let b = self.bridges(net, &connected, &targets, &self.margins(weights), &batch.labels);
        (features, b)
    }

    /// The aggregation targets' margins for the overhaul distance ([`aggregate_margins`]); none for
    /// the distances that take no margin.
    fn margins(&self, weights: &ArchWeights<AB>) -> Vec<Tensor<AB, 1>> {
        match self.losses.distance {
            Distance::Overhaul => aggregate_margins(&self.teacher, weights, &self.slots, &self.device),
            Distance::L2 | Distance::MarginL2 => Vec::new(),
        }
    }

    /// Both bridge paths; `connected[i]` is the student's stage-i output mapped to the teacher's
    /// channels (computed once per batch: it also feeds the feature term).
    fn bridges(
        &self,
        net: &DfaStudent<AB>,
        connected: &[Tensor<AB, 4>],
        targets: &[Tensor<AB, 4>],
        margins: &[Tensor<AB, 1>],
        labels: &Tensor<AB, 1, Int>,
    ) -> Bridges<AB> {
        let stages = targets.len() as f64;
        let mut ts: Option<Tensor<AB, 1>> = None;
        let mut st: Option<Tensor<AB, 1>> = None;
        for (i, (connected, a)) in connected.iter().zip(targets).enumerate() {
            // Teacher -> student: the aggregation as the input of the student's remaining stages, which
            // must not make teacher features the statistics the student is evaluated with.
            let held = hold_running_statistics();
            let hybrid = net.student.forward_from(i, net.to_student[i].forward(a.clone())); // [n, classes]
            drop(held);
            let ts_i = cross_entropy(hybrid, labels.clone());
            let st_i = match self.losses.student_to_teacher {
                StudentToTeacher::CrossEntropy => {
                    cross_entropy(self.teacher.net.forward_from(i, connected.clone()), labels.clone())
                }
                StudentToTeacher::Distance => self.losses.distance.over_positions(
                    std::slice::from_ref(connected),
                    std::slice::from_ref(a),
                    margins.get(i..=i).unwrap_or_default(),
                ),
            };
            ts = Some(ts.map_or(ts_i.clone(), |acc| acc + ts_i));
            st = Some(st.map_or(st_i.clone(), |acc| acc + st_i));
        }
        Bridges {
            teacher_to_student: ts.expect("a model has stages").div_scalar(stages),
            student_to_teacher: st.expect("a model has stages").div_scalar(stages),
        }
    }
}

impl<AB: AutodiffBackend> SearchTask<AB> for DfaSearchTask<AB> {
    type Net = DfaStudent<AB>;
    type Batch = TeacherBatch<AB>;

    fn train_len(&self) -> usize {
        self.train.len()
    }

    fn val_len(&self) -> usize {
        self.val.len()
    }

    fn batch(&self, split: Split, indices: &[usize], rng: &mut StdRng) -> Self::Batch {
        teacher_batch(
            split_set(&self.train, &self.val, split),
            indices,
            self.augment.as_ref().map(|a| (a, rng)),
            &self.teacher,
            self.losses.distance.taps(),
            &self.device,
        )
    }

    fn weight_loss(&self, net: &Self::Net, weights: &ArchWeights<AB>, batch: &Self::Batch) -> TaskLoss<AB> {
        let (features, _) = net.student.forward_at(batch.images.clone(), self.losses.distance.taps());
        let ce = cross_entropy(features.logits.clone(), batch.labels.clone());
        let connected = connect(net, &features);
        let targets = aggregates(&batch.teacher, weights, &self.slots);
        let margins = self.margins(weights);
        let feature = self.losses.distance.over_positions(&connected, &targets, &margins);
        let mut total = ce.clone() + feature.clone().mul_scalar(self.losses.lambda);
        let mut terms = vec![("cross_entropy", ce), ("feature", feature)];
        if self.losses.bridges_in_weight_loss {
            let b = self.bridges(net, &connected, &targets, &margins, &batch.labels);
            total = total
                + b.teacher_to_student.clone().mul_scalar(self.losses.gamma_ts)
                + b.student_to_teacher.clone().mul_scalar(self.losses.gamma_st);
            terms.push(("bridge_ts", b.teacher_to_student));
            terms.push(("bridge_st", b.student_to_teacher));
        }
        TaskLoss {
            total,
            terms,
            correct: Some(correct_count(features.logits, batch.labels.clone())),
            count: batch.labels.dims()[0],
        }
    }

    fn arch_loss_parts(&self) -> &'static [&'static str] {
        &BRIDGE_PARTS
    }

    fn arch_loss_part(
        &self,
        part: usize,
        net: &Self::Net,
        weights: &ArchWeights<AB>,
        batch: &Self::Batch,
    ) -> Option<Tensor<AB, 1>> {
        let (_, b) = self.bridges_of(net, weights, batch);
        match part {
            0 => Some(b.teacher_to_student.mul_scalar(self.losses.gamma_ts)),
            1 => Some(b.student_to_teacher.mul_scalar(self.losses.gamma_st)),
            _ => None,
        }
    }

    fn arch_loss(&self, net: &Self::Net, weights: &ArchWeights<AB>, batch: &Self::Batch) -> TaskLoss<AB> {
        let (features, b) = self.bridges_of(net, weights, batch);
        let total = b.teacher_to_student.clone().mul_scalar(self.losses.gamma_ts)
            + b.student_to_teacher.clone().mul_scalar(self.losses.gamma_st);
        TaskLoss {
            total,
            terms: vec![("bridge_ts", b.teacher_to_student), ("bridge_st", b.student_to_teacher)],
            correct: Some(correct_count(features.logits, batch.labels.clone())),
            count: batch.labels.dims()[0],
        }
    }

    fn evaluate_val(
        &self,
        net: &DfaStudent<AB::InnerBackend>,
        _weights: &ArchWeights<AB::InnerBackend>,
    ) -> Option<Evaluation> {
        Some(evaluation_of(score_classifier(&net.student, &self.val, EVAL_BATCH, &self.device)))
    }
}
