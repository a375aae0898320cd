//! AdaRec's stage 1 as a [`SearchTask`]: the student supernet and its projections are the weights, the
//! shared op choices of its cells the architecture. One objective (spec/adarec.md) trains both:
//! `(1 - gamma) CE + gamma (embedding MSE + hidden EMD + logit KL) + beta * expected cost`.
//!
//! The EMD layer masses are the task's state: every evaluation of the loss solves the transport with
//! the current masses and then updates them (AdaRec's order), so single-level search updates them once
//! per step, first-order bi-level twice (architecture batch, then weight batch) and second order at
//! each of its four loss evaluations.

use super::data::SequenceData;
use super::losses::{AdarecLosses, masked_logit_kl, masked_mse};
use super::ranking::{named_metrics, rank_users};
use super::recommender::SequenceRecommender;
use super::student::AdarecStudent;
use super::teacher::{FrozenSequenceTeacher, TeacherTargets};
use super::train_task::{SequenceBatch, next_item_cross_entropy, sequence_batch};
use crate::data::sequence::EvalSplit;
use crate::distill::emd::{LayerMasses, layer_emd};
use crate::error::{KdnasError, Result};
use crate::search::task::Evaluation;
use crate::search::{SearchTask, Split, TaskLoss};
use crate::supernet::ArchWeights;
use crate::supernet::cost::CostTable;
use crate::supernet::sequence_network::SequenceCellNetwork;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Int, Tensor};
use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::path::Path;
use std::sync::Arc;

/// A training batch with the frozen teacher's outputs on it.
pub struct AdarecBatch<AB: AutodiffBackend> {
    /// Inputs, targets and the number of real targets.
    pub sequences: SequenceBatch<AB>,
    /// `[batch, time]`: 1 where a position has a target, else 0.
    pub mask: Tensor<AB, 2>,
    /// The teacher's embedding, mapped layers and logits (constants).
    pub teacher: TeacherTargets<AB>,
}

/// The EMD layer mapping's state between steps: the masses, and the last flow for the plots.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmdState {
    /// Student and teacher layer masses.
    pub masses: LayerMasses,
    /// The last step's flow `[student layers][teacher layers]` (empty before the first step).
    pub flow: Vec<Vec<f64>>,
}

/// AdaRec's search problem.
pub struct AdarecSearchTask<AB: AutodiffBackend> {
    data: Arc<SequenceData>,
    /// Positions in `data.train_windows` that train the weights (every one in single-level search), and
    /// those that train the architecture in the bi-level modes.
    splits: [Vec<usize>; 2],
    teacher: FrozenSequenceTeacher<AB>,
    losses: AdarecLosses,
    costs: CostTable,
    emd: RefCell<EmdState>,
    device: AB::Device,
}

impl<AB: AutodiffBackend> AdarecSearchTask<AB> {
    /// A task over `data` whose weight windows are those of the first `train_fraction` of the users and
    /// architecture windows the rest (`None`: every user trains both, single-level search); the EMD maps
    /// `student_layers` cells onto the teacher's layers, starting from uniform masses.
    ///
    /// # Errors
    /// [`KdnasError::Usage`] when a split is empty or the teacher has no layer for the mapping.
    pub fn new(
        data: Arc<SequenceData>,
        train_fraction: Option<f64>,
        teacher: FrozenSequenceTeacher<AB>,
        losses: AdarecLosses,
        costs: CostTable,
        student_layers: usize,
        device: AB::Device,
    ) -> Result<Self> {
        let windows: Vec<usize> = (0..data.train_windows.len()).collect();
        let splits = match train_fraction {
            None => [windows.clone(), windows],
            Some(fraction) => {
                // Split by users, so that no user's windows train both the weights and the architecture.
                let users = data.train_windows.last().map_or(0, |w| w.user + 1);
                let cut_user = ((users as f64) * fraction).round() as usize;
                let cut = data.train_windows.iter().position(|w| w.user >= cut_user).unwrap_or(windows.len());
                let (weights, arch) = windows.split_at(cut);
                [weights.to_vec(), arch.to_vec()]
            }
        };
        if splits.iter().any(Vec::is_empty) {
            return Err(KdnasError::Usage(format!(
                "search.train_fraction: {} training windows cannot be split into two non-empty parts by user",
                data.train_windows.len()
            )));
        }
        let teacher_layers = losses.teacher_layers(teacher.config.blocks).len();
        if teacher_layers == 0 {
            return Err(crate::validate::field_error(
                "adarec.teacher_layer_stride",
                format!("{} is more than the teacher's {} blocks", losses.teacher_layer_stride, teacher.config.blocks),
            ));
        }
        let emd = EmdState { masses: LayerMasses::uniform(student_layers, teacher_layers)?, flow: Vec::new() };
        Ok(Self { data, splits, teacher, losses, costs, emd: RefCell::new(emd), device })
    }

    /// The EMD state as it stands.
    pub fn emd_state(&self) -> EmdState {
        self.emd.borrow().clone()
    }

