//! Input and weight gradients of the convolution primitives against finite differences. These ops are
//! linear in their input, so central differences are exact up to f32 rounding. They exercise the
//! transposed convolutions of the CPU backend (depthwise fast path, the patched dense NCHW GEMM path
//! and the grouped GEMM path), the weight gradients (the patched burn-flex's direct depthwise kernel,
//! its dense per-image GEMMs and the grouped fallback), and the dense forward against its definition.

mod common;

use burn::module::Module;
use burn::tensor::module::{conv1d, conv2d};
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Distribution, ElementConversion, Tensor, TensorData};
use common::Cpu;
use kdnas::ops::conv2d::conv::Depthwise;

/// max |analytic - numeric| / max |numeric| of d sum(f(x) * r) / dx, for x of `shape`.
fn grad_error(f: &dyn Fn(Tensor<Cpu, 4>) -> Tensor<Cpu, 4>, shape: [usize; 4]) -> f64 {
    let device = Default::default();
    let x0 = Tensor::<Cpu, 4>::random(shape, Distribution::Normal(0.0, 1.0), &device);
    let r = f(x0.clone()).random_like(Distribution::Normal(0.0, 1.0)).detach();
    let x = x0.clone().detach().require_grad();
    let grads = (f(x.clone()) * r.clone()).sum().backward();
    let analytic: Vec<f32> = x.grad(&grads).unwrap().into_data().into_vec().unwrap();
    let base: Vec<f32> = x0.into_data().into_vec().unwrap();
    let loss = |values: &[f32]| -> f64 {
        let t = Tensor::<Cpu, 4>::from_data(TensorData::new(values.to_vec(), shape), &device);
        let v: f32 = (f(t) * r.clone()).sum().into_scalar().elem();
        v as f64
    };
    let h = 0.05f32;
    let (mut err, mut scale) = (0.0f64, 0.0f64);
    for i in 0..base.len() {
        let (mut plus, mut minus) = (base.clone(), base.clone());
        plus[i] += h;
        minus[i] -= h;
        let numeric = (loss(&plus) - loss(&minus)) / (2.0 * h as f64);
        err = err.max((numeric - analytic[i] as f64).abs());
        scale = scale.max(numeric.abs());
    }
    err / scale
}

#[test]
fn depthwise_input_gradients_match_finite_differences() {
    let device = Default::default();
    for (kernel, stride, dilation) in [(3, 1, 1), (5, 1, 1), (3, 1, 2), (5, 1, 2), (3, 2, 1), (5, 2, 2)] {
        let conv = Depthwise::<Cpu>::new(3, kernel, stride, dilation, &device).no_grad();
        let err = grad_error(&|x| conv.forward(x), [2, 3, 7, 6]);
        assert!(err < 1e-3, "k{kernel} s{stride} d{dilation}: relative error {err:.2e}");
    }
}

#[test]
fn grouped_and_dense_strided_conv_input_gradients_match() {
    let device = Default::default();
    for (c_in, c_out, groups, stride) in [(4, 6, 1, 2), (4, 4, 2, 1), (4, 8, 4, 2)] {
        let w = Tensor::<Cpu, 4>::random([c_out, c_in / groups, 3, 3], Distribution::Normal(0.0, 0.5), &device);
        let f =
            |x: Tensor<Cpu, 4>| conv2d(x, w.clone(), None, ConvOptions::new([stride, stride], [1, 1], [1, 1], groups));
        let err = grad_error(&f, [2, c_in, 6, 5]);
        assert!(err < 1e-3, "c_in {c_in} c_out {c_out} groups {groups} stride {stride}: relative error {err:.2e}");
    }
}

#[test]
fn depthwise_weight_gradients_match_finite_differences() {
    let device = Default::default();
    let x = Tensor::<Cpu, 4>::random([2, 3, 7, 6], Distribution::Normal(0.0, 1.0), &device);
    for (kernel, stride, dilation) in [(3, 1, 1), (5, 1, 1), (3, 1, 2), (5, 1, 2), (3, 2, 1), (5, 2, 2)] {
        let padding = dilation * (kernel - 1) / 2;
        let options = ConvOptions::new([stride, stride], [padding, padding], [dilation, dilation], 3);
        let f = |w: Tensor<Cpu, 4>| conv2d(x.clone(), w, None, options.clone());
        let err = grad_error(&f, [3, 1, kernel, kernel]);
        assert!(err < 1e-3, "k{kernel} s{stride} d{dilation}: relative error {err:.2e}");
    }
}

