//! Graphviz DOT drawings of cell graphs: the search space (every candidate) or a derived cell.

use super::graph::{ArchGraph, CellGraph, NodeRole, cell_kind};
use std::fmt::Write;

/// DOT text of every cell, one cluster per cell, edges labelled with their candidate ops (one op on a
/// derived graph).
pub fn space_to_dot(arch: &ArchGraph) -> String {
    let mut out = format!("digraph \"{}\" {{\n  rankdir=LR;\n  node [shape=box, style=rounded];\n", escape(&arch.name));
    for (ci, cell) in arch.cells.iter().enumerate() {
        write_cell(&mut out, ci, cell, |e| {
            cell.graph[e].ops.iter().map(|op| escape(op)).collect::<Vec<_>>().join("\\n")
        });
    }
    out.push_str("}\n");
    out
}

/// Writes one cell as a DOT cluster; `label` names each edge.
fn write_cell(out: &mut String, ci: usize, cell: &CellGraph, label: impl Fn(petgraph::graph::EdgeIndex) -> String) {
    let kind = cell_kind(cell.reduction);
    let _ = writeln!(
        out,
        "  subgraph cluster_{ci} {{\n    label=\"{} ({kind}, share={})\";",
        escape(&cell.name),
        escape(&cell.share)
    );
    for n in cell.graph.node_indices() {
        let spec = &cell.graph[n];
        let style = match spec.role {
            NodeRole::Input => ", fillcolor=lightblue, style=\"rounded,filled\"",
            NodeRole::Intermediate => "",
        };
        let _ = writeln!(out, "    c{ci}_{} [label=\"{}\"{style}];", n.index(), escape(&spec.name));
    }
    let _ = writeln!(out, "    c{ci}_out [label=\"concat\", shape=ellipse, fillcolor=palegoldenrod, style=filled];");
    for e in cell.edges_in_order() {
        let (a, b) = cell.graph.edge_endpoints(e).expect("edge of this graph");
        let _ = writeln!(out, "    c{ci}_{} -> c{ci}_{} [label=\"{}\"];", a.index(), b.index(), label(e));
    }
    for n in &cell.concat {
        let _ = writeln!(out, "    c{ci}_{} -> c{ci}_out [style=dashed];", n.index());
    }
    out.push_str("  }\n");
}

/// `text` as the inside of a DOT double-quoted string: backslashes and quotes escaped, line breaks
/// as DOT's `\n`.
fn escape(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n").replace('\r', "")
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn quotes_and_backslashes_cannot_end_a_dot_string() {
        assert_eq!(escape(r#"q"uote"#), r#"q\"uote"#);
        assert_eq!(escape(r"back\"), r"back\\");
        assert_eq!(escape("two\nlines"), r"two\nlines");
    }
}
