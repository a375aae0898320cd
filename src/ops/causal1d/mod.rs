//! AdaRec's 1-D op catalogue (`causal1d`) over `[batch, channels, time]` sequence features, made
//! causal throughout: no op's output at position t depends on an input after t. The op names and
//! their order are those of AdaRec's operators.py; see docs/search-spaces.md for each op.

pub mod causality;
pub mod conv;
pub mod conv_op;
pub mod family;
pub mod pool;

use crate::error::{KdnasError, Result};
use crate::ops::conv2d::pool::PoolKind;
use crate::ops::family::{AdoptTrained, CandidateOp, OpMode};
use burn::module::Module;
use burn::tensor::{Tensor, backend::Backend};
use conv_op::ConvOp;
use family::{Causal1dShape, causal1d_shape};
use pool::causal_pool;
use std::marker::PhantomData;

/// One instantiated causal 1-D op (every catalogue op except `none`, which is never built).
#[derive(Module, Debug)]
pub enum Op1d<B: Backend> {
    /// skip_connect.
    Identity(PhantomData<B>),
    /// max_pool.
    MaxPool(PhantomData<B>),
    /// avg_pool.
    AvgPool(PhantomData<B>),
    /// std_cnn_k, dil_cnn_k, cau_cnn_k.
    Conv(ConvOp<B>),
}

impl<B: Backend> CandidateOp<B, 3> for Op1d<B> {
    /// Builds `name`; sequences are never downsampled, so a stride other than 1 is a usage error.
    fn build(name: &str, channels: usize, stride: usize, mode: OpMode, device: &B::Device) -> Result<Self> {
        if stride != 1 {
            return Err(KdnasError::Usage(format!(
                "op `{name}`: the causal1d catalogue has no reduction edges (stride {stride}; only stride 1)"
            )));
        }
        Ok(match causal1d_shape(name) {
            Some(Causal1dShape::Skip) => Op1d::Identity(PhantomData),
            Some(Causal1dShape::Pool(PoolKind::Max)) => Op1d::MaxPool(PhantomData),
            Some(Causal1dShape::Pool(PoolKind::Avg)) => Op1d::AvgPool(PhantomData),
            Some(Causal1dShape::Conv(spec)) => {
                Op1d::Conv(ConvOp::new(channels, spec.kernel, spec.dilation, spec.batch_norm, mode.affine(), device))
            }
            Some(Causal1dShape::Zero) | None => {
                return Err(KdnasError::Usage(format!("op `{name}` cannot be built in the causal1d catalogue")));
            }
        })
    }

    /// `[batch, channels, time] -> [batch, channels, time]`.
    fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        match self {
            Op1d::Identity(_) => x,
            Op1d::MaxPool(_) => causal_pool(PoolKind::Max, x),
            Op1d::AvgPool(_) => causal_pool(PoolKind::Avg, x),
            Op1d::Conv(op) => op.forward(x),
        }
    }

    fn is_identity(&self) -> bool {
        matches!(self, Op1d::Identity(_))
    }

    /// Zeros of the input's shape (every causal1d edge has stride 1).
    fn zeros(x: &Tensor<B, 3>, _stride: usize) -> Tensor<B, 3> {
        Tensor::zeros(x.dims(), &x.device())
    }
}

impl<B: Backend> AdoptTrained for Op1d<B> {
    /// A convolution takes the trained convolution and BatchNorm statistics; the parameter-free ops
    /// have nothing to take. Ops of different kinds or shapes are an error.
    fn adopt_trained(self, trained: &Self) -> Result<Self> {
        let mismatch = || KdnasError::Usage("a derived op can only adopt the weights of the same op".into());
        match (self, trained) {
            (Op1d::Conv(own), Op1d::Conv(op)) => own.adopt_trained(op).map(Op1d::Conv).ok_or_else(mismatch),
            (own @ Op1d::Identity(_), Op1d::Identity(_))
            | (own @ Op1d::MaxPool(_), Op1d::MaxPool(_))
            | (own @ Op1d::AvgPool(_), Op1d::AvgPool(_)) => Ok(own),
            _ => Err(mismatch()),
        }
    }
}
