//! Prints kdnas's ranking metrics for score matrices read from standard input, so that an outside
//! reference (bench/crosscheck/adarec.py: RecBole's MRR, Hit and NDCG) can be compared with them.
//!
//! Usage: `cargo run --release --example ranking_values < cases.json`. The input is one JSON object:
//!
//! ```json
//! {"cases": [
//!   {"sampled": {"scores": [[0.9, 0.1, ...], ...]}},
//!   {"full": {"scores": [[...], ...], "targets": [3, ...], "histories": [[0, 2, 4], ...]}}
//! ]}
//! ```
//!
//! A `sampled` case holds one row per user over its candidates, the positive first (AdaRec's
//! `1 + 100` candidates); a `full` case one row per user over `items + 1` columns (column 0 is padding),
//! the target item of each user and, optionally, each user's history (item ids, 0 = padding), whose
//! items other than the target are not ranked. The ranks go through the functions the evaluation uses
//! ([`sampled_ranks`], [`full_ranks`], then [`RankingMetrics`]) on the plain `Flex` backend. The output
//! is `{"cases": [...]}` with, per case, `ranks` (1-based, pessimistic ties), `host_ranks` (the same by
//! [`rank_of`] on the host, over the candidates a user keeps) and `metrics` (`mrr`, `hr@k`, `ndcg@k`
//! for k in 1, 5, 10, 20).

use std::collections::BTreeMap;
#[path = "common/cases.rs"]
mod cases;

use std::error::Error;

use burn::backend::Flex;
use burn::backend::flex::FlexDevice;
use burn::tensor::{Int, Tensor, TensorData};
use kdnas::data::sequence::IndexBatch;
use kdnas::metrics::ranking::{RankingMetrics, full_ranks, rank_of, sampled_ranks};
use serde::{Deserialize, Serialize};

type B = Flex;

/// One set of users to rank.
#[derive(Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum Case {
    /// Candidates per user, the positive in column 0.
    Sampled { scores: Vec<Vec<f32>> },
    /// Every item per user (column 0 padding), the target ids and optional histories.
    Full { scores: Vec<Vec<f32>>, targets: Vec<usize>, histories: Option<Vec<Vec<usize>>> },
}

/// kdnas's values for one [`Case`].
#[derive(Serialize)]
struct Values {
    ranks: Vec<usize>,
    host_ranks: Vec<usize>,
    metrics: BTreeMap<String, f64>,
}

fn main() -> Result<(), Box<dyn Error>> {
    cases::run_cases(evaluate)
}

/// Ranks one case on the device and on the host and summarises the device ranks.
fn evaluate(case: &Case) -> Result<Values, Box<dyn Error>> {
    let (ranks, host_ranks) = match case {
        Case::Sampled { scores } => {
            let tensor = score_matrix(scores)?; // [users, 1 + negatives]
            (sampled_ranks(tensor), scores.iter().map(|row| rank_of(row[0], &row[1..])).collect())
        }
        Case::Full { scores, targets, histories } => full_case(scores, targets, histories.as_deref())?,
    };
    let mut metrics = RankingMetrics::default();
    metrics.add_all(&ranks);
    Ok(Values { ranks, host_ranks, metrics: metrics.mean() })
}

/// Device and host ranks of a full-ranking case, after checking every id against the columns.
fn full_case(
    scores: &[Vec<f32>],
    targets: &[usize],
    histories: Option<&[Vec<usize>]>,
) -> Result<(Vec<usize>, Vec<usize>), Box<dyn Error>> {
    let tensor = score_matrix(scores)?; // [users, items + 1]
    let [users, columns] = tensor.dims();
    if targets.len() != users {
        return Err(format!("{} targets for {users} users", targets.len()).into());
    }
    if let Some((u, t)) = targets.iter().enumerate().find(|(_, t)| !(1..columns).contains(*t)) {
        return Err(format!("targets[{u}] = {t} is not an item id 1..{}", columns - 1).into());
    }
    let no_history: Vec<Vec<usize>> = vec![Vec::new(); users];
    let rows = histories.unwrap_or(&no_history);
    if rows.len() != users {
        return Err(format!("{} histories for {users} users", rows.len()).into());
    }
    for (u, row) in rows.iter().enumerate() {
        if let Some(id) = row.iter().find(|&&id| id >= columns) {
            return Err(format!("histories[{u}] holds {id}, above the last item id {}", columns - 1).into());
        }
    }
    let host = (0..users).map(|u| host_full_rank(&scores[u], targets[u], &rows[u])).collect();
    let target_ids: Vec<i64> = targets.iter().map(|&t| t as i64).collect();
    let target_tensor = Tensor::<B, 1, Int>::from_data(TensorData::new(target_ids, [users]), &FlexDevice);
    let history_tensor = histories.map(|_| {
        let width = rows.iter().map(Vec::len).max().unwrap_or(0).max(1);
        IndexBatch::left_padded(rows.iter().map(Vec::as_slice), width).to_tensor(&FlexDevice) // [users, width]
    });
    Ok((full_ranks(tensor, target_tensor, history_tensor), host))
}

/// [`rank_of`] over the items a user keeps: ids `1..`, without its history except the target.
fn host_full_rank(scores: &[f32], target: usize, history: &[usize]) -> usize {
    let others: Vec<f32> =
        (1..scores.len()).filter(|&id| id != target && !history.contains(&id)).map(|id| scores[id]).collect();
    rank_of(scores[target], &others)
}

/// A `[rows, columns]` score tensor from equally long rows of at least two values (a positive and a
/// negative, or the padding column and an item).
fn score_matrix(rows: &[Vec<f32>]) -> Result<Tensor<B, 2>, Box<dyn Error>> {
    let columns = rows.first().map_or(0, Vec::len);
    if columns < 2 {
        return Err("scores: need at least one row of at least two values".into());
    }
    if let Some((u, row)) = rows.iter().enumerate().find(|(_, row)| row.len() != columns) {
        return Err(format!("scores[{u}] has {} values, scores[0] {columns}", row.len()).into());
    }
    Ok(Tensor::from_data(TensorData::new(rows.concat(), [rows.len(), columns]), &FlexDevice))
}
