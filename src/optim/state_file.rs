//! The binary file of a weight optimiser's per-parameter state (SGD's velocity, Adam's moments).
//!
//! Layout, little-endian: the entry count (u64), then per entry the parameter id (u64), the
//! optimiser's counters (u64 each, e.g. Adam's step count), the value count n (u64) and the
//! optimiser's slots one after the other (n f32 values each). With no counters and one slot this is
//! the SGD velocity file of earlier checkpoints, which therefore still resume.

use crate::error::{KdnasError, Result};
use burn::module::{Module, ModuleVisitor, Param, ParamId};
use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};
use std::collections::HashMap;
use std::path::Path;

/// The saved state of one parameter: `C` counters and `S` slots.
pub struct ParamState<B: Backend, const C: usize, const S: usize> {
    /// The parameter.
    pub id: ParamId,
    /// Integer state (Adam: the step count).
    pub counters: [u64; C],
    /// Float state (SGD: the velocity; Adam: both moments), each flattened, `[n]`.
    pub slots: [Tensor<B, 1>; S],
}

/// Writes `entries` to `path` atomically, in parameter-id order.
pub fn write_state<B: Backend, const C: usize, const S: usize>(
    path: &Path,
    entries: &[ParamState<B, C, S>],
) -> Result<()> {
    let mut sorted: Vec<&ParamState<B, C, S>> = entries.iter().collect();
    sorted.sort_by_key(|e| e.id.val());
    let mut bytes = (sorted.len() as u64).to_le_bytes().to_vec();
    for entry in sorted {
        bytes.extend(entry.id.val().to_le_bytes());
        for counter in entry.counters {
            bytes.extend(counter.to_le_bytes());
        }
        let len = entry.slots.first().map_or(0, |s| s.dims()[0]);
        bytes.extend((len as u64).to_le_bytes());
        for slot in &entry.slots {
            let values = slot.to_data().convert::<f32>().into_vec::<f32>().unwrap_or_default();
            bytes.extend(values.iter().flat_map(|x| x.to_le_bytes()));
        }
    }
    crate::files::write_file_atomically(path, &bytes)
}

/// Reads a file of `what` (`SGD velocity`, `Adam moments`) written by [`write_state`] for a module whose
/// parameters have `sizes` ([`param_sizes`]): an entry for a parameter the module lacks or of another
/// length, a short file or trailing bytes is a checkpoint error naming the file.
pub fn read_state<B: Backend, const C: usize, const S: usize>(
    path: &Path,
    what: &'static str,
    sizes: &HashMap<ParamId, usize>,
    device: &B::Device,
) -> Result<Vec<ParamState<B, C, S>>> {
    let bytes = std::fs::read(path).map_err(|e| KdnasError::io(path, e))?;
    let mut cursor = ByteCursor { bytes: &bytes, path, what };
    let count = cursor.word()?;
    let mut entries = Vec::new();
    for entry in 0..count {
        let id = ParamId::from(cursor.word()?);
        let mut counters = [0; C];
        for counter in &mut counters {
            *counter = cursor.word()?;
        }
        let len = cursor.word()?;
        let n = match sizes.get(&id) {
            Some(&n) if n as u64 == len => n,
            Some(&n) => return Err(cursor.fault(format!("entry {entry} holds {len} values, its parameter {n}"))),
            None => return Err(cursor.fault(format!("entry {entry} belongs to no parameter of the network"))),
        };
        let raw = cursor.take(4 * n * S)?;
        let slots = std::array::from_fn(|s| {
            let values: Vec<f32> = raw[4 * n * s..4 * n * (s + 1)]
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            Tensor::from_data(TensorData::new(values, [n]), device)
        });
        entries.push(ParamState { id, counters, slots });
    }
    if !cursor.bytes.is_empty() {
        return Err(cursor.fault(format!("{} bytes after the last entry", cursor.bytes.len())));
    }
    Ok(entries)
}

/// A checkpoint error about the state file `path` holding `what`.
pub fn state_error(path: &Path, what: &str, message: impl std::fmt::Display) -> KdnasError {
    KdnasError::Checkpoint { path: path.to_path_buf(), message: format!("{what} file: {message}") }
}

/// Number of values of every parameter of `module`, by id.
pub fn param_sizes<B: Backend, M: Module<B>>(module: &M) -> HashMap<ParamId, usize> {
    struct Sizes(HashMap<ParamId, usize>);
    impl<B: Backend> ModuleVisitor<B> for Sizes {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
            self.0.insert(param.id, param.shape().num_elements());
        }
    }
    let mut sizes = Sizes(HashMap::new());
    module.visit(&mut sizes);
    sizes.0
}

/// Reads a state file front to back, failing with a checkpoint error when it is too short.
struct ByteCursor<'a> {
    bytes: &'a [u8],
    path: &'a Path,
    what: &'static str,
}

impl<'a> ByteCursor<'a> {
    fn fault(&self, message: String) -> KdnasError {
        state_error(self.path, self.what, message)
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

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::Flex;

    #[test]
    fn one_slot_without_counters_is_the_sgd_velocity_file_of_earlier_checkpoints() {
        let dir = std::env::temp_dir().join(format!("kdnas-state-file-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("sgd_velocity.bin");
        let id = ParamId::from(7);
        let slot = Tensor::<Flex, 1>::from_floats([1.5, -2.0], &Default::default());
        write_state(&path, &[ParamState { id, counters: [], slots: [slot] }]).unwrap();
        // count, id, length, values: the layout `Sgd::save` has always written.
        let mut expected: Vec<u8> = [1u64, 7, 2].iter().flat_map(|w| w.to_le_bytes()).collect();
        expected.extend([1.5f32, -2.0].iter().flat_map(|x| x.to_le_bytes()));
        assert_eq!(std::fs::read(&path).unwrap(), expected);

        let sizes = HashMap::from([(id, 2)]);
        let read = read_state::<Flex, 0, 1>(&path, "SGD velocity", &sizes, &Default::default()).unwrap();
        assert_eq!(read.len(), 1);
        assert_eq!(read[0].slots[0].to_data().to_vec::<f32>().unwrap(), [1.5, -2.0]);
        let two_slots = read_state::<Flex, 0, 2>(&path, "SGD velocity", &sizes, &Default::default());
        assert!(two_slots.is_err_and(|e| e.to_string().contains("SGD velocity file: truncated")));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
