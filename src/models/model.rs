//! [`Model`]: one type over every network family, so callers hold a single module type.

use super::StagedClassifier;
use super::resnet::CifarResNet;
use super::wrn::WideResNet;
use crate::supernet::CellNetwork;
use burn::module::Module;
use burn::tensor::backend::Backend;

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
