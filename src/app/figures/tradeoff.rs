//! The size/speed against accuracy trade-off of ranking runs (`kdnas adarec table --plot STEM`): test
//! NDCG@10 against trainable parameters and against inference time, with the teachers, the students
//! fine-tuned with distillation and those trained on cross-entropy alone as three series; each
//! series is joined in order of its x value.

use crate::app::ranking_eval_cmd::RankingReport;
use crate::error::Result;
use crate::plot::metric_curves;
use crate::tasks::adarec::run_model::{RankingRunKind, ranking_run_kind};
use std::path::{Path, PathBuf};

/// The accuracy figure on the y axis.
const NDCG: &str = "test_ndcg@10";

/// The series a run of `kind` belongs to.
fn series_name(kind: RankingRunKind) -> &'static str {
    match kind {
        RankingRunKind::Teacher => "teacher",
        RankingRunKind::Student { distilled: true } => "student, distilled (KD)",
        RankingRunKind::Student { distilled: false } => "student, cross-entropy only",
    }
}

/// Writes `<stem>_params` and `<stem>_latency` (PNG and SVG) and returns the files.
pub fn write_tradeoff_figures(reports: &[RankingReport], stem: &Path) -> Result<Vec<PathBuf>> {
    let names = ["teacher", "student, distilled (KD)", "student, cross-entropy only"];
    // The series of every report, read once from its run's config.
    let report_series: Vec<&str> =
        reports.iter().map(|r| ranking_run_kind(&r.run).map(series_name)).collect::<Result<_>>()?;
    let series = |x: &dyn Fn(&RankingReport) -> f64| -> Vec<(String, Vec<(f64, f64)>)> {
        names
            .iter()
            .map(|name| {
                let mut points: Vec<(f64, f64)> = reports
                    .iter()
                    .zip(&report_series)
                    .filter(|(_, series)| *series == name)
                    .map(|(r, _)| r)
                    .filter_map(|r| Some((x(r), *r.metrics.get(NDCG)?)))
                    .collect();
                points.sort_by(|a, b| a.0.total_cmp(&b.0));
                (name.to_string(), points)
            })
            .collect()
    };
    let with_suffix = |suffix: &str| {
        let name = stem.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        stem.with_file_name(format!("{name}_{suffix}"))
    };
    let mut files = metric_curves(
        "size against accuracy",
        "trainable parameters (thousands)",
        "test NDCG@10",
        &series(&|r| r.params as f64 / 1000.0),
        &with_suffix("params"),
    )?;
    files.extend(metric_curves(
        "inference time against accuracy",
        "ms to score the next item of 1,000 users",
        "test NDCG@10",
        &series(&|r| r.ms_per_1000_users),
        &with_suffix("latency"),
    )?);
    Ok(files)
}
