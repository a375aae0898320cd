//! Input and weight gradients of the convolution primitives against finite differences. These ops are
//! linear in their input, so central differences are exact up to f32 rounding. They exercise the
//! transposed convolutions of the CPU backend (depthwise fast path and the grouped GEMM path).

mod common;

use burn::module::Module;
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Distribution, ElementConversion, Tensor, TensorData};
use common::Cpu;
use kdnas::ops::conv2d::conv::Depthwise;

/// max |analytic - numeric| / max |numeric| of d sum(f(x) * r) / dx.
fn input_grad_error(f: &dyn Fn(Tensor<Cpu, 4>) -> Tensor<Cpu, 4>, shape: [usize; 4]) -> f64 {
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
        let err = input_grad_error(&|x| conv.forward(x), [2, 3, 7, 6]);
        assert!(err < 1e-3, "k{kernel} s{stride} d{dilation}: relative error {err:.2e}");
    }
}

#[test]
fn grouped_and_dense_strided_conv_input_gradients_match() {
    let device = Default::default();
    for (c_in, c_out, groups, stride) in [(4, 6, 1, 2), (4, 4, 2, 1), (4, 8, 4, 2)] {
        let w = Tensor::<Cpu, 4>::random([c_out, c_in / groups, 3, 3], Distribution::Normal(0.0, 0.5), &device);
        let f = |x: Tensor<Cpu, 4>| conv2d(x, w.clone(), None, ConvOptions::new([stride, stride], [1, 1], [1, 1], groups));
        let err = input_grad_error(&f, [2, c_in, 6, 5]);
        assert!(err < 1e-3, "c_in {c_in} c_out {c_out} groups {groups} stride {stride}: relative error {err:.2e}");
    }
}