#[test]
fn grouped_and_dense_conv_weight_gradients_match() {
    let device = Default::default();
    for (c_in, c_out, groups, stride) in [(4, 6, 1, 2), (4, 4, 2, 1), (4, 8, 4, 2), (3, 6, 3, 1)] {
        let x = Tensor::<Cpu, 4>::random([2, c_in, 6, 5], Distribution::Normal(0.0, 1.0), &device);
        let options = ConvOptions::new([stride, stride], [1, 1], [1, 1], groups);
        let f = |w: Tensor<Cpu, 4>| conv2d(x.clone(), w, None, options.clone());
        let err = grad_error(&f, [c_out, c_in / groups, 3, 3]);
        assert!(err < 1e-3, "c_in {c_in} c_out {c_out} groups {groups} stride {stride}: relative error {err:.2e}");
    }
}

#[test]
fn depthwise_conv1d_weight_gradients_match() {
    let device = Default::default();
    let x = Tensor::<Cpu, 3>::random([2, 4, 9], Distribution::Normal(0.0, 1.0), &device);
    for (kernel, dilation) in [(3, 1), (3, 2), (5, 1)] {
        let options = ConvOptions::new([1], [dilation * (kernel - 1)], [dilation], 4);
        let f = |w: Tensor<Cpu, 4>| {
            let y = conv1d(x.clone(), w.reshape([4, 1, kernel]), None, options.clone()); // [2, 4, L_out]
            y.unsqueeze_dim::<4>(2)
        };
        let err = grad_error(&f, [4, 1, 1, kernel]);
        assert!(err < 1e-3, "k{kernel} d{dilation}: relative error {err:.2e}");
    }
}

/// Dense (one group) 2-D convolutions of the patched NCHW path: (c_in, c_out, kernel, stride, padding,
/// dilation), covering 3x3 same, strided, 1x1 strided (shortcuts), dilated, a non-square kernel with
/// unequal padding, and a kernel larger than the padded border. More than 4 input channels: flex sends
/// convolutions with fewer (and at most 16 outputs) to its small-channel forward instead.
const DENSE_CASES: [(usize, usize, [usize; 2], [usize; 2], [usize; 2], [usize; 2]); 6] = [
    (5, 4, [3, 3], [1, 1], [1, 1], [1, 1]),
    (6, 5, [3, 3], [2, 2], [1, 1], [1, 1]),
    (5, 2, [1, 1], [2, 2], [0, 0], [1, 1]),
    (5, 3, [3, 3], [1, 1], [2, 2], [2, 2]),
    (6, 3, [1, 5], [1, 1], [0, 4], [1, 2]),
    (5, 2, [5, 5], [1, 1], [1, 1], [1, 1]),
];

/// The convolution by its definition: `x` [n, c, h, w], `w` [o, c, kh, kw] -> [n, o, ho, wo] as a vector.
fn naive_conv2d(
    x: &Tensor<Cpu, 4>,
    w: &Tensor<Cpu, 4>,
    stride: [usize; 2],
    pad: [usize; 2],
    dil: [usize; 2],
) -> Vec<f32> {
    let [n, c, h, wd] = x.dims();
    let [o, _, kh, kw] = w.dims();
    let (xv, wv): (Vec<f32>, Vec<f32>) = (x.to_data().into_vec().unwrap(), w.to_data().into_vec().unwrap());
    let out = |size: usize, i: usize, k: usize| (size + 2 * pad[i] - dil[i] * (k - 1) - 1) / stride[i] + 1;
    let (ho, wo) = (out(h, 0, kh), out(wd, 1, kw));
    let mut y = vec![0.0f32; n * o * ho * wo];
    for (idx, yv) in y.iter_mut().enumerate() {
        let (b, oc, oy, ox) = (idx / (o * ho * wo), idx / (ho * wo) % o, idx / wo % ho, idx % wo);
        for ic in 0..c {
            for ty in 0..kh {
                for tx in 0..kw {
                    let iy = (oy * stride[0] + ty * dil[0]) as isize - pad[0] as isize;
                    let ix = (ox * stride[1] + tx * dil[1]) as isize - pad[1] as isize;
                    if iy >= 0 && ix >= 0 && (iy as usize) < h && (ix as usize) < wd {
                        *yv += xv[((b * c + ic) * h + iy as usize) * wd + ix as usize]
                            * wv[((oc * c + ic) * kh + ty) * kw + tx];
                    }
                }
            }
        }
    }
    y
}

