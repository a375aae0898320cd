//! Building blocks of the CIFAR ResNet and the Wide ResNet: a bias-free convolution, the projection
//! shortcut, the post-activation basic block, the pre-activation block and the linear classifier, each
//! with the arithmetic count of its trainable parameters beside its constructor.
//!
//! Initialisation follows the CRD / torchdistill model zoo: convolutions Kaiming-normal with fan_out
//! (std = sqrt(2 / (c_out * k * k))), BatchNorm scale 1 and shift 0, the classifier PyTorch's
//! `nn.Linear` default (weight and bias from U(-1/sqrt(fan_in), 1/sqrt(fan_in))).

use crate::ops::conv2d::batch_norm::BatchNorm2d;
use crate::ops::conv2d::conv::Pointwise;
use crate::ops::init::uniform_fan_in;
use burn::module::{Module, Param};
use burn::nn::Dropout;
use burn::tensor::activation::relu;
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Distribution, Tensor, backend::Backend, s};

/// Input and output channels and stride of one residual block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockSpec {
    /// Channels of the block input.
    pub c_in: usize,
    /// Channels of the block output.
    pub c_out: usize,
    /// Stride of the block's first convolution (1 or 2).
    pub stride: usize,
}

impl BlockSpec {
    /// Whether the residual path changes the shape, so the shortcut needs a projection.
    pub fn projects(&self) -> bool {
        self.stride != 1 || self.c_in != self.c_out
    }
}

/// Sum of parameter counts, saturating instead of overflowing.
pub fn sum(counts: &[u128]) -> u128 {
    counts.iter().fold(0, |a, &b| a.saturating_add(b))
}

/// Product of sizes, saturating instead of overflowing.
pub fn product(sizes: &[usize]) -> u128 {
    sizes.iter().fold(1, |a: u128, &b| a.saturating_mul(b as u128))
}

/// Trainable parameters of an affine BatchNorm over `channels`.
pub fn bn_params(channels: usize) -> u128 {
    product(&[2, channels])
}

/// A conv weight of `shape` (`[c_out, ...]`) from N(0, 2 / fan_out), fan_out = `c_out` x kernel area
/// (PyTorch's `kaiming_normal_(mode="fan_out", nonlinearity="relu")`).
fn kaiming_fan_out<B: Backend, const D: usize>(shape: [usize; D], device: &B::Device) -> Param<Tensor<B, D>> {
    let fan_out: usize = shape[0] * shape[2..].iter().product::<usize>();
    let std = (2.0 / fan_out.max(1) as f64).sqrt();
    Param::from_tensor(Tensor::random(shape, Distribution::Normal(0.0, std), device))
}

/// Trainable parameters of [`Conv::new`]`(c_in, c_out, kernel, ..)`.
pub fn conv_params(c_in: usize, c_out: usize, kernel: usize) -> u128 {
    product(&[c_in, c_out, kernel, kernel])
}

/// A bias-free `k x k` convolution with padding `(k - 1) / 2` and a stride.
#[derive(Module, Debug)]
pub struct Conv<B: Backend> {
    /// Weight `[c_out, c_in, k, k]`, Kaiming-normal (fan_out).
    pub weight: Param<Tensor<B, 4>>,
    /// Stride in both directions.
    pub stride: usize,
}

impl<B: Backend> Conv<B> {
    /// A new `kernel x kernel` convolution from `c_in` to `c_out` channels.
    pub fn new(c_in: usize, c_out: usize, kernel: usize, stride: usize, device: &B::Device) -> Self {
        Self { weight: kaiming_fan_out([c_out, c_in, kernel, kernel], device), stride }
    }

    /// `[n, c_in, h, w] -> [n, c_out, ceil(h / stride), ceil(w / stride)]`.
    pub fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        let pad = (self.weight.dims()[2] - 1) / 2;
        conv2d(x, self.weight.val(), None, ConvOptions::new([self.stride; 2], [pad; 2], [1, 1], 1))
    }
}

/// Trainable parameters of [`Projection::new`]`(spec, bn, ..)`.
pub fn projection_params(spec: BlockSpec, bn: bool) -> u128 {
    sum(&[conv_params(spec.c_in, spec.c_out, 1), if bn { bn_params(spec.c_out) } else { 0 }])
}

/// The shortcut of a block that changes shape: a strided 1x1 convolution, optionally followed by a
/// BatchNorm (the basic block's "option B"; the pre-activation block has none). The strided 1x1 conv is
/// computed as a subsampling then a matmul ([`Pointwise`]), ~10x faster than `conv2d` on flex.
#[derive(Module, Debug)]
pub struct Projection<B: Backend> {
    conv: Pointwise<B>,
    stride: usize,
    bn: Option<BatchNorm2d<B>>,
}

