//! What every training-like run (teacher, distillation, derived-network training, sequence teacher and
//! fine-tuning) reports when a call ends, and the one way the command line prints it: the run's
//! headline, then where its results are or the command that continues it.

use std::path::Path;

/// How far a run got: its epochs against the plan, and whether patience ended it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunProgress {
    /// Finished epochs.
    pub epochs: usize,
    /// Epochs the run is configured for.
    pub planned_epochs: usize,
    /// Whether `train.patience` ended the run before `planned_epochs`.
    pub stopped_early: bool,
}

impl RunProgress {
    /// Whether the run is over: every planned epoch done, or stopped early.
    pub fn finished(&self) -> bool {
        self.epochs >= self.planned_epochs || self.stopped_early
    }

    /// `after E of P epochs`, with `, stopped early` when patience ended the run.
    pub fn text(&self) -> String {
        let early = if self.stopped_early { ", stopped early" } else { "" };
        format!("after {} of {} epochs{early}", self.epochs, self.planned_epochs)
    }
}

/// The summary a run's command returns (and writes as `result.json`).
pub trait RunSummary {
    /// How far the run got.
    fn progress(&self) -> RunProgress;

    /// What the run achieved, in one line after its label (`teacher`, `student`, `derived network`):
    /// the model, its size and its headline figures.
    fn headline(&self) -> String;

    /// Whether the run is over (see [`RunProgress::finished`]).
    fn finished(&self) -> bool {
        self.progress().finished()
    }
}

/// The end of a call as the command line prints it: `label headline`, then `results: OUT`, or, for a
/// run that stopped before its end, the `kdnas COMMAND --resume OUT` that continues it.
pub fn run_end_text(label: &str, summary: &dyn RunSummary, out: &Path, command: &str) -> String {
    let next = if summary.finished() {
        format!("results: {}", out.display())
    } else {
        format!("stopped; continue with: kdnas {command} --resume {}", out.display())
    };
    format!("{label} {}\n{next}\n", summary.headline())
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed(RunProgress);

    impl RunSummary for Fixed {
        fn progress(&self) -> RunProgress {
            self.0
        }
        fn headline(&self) -> String {
            format!("net: 10 parameters, {}", self.0.text())
        }
    }

    #[test]
    fn a_finished_run_names_its_results_and_a_stopped_one_its_resume_command() {
        let progress = RunProgress { epochs: 2, planned_epochs: 5, stopped_early: false };
        let stopped = run_end_text("teacher", &Fixed(progress), Path::new("runs/t"), "teacher train");
        assert_eq!(
            stopped,
            "teacher net: 10 parameters, after 2 of 5 epochs\nstopped; continue with: kdnas teacher train --resume runs/t\n"
        );
        let early = RunProgress { stopped_early: true, ..progress };
        let done = run_end_text("student", &Fixed(early), Path::new("runs/s"), "distill");
        assert_eq!(done, "student net: 10 parameters, after 2 of 5 epochs, stopped early\nresults: runs/s\n");
    }
}
