//! Direct f32 2-D pooling kernels (kdnas patch).
//!
//! The generic pooling code runs every output element through a 3-D window loop with a bounds test
//! on every tap and arithmetic through function pointers. These kernels cover the common case
//! (f32, dilation 1, floor output size) tap by tap instead: for each kernel offset, the ranges of
//! output rows and columns whose input lies inside the image are computed once, so the inner loop
//! walks contiguous rows (stride 1) with no tests. Planes (batch x channel) run in parallel.
//! Forward results are identical to the generic code (the same first-maximum-wins indices, tap
//! order and divisors); the average-pool gradient equals it up to float summation order.

use alloc::vec;
use alloc::vec::Vec;
use burn_backend::DType;
use burn_std::{Bytes, Shape};

use super::conv_common::valid_output_range;
use crate::{FlexTensor, Layout};

/// Window geometry of a 2-D pooling (height, width), dilation 1, floor output size.
#[derive(Clone, Copy)]
pub struct Window {
    /// Kernel size.
    pub kernel: [usize; 2],
    /// Stride.
    pub stride: [usize; 2],
    /// Zero padding on each side.
    pub padding: [usize; 2],
}

impl Window {
    /// The window when the direct kernels apply (dilation 1, floor output size), else `None`.
    pub fn direct(
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
        dilation: [usize; 2],
        ceil_mode: bool,
    ) -> Option<Self> {
        (dilation == [1, 1] && !ceil_mode && stride[0] > 0 && stride[1] > 0)
            .then_some(Self { kernel, stride, padding })
    }

    /// Whether `grad` ([N, C, H_out, W_out]) has the floor output size of this window over `x`.
    pub fn matches_output(&self, x: &FlexTensor, grad: &FlexTensor) -> bool {
        let (xs, gs) = (x.layout().shape(), grad.layout().shape());
        gs[2] == self.out_size(0, xs[2]) && gs[3] == self.out_size(1, xs[3])
    }

    /// Output size along `axis` for an input of `n_in`.
    fn out_size(&self, axis: usize, n_in: usize) -> usize {
        let (k, s, p) = (self.kernel[axis], self.stride[axis], self.padding[axis]);
        if n_in + 2 * p < k { 0 } else { (n_in + 2 * p - k) / s + 1 }
    }

    /// Output positions `o` whose input `o * stride + tap - pad` lies in `0..n_in`, half-open.
    fn valid_outputs(&self, axis: usize, tap: usize, n_in: usize, n_out: usize) -> (usize, usize) {
        valid_output_range(n_out, self.stride[axis], tap, self.padding[axis], n_in)
    }

    /// Number of window positions inside the image for every output along `axis`.
    fn inside_counts(&self, axis: usize, n_in: usize, n_out: usize) -> Vec<usize> {
        let mut counts = vec![0usize; n_out];
        for tap in 0..self.kernel[axis] {
            let (lo, hi) = self.valid_outputs(axis, tap, n_in, n_out);
            counts[lo..hi].iter_mut().for_each(|c| *c += 1);
        }
        counts
    }
}

/// Shape of a contiguous [N, C, H, W] tensor as (planes, H, W).
fn planes_of(x: &FlexTensor) -> (usize, usize, usize, usize) {
    let s = x.layout().shape();
    (s[0], s[1], s[2], s[3])
}

/// Runs `f(plane_index, out_chunk)` over `out` split in chunks of `chunk`, in parallel with rayon.
fn for_each_plane<T: Send>(out: &mut [T], chunk: usize, f: impl Fn(usize, &mut [T]) + Sync + Send) {
    #[cfg(feature = "rayon")]
    {
        use rayon::prelude::*;
        out.par_chunks_mut(chunk.max(1)).enumerate().for_each(|(p, o)| f(p, o));
    }
    #[cfg(not(feature = "rayon"))]
    for (p, o) in out.chunks_mut(chunk.max(1)).enumerate() {
        f(p, o);
    }
}

/// Max pooling with argmax indices (flat `ih * W + iw` within the plane, as the generic code).
/// `x` [N, C, H, W] -> ([N, C, H_out, W_out], i64 indices of the same shape).
pub fn max_pool2d_with_indices_f32(x: FlexTensor, window: Window) -> (FlexTensor, FlexTensor) {
    let x = x.to_contiguous();
    let (batch, channels, in_h, in_w) = planes_of(&x);
    let (out_h, out_w) = (window.out_size(0, in_h), window.out_size(1, in_w));
    let (in_plane, out_plane) = (in_h * in_w, out_h * out_w);
    let x_data: &[f32] = x.storage();
    // Each plane's output is stored interleaved as (value, index) pairs, then split.
    let mut pairs = vec![(f32::NEG_INFINITY, -1i64); batch * channels * out_plane];
    for_each_plane(&mut pairs, out_plane, |p, out| {
        let xp = &x_data[p * in_plane..(p + 1) * in_plane];
        for kh in 0..window.kernel[0] {
            let (oh0, oh1) = window.valid_outputs(0, kh, in_h, out_h);
            for kw in 0..window.kernel[1] {
                let (ow0, ow1) = window.valid_outputs(1, kw, in_w, out_w);
                for oh in oh0..oh1 {
                    let ih = oh * window.stride[0] + kh - window.padding[0];
                    let row = &mut out[oh * out_w..(oh + 1) * out_w];
                    for ow in ow0..ow1 {
                        let iw = ow * window.stride[1] + kw - window.padding[1];
                        let v = xp[ih * in_w + iw];
                        let slot = &mut row[ow];
                        if slot.1 < 0 || v > slot.0 {
                            *slot = (v, (ih * in_w + iw) as i64);
                        }
                    }
                }
            }
        }
    });
    let (values, indices): (Vec<f32>, Vec<i64>) = pairs.into_iter().unzip();
    let shape = Shape::from(vec![batch, channels, out_h, out_w]);
    (
        FlexTensor::new(Bytes::from_elems(values), Layout::contiguous(shape.clone()), DType::F32),
        FlexTensor::new(Bytes::from_elems(indices), Layout::contiguous(shape), DType::I64),
    )
}

