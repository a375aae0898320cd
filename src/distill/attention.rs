//! Attention transfer (Zagoruyko & Komodakis 2017, "Paying More Attention to Attention").

use burn::tensor::{Tensor, backend::Backend};

/// `F.normalize`'s epsilon: rows with an L2 norm below it are divided by it instead.
const NORM_EPS: f64 = 1e-12;

/// The spatial attention map of `x: [batch, channels, h, w]`: the channel mean of `|x|^p`, flattened to
/// `[batch, h*w]` and L2-normalised per row (PyTorch's `F.normalize`, eps 1e-12).
pub fn attention_map<B: Backend>(x: Tensor<B, 4>, p: f64) -> Tensor<B, 2> {
    let [n, c, h, w] = x.dims();
    let x = x.reshape([n, c, h * w]); // [n, c, hw]
    let energy = if p == 2.0 { x.square() } else { x.abs().powf_scalar(p) }; // [n, c, hw]
    let map = energy.mean_dim(1).reshape([n, h * w]); // [n, hw]
    // sqrt(max(|q|^2, eps^2)) = max(|q|, eps) without sqrt's infinite slope at an all-zero row.
    let norm = map.clone().square().sum_dim(1).clamp_min(NORM_EPS * NORM_EPS).sqrt(); // [n, 1]
    map / norm
}

/// Attention-transfer loss between `[batch, channels, h, w]` features, as `[1]`: the mean over all
/// elements of `(Q_s - Q_t)^2` with `Q = attention_map(x, p)`, exactly torchdistill's
/// `(at(s) - at(t)).pow(2).mean()`.
///
/// The paper's formulation differs: it weights each pair by `beta/2` (a constant factor) and takes the L2
/// norm of `Q_s - Q_t` per example instead of this mean square. Channel counts may differ; the batch size
/// and spatial size must match. The teacher feature is normally detached by the caller.
///
/// # Panics
/// If the batch or spatial sizes differ (a programming error of the caller).
pub fn attention_loss<B: Backend>(student: Tensor<B, 4>, teacher: Tensor<B, 4>, p: f64) -> Tensor<B, 1> {
    let ([ns, _, hs, ws], [nt, _, ht, wt]) = (student.dims(), teacher.dims());
    assert_eq!((ns, hs, ws), (nt, ht, wt), "attention_loss: batch or spatial sizes of the features differ");
    (attention_map(student, p) - attention_map(teacher, p)).square().mean()
}
