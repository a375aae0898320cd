//! The 2-D op catalogue of DARTS (operations.py) as burn modules.

pub mod batch_norm;
pub mod conv;
pub mod family;
pub mod pool;
pub mod reduce;
pub mod sep_conv;

use crate::error::{KdnasError, Result};
use crate::ops::family::CandidateOp;
pub use crate::ops::family::OpMode;
use burn::module::Module;
use burn::tensor::{Tensor, backend::Backend};
use family::{Conv2dShape, conv2d_shape};
use pool::Pool;
use reduce::FactorizedReduce;
use sep_conv::{DilConv, SepConv};
use std::marker::PhantomData;

/// One instantiated 2-D op (every catalogue op except `none`, which is never built).
#[derive(Module, Debug)]
pub enum Op2d<B: Backend> {
    /// skip_connect with stride 1.
    Identity(PhantomData<B>),
    /// skip_connect with stride 2.
    Reduce(FactorizedReduce<B>),
    /// max_pool_3x3 / avg_pool_3x3.
    Pool(Pool<B>),
    /// sep_conv_3x3 / sep_conv_5x5.
    Sep(SepConv<B>),
    /// dil_conv_3x3 / dil_conv_5x5.
    Dil(DilConv<B>),
}

impl<B: Backend> CandidateOp<B, 4> for Op2d<B> {
    fn build(name: &str, channels: usize, stride: usize, mode: OpMode, device: &B::Device) -> Result<Self> {
        let affine = mode.affine();
        let pool_bn = mode == OpMode::Search;
        Ok(match conv2d_shape(name) {
            Some(Conv2dShape::Skip) if stride == 1 => Op2d::Identity(PhantomData),
            Some(Conv2dShape::Skip) => Op2d::Reduce(FactorizedReduce::new(channels, channels, affine, device)),
            Some(Conv2dShape::Pool(kind)) => Op2d::Pool(Pool::new(kind, channels, stride, pool_bn, device)),
            Some(Conv2dShape::Separable { kernel }) => {
                Op2d::Sep(SepConv::new(channels, kernel, stride, affine, device))
            }
            Some(Conv2dShape::Dilated { kernel, dilation }) => {
                Op2d::Dil(DilConv::new(channels, kernel, stride, dilation, affine, device))
            }
            Some(Conv2dShape::Zero) | None => {
                return Err(KdnasError::Usage(format!("op `{name}` cannot be built in the conv2d catalogue")));
            }
        })
    }

    /// `[n, c, h, w] -> [n, c, h/stride, w/stride]`.
    fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        match self {
            Op2d::Identity(_) => x,
            Op2d::Reduce(op) => op.forward(x),
            Op2d::Pool(op) => op.forward(x),
            Op2d::Sep(op) => op.forward(x),
            Op2d::Dil(op) => op.forward(x),
        }
    }

    fn is_identity(&self) -> bool {
        matches!(self, Op2d::Identity(_))
    }

    /// Zeros at the edge's output resolution: `[n, c, ceil(h/stride), ceil(w/stride)]`.
    fn zeros(x: &Tensor<B, 4>, stride: usize) -> Tensor<B, 4> {
        let [n, c, h, w] = x.dims();
        Tensor::zeros([n, c, h.div_ceil(stride), w.div_ceil(stride)], &x.device())
    }
}
