//! Whole networks: those a user trains or distils (CIFAR-style ResNet and WRN, derived DARTS networks as
//! students; NextItNet for sequences) and the networks built from cells (DARTS's [`CellNetwork`],
//! AdaRec's [`SequenceCellNetwork`], the search supernet when their edges are mixed), each image classifier able to return
//! its intermediate features per stage beside its logits and to run its remaining stages from any
//! stage's feature, so feature losses and bridges never reach inside a model.

use burn::tensor::{Tensor, backend::Backend};

/// Implements [`StagedClassifier`] for `$ty<B>` by forwarding every method to `self.staged()`, an
/// inherent method returning the `&dyn StagedClassifier<B>` that does the work.
macro_rules! delegate_staged_classifier {
    ($ty:ident) => {
        impl<B: burn::tensor::backend::Backend> $crate::models::StagedClassifier<B> for $ty<B> {
            fn forward(&self, images: burn::tensor::Tensor<B, 4>) -> burn::tensor::Tensor<B, 2> {
                self.staged().forward(images)
            }

            fn forward_features(&self, images: burn::tensor::Tensor<B, 4>) -> $crate::models::Features<B> {
                self.staged().forward_features(images)
            }

            fn forward_from(&self, stage: usize, feature: burn::tensor::Tensor<B, 4>) -> burn::tensor::Tensor<B, 2> {
                self.staged().forward_from(stage, feature)
            }

            fn stage_shapes(&self) -> Vec<$crate::models::StageShape> {
                self.staged().stage_shapes()
            }
        }
    };
}
use delegate_staged_classifier;

pub mod blocks;
pub mod cell_network;
pub mod cell_network_size;
pub mod config;
pub mod darts;
pub mod item_layers;
pub mod model;
pub mod nextitnet;
pub mod preact;
pub mod residual;
pub mod resnet;
pub mod sequence_cell_network;
pub mod wrn;

pub use cell_network::{CellNetwork, NetworkConfig};
pub use cell_network_size::{NetworkSize, ensure_fits};
pub use config::ModelConfig;
pub use model::Model;
pub use preact::{PreActFeatures, TapPoint, Taps};
pub use resnet::CifarResNet;
pub use sequence_cell_network::{SequenceCellNetwork, SequenceNetworkConfig};
pub use wrn::WideResNet;

/// Logits plus the output of every residual block, grouped by stage.
#[derive(Debug, Clone)]
pub struct Features<B: Backend> {
    /// `[batch, classes]`.
    pub logits: Tensor<B, 2>,
    /// `stages[i][j]`: output of block `j` of stage `i`, `[batch, channels_i, h_i, w_i]`; every block of a
    /// stage has the same shape.
    pub stages: Vec<Vec<Tensor<B, 4>>>,
}

/// The shape of one stage of a staged network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StageShape {
    /// Channels of every block output in the stage.
    pub channels: usize,
    /// Residual blocks in the stage.
    pub blocks: usize,
    /// Total downsampling factor of the stage's outputs relative to the input image (1, 2, 4, ...).
    pub stride: usize,
}

/// An image classifier split into stages of residual blocks.
pub trait StagedClassifier<B: Backend> {
    /// Logits only, `[batch, channels, h, w] -> [batch, classes]`.
    fn forward(&self, images: Tensor<B, 4>) -> Tensor<B, 2>;
    /// Logits and every block output grouped by stage.
    fn forward_features(&self, images: Tensor<B, 4>) -> Features<B>;
    /// Runs the stages after `stage` (0-based) and the classifier on `feature`, which has the shape of
    /// that stage's output; `[batch, channels_stage, h, w] -> [batch, classes]`. Panics when `stage` is
    /// not below the number of stages (a programming error: indices come from `stage_shapes`).
    fn forward_from(&self, stage: usize, feature: Tensor<B, 4>) -> Tensor<B, 2>;
    /// Channels, block count and stride of every stage, in order.
    fn stage_shapes(&self) -> Vec<StageShape>;
}
