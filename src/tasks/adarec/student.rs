//! What an AdaRec search trains: the student supernet and the two projections that map its width to
//! the teacher's (AdaRec's `embedding_projection` and `cells_projection`, the latter shared by every
//! cell).

use crate::models::sequence_cell_network::SequenceCellNetwork;
use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::backend::Backend;

/// The derived student with the weights the search trained for it (embedding, output layer, cells'
/// node weights and LayerNorms, each kept op's weights), written in the search's run directory at
/// each derivation epoch: where `adarec finetune` with `init = "search"` starts.
pub const STUDENT_INIT_FILE: &str = "student_init.mpk";

/// The student with its projections to the teacher's width.
#[derive(Module, Debug)]
pub struct AdarecStudent<B: Backend> {
    /// The student network (mixed edges during the search).
    pub student: SequenceCellNetwork<B>,
    /// Student embedding -> teacher width, `[.., dim] -> [.., teacher_dim]`.
    pub embedding_projection: Linear<B>,
    /// Every cell's output -> teacher width, `[.., dim] -> [.., teacher_dim]`.
    pub hidden_projection: Linear<B>,
}

impl<B: Backend> AdarecStudent<B> {
    /// Wraps `student` (of width `dim`) with projections to `teacher_dim`.
    pub fn new(student: SequenceCellNetwork<B>, dim: usize, teacher_dim: usize, device: &B::Device) -> Self {
        Self {
            student,
            embedding_projection: LinearConfig::new(dim, teacher_dim).init(device),
            hidden_projection: LinearConfig::new(dim, teacher_dim).init(device),
        }
    }
}
