//! Dense (groups = 1) f32 2-D convolution in NCHW, forward and both gradients (kdnas patch).
//!
//! Every image is one GEMM against a per-image column matrix `cols` [C * KH * KW, P] (P = output
//! pixels, rows ordered like the weight's [C, KH, KW] so the weight [O, C * KH * KW] is used as it
//! is stored):
//!
//! - forward:         `Y_n [O, P] = W [O, CKK] @ cols(X_n)`, written straight into the NCHW output;
//! - input gradient:  `dX_n = col2im(W^T [CKK, O] @ dY_n [O, P])` (the transposed convolution);
//! - weight gradient: `dW [O, CKK] = sum_n dY_n [O, P] @ cols(X_n)^T`.
//!
//! The generic flex path instead converts the input to NHWC, builds a zeroed im2col tile per 512
//! pixels, scatters each tile's result back element by element, computes the input gradient serially
//! over the batch with a bounds test and a function-pointer add per col2im element, and the weight
//! gradient as a convolution with the output gradient as kernel after channel swaps. Here `im2col` and
//! `col2im` compute, for every kernel tap, the range of output rows and columns whose input lies inside
//! the image once, so their inner loops are plain contiguous copies and adds (stride 1); images run in
//! parallel. The weight gradient sums fixed chunks of images in parallel and adds the chunk partials
//! in chunk order, so its result does not depend on the number of threads or on scheduling.
//!
//! Used for 2-D and 1-D (unit height) layouts only: `[N, C, 1, H, W]` in the 3-D form flex works in.

use alloc::vec;
use alloc::vec::Vec;
use burn_backend::DType;
use burn_backend::ops::conv::{calculate_conv_output_size, calculate_conv_transpose_output_size};
use burn_backend::ops::{ConvOptions, ConvTransposeOptions};
use burn_std::{Bytes, Shape};

use super::conv_common::{add_bias, valid_output_range};
use crate::{FlexTensor, Layout};

/// Images whose weight-gradient contributions are summed serially into one partial.
const WEIGHT_GRAD_CHUNK: usize = 4;

/// Geometry of one convolution between an input plane `in_h x in_w` and an output plane
/// `out_h x out_w` with a `k_h x k_w` kernel.
#[derive(Clone, Copy, Debug)]
struct Geometry {
    channels_in: usize,
    channels_out: usize,
    in_h: usize,
    in_w: usize,
    out_h: usize,
    out_w: usize,
    kernel: [usize; 2],
    stride: [usize; 2],
    padding: [usize; 2],
    dilation: [usize; 2],
}

impl Geometry {
    /// Rows of the column matrix: C * KH * KW.
    fn col_rows(&self) -> usize {
        self.channels_in * self.kernel[0] * self.kernel[1]
    }

    /// Output pixels per image (columns of the column matrix).
    fn out_pixels(&self) -> usize {
        self.out_h * self.out_w
    }

    /// Input pixels per image.
    fn in_pixels(&self) -> usize {
        self.in_h * self.in_w
    }
}

/// One row of the column matrix (channel `c`, kernel tap `kh, kw`): the output rows and columns whose
/// input lies inside the image (half-open, possibly empty), and the flat input index `origin` that
/// output pixel (0, 0) reads (negative when that pixel reads padding); output pixel (oh, ow) reads
/// `origin + oh * stride_h * W + ow * stride_w`.
struct TapRow {
    row: usize,
    rows: (usize, usize),
    cols: (usize, usize),
    origin: isize,
}

impl TapRow {
    fn is_empty(&self) -> bool {
        self.rows.0 >= self.rows.1 || self.cols.0 >= self.cols.1
    }

    /// The input index read by output pixel (oh, ow), which must be a valid one.
    fn input(&self, g: &Geometry, oh: usize, ow: usize) -> usize {
        (self.origin + (oh * g.stride[0] * g.in_w + ow * g.stride[1]) as isize) as usize
    }

