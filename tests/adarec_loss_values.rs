//! AdaRec's loss terms against values computed independently on tiny tensors with plain loops: the
//! logit KL's direction (teacher distribution first), its padding mask, the embedding MSE's division by
//! the channel count, and AdaRec's sequence-sum scale.

use burn::backend::Flex;
use burn::tensor::Tensor;
use kdnas::tasks::adarec::losses::{KlReduction, masked_logit_kl, masked_mse};

/// `[batch = 2, time = 2, channels = 3]` values.
const S: [[[f32; 3]; 2]; 2] = [[[0.5, -1.0, 2.0], [0.1, 0.2, 0.3]], [[1.5, 0.0, -0.5], [-2.0, 1.0, 0.5]]];
const T: [[[f32; 3]; 2]; 2] = [[[1.0, 0.0, 1.0], [-0.3, 0.8, 0.0]], [[0.0, 2.0, 1.0], [0.4, -1.0, 3.0]]];
/// Position (0, 0) is padding.
const MASK: [[f32; 2]; 2] = [[0.0, 1.0], [1.0, 1.0]];

fn tensors() -> (Tensor<Flex, 3>, Tensor<Flex, 3>, Tensor<Flex, 2>) {
    let dev = Default::default();
    (Tensor::from_floats(S, &dev), Tensor::from_floats(T, &dev), Tensor::from_floats(MASK, &dev))
}

fn softmax(x: &[f32], temperature: f64) -> Vec<f64> {
    let z: Vec<f64> = x.iter().map(|v| *v as f64 / temperature).collect();
    let max = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let sum: f64 = z.iter().map(|v| (v - max).exp()).sum();
    z.iter().map(|v| (v - max).exp() / sum).collect()
}

/// `T^2 KL(softmax(t/T) || softmax(s/T))` summed over real positions, and their count.
fn kl_by_hand(temperature: f64) -> (f64, usize) {
    let mut total = 0.0;
    let mut count = 0;
    for b in 0..2 {
        for t in 0..2 {
            if MASK[b][t] == 0.0 {
                continue;
            }
            let (p, q) = (softmax(&T[b][t], temperature), softmax(&S[b][t], temperature));
            total += temperature * temperature * p.iter().zip(&q).map(|(p, q)| p * (p / q).ln()).sum::<f64>();
            count += 1;
        }
    }
    (total, count)
}

fn value(t: Tensor<Flex, 1>) -> f64 {
    f64::from(t.into_scalar())
}

#[test]
fn logit_kl_is_teacher_first_over_real_positions_only() {
    let (s, t, mask) = tensors();
    for temperature in [1.0, 2.5] {
        let (sum, count) = kl_by_hand(temperature);
        let got = value(masked_logit_kl(s.clone(), t.clone(), mask.clone(), count, temperature));
        assert!((got - sum / count as f64).abs() < 1e-5, "T = {temperature}: {got} vs {}", sum / count as f64);
    }
}

#[test]
fn embedding_mse_is_the_mean_over_real_positions_and_channels() {
    let (s, t, mask) = tensors();
    let mut sum = 0.0;
    for b in 0..2 {
        for p in 0..2 {
            if MASK[b][p] == 1.0 {
                sum += (0..3).map(|c| ((S[b][p][c] - T[b][p][c]) as f64).powi(2)).sum::<f64>();
            }
        }
    }
    let got = value(masked_mse(s, t, mask, 3));
    assert!((got - sum / 9.0).abs() < 1e-5, "{got} vs {}", sum / 9.0);
}

#[test]
fn sequence_sum_is_the_sum_over_each_sequence_averaged_over_sequences() {
    let (s, t, mask) = tensors();
    let (sum, count) = kl_by_hand(1.0);
    let per_position = value(masked_logit_kl(s, t, mask, count, 1.0));
    let got = per_position * KlReduction::SequenceSum.scale(count, 2);
    assert!((got - sum / 2.0).abs() < 1e-5, "{got} vs AdaRec's batchmean {}", sum / 2.0);
    assert_eq!(KlReduction::PerPosition.scale(count, 2), 1.0);
}
