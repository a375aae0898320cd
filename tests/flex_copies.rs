//! The burn-flex layout patches (vendor/README.md): permuted views of rank 3 to 5 copied to contiguous
//! memory through the per-plane tiled copy equal a naive index walk, and `slice_assign` (under every
//! `pad`) writes into its own buffer without touching a tensor that shares the input's buffer; `cat` of
//! narrowed, transposed and empty views equals a naive concatenation.

use burn::backend::Flex;
use burn::tensor::ops::PadMode;
use burn::tensor::{Tensor, TensorData};

/// `0, 1, 2, ...` in `shape`.
fn iota<const D: usize>(shape: [usize; D]) -> (Tensor<Flex, D>, Vec<f32>) {
    let values: Vec<f32> = (0..shape.iter().product::<usize>()).map(|i| i as f32).collect();
    (Tensor::from_data(TensorData::new(values.clone(), shape), &Default::default()), values)
}

fn values<const D: usize>(t: Tensor<Flex, D>) -> Vec<f32> {
    t.into_data().into_vec().unwrap()
}

/// The row-major offsets of `shape`'s dims.
fn row_major_strides(shape: &[usize]) -> Vec<usize> {
    let mut strides = vec![1; shape.len()];
    for d in (0..shape.len().saturating_sub(1)).rev() {
        strides[d] = strides[d + 1] * shape[d + 1];
    }
    strides
}

/// The elements of `source` (row-major in `shape`) in the order of the permutation `axes`.
fn naive_permute(source: &[f32], shape: &[usize], axes: &[usize]) -> Vec<f32> {
    let strides = row_major_strides(shape);
    let out_shape: Vec<usize> = axes.iter().map(|&a| shape[a]).collect();
    let out_strides = row_major_strides(&out_shape);
    (0..source.len())
        .map(|flat| {
            let offset: usize =
                axes.iter().enumerate().map(|(d, &a)| (flat / out_strides[d]) % out_shape[d] * strides[a]).sum();
            source[offset]
        })
        .collect()
}

/// Every permutation of `0..n`.
fn permutations(n: usize) -> Vec<Vec<usize>> {
    if n == 0 {
        return vec![vec![]];
    }
    permutations(n - 1)
        .into_iter()
        .flat_map(|p| {
            (0..n).map(move |at| {
                let mut q = p.clone();
                q.insert(at, n - 1);
                q
            })
        })
        .collect()
}

#[test]
fn batched_transpose_copies_equal_the_naive_walk() {
    // The sequence cell's case: [batch, time, dim] viewed [batch, dim, time], planes larger than a tile.
    let shape = [3, 37, 20];
    let (x, source) = iota(shape);
    let copied = values(x.swap_dims(1, 2).reshape([3 * 20 * 37]));
    assert_eq!(copied, naive_permute(&source, &shape, &[0, 2, 1]));
    // Large enough (over 256K elements) for the planes to be copied in parallel.
    let shape = [5, 257, 211];
    let (x, source) = iota(shape);
    let copied = values(x.swap_dims(1, 2).reshape([5 * 211 * 257]));
    assert_eq!(copied, naive_permute(&source, &shape, &[0, 2, 1]));
}

#[test]
fn every_permutation_of_rank_three_to_five_copies_equal_the_naive_walk() {
    fn check<const D: usize>(shape: [usize; D]) {
        let (x, source) = iota(shape);
        let numel: usize = shape.iter().product();
        for axes in permutations(D) {
            let axes_array: [usize; D] = axes.clone().try_into().unwrap();
            let copied = values(x.clone().permute(axes_array).reshape([numel]));
            assert_eq!(copied, naive_permute(&source, &shape, &axes), "shape {shape:?}, permutation {axes:?}");
        }
    }
    check([4, 3, 18]);
    check([2, 5, 1, 17]);
    check([2, 3, 4, 5, 3]);
}

