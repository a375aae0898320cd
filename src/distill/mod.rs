//! Task-free distillation losses: functions of tensors (logits or features), never of tasks or models.
//! Each returns a differentiable `[1]` tensor; weighting and summing the terms is the caller's job.
//!
//! | loss | reference | formula |
//! |---|---|---|
//! | [`kd_loss`] | Hinton et al. 2015 (torchdistill, CRD) | `T^2 / n * sum p (log p - log_softmax(s/T))`, `p = softmax(t/T)` |
//! | [`feature_l2`] | FitNets, Romero et al. 2015 (hint on a regressor's output) | `mean (s - t)^2` |
//! | [`attention_loss`] | Zagoruyko & Komodakis 2017 (torchdistill's AT) | `mean (Q_s - Q_t)^2`, `Q = normalize(mean_c abs(x)^p)` |
//! | [`margin_l2`] | Heo et al. 2019, overhaul of feature distillation | `mean` of [`partial_l2_sum`]'s terms |
//! | [`partial_l2_sum`] | Heo et al. 2019 (PkuDavidGuan/Distillation's `distillation_loss`) | `sum [s > m, t <= m] (s - m)^2 + [s > t, m < t <= 0] (s - t)^2 + [t > 0] (s - t)^2` |
//! | [`overhaul_loss`] | the same, over positions (`MarginReLULoss`) | `sum_i partial_l2_sum_i / 2^(n - i - 1) / batch` |
//! | [`rkd_loss`] | Park et al. 2019, relational KD (mdistiller, RepDistiller) | `w_d huber(psi_D(s), psi_D(t)) + w_a huber(psi_A(s), psi_A(t))` over the batch's pairs and triplets |
//!
//! [`overhaul_margin`] gives `margin_c = E[x | x < 0]` for `x ~ N(beta_c, gamma_c^2)` from the teacher's
//! pre-ReLU BatchNorm (or `-3 |gamma_c|` when `Phi(-beta_c / |gamma_c|) <= 0.001`). The teacher's tensors are
//! normally detached by the caller.

pub mod attention;
pub mod emd;
pub mod feature;
pub mod kd;
pub mod objective;
pub mod overhaul;
pub mod rkd;

pub use attention::{attention_loss, attention_map};
pub use feature::{Distance, feature_l2, margin_l2, normal_cdf, overhaul_margin};
pub use kd::{kd_loss, kd_rows};
pub use overhaul::{overhaul_loss, partial_l2_sum};
pub use rkd::rkd_loss;
