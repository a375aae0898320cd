//! A loss term that turns NaN stops the search with an error naming the epoch, step and term, and the
//! last good checkpoint (end of the previous epoch) is left untouched.

mod common;

use common::instrumented::tiny_search;
use common::{run_fresh_search, temp_dir};
use kdnas::KdnasError;
use kdnas::search::SearchConfig;

#[test]
fn nan_stops_the_run_and_keeps_the_last_checkpoint() {
    // First order: 2 losses per step (arch + weight), 2 steps per epoch -> call 6 is epoch 2, step 1.
    let (net, arch, task) = tiny_search(8, Some(6));
    let config = SearchConfig { epochs: 3, batch_size: 4, ..SearchConfig::default() };
    let dir = temp_dir("nan");
    let err = run_fresh_search(&dir, &config, &task, net, arch, 0).err().expect("the NaN must stop the run");
    assert!(matches!(err, KdnasError::NonFinite { epoch: 1, step: 0, ref term, .. } if term == "poison"), "{err:?}");
    assert!(err.to_string().contains("epoch 2, step 1 (1-based): term `poison` = NaN"), "{err}");
    let state: kdnas::search::SearchState =
        serde_json::from_slice(&std::fs::read(dir.join("checkpoint/state.json")).unwrap()).unwrap();
    assert_eq!(state.next_epoch, 1, "the checkpoint of epoch 1 is kept");
}
