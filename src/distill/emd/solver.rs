//! An exact solver of the balanced transportation problem (the earth mover's distance between two
//! histograms): the transportation simplex with a north-west-corner start and MODI potentials.
//!
//! The basis is always a spanning tree of the bipartite graph of rows and columns (`m + n - 1` cells,
//! zero-flow cells included), so degenerate problems need no perturbation. Entering cells follow
//! Dantzig's rule (most negative reduced cost) and switch to Bland's rule (first negative cell) after a
//! degenerate pivot; the leaving cell is the lowest-indexed tie. A cycle of bases only ever consists of
//! degenerate pivots, so the mix cannot cycle; a pivot cap turns any surprise into an error.

use crate::error::{KdnasError, Result};
use crate::validate;
use ndarray::{Array2, Axis};

/// Largest relative difference between the supply and demand totals that is treated as rounding
/// (the demands are rescaled to the supply total); a larger one is an error.
pub const BALANCE_TOLERANCE: f64 = 1e-6;

/// Reduced costs above `-COST_TOLERANCE * max |cost|` count as non-negative (optimality reached).
const COST_TOLERANCE: f64 = 1e-11;

/// Flows below `MASS_TOLERANCE * total mass` after a pivot are rounding residue and set to 0.
const MASS_TOLERANCE: f64 = 1e-14;

/// Pivot cap per cell of the cost matrix (plus a constant), far above what the simplex needs.
const PIVOTS_PER_CELL: usize = 50;

/// An optimal transport plan of a balanced transportation problem.
#[derive(Debug, Clone, PartialEq)]
pub struct TransportPlan {
    /// `[m, n]`: `flow[[i, j]] >= 0` is the mass moved from supply `i` to demand `j`; its row sums are
    /// the supplies and its column sums the (rescaled) demands.
    pub flow: Array2<f64>,
    /// `sum_ij flow_ij * cost_ij`: the minimal total cost.
    pub cost: f64,
}

impl TransportPlan {
    /// Transport cost carried by each supply (row): `sum_j flow_ij * cost_ij`.
    ///
    /// # Panics
    /// If `cost` is not the shape of the flow (a programming error of the caller).
    pub fn row_costs(&self, cost: &Array2<f64>) -> Vec<f64> {
        self.weighted(cost).sum_axis(Axis(1)).to_vec()
    }

    /// Transport cost carried by each demand (column): `sum_i flow_ij * cost_ij`.
    ///
    /// # Panics
    /// If `cost` is not the shape of the flow (a programming error of the caller).
    pub fn column_costs(&self, cost: &Array2<f64>) -> Vec<f64> {
        self.weighted(cost).sum_axis(Axis(0)).to_vec()
    }

    /// `flow * cost`, element by element.
    fn weighted(&self, cost: &Array2<f64>) -> Array2<f64> {
        assert_eq!(self.flow.dim(), cost.dim(), "transport plan and cost matrix differ in shape");
        &self.flow * cost
    }
}

/// Solves `min sum_ij F_ij C_ij` subject to `F >= 0`, row sums `supply` and column sums `demand`, exactly
/// (optimal up to float rounding).
///
/// Masses must be finite and non-negative with a positive total each; totals that differ by at most
/// [`BALANCE_TOLERANCE`] (relative) are reconciled by rescaling `demand`. Costs may be any finite numbers.
///
/// # Errors
/// [`KdnasError::Usage`] naming the offending entry for a shape mismatch, an empty side, a NaN, infinite
/// or negative mass, a zero total, unbalanced totals or a non-finite cost; also if the pivot cap is hit.
pub fn solve_transport(supply: &[f64], demand: &[f64], cost: &Array2<f64>) -> Result<TransportPlan> {
    let (m, n) = cost.dim();
    if supply.len() != m || demand.len() != n || m == 0 || n == 0 {
        return Err(usage(format!(
            "the cost matrix is {m} x {n} but there are {} supplies and {} demands (both must be >= 1)",
            supply.len(),
            demand.len()
        )));
    }
    let supply_total = mass_total("supply", supply)?;
    let demand_total = mass_total("demand", demand)?;
    if let Some(((i, j), c)) = cost.indexed_iter().find(|(_, c)| !c.is_finite()) {
        return Err(usage(format!("cost[{i}][{j}] = {c} is not finite")));
    }
    if (supply_total - demand_total).abs() > BALANCE_TOLERANCE * supply_total.max(demand_total) {
        return Err(usage(format!("supplies sum to {supply_total} but demands to {demand_total}")));
    }
    let demand: Vec<f64> = demand.iter().map(|d| d * supply_total / demand_total).collect();
    let mut simplex = Simplex::north_west(supply, &demand, cost, MASS_TOLERANCE * supply_total);
    simplex.optimise()?;
    Ok(simplex.into_plan())
}