/// Per-output divisors: the full window, or only the positions inside the image.
fn divisors(window: &Window, in_h: usize, in_w: usize, count_include_pad: bool) -> Vec<f32> {
    let (out_h, out_w) = (window.out_size(0, in_h), window.out_size(1, in_w));
    if count_include_pad {
        return vec![(window.kernel[0] * window.kernel[1]).max(1) as f32; out_h * out_w];
    }
    let (rows, cols) = (window.inside_counts(0, in_h, out_h), window.inside_counts(1, in_w, out_w));
    rows.iter().flat_map(|r| cols.iter().map(move |c| (r * c).max(1) as f32)).collect()
}

/// Average pooling: `x` [N, C, H, W] -> [N, C, H_out, W_out].
pub fn avg_pool2d_f32(x: FlexTensor, window: Window, count_include_pad: bool) -> FlexTensor {
    let x = x.to_contiguous();
    let (batch, channels, in_h, in_w) = planes_of(&x);
    let (out_h, out_w) = (window.out_size(0, in_h), window.out_size(1, in_w));
    let (in_plane, out_plane) = (in_h * in_w, out_h * out_w);
    let x_data: &[f32] = x.storage();
    let divisor = divisors(&window, in_h, in_w, count_include_pad);
    let mut output = vec![0.0f32; batch * channels * out_plane];
    for_each_plane(&mut output, out_plane, |p, out| {
        let xp = &x_data[p * in_plane..(p + 1) * in_plane];
        for kh in 0..window.kernel[0] {
            let (oh0, oh1) = window.valid_outputs(0, kh, in_h, out_h);
            for kw in 0..window.kernel[1] {
                let (ow0, ow1) = window.valid_outputs(1, kw, in_w, out_w);
                if ow0 >= ow1 {
                    continue;
                }
                let iw0 = ow0 * window.stride[1] + kw - window.padding[1];
                for oh in oh0..oh1 {
                    let ih = oh * window.stride[0] + kh - window.padding[0];
                    let src = &xp[ih * in_w..(ih + 1) * in_w];
                    let dst = &mut out[oh * out_w + ow0..oh * out_w + ow1];
                    if window.stride[1] == 1 {
                        let len = dst.len();
                        dst.iter_mut().zip(&src[iw0..iw0 + len]).for_each(|(o, v)| *o += v);
                    } else {
                        dst.iter_mut().enumerate().for_each(|(i, o)| *o += src[iw0 + i * window.stride[1]]);
                    }
                }
            }
        }
        out.iter_mut().zip(&divisor).for_each(|(o, d)| *o /= d);
    });
    let shape = Shape::from(vec![batch, channels, out_h, out_w]);
    FlexTensor::new(Bytes::from_elems(output), Layout::contiguous(shape), DType::F32)
}

/// Input gradient of [`avg_pool2d_f32`]: `x` [N, C, H, W] (for its shape), `grad` [N, C, H_out, W_out].
pub fn avg_pool2d_backward_f32(
    x: &FlexTensor,
    grad: FlexTensor,
    window: Window,
    count_include_pad: bool,
) -> FlexTensor {
    let grad = grad.to_contiguous();
    let (batch, channels, in_h, in_w) = planes_of(x);
    let (out_h, out_w) = (window.out_size(0, in_h), window.out_size(1, in_w));
    let (in_plane, out_plane) = (in_h * in_w, out_h * out_w);
    let g_data: &[f32] = grad.storage();
    let divisor = divisors(&window, in_h, in_w, count_include_pad);
    let mut input_grad = vec![0.0f32; batch * channels * in_plane];
    for_each_plane(&mut input_grad, in_plane, |p, dx| {
        let scaled: Vec<f32> =
            g_data[p * out_plane..(p + 1) * out_plane].iter().zip(&divisor).map(|(g, d)| g / d).collect();
        for kh in 0..window.kernel[0] {
            let (oh0, oh1) = window.valid_outputs(0, kh, in_h, out_h);
            for kw in 0..window.kernel[1] {
                let (ow0, ow1) = window.valid_outputs(1, kw, in_w, out_w);
                if ow0 >= ow1 {
                    continue;
                }
                let iw0 = ow0 * window.stride[1] + kw - window.padding[1];
                for oh in oh0..oh1 {
                    let ih = oh * window.stride[0] + kh - window.padding[0];
                    let src = &scaled[oh * out_w + ow0..oh * out_w + ow1];
                    let dst = &mut dx[ih * in_w..(ih + 1) * in_w];
                    if window.stride[1] == 1 {
                        dst[iw0..iw0 + src.len()].iter_mut().zip(src).for_each(|(o, g)| *o += g);
                    } else {
                        src.iter().enumerate().for_each(|(i, g)| dst[iw0 + i * window.stride[1]] += g);
                    }
                }
            }
        }
    });
    let shape = Shape::from(vec![batch, channels, in_h, in_w]);
    FlexTensor::new(Bytes::from_elems(input_grad), Layout::contiguous(shape), DType::F32)
}
