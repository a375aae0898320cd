//! [`Model`]: one type over every network family, so callers hold a single module type.

use super::preact::{PreActFeatures, TapPoint};
use super::residual::ResidualNet;
use super::resnet::CifarResNet;
use super::wrn::WideResNet;
use super::{Features, StagedClassifier};
use crate::models::CellNetwork;
use burn::module::Module;
use burn::tensor::{Tensor, backend::Backend};

/// A network of any family; implements [`StagedClassifier`] by delegation.
#[derive(Module, Debug)]
pub enum Model<B: Backend> {
    /// A CIFAR ResNet.
    Resnet(CifarResNet<B>),
    /// A Wide ResNet.
    Wrn(WideResNet<B>),
    /// A derived DARTS network (students only: see [`Model::into_frozen`]).
    Darts(CellNetwork<B>),
}

impl<B: Backend> Model<B> {
    /// The same network in evaluation behaviour on every backend, for a distillation teacher: every
    /// BatchNorm normalises with (and never updates) its running statistics and dropout is off, while
    /// gradients still flow through it ([`ResidualNet::into_frozen`](super::residual::ResidualNet::into_frozen)).
    /// A DARTS network cannot be frozen (its BatchNorms sit inside the cell ops) and is returned as
    /// it is: configs refuse it as a teacher ([`ModelConfig::validate_teacher`](super::ModelConfig::validate_teacher)).
    pub fn into_frozen(self) -> Self {
        match self {
            Model::Resnet(net) => Model::Resnet(net.into_frozen()),
            Model::Wrn(net) => Model::Wrn(net.into_frozen()),
            Model::Darts(net) => Model::Darts(net),
        }
    }

    /// The residual network of a ResNet or WRN (the families with pre-activation taps,
    /// [`super::preact`]); `None` for a DARTS network.
    pub fn residual(&self) -> Option<&ResidualNet<B>> {
        match self {
            Model::Resnet(net) => Some(net.residual()),
            Model::Wrn(net) => Some(net.residual()),
            Model::Darts(_) => None,
        }
    }

    /// Logits and the features at `at`: `(features, None)` for block outputs, `(features, Some(stem))`
    /// with every block's pre-activation tap in `features.stages` for [`TapPoint::PreActivation`].
    ///
    /// # Panics
    /// For pre-activation taps of a DARTS network (configs refuse it before a run starts).
    pub fn forward_at(&self, images: Tensor<B, 4>, at: TapPoint) -> (Features<B>, Option<Tensor<B, 4>>) {
        match at {
            TapPoint::Block => (self.forward_features(images), None),
            TapPoint::PreActivation => {
                let net = self.residual().expect("pre-activation taps need a ResNet or WRN (checked by the config)");
                let PreActFeatures { logits, taps } = net.forward_preact(images);
                (Features { logits, stages: taps.stages }, Some(taps.stem))
            }
        }
    }

    /// The network the trait methods run on.
    fn staged(&self) -> &dyn StagedClassifier<B> {
        match self {
            Model::Resnet(net) => net,
            Model::Wrn(net) => net,
            Model::Darts(net) => net,
        }
    }
}

super::delegate_staged_classifier!(Model);