/// The total of non-negative finite masses, or an error naming the first bad entry.
fn mass_total(side: &str, masses: &[f64]) -> Result<f64> {
    for (k, &w) in masses.iter().enumerate() {
        validate::non_negative(&format!("EMD {side}[{k}]"), w)?;
    }
    let total: f64 = masses.iter().sum();
    if total > 0.0 { Ok(total) } else { Err(usage(format!("the {side} masses sum to 0"))) }
}

/// A usage error about the transport problem.
fn usage(message: String) -> KdnasError {
    KdnasError::Usage(format!("EMD transport problem: {message}"))
}

/// The state of the transportation simplex: a basic feasible flow and its spanning-tree basis.
struct Simplex<'a> {
    /// `[m, n]` costs.
    cost: &'a Array2<f64>,
    /// `[m, n]` current flow; zero outside the basis.
    flow: Array2<f64>,
    /// The `m + n - 1` basic cells.
    basis: Vec<(usize, usize)>,
    /// `[m, n]` membership of each cell in `basis`.
    in_basis: Array2<bool>,
    /// Flows below this after a pivot are set to 0.
    zero: f64,
}

impl<'a> Simplex<'a> {
    /// The north-west-corner start: a staircase of `m + n - 1` cells from `(0, 0)` to `(m-1, n-1)`, which
    /// moves down when the row is used up (also when both are, leaving a zero-flow basic cell).
    fn north_west(supply: &[f64], demand: &[f64], cost: &'a Array2<f64>, zero: f64) -> Self {
        let (m, n) = cost.dim();
        let (mut left, mut wanted) = (supply.to_vec(), demand.to_vec());
        let mut simplex = Simplex {
            cost,
            flow: Array2::zeros((m, n)),
            basis: Vec::with_capacity(m + n - 1),
            in_basis: Array2::from_elem((m, n), false),
            zero,
        };
        let (mut i, mut j) = (0, 0);
        loop {
            let x = left[i].min(wanted[j]);
            left[i] -= x;
            wanted[j] -= x;
            simplex.flow[[i, j]] = x;
            simplex.basis.push((i, j));
            simplex.in_basis[[i, j]] = true;
            if i + 1 == m && j + 1 == n {
                return simplex;
            }
            if i + 1 < m && (j + 1 == n || left[i] <= wanted[j]) {
                i += 1;
            } else {
                j += 1;
            }
        }
    }

    /// Pivots until no cell has a negative reduced cost.
    fn optimise(&mut self) -> Result<()> {
        let tolerance = COST_TOLERANCE * self.cost.iter().fold(0.0f64, |a, c| a.max(c.abs()));
        let cap = PIVOTS_PER_CELL * self.cost.len() + 100;
        let mut bland = false;
        for _ in 0..cap {
            let tree = self.tree();
            let potentials = self.potentials(&tree);
            let Some(entering) = self.entering(&potentials, tolerance, bland) else {
                return Ok(());
            };
            bland = self.pivot(&tree, entering) == 0.0;
        }
        Err(usage(format!("no optimum after {cap} simplex pivots")))
    }

    /// Adjacency lists of the basis tree over nodes `0..m` (rows) and `m..m+n` (columns).
    fn tree(&self) -> Vec<Vec<usize>> {
        let m = self.cost.nrows();
        let mut tree = vec![Vec::new(); m + self.cost.ncols()];
        for &(i, j) in &self.basis {
            tree[i].push(m + j);
            tree[m + j].push(i);
        }
        tree
    }

    /// The cell joining a row node and a column node (in either order).
    fn cell(&self, a: usize, b: usize) -> (usize, usize) {
        let m = self.cost.nrows();
        if a < m { (a, b - m) } else { (b, a - m) }
    }

    /// MODI potentials: `u_i` at node `i`, `v_j` at node `m + j`, with `u_0 = 0` and `u_i + v_j = c_ij` on
    /// every basic cell.
    fn potentials(&self, tree: &[Vec<usize>]) -> Vec<f64> {
        let mut potential = vec![f64::NAN; tree.len()];
        potential[0] = 0.0;
        let mut stack = vec![0];
        while let Some(a) = stack.pop() {
            for &b in &tree[a] {
                if potential[b].is_nan() {
                    potential[b] = self.cost[self.cell(a, b)] - potential[a];
                    stack.push(b);
                }
            }
        }
        potential
    }

