//! AdaRec's stage 1 as a [`SearchTask`]: the student supernet and its projections are the weights, the
//! shared op choices of its cells the architecture. One objective (spec/adarec.md) trains both:
//! `(1 - gamma) CE + gamma (embedding MSE + hidden EMD + logit KL) + beta * expected cost`.
//!
//! The EMD layer masses are the task's state: every evaluation of the loss solves the transport with
//! the current masses and then updates them (AdaRec's order), so single-level search updates them once
//! per step, first-order bi-level twice (architecture batch, then weight batch) and second order at
//! each of its four loss evaluations.

use super::budget::{BudgetState, ParamBudget};
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
use crate::models::sequence_cell_network::SequenceCellNetwork;
use crate::run::TaskLoss;
use crate::search::task::Evaluation;
use crate::search::{SearchTask, Split};
use crate::supernet::ArchWeights;
use crate::supernet::cost::CostTable;
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
    /// The parameter budget and its multiplier, when `adarec.target_params` is set.
    budget: Option<(ParamBudget, RefCell<BudgetState>)>,
    device: AB::Device,
}

/// The parts of AdaRec's architecture loss whose gradients the search records: the task and
/// distillation terms, and the cost terms (beta times the expected cost, plus the budget term).
const ARCH_LOSS_PARTS: [&str; 2] = ["task_distill", "cost"];

/// An architecture-only term: its name, the value reported, the value added to the total.
type CostTerm<AB> = (&'static str, Tensor<AB, 1>, Tensor<AB, 1>);

/// The task state's key of the budget multiplier (beside the EMD state's keys).
const BUDGET_KEY: &str = "budget";

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
        Ok(Self { data, splits, teacher, losses, costs, emd: RefCell::new(emd), budget: None, device })
    }

    /// The same task with a parameter budget (`adarec.target_params`).
    pub fn with_budget(self, budget: ParamBudget) -> Self {
        Self { budget: Some((budget, RefCell::new(BudgetState::default()))), ..self }
    }

    /// The EMD state as it stands.
    pub fn emd_state(&self) -> EmdState {
        self.emd.borrow().clone()
    }

    /// The whole objective: the task and distillation terms plus the cost terms. `update` advances the
    /// EMD masses and the budget multiplier (false for the gradient probes, which must not alter the run).
    fn loss(
        &self,
        net: &AdarecStudent<AB>,
        weights: &ArchWeights<AB>,
        batch: &AdarecBatch<AB>,
        update: bool,
    ) -> TaskLoss<AB> {
        let mut loss = self.task_distill_loss(net, weights, batch, update);
        for (name, reported, term) in self.cost_terms(weights, update) {
            loss.total = loss.total + term;
            loss.terms.push((name, reported));
        }
        loss
    }

    /// `(1 - gamma) CE + gamma (embedding MSE + hidden EMD + logit KL)` with its terms.
    fn task_distill_loss(
        &self,
        net: &AdarecStudent<AB>,
        weights: &ArchWeights<AB>,
        batch: &AdarecBatch<AB>,
        update: bool,
    ) -> TaskLoss<AB> {
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
        let emd = self.hidden_emd(&hidden, &teacher.hidden, mask, update);
        let logit = masked_logit_kl(
            features.logits,
            teacher.logits.clone(),
            mask.clone(),
            count,
            self.losses.logit_temperature,
        );
        let l = &self.losses;
        let kl_scale = l.reduction.scale(count, mask.dims()[0]);
        let (emd, logit) = (emd.mul_scalar(kl_scale), logit.mul_scalar(kl_scale));
        let distill = embedding.clone() + emd.clone() + logit.clone();
        TaskLoss {
            total: ce.clone().mul_scalar(1.0 - l.gamma) + distill.mul_scalar(l.gamma),
            terms: vec![("cross_entropy", ce), ("embedding_mse", embedding), ("hidden_emd", emd), ("logit_kl", logit)],
            correct: None,
            count,
        }
    }

    /// The architecture-only terms, each as (name, value reported, value in the total): the expected
    /// cost (reported before beta, entering times beta) and, with a budget, `multiplier * E[size] /
    /// target`.
    fn cost_terms(&self, weights: &ArchWeights<AB>, update: bool) -> Vec<CostTerm<AB>> {
        let cost = self.costs.expected(weights);
        let mut terms = vec![("cost", cost.clone(), cost.mul_scalar(self.losses.beta))];
        if let Some((budget, state)) = &self.budget {
            let (term, next) = budget.term(weights, *state.borrow(), self.losses.budget_rate());
            if update {
                *state.borrow_mut() = next;
            }
            terms.push(("budget", term.clone(), term));
        }
        terms
    }

    /// The hidden-EMD term of the student's projected cell outputs against the teacher's layers, with
    /// the mass update when `update`. The layer shapes are fixed by construction, so the mapping fails only on a
    /// non-finite distance: the term is then NaN, which the loop reports by name.
    fn hidden_emd(
        &self,
        student: &[Tensor<AB, 3>],
        teacher: &[Tensor<AB, 3>],
        mask: &Tensor<AB, 2>,
        update: bool,
    ) -> Tensor<AB, 1> {
        let mut masses = self.emd.borrow().masses.clone();
        match layer_emd(student, teacher, Some(mask.clone().bool()), self.losses.distance, &mut masses) {
            Ok(emd) if update => {
                let mut state = self.emd.borrow_mut();
                state.masses = masses;
                state.flow = emd.plan.flow.rows().into_iter().map(|row| row.to_vec()).collect();
                emd.loss
            }
            Ok(emd) => emd.loss,
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
        self.loss(net, weights, batch, true)
    }

    fn arch_loss_parts(&self) -> &'static [&'static str] {
        &ARCH_LOSS_PARTS
    }

    fn arch_loss_part(
        &self,
        part: usize,
        net: &Self::Net,
        weights: &ArchWeights<AB>,
        batch: &Self::Batch,
    ) -> Option<Tensor<AB, 1>> {
        match part {
            0 => Some(self.task_distill_loss(net, weights, batch, false).total),
            1 => self.cost_terms(weights, false).into_iter().map(|(_, _, term)| term).reduce(|a, b| a + b),
            _ => None,
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
        let mut state = serde_json::to_value(&*self.emd.borrow()).ok()?;
        if let (Some((_, budget)), Some(object)) = (&self.budget, state.as_object_mut()) {
            object.insert(BUDGET_KEY.into(), serde_json::to_value(*budget.borrow()).ok()?);
        }
        Some(state)
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
        if let (Some((_, budget)), Some(saved)) = (&self.budget, state.get(BUDGET_KEY)) {
            *budget.borrow_mut() = serde_json::from_value(saved.clone()).map_err(|e| KdnasError::Checkpoint {
                path: file.to_path_buf(),
                message: format!("the budget multiplier is unreadable: {e}"),
            })?;
        }
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
