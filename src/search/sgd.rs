//! SGD with momentum and weight decay whose velocity is readable (DARTS's virtual step needs it) and
//! checkpointable. Semantics are PyTorch's (dampening 0): g' = g + wd*w; v = mu*v + g'; w -= lr*v.

use crate::error::{KdnasError, Result};
use burn::module::{AutodiffModule, ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::optim::GradientsParams;
use burn::tensor::{Tensor, TensorData, backend::AutodiffBackend};
use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

/// Momentum SGD state: the velocity of every parameter that has been stepped, flattened.
pub struct Sgd<AB: AutodiffBackend> {
    /// Momentum mu (DARTS 0.9).
    pub momentum: f64,
    /// L2 weight decay (DARTS 3e-4).
    pub weight_decay: f64,
    velocity: HashMap<ParamId, Tensor<AB::InnerBackend, 1>>,
}

/// What a mapper does with each parameter.
enum Update {
    /// Apply the step and remember the new velocity.
    Step,
    /// Compute w - lr*(mu*v + g + wd*w) as a fresh tracked leaf, leaving the velocity alone.
    Virtual,
}

struct SgdMapper<'a, AB: AutodiffBackend> {
    sgd: &'a mut Sgd<AB>,
    grads: &'a GradientsParams,
    lr: f64,
    update: Update,
}

impl<AB: AutodiffBackend> ModuleMapper<AB> for SgdMapper<'_, AB> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<AB, D>>) -> Param<Tensor<AB, D>> {
        let (id, tensor, mapper) = param.consume();
        let Some(g) = self.grads.get::<AB::InnerBackend, D>(id) else {
            return Param::from_mapped_value(id, tensor, mapper);
        };
        let w = tensor.inner(); // [param shape]
        let dims = w.dims();
        let g = g + w.clone().mul_scalar(self.sgd.weight_decay);
        let v = match self.sgd.velocity.get(&id) {
            Some(prev) => prev.clone().reshape(dims).mul_scalar(self.sgd.momentum) + g,
            None => g,
        };
        let new_w = w - v.clone().mul_scalar(self.lr);
        let out = match self.update {
            Update::Step => {
                self.sgd.velocity.insert(id, v.reshape([dims.iter().product::<usize>()]));
                Tensor::from_inner(new_w).require_grad()
            }
            Update::Virtual => Tensor::from_inner(new_w).require_grad(),
        };
        Param::from_mapped_value(id, out, mapper)
    }
}

impl<AB: AutodiffBackend> Sgd<AB> {
    /// A fresh optimiser with zero velocity.
    pub fn new(momentum: f64, weight_decay: f64) -> Self {
        Self { momentum, weight_decay, velocity: HashMap::new() }
    }

    /// One SGD step on `module` with learning rate `lr`.
    pub fn step<M: AutodiffModule<AB>>(&mut self, module: M, grads: &GradientsParams, lr: f64) -> M {
        module.map(&mut SgdMapper { sgd: self, grads, lr, update: Update::Step })
    }

    /// DARTS's virtual step w' = w - lr*(mu*v + g + wd*w), with w' as new tracked leaves (same ids).
    pub fn virtual_step<M: AutodiffModule<AB>>(&mut self, module: &M, grads: &GradientsParams, lr: f64) -> M {
        module.clone().map(&mut SgdMapper { sgd: self, grads, lr, update: Update::Virtual })
    }

    /// Writes the velocity to `path` (id, length, little-endian f32 values per entry).
    pub fn save(&self, path: &Path) -> Result<()> {
        let err = |e: std::io::Error| KdnasError::io(path, e);
        let mut out = std::io::BufWriter::new(std::fs::File::create(path).map_err(err)?);
        let mut entries: Vec<_> = self.velocity.iter().collect();
        entries.sort_by_key(|(id, _)| id.val());
        out.write_all(&(entries.len() as u64).to_le_bytes()).map_err(err)?;
        for (id, v) in entries {
            let values: Vec<f32> = v.clone().into_data().convert::<f32>().into_vec().unwrap_or_default();
            out.write_all(&id.val().to_le_bytes()).map_err(err)?;
            out.write_all(&(values.len() as u64).to_le_bytes()).map_err(err)?;
            for x in values {
                out.write_all(&x.to_le_bytes()).map_err(err)?;
            }
        }
        out.flush().map_err(err)
    }

    /// Restores the velocity written by [`Sgd::save`] for the parameters of `module`; an entry for a
    /// parameter `module` lacks, or of another length, is a checkpoint error naming the file.
    pub fn load<M: AutodiffModule<AB>>(&mut self, path: &Path, module: &M, device: &AB::Device) -> Result<()> {
        let sizes = param_sizes(module);
        let bytes = std::fs::read(path).map_err(|e| KdnasError::io(path, e))?;
        let mut cursor = ByteCursor { bytes: &bytes, path };
        let count = cursor.word()?;
        let mut velocity = HashMap::new();
        for entry in 0..count {
            let id = ParamId::from(cursor.word()?);
            let len = cursor.word()?;
            match sizes.get(&id) {
                Some(&n) if n as u64 == len => {}
                Some(&n) => return Err(cursor.fault(format!("entry {entry} holds {len} values, its parameter {n}"))),
                None => return Err(cursor.fault(format!("entry {entry} belongs to no parameter of the network"))),
            }
            let raw = cursor.take(4 * len as usize)?;
            let values: Vec<f32> = raw.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
            velocity.insert(id, Tensor::from_data(TensorData::new(values, [len as usize]), device));
        }
        if !cursor.bytes.is_empty() {
            return Err(cursor.fault(format!("{} bytes after the last entry", cursor.bytes.len())));
        }
        self.velocity = velocity;
        Ok(())
    }
}

/// Number of values of every parameter of `module`, by id.
fn param_sizes<AB: AutodiffBackend, M: AutodiffModule<AB>>(module: &M) -> HashMap<ParamId, usize> {
    struct Sizes(HashMap<ParamId, usize>);
    impl<B: burn::tensor::backend::Backend> ModuleVisitor<B> for Sizes {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
            self.0.insert(param.id, param.shape().num_elements());
        }
    }
    let mut sizes = Sizes(HashMap::new());
    module.visit(&mut sizes);
    sizes.0
}

/// Reads a checkpoint file front to back, failing with a checkpoint error when it is too short.
struct ByteCursor<'a> {
    bytes: &'a [u8],
    path: &'a Path,
}

impl<'a> ByteCursor<'a> {
    fn fault(&self, message: String) -> KdnasError {
        KdnasError::Checkpoint { path: self.path.to_path_buf(), message: format!("SGD velocity file: {message}") }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.bytes.len() < n {
            return Err(self.fault("truncated".into()));
        }
        let (head, tail) = self.bytes.split_at(n);
        self.bytes = tail;
        Ok(head)
    }

    fn word(&mut self) -> Result<u64> {
        let b = self.take(8)?;
        Ok(u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]))
    }
}
