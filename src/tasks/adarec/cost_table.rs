//! AdaRec's fixed op cost table (`OPERATOR_COST` in the authors' models/nas/modules/operators.py).

use crate::error::Result;
use crate::space::ArchGraph;
use crate::supernet::cost::CostTable;

/// Cost of every AdaRec candidate, as the authors' table gives it (float64 values rounded by them).
pub const ADAREC_OP_COSTS: [(&str, f64); 10] = [
    ("std_cnn_3", 0.56531834),
    ("dil_cnn_3", 0.56531834),
    ("cau_cnn_3", 0.56531834),
    ("std_cnn_5", 2.12701275),
    ("dil_cnn_5", 2.12701275),
    ("cau_cnn_5", 2.12701275),
    ("max_pool", 0.48075444),
    ("avg_pool", 0.48075444),
    ("skip_connect", 0.48074893),
    ("none", 0.48074893),
];

/// The cost table of `space` from AdaRec's fixed costs; fails naming an op the table lacks.
pub fn adarec_costs(space: &ArchGraph) -> Result<CostTable> {
    CostTable::from_named(space, &ADAREC_OP_COSTS, "AdaRec")
}

#[cfg(test)]
mod tests {
    use super::adarec_costs;
    use crate::space::parse_space;

    #[test]
    fn the_bundled_adarec_space_gets_the_authors_costs_and_other_ops_are_refused() {
        let text = include_str!("../../../search_spaces/adarec_nextitnet.toml");
        let space = parse_space(text, "adarec_nextitnet.toml".as_ref()).unwrap();
        let costs = adarec_costs(&space).unwrap();
        let ops = &space.groups[0].candidates;
        let of = |op: &str| costs.groups[0][ops.iter().position(|o| o == op).unwrap()];
        assert_eq!((of("std_cnn_5"), of("cau_cnn_3"), of("none")), (2.12701275, 0.56531834, 0.48074893));
        let conv2d = include_str!("../../../search_spaces/quickstart.toml");
        let other = parse_space(conv2d, "quickstart.toml".as_ref()).unwrap();
        let err = adarec_costs(&other).unwrap_err().to_string();
        assert!(err.contains("AdaRec cost table has no cost for"), "{err}");
    }
}
