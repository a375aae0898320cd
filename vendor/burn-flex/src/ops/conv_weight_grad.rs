//! Direct weight gradient of depthwise convolutions (kdnas patch).
//!
//! burn's default `conv{1,2}d_weight_backward` handles grouped convolutions by looping over the
//! groups and running, for every group, a full convolution of the swapped input with the swapped
//! output gradient as a kernel the size of the feature map, followed by a slice-assign. For a
//! depthwise convolution (one input and one output channel per group) that is `channels` im2col
//! convolutions with huge kernels per call. The gradient is a small correlation:
//!
//! `dW[c, 0, t] = sum_n sum_o dY[n, c, o] * X[n, c, o * stride + t * dilation - pad]`
//!
//! computed here per channel (channels in parallel) with the valid output range of every tap
//! computed once and a contiguous dot product for stride 1. Dense (one group) f32 layouts take
//! `conv_dense`'s per-image GEMMs; other layouts and dtypes take
//! [`grouped_weight_grad_2d`], burn's algorithm (one swapped convolution per group).

use alloc::vec;
use alloc::vec::Vec;
use burn_backend::ops::{ConvOptions, FloatTensorOps, ModuleOps};
use burn_backend::{DType, TensorMetadata};
use burn_std::{Bytes, Shape, Slice};

use super::conv_common::valid_output_range;
use crate::{Flex, FlexTensor, Layout};

/// Weight gradient of a 2-D convolution: `x` [batch, c_in, H, W], `weight` [c_out, c_in / groups,
/// kh, kw], `output_grad` [batch, c_out, H_out, W_out]; returns the weight's shape.
pub fn conv2d_weight_grad(
    x: FlexTensor,
    weight: FlexTensor,
    output_grad: FlexTensor,
    options: &ConvOptions<2>,
) -> FlexTensor {
    let ws = weight.layout().shape().to_vec();
    let xs = x.layout().shape();
    let depthwise = x.dtype() == DType::F32 && options.groups == xs[1] && ws[0] == xs[1] && ws[1] == 1;
    if depthwise {
        let geometry = Geometry {
            kernel: [ws[2], ws[3]],
            stride: options.stride,
            padding: options.padding,
            dilation: options.dilation,
        };
        return depthwise_weight_grad_f32(x, output_grad, &geometry);
    }
    if let Some(grad) = super::conv_dense::conv2d_weight_grad(&x, &output_grad, &ws, options) {
        return grad;
    }
    grouped_weight_grad_2d(x, &ws, output_grad, options)
}

/// Weight gradient of a 1-D convolution (through the 2-D one with a height of 1): `x`
/// [batch, c_in, L], `weight` [c_out, c_in / groups, k], `output_grad` [batch, c_out, L_out].
pub fn conv1d_weight_grad(
    x: FlexTensor,
    weight: FlexTensor,
    output_grad: FlexTensor,
    options: &ConvOptions<1>,
) -> FlexTensor {
    let with_unit_height = |t: &FlexTensor| {
        let s = t.layout().shape();
        t.reshape(Shape::from(vec![s[0], s[1], 1, s[2]]))
    };
    let ws = weight.layout().shape().to_vec();
    let options_2d = ConvOptions::new(
        [1, options.stride[0]],
        [0, options.padding[0]],
        [1, options.dilation[0]],
        options.groups,
    );
    let grad = conv2d_weight_grad(
        with_unit_height(&x),
        with_unit_height(&weight),
        with_unit_height(&output_grad),
        &options_2d,
    );
    grad.reshape(Shape::from(ws))
}

/// burn's generic algorithm: for every group, the convolution of the input (batch and channels
/// swapped) with the output gradient (same swap) as the kernel, cropped to the kernel size.
fn grouped_weight_grad_2d(
    x: FlexTensor,
    weight_shape: &[usize],
    output_grad: FlexTensor,
    options: &ConvOptions<2>,
) -> FlexTensor {
    let groups = options.groups;
    let (ci_per_group, co_per_group) = (weight_shape[1], weight_shape[0] / groups);
    let x_swapped = Flex::float_swap_dims(x, 0, 1); // [c_in, batch, H, W]
    let grad_swapped = Flex::float_swap_dims(output_grad, 0, 1); // [c_out, batch, H_out, W_out]
    let per_group: Vec<FlexTensor> = (0..groups)
        .map(|g| {
            let xg = Flex::float_slice(x_swapped.clone(), &[Slice::from(g * ci_per_group..(g + 1) * ci_per_group)]);
            let dg = Flex::float_slice(grad_swapped.clone(), &[Slice::from(g * co_per_group..(g + 1) * co_per_group)]);
            let options = ConvOptions::new(options.dilation, options.padding, options.stride, 1);
            let wg = Flex::float_swap_dims(Flex::conv2d(xg, dg, None, options), 0, 1); // [co/g, ci/g, >=kh, >=kw]
            let crop = [
                Slice::from(0..co_per_group),
                Slice::from(0..ci_per_group),
                Slice::from(0..weight_shape[2]),
                Slice::from(0..weight_shape[3]),
            ];
            if wg.shape().dims::<4>()[2..] == weight_shape[2..] { wg } else { Flex::float_slice(wg, &crop) }
        })
        .collect();
    if per_group.len() == 1 { per_group.into_iter().next().expect("one group") } else { Flex::float_cat(per_group, 0) }
}