    /// The valid output pixels as one flat range of the plane (what it spans outside the valid columns
    /// is [`Self::zero_padding`]'s to clear).
    fn flat_range(&self, out_w: usize) -> (usize, usize) {
        (self.rows.0 * out_w + self.cols.0, (self.rows.1 - 1) * out_w + self.cols.1)
    }

    /// Zeroes, in a plane row `line` [out_h * out_w] of the column matrix, every pixel that reads padding.
    fn zero_padding(&self, line: &mut [f32], out_w: usize) {
        line[..self.rows.0 * out_w].fill(0.0);
        line[self.rows.1 * out_w..].fill(0.0);
        for oh in self.rows.0..self.rows.1 {
            line[oh * out_w..oh * out_w + self.cols.0].fill(0.0);
            line[oh * out_w + self.cols.1..(oh + 1) * out_w].fill(0.0);
        }
    }
}

/// The rows of the column matrix in order.
fn tap_rows(g: &Geometry) -> impl Iterator<Item = TapRow> + '_ {
    let [k_h, k_w] = g.kernel;
    (0..g.channels_in * k_h * k_w).map(move |row| {
        let (c, kh, kw) = (row / (k_h * k_w), row / k_w % k_h, row % k_w);
        let (off_h, off_w) = (kh * g.dilation[0], kw * g.dilation[1]);
        TapRow {
            row,
            rows: valid_output_range(g.out_h, g.stride[0], off_h, g.padding[0], g.in_h),
            cols: valid_output_range(g.out_w, g.stride[1], off_w, g.padding[1], g.in_w),
            origin: ((c * g.in_h + off_h) as isize - g.padding[0] as isize) * g.in_w as isize + off_w as isize
                - g.padding[1] as isize,
        }
    })
}

/// Whether consecutive output pixels of a row of the plane read consecutive inputs across output rows
/// too (stride 1, output as wide as the input): a tap's whole valid block is then one contiguous run.
fn is_flat(g: &Geometry) -> bool {
    g.stride == [1, 1] && g.in_w == g.out_w
}

/// Fills `cols` [C * KH * KW, P] with the patches of one image `x` [C, H, W] (zero where the patch
/// reads padding).
fn im2col(x: &[f32], g: &Geometry, cols: &mut [f32]) {
    let (p, out_w, flat) = (g.out_pixels(), g.out_w, is_flat(g));
    for tap in tap_rows(g) {
        let line = &mut cols[tap.row * p..(tap.row + 1) * p];
        if tap.is_empty() {
            line.fill(0.0);
            continue;
        }
        if flat {
            let (f0, f1) = tap.flat_range(out_w);
            let start = tap.input(g, tap.rows.0, tap.cols.0);
            line[f0..f1].copy_from_slice(&x[start..start + f1 - f0]);
        } else {
            for oh in tap.rows.0..tap.rows.1 {
                let (start, dst) =
                    (tap.input(g, oh, tap.cols.0), &mut line[oh * out_w + tap.cols.0..oh * out_w + tap.cols.1]);
                if g.stride[1] == 1 {
                    dst.copy_from_slice(&x[start..start + dst.len()]);
                } else {
                    for (j, d) in dst.iter_mut().enumerate() {
                        *d = x[start + j * g.stride[1]];
                    }
                }
            }
        }
        tap.zero_padding(line, out_w);
    }
}

/// Adds every column-matrix entry of `cols` [C * KH * KW, P] into the input element it was read from
/// in `dx` [C, H, W] (the adjoint of [`im2col`]); entries that read padding are zeroed in `cols` on
/// the way.
fn col2im(cols: &mut [f32], g: &Geometry, dx: &mut [f32]) {
    let (p, out_w, flat) = (g.out_pixels(), g.out_w, is_flat(g));
    for tap in tap_rows(g) {
        if tap.is_empty() {
            continue;
        }
        let line = &mut cols[tap.row * p..(tap.row + 1) * p];
        if flat {
            tap.zero_padding(line, out_w);
            let (f0, f1) = tap.flat_range(out_w);
            let start = tap.input(g, tap.rows.0, tap.cols.0);
            for (d, v) in dx[start..start + f1 - f0].iter_mut().zip(&line[f0..f1]) {
                *d += v;
            }
        } else {
            for oh in tap.rows.0..tap.rows.1 {
                let (start, src) =
                    (tap.input(g, oh, tap.cols.0), &line[oh * out_w + tap.cols.0..oh * out_w + tap.cols.1]);
                if g.stride[1] == 1 {
                    for (d, v) in dx[start..start + src.len()].iter_mut().zip(src) {
                        *d += v;
                    }
                } else {
                    for (j, v) in src.iter().enumerate() {
                        dx[start + j * g.stride[1]] += v;
                    }
                }
            }
        }
    }
}