impl<B: Backend> Projection<B> {
    /// A new projection for `spec`, with a BatchNorm when `bn`.
    pub fn new(spec: BlockSpec, bn: bool, device: &B::Device) -> Self {
        Self {
            conv: Pointwise { weight: kaiming_fan_out([spec.c_out, spec.c_in], device) },
            stride: spec.stride,
            bn: bn.then(|| BatchNorm2d::new(spec.c_out, true, device)),
        }
    }

    /// The same projection with a frozen BatchNorm ([`BatchNorm2d::into_frozen`]).
    pub fn into_frozen(self) -> Self {
        Self { bn: self.bn.map(BatchNorm2d::into_frozen), ..self }
    }

    /// `[n, c_in, h, w] -> [n, c_out, ceil(h / stride), ceil(w / stride)]`.
    pub fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        let x = match self.stride {
            1 => x,
            step => x.slice(s![.., .., ..;step, ..;step]), // [n, c_in, ceil(h / step), ceil(w / step)]
        };
        let y = self.conv.forward(x);
        match &self.bn {
            Some(bn) => bn.forward(y),
            None => y,
        }
    }
}

/// Trainable parameters of [`BasicBlock::new`]`(spec, ..)`.
pub fn basic_block_params(spec: BlockSpec) -> u128 {
    sum(&[
        conv_params(spec.c_in, spec.c_out, 3),
        bn_params(spec.c_out),
        conv_params(spec.c_out, spec.c_out, 3),
        bn_params(spec.c_out),
        if spec.projects() { projection_params(spec, true) } else { 0 },
    ])
}

/// He et al.'s basic block: `relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))`, the shortcut a
/// 1x1 conv + BN when the shape changes and the identity otherwise.
#[derive(Module, Debug)]
pub struct BasicBlock<B: Backend> {
    conv1: Conv<B>,
    bn1: BatchNorm2d<B>,
    conv2: Conv<B>,
    bn2: BatchNorm2d<B>,
    shortcut: Option<Projection<B>>,
}

impl<B: Backend> BasicBlock<B> {
    /// A new block for `spec`.
    pub fn new(spec: BlockSpec, device: &B::Device) -> Self {
        Self {
            conv1: Conv::new(spec.c_in, spec.c_out, 3, spec.stride, device),
            bn1: BatchNorm2d::new(spec.c_out, true, device),
            conv2: Conv::new(spec.c_out, spec.c_out, 3, 1, device),
            bn2: BatchNorm2d::new(spec.c_out, true, device),
            shortcut: spec.projects().then(|| Projection::new(spec, true, device)),
        }
    }

    /// The same block with frozen BatchNorms ([`BatchNorm2d::into_frozen`]).
    pub fn into_frozen(self) -> Self {
        Self {
            bn1: self.bn1.into_frozen(),
            bn2: self.bn2.into_frozen(),
            shortcut: self.shortcut.map(Projection::into_frozen),
            ..self
        }
    }

    /// `[n, c_in, h, w] -> [n, c_out, h / stride, w / stride]`, after the final ReLU.
    pub fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        relu(self.forward_pre_relu(x))
    }

    /// The block's output before its final ReLU, `bn2(conv2(..)) + shortcut(x)`: its pre-activation tap.
    pub fn forward_pre_relu(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        let y = relu(self.bn1.forward(self.conv1.forward(x.clone())));
        let y = self.bn2.forward(self.conv2.forward(y));
        let shortcut = match &self.shortcut {
            Some(projection) => projection.forward(x),
            None => x,
        };
        y + shortcut
    }

    /// The BatchNorm whose output is the residual branch of the pre-activation tap (`bn2`); the
    /// overhaul margin of the tap comes from it (the shortcut is not part of it, as in Heo et al.'s code).
    pub fn closing_bn(&self) -> &BatchNorm2d<B> {
        &self.bn2
    }
}

/// Trainable parameters of [`PreActBlock::new`]`(spec, ..)`.
pub fn preact_block_params(spec: BlockSpec) -> u128 {
    sum(&[
        bn_params(spec.c_in),
        conv_params(spec.c_in, spec.c_out, 3),
        bn_params(spec.c_out),
        conv_params(spec.c_out, spec.c_out, 3),
        if spec.projects() { projection_params(spec, false) } else { 0 },
    ])
}

/// Zagoruyko & Komodakis's pre-activation block: with `o = relu(bn1(x))`,
/// `conv2(dropout(relu(bn2(conv1(o))))) + shortcut`, the shortcut `x` when the shape is kept and a
/// 1x1 conv of `o` otherwise.
#[derive(Module, Debug)]
pub struct PreActBlock<B: Backend> {
    bn1: BatchNorm2d<B>,
    conv1: Conv<B>,
    bn2: BatchNorm2d<B>,
    dropout: Dropout,
    conv2: Conv<B>,
    shortcut: Option<Projection<B>>,
}

