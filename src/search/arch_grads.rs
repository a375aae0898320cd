//! What drives the architecture: at a few steps of every epoch the loop measures the architecture
//! gradient of each named part of the task's architecture loss (DFA's two bridge paths, AdaRec's task
//! and cost terms) the way the mode computes the real one, and keeps per-epoch means of their norms,
//! their mean directions and the cosine between the first two parts.

use super::bilevel::{Optimisers, StepSettings, unrolled_grad_of};
use super::config::SearchMode;
use super::task::SearchTask;
use crate::error::{KdnasError, Result};
use crate::supernet::ArchParams;
use crate::supernet::arch_params::tensor_rows;
use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::backend::AutodiffBackend;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One part's architecture gradient: `[group][row][candidate]`.
type HostGrad = Vec<Vec<Vec<f32>>>;

/// The per-epoch summary of the probes (a field of the epoch record, a line of `arch_grads.jsonl`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ArchGradRecord {
    /// Probed steps this epoch.
    pub probes: usize,
    /// Per part, the mean over probes of the L2 norm of its whole architecture gradient.
    pub norm: BTreeMap<String, f64>,
    /// Per part, per group and row, the mean over probes of the row gradient's L2 norm.
    pub row_norm: BTreeMap<String, Vec<Vec<f64>>>,
    /// Per part, the mean gradient over probes, `[group][row][candidate]`.
    pub mean: BTreeMap<String, Vec<Vec<Vec<f64>>>>,
    /// Between the first two parts: the mean over probes of the cosine of their whole gradients.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cosine: Option<f64>,
    /// Between the first two parts: per group and row, the mean over probes of their row cosines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub row_cosine: Option<Vec<Vec<f64>>>,
}

/// Accumulates probes over an epoch.
#[derive(Default)]
pub struct ArchGradMeter {
    parts: Vec<String>,
    probes: usize,
    norm: Vec<f64>,
    row_norm: Vec<Vec<Vec<f64>>>,
    sum: Vec<Vec<Vec<Vec<f64>>>>,
    cosine: f64,
    row_cosine: Vec<Vec<f64>>,
}

fn dot(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum()
}

/// `a.b / (|a| |b|)`, 0 when either is zero.
fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let norms = (dot(a, a) * dot(b, b)).sqrt();
    if norms > 0.0 { dot(a, b) / norms } else { 0.0 }
}

fn flat(g: &HostGrad) -> Vec<f32> {
    g.iter().flatten().flatten().copied().collect()
}

impl ArchGradMeter {
    /// Adds one probe: one gradient per part, in the task's part order.
    pub fn add(&mut self, names: &[&str], grads: &[HostGrad]) {
        if self.probes == 0 {
            self.parts = names.iter().map(|n| n.to_string()).collect();
            self.norm = vec![0.0; grads.len()];
            self.row_norm = grads.iter().map(|g| g.iter().map(|rows| vec![0.0; rows.len()]).collect()).collect();
            self.sum = grads
                .iter()
                .map(|g| g.iter().map(|rows| rows.iter().map(|r| vec![0.0; r.len()]).collect()).collect())
                .collect();
            self.row_cosine =
                grads.first().map_or(Vec::new(), |g| g.iter().map(|rows| vec![0.0; rows.len()]).collect());
        }
        self.probes += 1;
        for (p, g) in grads.iter().enumerate() {
            let f = flat(g);
            self.norm[p] += dot(&f, &f).sqrt();
            for (gi, rows) in g.iter().enumerate() {
                for (ri, row) in rows.iter().enumerate() {
                    self.row_norm[p][gi][ri] += dot(row, row).sqrt();
                    for (ci, v) in row.iter().enumerate() {
                        self.sum[p][gi][ri][ci] += *v as f64;
                    }
                }
            }
        }
        if let [a, b, ..] = grads {
            self.cosine += cosine(&flat(a), &flat(b));
            for (gi, rows) in a.iter().enumerate() {
                for (ri, row) in rows.iter().enumerate() {
                    self.row_cosine[gi][ri] += cosine(row, &b[gi][ri]);
                }
            }
        }
    }