#[test]
fn a_narrowed_permuted_view_copies_only_its_elements() {
    let shape = [4, 6, 19];
    let (x, source) = iota(shape);
    let view = x.narrow(2, 3, 11).narrow(0, 1, 2).swap_dims(1, 2); // [2, 11, 6]
    let expected: Vec<f32> = (0..2)
        .flat_map(|b| (0..11).flat_map(move |t| (0..6).map(move |c| ((b + 1) * 6 * 19 + c * 19 + t + 3) as f32)))
        .collect();
    assert_eq!(source.len(), 4 * 6 * 19);
    assert_eq!(values(view.reshape([2 * 11 * 6])), expected);
}

#[test]
fn slice_assign_leaves_tensors_sharing_the_buffer_unchanged() {
    let (target, original) = iota([2, 3, 4]);
    let kept = target.clone(); // shares the buffer with `target`
    let patch = Tensor::<Flex, 3>::full([2, 3, 2], -1.0, &Default::default());
    let written = values(target.slice_assign([0..2, 0..3, 1..3], patch));
    assert_eq!(values(kept), original);
    let expected: Vec<f32> =
        original.iter().enumerate().map(|(i, &v)| if (1..3).contains(&(i % 4)) { -1.0 } else { v }).collect();
    assert_eq!(written, expected);
}

#[test]
fn left_padding_puts_zeros_before_the_input() {
    let (x, source) = iota([2, 3, 5]);
    let padded = values(x.pad([(0, 0), (0, 0), (2, 0)], PadMode::Constant(0.0)));
    let expected: Vec<f32> =
        source.chunks(5).flat_map(|row| [0.0, 0.0].iter().chain(row).copied().collect::<Vec<_>>()).collect();
    assert_eq!(padded, expected);
}

#[test]
fn a_narrowed_view_copies_its_rows() {
    // Rows with gaps between them (the 2-D copy with contiguous rows).
    let (x, source) = iota([3, 8, 5]);
    let view = x.narrow(1, 2, 4); // [3, 4, 5]
    let expected: Vec<f32> = (0..3).flat_map(|b| source[b * 40 + 10..b * 40 + 30].to_vec()).collect();
    assert_eq!(values(view.reshape([60])), expected);
}

/// `pieces` concatenated along `dim` of the logical `[a, b, c]` tensors, element by element.
fn naive_cat(pieces: &[(Vec<f32>, [usize; 3])], dim: usize) -> Vec<f32> {
    let mut out_shape = pieces[0].1;
    out_shape[dim] = pieces.iter().map(|(_, s)| s[dim]).sum();
    let mut out = Vec::new();
    for i in 0..out_shape[0] {
        for j in 0..out_shape[1] {
            for k in 0..out_shape[2] {
                let mut index = [i, j, k];
                let mut piece = 0;
                while index[dim] >= pieces[piece].1[dim] {
                    index[dim] -= pieces[piece].1[dim];
                    piece += 1;
                }
                let [_, b, c] = pieces[piece].1;
                out.push(pieces[piece].0[index[0] * b * c + index[1] * c + index[2]]);
            }
        }
    }
    out
}

#[test]
fn cat_of_views_equals_the_naive_concatenation() {
    let (x, _) = iota([4, 9, 6]);
    for dim in 0..3 {
        // A contiguous tensor, a narrowed view (packed from `dim` on, or not), a transposed view and a
        // zero-size piece, all of the same shape outside `dim`.
        let narrowed = x.clone().narrow(dim, 1, 2);
        let transposed = x.clone().swap_dims(0, 2).reshape([6, 9, 4]).swap_dims(0, 2); // [4, 9, 6], strided
        let mut empty_shape = [4, 9, 6];
        empty_shape[dim] = 0;
        let empty = Tensor::<Flex, 3>::zeros(empty_shape, &Default::default());
        let pieces = [x.clone(), narrowed, empty, transposed];
        let naive: Vec<(Vec<f32>, [usize; 3])> = pieces.iter().map(|p| (values(p.clone()), p.dims())).collect();
        assert_eq!(values(Tensor::cat(pieces.to_vec(), dim)), naive_cat(&naive, dim), "dim {dim}");
    }
}
