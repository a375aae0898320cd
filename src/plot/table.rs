//! The data behind a heatmap: one choice group's architecture weights at one moment.

use ndarray::Array2;

/// Architecture weights of one choice group (e.g. the edges of a normal cell) at one moment.
///
/// Rows are the choices (edges such as `n2 <- c_{k-1}`), columns the candidate operations
/// (such as `sep_conv_3x3`). A row with fewer real candidates than there are columns
/// stores `NaN` in the missing cells; figures draw those cells blank.
#[derive(Debug, Clone, PartialEq)]
pub struct WeightTable {
    /// Figure title, e.g. `normal cell, epoch 49`.
    pub title: String,
    /// One label per row of `values`.
    pub row_labels: Vec<String>,
    /// One label per column of `values`.
    pub col_labels: Vec<String>,
    /// Weights, shape `[rows, cols]`; `NaN` marks a cell that is not a candidate.
    pub values: Array2<f32>,
}

impl WeightTable {
    /// Describes why the labels do not fit `values`, or `None` when they do.
    pub(crate) fn shape_mismatch(&self) -> Option<String> {
        let (rows, cols) = self.values.dim();
        if self.row_labels.len() != rows {
            return Some(format!(
                "weight table `{}`: {} row labels but values have {rows} rows (shape [{rows}, {cols}])",
                self.title,
                self.row_labels.len()
            ));
        }
        if self.col_labels.len() != cols {
            return Some(format!(
                "weight table `{}`: {} column labels but values have {cols} columns (shape [{rows}, {cols}])",
                self.title,
                self.col_labels.len()
            ));
        }
        if rows == 0 || cols == 0 {
            return Some(format!("weight table `{}` is empty (shape [{rows}, {cols}])", self.title));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(rows: usize, cols: usize, row_labels: usize, col_labels: usize) -> WeightTable {
        WeightTable {
            title: "t".into(),
            row_labels: (0..row_labels).map(|i| format!("r{i}")).collect(),
            col_labels: (0..col_labels).map(|i| format!("c{i}")).collect(),
            values: Array2::zeros((rows, cols)),
        }
    }

    #[test]
    fn matching_labels_pass() {
        assert_eq!(table(2, 3, 2, 3).shape_mismatch(), None);
    }

    #[test]
    fn mismatches_are_named() {
        let rows = table(2, 3, 1, 3).shape_mismatch().unwrap_or_default();
        assert!(rows.contains("1 row labels") && rows.contains("2 rows"), "{rows}");
        let cols = table(2, 3, 2, 4).shape_mismatch().unwrap_or_default();
        assert!(cols.contains("4 column labels") && cols.contains("3 columns"), "{cols}");
        let empty = table(0, 3, 0, 3).shape_mismatch().unwrap_or_default();
        assert!(empty.contains("empty"), "{empty}");
    }
}