impl<B: Backend> PreActBlock<B> {
    /// A new block for `spec` with dropout probability `dropout` (in `[0, 1)`) between the convs;
    /// dropout is active only on an autodiff backend (training), like the BatchNorm statistics.
    pub fn new(spec: BlockSpec, dropout: f64, device: &B::Device) -> Self {
        Self {
            bn1: BatchNorm2d::new(spec.c_in, true, device),
            conv1: Conv::new(spec.c_in, spec.c_out, 3, spec.stride, device),
            bn2: BatchNorm2d::new(spec.c_out, true, device),
            dropout: Dropout { prob: dropout },
            conv2: Conv::new(spec.c_out, spec.c_out, 3, 1, device),
            shortcut: spec.projects().then(|| Projection::new(spec, false, device)),
        }
    }

    /// The same block with frozen BatchNorms ([`BatchNorm2d::into_frozen`]) and no dropout.
    pub fn into_frozen(self) -> Self {
        Self {
            bn1: self.bn1.into_frozen(),
            bn2: self.bn2.into_frozen(),
            dropout: Dropout { prob: 0.0 },
            shortcut: self.shortcut.map(Projection::into_frozen),
            ..self
        }
    }

    /// `[n, c_in, h, w] -> [n, c_out, h / stride, w / stride]` (no activation after the sum).
    pub fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        let opened = self.bn1.forward(x.clone());
        self.forward_opened(x, opened)
    }

    /// The BatchNorm that opens the block, `bn1`: its output on the block's input is the
    /// pre-activation tap of whatever produced that input.
    pub fn opening_bn(&self) -> &BatchNorm2d<B> {
        &self.bn1
    }

    /// [`PreActBlock::forward`] given `opened = bn1(x)`, `[n, c_in, h, w]` both (computed once by a
    /// caller that also keeps it as a tap, so training-mode statistics are updated once).
    pub fn forward_opened(&self, x: Tensor<B, 4>, opened: Tensor<B, 4>) -> Tensor<B, 4> {
        let o = relu(opened);
        let y = self.conv1.forward(o.clone());
        let y = self.conv2.forward(self.dropout.forward(relu(self.bn2.forward(y))));
        let shortcut = match &self.shortcut {
            Some(projection) => projection.forward(o),
            None => x,
        };
        y + shortcut
    }
}

/// One residual block of either family.
#[derive(Module, Debug)]
pub enum ResidualBlock<B: Backend> {
    /// A CIFAR ResNet block.
    Basic(BasicBlock<B>),
    /// A Wide ResNet block.
    PreAct(PreActBlock<B>),
}

impl<B: Backend> ResidualBlock<B> {
    /// The same block in evaluation behaviour on every backend (see the blocks' `into_frozen`).
    pub fn into_frozen(self) -> Self {
        match self {
            ResidualBlock::Basic(block) => ResidualBlock::Basic(block.into_frozen()),
            ResidualBlock::PreAct(block) => ResidualBlock::PreAct(block.into_frozen()),
        }
    }

    /// `[n, c_in, h, w] -> [n, c_out, h / stride, w / stride]`.
    pub fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        match self {
            ResidualBlock::Basic(block) => block.forward(x),
            ResidualBlock::PreAct(block) => block.forward(x),
        }
    }
}

/// Trainable parameters of [`Classifier::new`]`(features, classes, ..)`.
pub fn classifier_params(features: usize, classes: usize) -> u128 {
    product(&[features.saturating_add(1), classes])
}

/// A fully connected layer `[n, c] -> [n, classes]` with PyTorch's default initialisation.
#[derive(Module, Debug)]
pub struct Classifier<B: Backend> {
    /// Weight `[classes, c]`.
    pub weight: Param<Tensor<B, 2>>,
    /// Bias `[classes]`.
    pub bias: Param<Tensor<B, 1>>,
}

impl<B: Backend> Classifier<B> {
    /// A new classifier from `features` inputs to `classes` outputs.
    pub fn new(features: usize, classes: usize, device: &B::Device) -> Self {
        Self {
            weight: uniform_fan_in([classes, features], features, device),
            bias: uniform_fan_in([classes], features, device),
        }
    }

    /// `[n, features] -> [n, classes]`.
    pub fn forward(&self, x: Tensor<B, 2>) -> Tensor<B, 2> {
        x.matmul(self.weight.val().transpose()) + self.bias.val().unsqueeze::<2>()
    }
}