#[test]
fn dense_conv_forward_matches_the_definition() {
    let device = Default::default();
    for (c_in, c_out, kernel, stride, padding, dilation) in DENSE_CASES {
        let x = Tensor::<Cpu, 4>::random([3, c_in, 9, 7], Distribution::Normal(0.0, 1.0), &device);
        let w = Tensor::<Cpu, 4>::random([c_out, c_in, kernel[0], kernel[1]], Distribution::Normal(0.0, 1.0), &device);
        let bias = Tensor::<Cpu, 1>::random([c_out], Distribution::Normal(0.0, 1.0), &device);
        let y = conv2d(x.clone(), w.clone(), Some(bias.clone()), ConvOptions::new(stride, padding, dilation, 1));
        let [_, _, ho, wo] = y.dims();
        let expected = Tensor::<Cpu, 4>::from_data(
            TensorData::new(naive_conv2d(&x, &w, stride, padding, dilation), [3, c_out, ho, wo]),
            &device,
        ) + bias.reshape([1, c_out, 1, 1]);
        let err: f32 = (y - expected).abs().max().into_scalar().elem();
        assert!(err < 1e-4, "k{kernel:?} s{stride:?} p{padding:?} d{dilation:?}: max error {err:.2e}");
    }
}

#[test]
fn dense_conv_input_and_weight_gradients_match() {
    let device = Default::default();
    for (c_in, c_out, kernel, stride, padding, dilation) in DENSE_CASES {
        let options = ConvOptions::new(stride, padding, dilation, 1);
        let w = Tensor::<Cpu, 4>::random([c_out, c_in, kernel[0], kernel[1]], Distribution::Normal(0.0, 0.5), &device);
        let err = grad_error(&|x| conv2d(x, w.clone(), None, options.clone()), [2, c_in, 7, 6]);
        assert!(err < 1e-3, "input, k{kernel:?} s{stride:?} p{padding:?} d{dilation:?}: relative error {err:.2e}");
        // 5 images: the weight gradient sums images in chunks of 4, so the last chunk is partial.
        let x = Tensor::<Cpu, 4>::random([5, c_in, 7, 6], Distribution::Normal(0.0, 1.0), &device);
        let err = grad_error(&|w| conv2d(x.clone(), w, None, options.clone()), [c_out, c_in, kernel[0], kernel[1]]);
        assert!(err < 1e-3, "weight, k{kernel:?} s{stride:?} p{padding:?} d{dilation:?}: relative error {err:.2e}");
    }
}

#[test]
fn dense_conv1d_gradients_match() {
    let device = Default::default();
    for (kernel, dilation) in [(3, 1), (3, 2), (5, 2)] {
        let options = ConvOptions::new([1], [dilation * (kernel - 1)], [dilation], 1);
        let w = Tensor::<Cpu, 3>::random([5, 6, kernel], Distribution::Normal(0.0, 0.5), &device);
        let x = Tensor::<Cpu, 3>::random([3, 6, 9], Distribution::Normal(0.0, 1.0), &device);
        let by_input =
            |x: Tensor<Cpu, 4>| conv1d(x.squeeze_dim(2), w.clone(), None, options.clone()).unsqueeze_dim::<4>(2);
        let err = grad_error(&by_input, [3, 6, 1, 9]);
        assert!(err < 1e-3, "input, k{kernel} d{dilation}: relative error {err:.2e}");
        let by_weight =
            |w: Tensor<Cpu, 4>| conv1d(x.clone(), w.squeeze_dim(2), None, options.clone()).unsqueeze_dim::<4>(2);
        let err = grad_error(&by_weight, [5, 6, 1, kernel]);
        assert!(err < 1e-3, "weight, k{kernel} d{dilation}: relative error {err:.2e}");
    }
}