    /// The non-basic cell to enter: the most negative reduced cost `c_ij - u_i - v_j`, or with `bland` the
    /// first negative one in row-major order; `None` at the optimum.
    fn entering(&self, potential: &[f64], tolerance: f64, bland: bool) -> Option<(usize, usize)> {
        let m = self.cost.nrows();
        let mut best: Option<((usize, usize), f64)> = None;
        for ((i, j), &c) in self.cost.indexed_iter() {
            if self.in_basis[[i, j]] {
                continue;
            }
            let reduced = c - potential[i] - potential[m + j];
            if reduced < -tolerance && best.is_none_or(|(_, b)| reduced < b) {
                best = Some(((i, j), reduced));
                if bland {
                    break;
                }
            }
        }
        best.map(|(cell, _)| cell)
    }

    /// Moves the largest possible mass `theta` around the cycle that `entering` closes in the tree, swaps
    /// the lowest-indexed emptied cell out of the basis and returns `theta`.
    fn pivot(&mut self, tree: &[Vec<usize>], entering: (usize, usize)) -> f64 {
        let m = self.cost.nrows();
        let path = tree_path(tree, m + entering.1, entering.0);
        // Cells on the path from column j back to row i: odd positions lose mass, even ones gain it.
        let cells: Vec<(usize, usize)> = path.windows(2).map(|w| self.cell(w[0], w[1])).collect();
        let (theta, leaving) = cells
            .iter()
            .step_by(2)
            .map(|&cell| (self.flow[cell], cell))
            .min_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)))
            .expect("a cycle has at least one losing cell");
        for (k, &cell) in cells.iter().enumerate() {
            if k % 2 == 0 {
                let x = self.flow[cell] - theta;
                self.flow[cell] = if x < self.zero { 0.0 } else { x };
            } else {
                self.flow[cell] += theta;
            }
        }
        self.flow[leaving] = 0.0;
        self.flow[entering] = theta;
        self.in_basis[leaving] = false;
        self.in_basis[entering] = true;
        let slot = self.basis.iter().position(|&c| c == leaving).expect("the leaving cell is basic");
        self.basis[slot] = entering;
        theta
    }

    /// The optimal plan with its total cost.
    fn into_plan(self) -> TransportPlan {
        let cost = (&self.flow * self.cost).sum();
        TransportPlan { flow: self.flow, cost }
    }
}

/// The nodes of the unique tree path from `from` to `to`, both included.
fn tree_path(tree: &[Vec<usize>], from: usize, to: usize) -> Vec<usize> {
    let mut parent = vec![usize::MAX; tree.len()];
    parent[from] = from;
    let mut stack = vec![from];
    while let Some(a) = stack.pop() {
        if a == to {
            break;
        }
        for &b in &tree[a] {
            if parent[b] == usize::MAX {
                parent[b] = a;
                stack.push(b);
            }
        }
    }
    let mut path = vec![to];
    while *path.last().expect("non-empty") != from {
        path.push(parent[*path.last().expect("non-empty")]);
    }
    path.reverse();
    path
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn a_fully_degenerate_start_still_reaches_the_optimum() {
        // Every north-west step exhausts a row and a column at once; the optimum is the anti-diagonal.
        let cost = array![[5.0, 5.0, 1.0], [5.0, 1.0, 5.0], [1.0, 5.0, 5.0]];
        let plan = solve_transport(&[1.0; 3], &[1.0; 3], &cost).unwrap();
        assert_eq!(plan.flow, array![[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]);
        assert_eq!(plan.cost, 3.0);
    }

    #[test]
    fn the_tree_path_walks_from_one_node_to_the_other() {
        // Staircase basis of a 2 x 2 problem: (0,0), (1,0), (1,1); nodes 0,1 rows, 2,3 columns.
        let tree = vec![vec![2], vec![2, 3], vec![0, 1], vec![1]];
        assert_eq!(tree_path(&tree, 3, 0), vec![3, 1, 2, 0]);
        assert_eq!(tree_path(&tree, 2, 1), vec![2, 1]);
    }

    #[test]
    fn costs_per_row_and_column_follow_the_flow() {
        // F = [[a, 0.7 - a], [0.4 - a, a - 0.1]] costs 3.3 - 2a on a in [0.1, 0.4]: the optimum is a = 0.4.
        let cost = array![[1.0, 4.0], [2.0, 3.0]];
        let plan = solve_transport(&[0.7, 0.3], &[0.4, 0.6], &cost).unwrap();
        let close = |a: &[f64], b: &[f64]| a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-12);
        assert!(close(plan.flow.as_slice().unwrap(), &[0.4, 0.3, 0.0, 0.3]), "{}", plan.flow);
        assert!((plan.cost - 2.5).abs() < 1e-12);
        assert!(close(&plan.row_costs(&cost), &[1.6, 0.9]));
        assert!(close(&plan.column_costs(&cost), &[0.4, 2.1]));
    }
}