    /// The hidden-EMD term of the student's projected cell outputs against the teacher's layers, with
    /// the mass update. The layer shapes are fixed by construction, so the mapping fails only on a
    /// non-finite distance: the term is then NaN, which the loop reports by name.
    fn hidden_emd(&self, student: &[Tensor<AB, 3>], teacher: &[Tensor<AB, 3>], mask: &Tensor<AB, 2>) -> Tensor<AB, 1> {
        let mut state = self.emd.borrow_mut();
        match layer_emd(student, teacher, Some(mask.clone().bool()), self.losses.distance, &mut state.masses) {
            Ok(emd) => {
                state.flow = emd.plan.flow.rows().into_iter().map(|row| row.to_vec()).collect();
                emd.loss
            }
            Err(_) => Tensor::from_floats([f32::NAN], &self.device),
        }
    }
}

impl<AB: AutodiffBackend> SearchTask<AB> for AdarecSearchTask<AB> {
    type Net = AdarecStudent<AB>;
    type Batch = AdarecBatch<AB>;

    fn train_len(&self) -> usize {
        self.splits[0].len()
    }

    fn val_len(&self) -> usize {
        self.splits[1].len()
    }

    fn batch(&self, split: Split, indices: &[usize], _rng: &mut StdRng) -> Self::Batch {
        let positions = &self.splits[match split {
            Split::Train => 0,
            Split::Val => 1,
        }];
        let users: Vec<usize> = indices.iter().map(|&i| positions[i]).collect();
        let inner: SequenceBatch<AB::InnerBackend> = sequence_batch(&self.data, &users, &self.device);
        let teacher = self.teacher.targets(inner.inputs.clone(), &self.losses);
        let mask = Tensor::from_inner(inner.targets.clone().not_equal_elem(0).float());
        let sequences = SequenceBatch {
            inputs: Tensor::from_inner(inner.inputs),
            targets: Tensor::from_inner(inner.targets),
            count: inner.count,
        };
        AdarecBatch { sequences, mask, teacher }
    }

    fn weight_loss(&self, net: &Self::Net, weights: &ArchWeights<AB>, batch: &Self::Batch) -> TaskLoss<AB> {
        let AdarecBatch { sequences, mask, teacher } = batch;
        let count = sequences.count;
        let features = net.student.forward_features(sequences.inputs.clone(), Some(weights));
        let ce = next_item_cross_entropy(features.logits.clone(), sequences.targets.clone(), count);
        let embedding = masked_mse(
            net.embedding_projection.forward(features.embedding),
            teacher.embedding.clone(),
            mask.clone(),
            count,
        );
        let hidden: Vec<Tensor<AB, 3>> =
            features.hidden.into_iter().map(|h| net.hidden_projection.forward(h)).collect();
        let emd = self.hidden_emd(&hidden, &teacher.hidden, mask);
        let logit = masked_logit_kl(
            features.logits,
            teacher.logits.clone(),
            mask.clone(),
            count,
            self.losses.logit_temperature,
        );
        let cost = self.costs.expected(weights);
        let l = &self.losses;
        let distill = embedding.clone() + emd.clone() + logit.clone();
        let total =
            ce.clone().mul_scalar(1.0 - l.gamma) + distill.mul_scalar(l.gamma) + cost.clone().mul_scalar(l.beta);
        TaskLoss {
            total,
            terms: vec![
                ("cross_entropy", ce),
                ("embedding_mse", embedding),
                ("hidden_emd", emd),
                ("logit_kl", logit),
                ("cost", cost),
            ],
            correct: None,
            count,
        }
    }

    fn evaluate_val(
        &self,
        net: &AdarecStudent<AB::InnerBackend>,
        weights: &ArchWeights<AB::InnerBackend>,
    ) -> Option<Evaluation> {
        let derived = DerivedInSupernet { net: &net.student, weights: weights.argmax() };
        let metrics = rank_users(&derived, &self.data, EvalSplit::Valid, &self.device);
        Some(Evaluation {
            metrics: named_metrics(EvalSplit::Valid, &metrics).into_iter().collect(),
            ..Default::default()
        })
    }

    fn task_state(&self) -> Option<serde_json::Value> {
        serde_json::to_value(&*self.emd.borrow()).ok()
    }

    fn restore_task_state(&self, state: &serde_json::Value, file: &Path) -> Result<()> {
        let restored: EmdState = serde_json::from_value(state.clone()).map_err(|e| KdnasError::Checkpoint {
            path: file.to_path_buf(),
            message: format!("the EMD state is unreadable: {e}"),
        })?;
        let current = self.emd.borrow();
        let shape = |s: &EmdState| (s.masses.student.len(), s.masses.teacher.len());
        if shape(&restored) != shape(&current) {
            return Err(KdnasError::Checkpoint {
                path: file.to_path_buf(),
                message: format!("EMD masses for {:?} layers, the run maps {:?}", shape(&restored), shape(&current)),
            });
        }
        drop(current);
        *self.emd.borrow_mut() = restored;
        Ok(())
    }
}

/// The supernet with every choice fixed at its argmax: the derived student before fine-tuning.
struct DerivedInSupernet<'a, B: Backend> {
    net: &'a SequenceCellNetwork<B>,
    weights: ArchWeights<B>,
}

impl<B: Backend> SequenceRecommender<B> for DerivedInSupernet<'_, B> {
    fn sequence_logits(&self, items: Tensor<B, 2, Int>) -> Tensor<B, 3> {
        self.net.forward_features(items, Some(&self.weights)).logits
    }

    fn next_item_scores(&self, items: Tensor<B, 2, Int>) -> Tensor<B, 2> {
        self.net.forward_last(items, Some(&self.weights))
    }
}
