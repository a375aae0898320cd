//! Sequence data and ranking metrics: the three loaders on tiny files (and their errors), leave-one-out,
//! truncation and left padding, the negative sampler, hand-computed ranking metrics, the tensor rank
//! helpers against the scalar rule, the synthetic set's planted structure, and (when the shared data
//! is present) the real LastFM and MovieLens-100K files.

mod common;

use std::path::{Path, PathBuf};

use burn::backend::Flex;
use burn::tensor::{Int, Tensor, TensorData};
use common::{manifest, temp_dir};
use kdnas::data::sequence::{
    DEFAULT_MIN_LEN, EvalCandidates, EvalSplit, IndexBatch, NegativeSampler, SequenceFormat, SequenceSet, TrainWindow,
    eval_batch, load_sequences, synthetic_sequences, synthetic_successors, train_batch,
};
use kdnas::metrics::ranking::{RankingMetrics, full_ranks, rank_of, sampled_ranks};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// Writes `text` to `name` in a fresh temporary directory for `test`.
fn write(test: &str, name: &str, text: &str) -> PathBuf {
    let path = temp_dir(test).join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// The error message of loading `text` as `format`.
fn load_error(test: &str, name: &str, text: &str, format: SequenceFormat) -> String {
    let path = write(test, name, text);
    let message = load_sequences(&path, format, DEFAULT_MIN_LEN).unwrap_err().to_string();
    let dir = format!("{}/", path.parent().unwrap().display());
    message.replace(&dir, "") // keep the file name, drop the temporary directory
}

/// The item tokens of `user`'s sequence.
fn tokens(set: &SequenceSet, user: usize) -> Vec<&str> {
    set.sequence(user).iter().map(|&id| set.item_token(id)).collect()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-12
}

#[test]
fn ranking_metrics_match_hand_computed_values() {
    let mut metrics = RankingMetrics::default();
    metrics.add_all(&[1, 3, 12]);
    let m = metrics.mean();
    assert_eq!(metrics.users(), 3);
    assert!(close(m["mrr"], (1.0 + 1.0 / 3.0 + 1.0 / 12.0) / 3.0)); // 17/36
    assert!(close(m["hr@1"], 1.0 / 3.0) && close(m["hr@5"], 2.0 / 3.0));
    assert!(close(m["hr@10"], 2.0 / 3.0) && close(m["hr@20"], 1.0));
    assert!(close(m["ndcg@1"], 1.0 / 3.0));
    assert!(close(m["ndcg@5"], 0.5)); // (1/log2(2) + 1/log2(4) + 0) / 3
    assert!(close(m["ndcg@10"], 0.5));
    assert!(close(m["ndcg@20"], (1.5 + 1.0 / 13f64.log2()) / 3.0));
    assert_eq!(m.len(), 9);
}

#[test]
fn tensor_ranks_agree_with_the_scalar_rule_including_ties() {
    let device = Default::default();
    let mut rng = StdRng::seed_from_u64(5);
    let (users, columns) = (40, 12);
    // Scores on a coarse grid, so ties are frequent.
    let values: Vec<f32> = (0..users * columns).map(|_| rng.random_range(0..4) as f32 * 0.25).collect();
    let scores = || Tensor::<Flex, 2>::from_data(TensorData::new(values.clone(), [users, columns]), &device);
    let rows: Vec<&[f32]> = values.chunks(columns).collect();

    let want: Vec<usize> = rows.iter().map(|r| rank_of(r[0], &r[1..])).collect();
    assert_eq!(sampled_ranks(scores()), want);
    // All-equal scores rank the positive last.
    let flat = Tensor::<Flex, 2>::from_data(TensorData::new(vec![0.5f32; 6], [2, 3]), &device);
    assert_eq!(sampled_ranks(flat), vec![3, 3]);

    // Full ranking over items 1..=11 (column 0 is padding) against the scalar rule.
    let targets: Vec<i64> = (0..users).map(|_| rng.random_range(1..columns as i64)).collect();
    let want: Vec<usize> = rows
        .iter()
        .zip(&targets)
        .map(|(r, &t)| {
            let others: Vec<f32> = (1..columns).filter(|&j| j != t as usize).map(|j| r[j]).collect();
            rank_of(r[t as usize], &others)
        })
        .collect();
    let targets = Tensor::<Flex, 1, Int>::from_data(TensorData::new(targets, [users]), &device);
    assert_eq!(full_ranks(scores(), targets, None), want);
}

#[test]
fn leave_one_out_on_a_tiny_lines_file() {
    let path = write("loo", "tiny.txt", "u1 10 11 12 13 14\nu2 20 21 22\nu3 30 31\n");
    let set = load_sequences(&path, SequenceFormat::Lines, DEFAULT_MIN_LEN).unwrap();
    assert_eq!(set.len(), 2, "u3 has only 2 items and is dropped");
    assert_eq!(set.n_items(), 8);
    let ids =
        |t: &[&str]| -> Vec<usize> { t.iter().map(|t| (1..=8).find(|&i| set.item_token(i) == *t).unwrap()).collect() };
    let u1 = set.split(0);
    assert_eq!(u1.train(), ids(&["10", "11", "12"]));
    assert_eq!((u1.target(EvalSplit::Valid), u1.target(EvalSplit::Test)), (ids(&["13"])[0], ids(&["14"])[0]));
    assert_eq!(u1.history(EvalSplit::Valid), ids(&["10", "11", "12"]));
    assert_eq!(u1.history(EvalSplit::Test), ids(&["10", "11", "12", "13"]));
    let u2 = set.split(1);
    assert_eq!(u2.train(), ids(&["20"]));
    assert_eq!((u2.target(EvalSplit::Valid), u2.target(EvalSplit::Test)), (ids(&["21"])[0], ids(&["22"])[0]));
    assert_eq!(set.train_users(), vec![0], "u2 has a single training item, so nothing to predict");
}

/// Every training item after a user's first is the target of exactly one window position, with as
/// much history as `max_len` allows (every prefix is trained, as the spec asks).
#[test]
fn training_windows_predict_every_training_item_once() {
    let set = synthetic_sequences(30, 40, 4, 25, 2).unwrap();
    for max_len in [1, 3, 7, 50] {
        let windows = set.train_windows(max_len);
        let mut seen: Vec<Vec<usize>> = (0..set.len()).map(|u| vec![0; set.split(u).train().len()]).collect();
        for (row, w) in windows.iter().enumerate() {
            let batch = train_batch(&set, &[*w], max_len);
            let train = set.split(w.user).train();
            let first = w.end.saturating_sub(max_len + 1);
            for (k, &target) in batch.targets.values.iter().enumerate() {
                if target == 0 {
                    continue;
                }
                // Position k of the left-padded row holds the target at train index end - max_len + k.
                let index = w.end + k - max_len;
                assert_eq!(target as usize, train[index], "window {row} ({w:?}), column {k}");
                assert!(index > first, "a target has at least one item of history in its window");
                seen[w.user][index] += 1;
            }
        }
        for (u, counts) in seen.iter().enumerate() {
            let expected: Vec<usize> = (0..counts.len()).map(|i| usize::from(i > 0)).collect();
            assert_eq!(counts, &expected, "max_len {max_len}, user {u}: every item after the first, once");
        }
    }
}

#[test]
fn batches_truncate_to_the_most_recent_items_and_pad_on_the_left() {
    // Items keep their ids (numeric tokens 1..=9 are already contiguous).
    let path = write("batch", "b.txt", "a 1 2 3 4 5 6 7\nb 8 9 1 2\n");
    let set = load_sequences(&path, SequenceFormat::Lines, 3).unwrap();
    assert_eq!(set.sequence(0), &[1, 2, 3, 4, 5, 6, 7]);
    // Training sequences: a = 1..5, b = 8 9. With max_len 3, a's last window keeps its last 4 items
    // (2 3 4 5) and an earlier one (1 2) predicts the target the last window cannot (2).
    let windows = set.train_windows(3);
    let window = |user, end| TrainWindow { user, end };
    assert_eq!(windows, vec![window(0, 5), window(0, 2), window(1, 2)]);
    let batch = train_batch(&set, &[windows[2], windows[0], windows[1]], 3);
    assert_eq!(batch.inputs, IndexBatch { values: vec![0, 0, 8, 2, 3, 4, 0, 0, 1], dims: [3, 3] });
    assert_eq!(batch.targets, IndexBatch { values: vec![0, 0, 9, 3, 4, 5, 0, 0, 2], dims: [3, 3] });
    let eval = eval_batch(&set, &[0, 1], EvalSplit::Test, 4);
    assert_eq!(eval.histories.values, vec![3, 4, 5, 6, 0, 8, 9, 1]);
    assert_eq!(eval.targets, vec![7, 2]);
    let eval = eval_batch(&set, &[1], EvalSplit::Valid, 4);
    assert_eq!((eval.histories.values, eval.targets), (vec![0, 0, 8, 9], vec![1]));
}

#[test]
fn sampler_avoids_positive_and_history_and_is_seeded() {
    let history: Vec<usize> = (1..=20).collect();
    let draw = |exclude: bool, seed: u64| {
        let sampler = NegativeSampler::new(50, 25, exclude).unwrap();
        sampler.candidates(30, &history, &mut StdRng::seed_from_u64(seed)).unwrap()
    };
    for seed in 0..20 {
        let candidates = draw(true, seed);
        assert_eq!(candidates[0], 30);
        let negatives = &candidates[1..];
        let mut distinct = negatives.to_vec();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(distinct.len(), 25);
        assert!(negatives.iter().all(|&id| (21..=50).contains(&id) && id != 30), "{negatives:?}");
    }
    assert_eq!(draw(true, 3), draw(true, 3));
    assert_ne!(draw(true, 3), draw(true, 4));
    // Without history exclusion history items are drawn too (25 of 49 allowed items, 20 in the history).
    let with_history = draw(false, 3);
    assert!(with_history[1..].iter().any(|id| history.contains(id)) && !with_history[1..].contains(&30));
    // 29 items are neither the positive nor in the history.
    let err = NegativeSampler::new(50, 30, true).unwrap().sample(30, &history, &mut StdRng::seed_from_u64(0));
    assert_eq!(
        err.unwrap_err().to_string(),
        "only 29 of 50 items are neither the positive nor in the history; cannot draw 30 distinct negatives"
    );
}

#[test]
fn eval_candidates_are_drawn_once_per_user_and_name_the_user_on_failure() {
    let set = synthetic_sequences(30, 40, 4, 8, 1).unwrap();
    let sampler = NegativeSampler::new(set.n_items(), 10, true).unwrap();
    let a = EvalCandidates::draw(&set, EvalSplit::Test, &sampler, 9).unwrap();
    assert_eq!(a, EvalCandidates::draw(&set, EvalSplit::Test, &sampler, 9).unwrap());
    for u in 0..set.len() {
        let (candidates, sequence) = (a.of(u), set.sequence(u));
        assert_eq!(candidates[0], set.split(u).target(EvalSplit::Test));
        assert!(candidates[1..].iter().all(|id| !sequence.contains(id)));
    }
    let batch = a.batch(&[2, 0]);
    assert_eq!(batch.dims, [2, 11]);
    assert_eq!(batch.values[11..], a.of(0).iter().map(|&id| id as i64).collect::<Vec<_>>());
    let greedy = NegativeSampler::new(set.n_items(), 37, true).unwrap();
    let err = EvalCandidates::draw(&set, EvalSplit::Test, &greedy, 9).unwrap_err().to_string();
    assert!(err.starts_with("user `synthetic-user-"), "{err}");
}

#[test]
fn lines_loader_rejects_malformed_lines() {
    let err = load_error("lines-bad", "s.txt", "1 5 6 7\n2\n", SequenceFormat::Lines);
    assert_eq!(err, "s.txt:2: `items`: expected `user item item ...`, found only `2`");
    let err = load_error("lines-empty", "s.txt", "\n\n", SequenceFormat::Lines);
    assert_eq!(err, "s.txt: corrupt or unsupported data file: no interactions (empty file)");
    let err = load_error("lines-repeat", "s.txt", "1 5 6 7\n1 8 9 9\n", SequenceFormat::Lines);
    assert_eq!(err, "s.txt:2: `user`: user `1` already has a line above");
    // A 3-item user is kept by default and dropped with min_len 4, leaving nobody.
    let path = write("lines-short", "s.txt", "1 5 6 7\n");
    assert_eq!(load_sequences(&path, SequenceFormat::Lines, DEFAULT_MIN_LEN).unwrap().len(), 1);
    let err = load_sequences(&path, SequenceFormat::Lines, 4).unwrap_err().to_string();
    assert!(
        err.ends_with("s.txt: corrupt or unsupported data file: none of the 1 users has at least 4 interactions"),
        "{err}"
    );
}

#[test]
fn pairs_loader_rejects_malformed_lines() {
    let err = load_error("pairs-ts", "p.txt", "1 5 100\n1 6 1O1\n", SequenceFormat::Pairs);
    assert_eq!(err, "p.txt:2: `timestamp`: `1O1` is not a finite number");
    let err = load_error("pairs-nan", "p.txt", "1 5 NaN\n", SequenceFormat::Pairs);
    assert_eq!(err, "p.txt:1: `timestamp`: `NaN` is not a finite number");
    let err = load_error("pairs-one", "p.txt", "1 5\n\n1\n", SequenceFormat::Pairs);
    assert_eq!(err, "p.txt:3: `fields`: expected `user item [timestamp]`, found 1 fields");
    let err = load_error("pairs-mixed", "p.txt", "1 5\n1 6 7\n", SequenceFormat::Pairs);
    assert!(err.starts_with("p.txt:2: `fields`: 3 fields, but line 1 has 2"), "{err}");
    let err = load_error("pairs-empty", "p.txt", "", SequenceFormat::Pairs);
    assert!(err.ends_with("no interactions (empty file)"), "{err}");
}

#[test]
fn inter_loader_rejects_malformed_lines() {
    let header = "user_id:token\titem_id:token\trating:float\ttimestamp:float\n";
    let err = load_error("inter-head", "x.inter", "user_id:token\trating:float\n1\t3\n", SequenceFormat::Inter);
    assert_eq!(err, "x.inter:1: `header`: no `item_id` column in `user_id:token\trating:float`");
    let err = load_error("inter-short", "x.inter", &format!("{header}1\t5\t3\t10\n1\t6\t3\n"), SequenceFormat::Inter);
    assert_eq!(err, "x.inter:3: `fields`: expected 4 tab-separated fields as in the header, found 3");
    let err = load_error("inter-ts", "x.inter", &format!("{header}1\t5\t3\tsoon\n"), SequenceFormat::Inter);
    assert_eq!(err, "x.inter:2: `timestamp`: `soon` is not a finite number");
    let err = load_error("inter-empty", "x.inter", "", SequenceFormat::Inter);
    assert!(err.ends_with("no interactions (empty file)"), "{err}");
    let err = load_error("inter-nodata", "x.inter", header, SequenceFormat::Inter);
    assert!(err.ends_with("no interactions (empty file)"), "{err}");
}

#[test]
fn pairs_and_inter_sort_by_timestamp_stably() {
    // User a: timestamps 5, 3, 3, 1, 3 -> x(1), then the three 3s in file order (p, q, r), then 5.
    let pairs = "a p2 5\nb z 7\na p 3\na q 3\na x 1\nb y 2\na r 3\nb w 9\n";
    let set = load_sequences(&write("pairs-sort", "p.txt", pairs), SequenceFormat::Pairs, DEFAULT_MIN_LEN).unwrap();
    assert_eq!((set.user_token(0), set.user_token(1)), ("a", "b"));
    assert_eq!(tokens(&set, 0), ["x", "p", "q", "r", "p2"]);
    assert_eq!(tokens(&set, 1), ["y", "z", "w"]);
    let untimed =
        load_sequences(&write("pairs-untimed", "p.txt", "a 3\na 1\na 2\n"), SequenceFormat::Pairs, 3).unwrap();
    assert_eq!(tokens(&untimed, 0), ["3", "1", "2"]);

    let inter = "user_id:token\titem_id:token\ttimestamp:float\n\
                 a\tp2\t5.0\na\tp\t3\na\tq\t3.0\na\tx\t1\na\tr\t3\n";
    let set = load_sequences(&write("inter-sort", "x.inter", inter), SequenceFormat::Inter, 3).unwrap();
    assert_eq!(tokens(&set, 0), ["x", "p", "q", "r", "p2"]);
}

#[test]
fn sequence_format_reads_from_toml() {
    #[derive(serde::Deserialize)]
    struct Wrap {
        format: Vec<SequenceFormat>,
    }
    let wrap: Wrap = toml::from_str("format = [\"lines\", \"pairs\", \"inter\"]").unwrap();
    assert_eq!(wrap.format, [SequenceFormat::Lines, SequenceFormat::Pairs, SequenceFormat::Inter]);
    assert!(toml::from_str::<Wrap>("format = [\"Lines\"]").is_err());
}

/// HR@10 over the test split when `score(user, history, candidate)` scores the sampled candidates.
fn test_hr10(set: &SequenceSet, score: impl Fn(&[usize], usize) -> f32) -> f64 {
    let sampler = NegativeSampler::new(set.n_items(), 100, true).unwrap();
    let candidates = EvalCandidates::draw(set, EvalSplit::Test, &sampler, 11).unwrap();
    let mut metrics = RankingMetrics::default();
    for u in 0..set.len() {
        let history = set.split(u).history(EvalSplit::Test);
        let scores: Vec<f32> = candidates.of(u).iter().map(|&c| score(history, c)).collect();
        metrics.add(rank_of(scores[0], &scores[1..]));
    }
    metrics.mean()["hr@10"]
}

#[test]
fn synthetic_structure_rewards_the_planted_successor_map_and_not_popularity() {
    let (items, seed) = (300, 21);
    let set = synthetic_sequences(400, items, 8, 20, seed).unwrap();
    assert_eq!(set.n_items(), items);
    let successor = synthetic_successors(items, seed).unwrap();
    let oracle = test_hr10(&set, |history, c| f32::from(successor[history[history.len() - 1]] == c));
    let noise = StdRng::seed_from_u64(0);
    let noise = std::cell::RefCell::new(noise);
    let random = test_hr10(&set, |_, _| noise.borrow_mut().random::<f32>());
    let mut counts = vec![0usize; items + 1];
    (0..set.len()).flat_map(|u| set.split(u).train().to_vec()).for_each(|id| counts[id] += 1);
    let popularity = test_hr10(&set, |_, c| counts[c] as f32);
    // The oracle hits whenever the successor was followed (~0.8); random and popularity stay near 10/101.
    assert!(oracle > 0.7, "oracle HR@10 {oracle}");
    assert!(random < 0.2 && popularity < 0.25, "random {random}, popularity {popularity}");
}

/// The shared copy of a real data file, or `None` (with a notice) when it is absent.
fn shared_file(relative: &str) -> Option<PathBuf> {
    let path = manifest(&format!("../shared/data/{relative}"));
    if Path::new(&path).exists() {
        Some(path)
    } else {
        eprintln!("skipped: ../shared/data/{relative} is not present");
        None
    }
}

#[test]
fn real_lastfm_lines_file_loads_with_its_own_ids() {
    let Some(path) = shared_file("s3rec/LastFM.txt") else { return };
    let set = load_sequences(&path, SequenceFormat::Lines, DEFAULT_MIN_LEN).unwrap();
    assert_eq!((set.len(), set.n_items(), set.interactions()), (1090, 3646, 52551));
    assert!((1..=set.n_items()).all(|id| set.item_token(id) == id.to_string()));
    assert_eq!(set.user_token(0), "1");
}

#[test]
fn real_movielens_inter_file_loads_sorted_by_time() {
    let Some(path) = shared_file("ml-100k/ml-100k.inter") else { return };
    let set = load_sequences(&path, SequenceFormat::Inter, DEFAULT_MIN_LEN).unwrap();
    assert_eq!((set.len(), set.n_items(), set.interactions()), (943, 1682, 100_000));
    assert_eq!((0..set.len()).map(|u| set.sequence(u).len()).min(), Some(20));
    // The first line after the header is user 196, item 242.
    assert_eq!((set.user_token(0), set.item_token(242)), ("196", "242"));
    assert!(set.sequence(0).contains(&242));
}