/// Kernel size, stride, padding and dilation of a 2-D convolution (height, width).
struct Geometry {
    kernel: [usize; 2],
    stride: [usize; 2],
    padding: [usize; 2],
    dilation: [usize; 2],
}

/// Dot product of two equally long slices with eight independent accumulators (vectorises).
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 8];
    let (a_chunks, b_chunks) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = a_chunks.remainder().iter().zip(b_chunks.remainder()).map(|(x, y)| x * y).sum();
    for (ca, cb) in a_chunks.zip(b_chunks) {
        for i in 0..8 {
            lanes[i] += ca[i] * cb[i];
        }
    }
    lanes.iter().sum::<f32>() + tail
}

/// The 2-D kernel: `x` [batch, C, H, W], `output_grad` [batch, C, H_out, W_out] -> [C, 1, kh, kw].
fn depthwise_weight_grad_f32(x: FlexTensor, output_grad: FlexTensor, g: &Geometry) -> FlexTensor {
    let x = x.to_contiguous();
    let output_grad = output_grad.to_contiguous();
    let xs = x.layout().shape();
    let gs = output_grad.layout().shape();
    let (batch, channels, in_h, in_w) = (xs[0], xs[1], xs[2], xs[3]);
    let (out_h, out_w) = (gs[2], gs[3]);
    let [k_h, k_w] = g.kernel;
    let [s_h, s_w] = g.stride;
    let [p_h, p_w] = g.padding;
    let [d_h, d_w] = g.dilation;
    let (in_plane, out_plane, taps) = (in_h * in_w, out_h * out_w, k_h * k_w);
    let x_data: &[f32] = x.storage();
    let g_data: &[f32] = output_grad.storage();
    let mut grad = vec![0.0f32; channels * taps];
    let channel = |c: usize, dw: &mut [f32]| {
        for kh in 0..k_h {
            let (oh0, oh1) = valid_output_range(out_h, s_h, kh * d_h, p_h, in_h);
            for kw in 0..k_w {
                let (ow0, ow1) = valid_output_range(out_w, s_w, kw * d_w, p_w, in_w);
                if ow0 >= ow1 || oh0 >= oh1 {
                    continue;
                }
                let iw0 = ow0 * s_w + kw * d_w - p_w;
                let mut total = 0.0f64;
                for n in 0..batch {
                    let xp = &x_data[(n * channels + c) * in_plane..(n * channels + c + 1) * in_plane];
                    let gp = &g_data[(n * channels + c) * out_plane..(n * channels + c + 1) * out_plane];
                    let mut sum = 0.0f32;
                    for oh in oh0..oh1 {
                        let ih = oh * s_h + kh * d_h - p_h;
                        let dy = &gp[oh * out_w + ow0..oh * out_w + ow1];
                        let row = &xp[ih * in_w..(ih + 1) * in_w];
                        if s_w == 1 {
                            sum += dot(dy, &row[iw0..iw0 + dy.len()]);
                        } else {
                            sum += dy.iter().enumerate().map(|(i, a)| a * row[iw0 + i * s_w]).sum::<f32>();
                        }
                    }
                    total += sum as f64;
                }
                dw[kh * k_w + kw] = total as f32;
            }
        }
    };
    #[cfg(feature = "rayon")]
    {
        use rayon::prelude::*;
        grad.par_chunks_mut(taps.max(1)).enumerate().for_each(|(c, dw)| channel(c, dw));
    }
    #[cfg(not(feature = "rayon"))]
    for (c, dw) in grad.chunks_mut(taps.max(1)).enumerate() {
        channel(c, dw);
    }
    let shape = Shape::from(vec![channels, 1, k_h, k_w]);
    FlexTensor::new(Bytes::from_elems(grad), Layout::contiguous(shape), DType::F32)
}