/// A matrix operand of [`matmul`]: its elements and the strides between rows and between columns.
struct Operand<'a> {
    data: &'a [f32],
    row_stride: usize,
    col_stride: usize,
}

/// `dst [m, n] (row-major) (+)= lhs [m, k] @ rhs [k, n]`, accumulating when `accumulate`.
fn matmul(dst: &mut [f32], m: usize, n: usize, k: usize, accumulate: bool, lhs: Operand, rhs: Operand) {
    assert!(dst.len() >= m * n, "conv_dense: destination too small");
    let last = |o: &Operand, rows: usize, cols: usize| (rows - 1) * o.row_stride + (cols - 1) * o.col_stride;
    if m == 0 || n == 0 || k == 0 {
        if !accumulate {
            dst[..m * n].fill(0.0);
        }
        return;
    }
    assert!(last(&lhs, m, k) < lhs.data.len() && last(&rhs, k, n) < rhs.data.len(), "conv_dense: operand too small");
    // SAFETY: every element gemm touches lies inside the slices (asserted above); `dst` is exclusive.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            lhs.data.as_ptr(),
            lhs.col_stride as isize,
            lhs.row_stride as isize,
            rhs.data.as_ptr(),
            rhs.col_stride as isize,
            rhs.row_stride as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

/// Runs `work(image, out_slab, scratch)` for every image, `out` split into slabs of `slab` elements,
/// with one `scratch` buffer of `scratch_len` per worker; images in parallel under `rayon`.
fn for_each_image(
    out: &mut [f32],
    slab: usize,
    scratch_len: usize,
    work: impl Fn(usize, &mut [f32], &mut [f32]) + Sync + Send,
) {
    if slab == 0 {
        return;
    }
    #[cfg(feature = "rayon")]
    {
        use rayon::prelude::*;
        out.par_chunks_mut(slab)
            .enumerate()
            .for_each_init(|| vec![0.0f32; scratch_len], |scratch, (n, o)| work(n, o, scratch));
    }
    #[cfg(not(feature = "rayon"))]
    {
        let mut scratch = vec![0.0f32; scratch_len];
        for (n, o) in out.chunks_mut(slab).enumerate() {
            work(n, o, &mut scratch);
        }
    }
}

/// Forward convolution: `x` [N, C, H, W], `weight` [O, C, KH, KW] (both contiguous) -> [N, O, Ho, Wo].
fn forward(x: &[f32], weight: &[f32], batch: usize, g: &Geometry) -> Vec<f32> {
    let (rows, p, o) = (g.col_rows(), g.out_pixels(), g.channels_out);
    let mut out = vec![0.0f32; batch * o * p];
    let x_len = g.channels_in * g.in_pixels();
    for_each_image(&mut out, o * p, rows * p, |n, y, cols| {
        im2col(&x[n * x_len..(n + 1) * x_len], g, cols);
        let w = Operand { data: weight, row_stride: rows, col_stride: 1 };
        let c = Operand { data: cols, row_stride: p, col_stride: 1 };
        matmul(y, o, p, rows, false, w, c);
    });
    out
}

/// Input gradient (the transposed convolution): `dy` [N, O, Ho, Wo], `weight` [O, C, KH, KW] ->
/// [N, C, H, W].
fn input_grad(dy: &[f32], weight: &[f32], batch: usize, g: &Geometry) -> Vec<f32> {
    let (rows, p, o) = (g.col_rows(), g.out_pixels(), g.channels_out);
    let x_len = g.channels_in * g.in_pixels();
    let mut dx = vec![0.0f32; batch * x_len];
    for_each_image(&mut dx, x_len, rows * p, |n, dx_n, dcols| {
        let w_t = Operand { data: weight, row_stride: 1, col_stride: rows };
        let dy_n = Operand { data: &dy[n * o * p..(n + 1) * o * p], row_stride: p, col_stride: 1 };
        matmul(dcols, rows, p, o, false, w_t, dy_n);
        col2im(dcols, g, dx_n);
    });
    dx
}

/// Weight gradient: `x` [N, C, H, W], `dy` [N, O, Ho, Wo] -> [O, C, KH, KW]. Chunks of
/// [`WEIGHT_GRAD_CHUNK`] images are summed in parallel, then the partials in chunk order.
fn weight_grad(x: &[f32], dy: &[f32], batch: usize, g: &Geometry) -> Vec<f32> {
    let (rows, p, o) = (g.col_rows(), g.out_pixels(), g.channels_out);
    let x_len = g.channels_in * g.in_pixels();
    let chunks = batch.div_ceil(WEIGHT_GRAD_CHUNK);
    let mut partials = vec![0.0f32; chunks * o * rows];
    for_each_image(&mut partials, o * rows, rows * p, |chunk, dw, cols| {
        let images = chunk * WEIGHT_GRAD_CHUNK..((chunk + 1) * WEIGHT_GRAD_CHUNK).min(batch);
        for (i, n) in images.enumerate() {
            im2col(&x[n * x_len..(n + 1) * x_len], g, cols);
            let dy_n = Operand { data: &dy[n * o * p..(n + 1) * o * p], row_stride: p, col_stride: 1 };
            let cols_t = Operand { data: cols, row_stride: 1, col_stride: p };
            matmul(dw, o, rows, p, i > 0, dy_n, cols_t);
        }
    });
    let mut parts = partials.chunks(o * rows);
    let mut dw = parts.next().map(<[f32]>::to_vec).unwrap_or_else(|| vec![0.0; o * rows]);
    for part in parts {
        for (d, v) in dw.iter_mut().zip(part) {
            *d += v;
        }
    }
    dw
}

/// Whether a convolution in flex's 3-D form (`x` [N, C, D, H, W], kernel [O, C / groups, KD, KH, KW])
/// is a dense f32 2-D (or 1-D) one this module computes: one group, a unit depth axis.
fn is_dense_2d(x: &FlexTensor, kernel_shape: &[usize], groups: usize, stride_d: usize, padding_d: usize) -> bool {
    let xs = x.layout().shape();
    x.dtype() == DType::F32 && groups == 1 && xs[2] == 1 && kernel_shape[2] == 1 && stride_d == 1 && padding_d == 0
}

/// A contiguous f32 tensor of `shape` from `data`.
fn tensor(data: Vec<f32>, shape: Vec<usize>) -> FlexTensor {
    FlexTensor::new(Bytes::from_elems(data), Layout::contiguous(Shape::from(shape)), DType::F32)
}

fn with_bias(mut out: Vec<f32>, bias: Option<FlexTensor>, batch: usize, channels: usize, pixels: usize) -> Vec<f32> {
    if let Some(bias) = bias {
        let bias = bias.to_contiguous();
        add_bias(&mut out, bias.storage::<f32>(), batch, channels, pixels, |a, b| a + b);
    }
    out
}

/// The forward convolution in flex's 3-D form when it is dense 2-D f32, else `None`:
/// `x` [N, C, 1, H, W], `weight` [O, C, 1, KH, KW] -> [N, O, 1, Ho, Wo].
pub(crate) fn conv3d_forward(
    x: &FlexTensor,
    weight: &FlexTensor,
    bias: Option<FlexTensor>,
    options: &ConvOptions<3>,
) -> Option<FlexTensor> {
    let ws = weight.layout().shape().to_vec();
    if !is_dense_2d(x, &ws, options.groups, options.stride[0], options.padding[0]) {
        return None;
    }
    let (x, weight) = (x.to_contiguous(), weight.to_contiguous());
    let xs = x.layout().shape().to_vec();
    let out = |i: usize| {
        calculate_conv_output_size(
            ws[3 + i],
            options.stride[1 + i],
            options.padding[1 + i],
            options.dilation[1 + i],
            xs[3 + i],
        )
    };
    let g = Geometry {
        channels_in: xs[1],
        channels_out: ws[0],
        in_h: xs[3],
        in_w: xs[4],
        out_h: out(0),
        out_w: out(1),
        kernel: [ws[3], ws[4]],
        stride: [options.stride[1], options.stride[2]],
        padding: [options.padding[1], options.padding[2]],
        dilation: [options.dilation[1], options.dilation[2]],
    };
    let y = forward(x.storage(), weight.storage(), xs[0], &g);
    let y = with_bias(y, bias, xs[0], g.channels_out, g.out_pixels());
    Some(tensor(y, vec![xs[0], g.channels_out, 1, g.out_h, g.out_w]))
}

/// The transposed convolution in flex's 3-D form when it is dense 2-D f32, else `None` (the input
/// gradient of a convolution): `x` [N, O, 1, Ho, Wo], `weight` [O, C, 1, KH, KW] -> [N, C, 1, H, W].
pub(crate) fn conv_transpose3d(
    x: &FlexTensor,
    weight: &FlexTensor,
    bias: Option<FlexTensor>,
    options: &ConvTransposeOptions<3>,
) -> Option<FlexTensor> {
    let ws = weight.layout().shape().to_vec();
    if !is_dense_2d(x, &ws, options.groups, options.stride[0], options.padding[0]) || options.padding_out[0] != 0 {
        return None;
    }
    let (x, weight) = (x.to_contiguous(), weight.to_contiguous());
    let xs = x.layout().shape().to_vec();
    let size = |i: usize| {
        calculate_conv_transpose_output_size(
            ws[3 + i],
            options.stride[1 + i],
            options.padding[1 + i],
            options.padding_out[1 + i],
            options.dilation[1 + i],
            xs[3 + i],
        )
    };
    let g = Geometry {
        channels_in: ws[1],
        channels_out: ws[0],
        in_h: size(0),
        in_w: size(1),
        out_h: xs[3],
        out_w: xs[4],
        kernel: [ws[3], ws[4]],
        stride: [options.stride[1], options.stride[2]],
        padding: [options.padding[1], options.padding[2]],
        dilation: [options.dilation[1], options.dilation[2]],
    };
    let dx = input_grad(x.storage(), weight.storage(), xs[0], &g);
    let dx = with_bias(dx, bias, xs[0], g.channels_in, g.in_pixels());
    Some(tensor(dx, vec![xs[0], g.channels_in, 1, g.in_h, g.in_w]))
}

/// The weight gradient of a 2-D convolution when it is dense f32, else `None`: `x` [N, C, H, W],
/// `output_grad` [N, O, Ho, Wo] -> `weight_shape` [O, C, KH, KW].
pub(crate) fn conv2d_weight_grad(
    x: &FlexTensor,
    output_grad: &FlexTensor,
    weight_shape: &[usize],
    options: &ConvOptions<2>,
) -> Option<FlexTensor> {
    if x.dtype() != DType::F32 || options.groups != 1 {
        return None;
    }
    let (x, output_grad) = (x.to_contiguous(), output_grad.to_contiguous());
    let (xs, gs) = (x.layout().shape().to_vec(), output_grad.layout().shape().to_vec());
    let g = Geometry {
        channels_in: xs[1],
        channels_out: gs[1],
        in_h: xs[2],
        in_w: xs[3],
        out_h: gs[2],
        out_w: gs[3],
        kernel: [weight_shape[2], weight_shape[3]],
        stride: options.stride,
        padding: options.padding,
        dilation: options.dilation,
    };
    let dw = weight_grad(x.storage(), output_grad.storage(), xs[0], &g);
    Some(tensor(dw, weight_shape.to_vec()))
}