    /// The epoch's summary, `None` when nothing was probed.
    pub fn record(&self) -> Option<ArchGradRecord> {
        if self.probes == 0 {
            return None;
        }
        let n = self.probes as f64;
        let mean2 = |rows: &Vec<Vec<f64>>| -> Vec<Vec<f64>> {
            rows.iter().map(|r| r.iter().map(|v| v / n).collect()).collect()
        };
        let two = self.parts.len() >= 2;
        Some(ArchGradRecord {
            probes: self.probes,
            norm: self.parts.iter().zip(&self.norm).map(|(k, v)| (k.clone(), v / n)).collect(),
            row_norm: self.parts.iter().zip(&self.row_norm).map(|(k, v)| (k.clone(), mean2(v))).collect(),
            mean: self
                .parts
                .iter()
                .zip(&self.sum)
                .map(|(k, groups)| (k.clone(), groups.iter().map(mean2).collect()))
                .collect(),
            cosine: two.then(|| self.cosine / n),
            row_cosine: two.then(|| mean2(&self.row_cosine)),
        })
    }
}

/// The steps of an epoch of `steps` at which `probes` probes run, evenly spread (the first included).
pub fn probe_steps(steps: usize, probes: usize) -> Vec<usize> {
    let probes = probes.min(steps);
    let mut at: Vec<usize> = (0..probes).map(|k| k * steps / probes).collect();
    at.dedup();
    at
}

/// The architecture gradient of every part of the task's architecture loss, each computed as the
/// step's mode computes the whole: at the current weights on the training batch (single level), at
/// the current weights on the validation batch (first order), or through the unrolled weight step
/// (second order). Uses the step's relaxation noise; changes no module, optimiser or task state.
pub fn part_grads<AB: AutodiffBackend, T: SearchTask<AB>>(
    task: &T,
    net: &T::Net,
    arch: &ArchParams<AB>,
    opt: &mut Optimisers<AB>,
    train: &T::Batch,
    val: Option<&T::Batch>,
    s: &StepSettings<AB>,
) -> Result<Vec<HostGrad>> {
    let parts = task.arch_loss_parts();
    let mut out = Vec::with_capacity(parts.len());
    for (part, name) in parts.iter().enumerate() {
        let missing =
            || KdnasError::Usage(format!("the task names the architecture-loss part `{name}` but has no loss for it"));
        let grads = match (s.mode, val) {
            (SearchMode::SecondOrder, Some(val)) => {
                let loss = |net: &T::Net, w: &crate::supernet::ArchWeights<AB>| {
                    task.arch_loss_part(part, net, w, val).map(|l| (l, ())).ok_or_else(missing)
                };
                unrolled_grad_of(task, net, arch, opt, train, &loss, s)?.0
            }
            (mode, val) => {
                let (frozen, batch) = match (mode, val) {
                    (SearchMode::SingleLevel, _) | (_, None) => (net.clone(), train),
                    (_, Some(val)) => (net.clone().no_grad(), val),
                };
                let loss = task.arch_loss_part(part, &frozen, &s.weights(arch), batch).ok_or_else(missing)?;
                let mut grads = loss.backward();
                GradientsParams::from_module(&mut grads, arch)
            }
        };
        out.push(host_grad(arch, &grads));
    }
    Ok(out)
}

/// The gradient of every logits group, read to the host (zeros where a part does not reach a group).
fn host_grad<AB: AutodiffBackend>(arch: &ArchParams<AB>, grads: &GradientsParams) -> HostGrad {
    arch.logits
        .iter()
        .map(|p| match grads.get::<AB::InnerBackend, 2>(p.id) {
            Some(g) => tensor_rows(g),
            None => tensor_rows(p.val().inner().zeros_like()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{ArchGradMeter, probe_steps};

    #[test]
    fn probes_spread_over_the_epoch() {
        assert_eq!(probe_steps(10, 4), vec![0, 2, 5, 7]);
        assert_eq!(probe_steps(2, 4), vec![0, 1]);
        assert_eq!(probe_steps(5, 0), Vec::<usize>::new());
    }

    #[test]
    fn the_meter_averages_norms_directions_and_cosines() {
        let mut m = ArchGradMeter::default();
        // Two parts, one group of one row of 2 candidates: opposite directions, then orthogonal.
        m.add(&["a", "b"], &[vec![vec![vec![3.0, 4.0]]], vec![vec![vec![-3.0, -4.0]]]]);
        m.add(&["a", "b"], &[vec![vec![vec![1.0, 0.0]]], vec![vec![vec![0.0, 2.0]]]]);
        let r = m.record().unwrap();
        assert_eq!(r.probes, 2);
        assert_eq!(r.norm["a"], 3.0);
        assert_eq!(r.norm["b"], 3.5);
        assert_eq!(r.mean["a"], vec![vec![vec![2.0, 2.0]]]);
        assert_eq!(r.cosine, Some(-0.5));
        assert_eq!(r.row_cosine, Some(vec![vec![-0.5]]));
        assert!(ArchGradMeter::default().record().is_none());
    }
}