/// Naive pooling of one [n, c, h, w] tensor as a linear map at `x`: for every output, the (input
/// index, weight) pairs it sums — the first maximum with weight 1, or the averaged window.
fn reference_pool(
    x: &[f32],
    shape: [usize; 4],
    window: (usize, usize, usize),
    max: bool,
    include_pad: bool,
) -> Vec<Vec<(usize, f32)>> {
    let ([n, c, h, w], (k, s, p)) = (shape, window);
    let (oh_n, ow_n) = ((h + 2 * p - k) / s + 1, (w + 2 * p - k) / s + 1);
    let mut outputs = Vec::new();
    for plane in 0..n * c {
        for oh in 0..oh_n {
            for ow in 0..ow_n {
                let mut taps = Vec::new();
                for kh in 0..k {
                    for kw in 0..k {
                        let (ih, iw) = ((oh * s + kh) as isize - p as isize, (ow * s + kw) as isize - p as isize);
                        if ih >= 0 && iw >= 0 && (ih as usize) < h && (iw as usize) < w {
                            taps.push(plane * h * w + ih as usize * w + iw as usize);
                        }
                    }
                }
                let divisor = if include_pad { k * k } else { taps.len() } as f32;
                outputs.push(match max {
                    true => {
                        let first_max = taps.iter().copied().reduce(|a, b| if x[b] > x[a] { b } else { a }).unwrap();
                        vec![(first_max, 1.0)]
                    }
                    false => taps.iter().map(|&t| (t, 1.0 / divisor)).collect(),
                });
            }
        }
    }
    outputs
}

#[test]
fn pooling_values_and_gradients_match_a_naive_reference() {
    use burn::tensor::module::{avg_pool2d, max_pool2d};
    let device = Default::default();
    let shape = [2, 3, 7, 6];
    for (k, s, p) in [(3, 1, 1), (3, 2, 1), (2, 2, 0), (3, 2, 0)] {
        let x = Tensor::<Cpu, 4>::random(shape, Distribution::Normal(0.0, 1.0), &device);
        let values: Vec<f32> = x.to_data().into_vec().unwrap();
        for (max, include_pad) in [(true, false), (false, false), (false, true)] {
            let label = format!("k{k} s{s} p{p} max {max} include_pad {include_pad}");
            let pool = |t: Tensor<Cpu, 4>| match max {
                true => max_pool2d(t, [k, k], [s, s], [p, p], [1, 1], false),
                false => avg_pool2d(t, [k, k], [s, s], [p, p], include_pad, false),
            };
            let linear = reference_pool(&values, shape, (k, s, p), max, include_pad);
            let tracked = x.clone().detach().require_grad();
            let y = pool(tracked.clone());
            let r = y.random_like(Distribution::Normal(0.0, 1.0)).detach();
            let got: Vec<f32> = y.to_data().into_vec().unwrap();
            let grads = (y * r.clone()).sum().backward();
            let got_grad: Vec<f32> = tracked.grad(&grads).unwrap().into_data().into_vec().unwrap();
            let r: Vec<f32> = r.into_data().into_vec().unwrap();
            let mut want_grad = vec![0.0f32; values.len()];
            assert_eq!(got.len(), linear.len(), "{label}");
            for ((g, taps), r) in got.iter().zip(&linear).zip(&r) {
                let want: f32 = taps.iter().map(|&(i, wt)| values[i] * wt).sum();
                assert!((g - want).abs() < 1e-5, "{label}: value {g} vs {want}");
                taps.iter().for_each(|&(i, wt)| want_grad[i] += r * wt);
            }
            for (g, w) in got_grad.iter().zip(&want_grad) {
                assert!((g - w).abs() < 1e-5, "{label}: gradient {g} vs {w}");
            }
        }
    }
}
