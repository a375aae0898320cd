//! `ArchParams`: the architecture weights (one logits tensor per choice group), a module of its own so
//! that it has its own optimiser and can be frozen independently of the network weights.

use crate::space::ArchGraph;
use burn::module::{Module, Param};
use burn::tensor::{Distribution, Tensor, backend::Backend};

/// Architecture logits: `logits[g]` is `[rows, candidates]` for choice group `g` of the [`ArchGraph`].
#[derive(Module, Debug)]
pub struct ArchParams<B: Backend> {
    /// One tensor per choice group.
    pub logits: Vec<Param<Tensor<B, 2>>>,
}

impl<B: Backend> ArchParams<B> {
    /// DARTS's initialisation: 1e-3 * N(0, 1).
    pub fn new(arch: &ArchGraph, device: &B::Device) -> Self {
        let logits = arch
            .groups
            .iter()
            .map(|g| {
                let t = Tensor::random([g.rows(), g.candidates.len()], Distribution::Normal(0.0, 1.0), device)
                    .mul_scalar(1e-3);
                Param::from_tensor(t)
            })
            .collect();
        Self { logits }
    }

    /// The logits read back to the host, one `rows x candidates` table per group.
    pub fn to_host(&self) -> Vec<Vec<Vec<f32>>> {
        self.logits.iter().map(|p| tensor_rows(p.val())).collect()
    }
}

/// A 2-D tensor read back as rows.
pub fn tensor_rows<B: Backend>(t: Tensor<B, 2>) -> Vec<Vec<f32>> {
    let [_, cols] = t.dims();
    let flat: Vec<f32> = t.into_data().convert::<f32>().into_vec().unwrap_or_default();
    flat.chunks(cols.max(1)).map(<[f32]>::to_vec).collect()
}
