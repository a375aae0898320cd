//! The one weighted sum of the engine: a mixed op's candidate outputs, a node's weighted inputs and
//! DFA's aggregation of a teacher stage's block outputs are all `sum_j w_j * x_j`.

use burn::tensor::{Tensor, backend::Backend};

/// `sum_j weights[j] * terms[j]` for equally shaped `terms` and `weights: [terms]`.
///
/// Panics when `terms` is empty or its length differs from the weights' (a programming error: the
/// callers build both from the same choice).
pub fn weighted_sum<B: Backend, const D: usize>(
    terms: impl IntoIterator<Item = Tensor<B, D>>,
    weights: Tensor<B, 1>,
) -> Tensor<B, D> {
    let count = weights.dims()[0];
    let mut used = 0;
    let weighted = terms.into_iter().map(|t| {
        assert!(used < count, "weighted_sum: more terms than the {count} weights");
        let w = weights.clone().slice([used..used + 1]).reshape([1; D]); // broadcast scalar
        used += 1;
        t * w
    });
    let sum = weighted.reduce(|acc, t| acc + t).expect("weighted_sum needs at least one term");
    assert_eq!(used, count, "weighted_sum: {used} terms for {count} weights");
    sum
}

#[cfg(test)]
mod tests {
    use super::weighted_sum;
    use burn::backend::Flex;
    use burn::tensor::Tensor;

    #[test]
    fn sums_terms_scaled_by_their_weights() {
        let dev = Default::default();
        let a = Tensor::<Flex, 2>::from_floats([[1.0, 2.0], [3.0, 4.0]], &dev);
        let b = Tensor::<Flex, 2>::from_floats([[10.0, 20.0], [30.0, 40.0]], &dev);
        let w = Tensor::<Flex, 1>::from_floats([0.25, 0.5], &dev);
        let got: Vec<f32> = weighted_sum([a, b], w).into_data().into_vec().unwrap();
        assert_eq!(got, vec![5.25, 10.5, 15.75, 21.0]);
    }

    #[test]
    #[should_panic(expected = "terms for")]
    fn refuses_fewer_terms_than_weights() {
        let dev = Default::default();
        let a = Tensor::<Flex, 1>::from_floats([1.0], &dev);
        weighted_sum([a], Tensor::<Flex, 1>::from_floats([0.5, 0.5], &dev));
    }
}
