//! Search-space files: the shipped spaces parse with the expected shape, DOT output, and bad input
//! is rejected with an error naming the file, line and field.

use kdnas::KdnasError;
use kdnas::space::{ChoiceKind, dot::space_to_dot, load_space, parse_space};
use std::path::Path;

fn manifest(path: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

#[test]
fn darts_space_has_14_edges_by_8_ops_per_cell_type() {
    let arch = load_space(&manifest("search_spaces/darts_cifar.toml")).unwrap();
    assert_eq!(arch.cells.len(), 2);
    for cell in &arch.cells {
        assert_eq!(cell.graph.edge_count(), 14, "cell {}", cell.name);
        assert_eq!(cell.order.len(), 4);
        assert!(cell.graph.edge_weights().all(|e| e.ops.len() == 8));
        let strided = cell.graph.edge_weights().filter(|e| e.stride == 2).count();
        assert_eq!(
            strided,
            if cell.reduction { 8 } else { 0 },
            "edges leaving the 2 inputs of a reduction cell use stride 2"
        );
    }
    assert_eq!(arch.groups.len(), 2);
    for group in &arch.groups {
        assert_eq!(group.kind, ChoiceKind::Op);
        assert_eq!((group.rows(), group.candidates.len()), (14, 8));
    }
}

#[test]
fn dot_lists_every_candidate_edge() {
    let arch = load_space(&manifest("search_spaces/quickstart.toml")).unwrap();
    let dot = space_to_dot(&arch);
    assert!(dot.starts_with("digraph \"quickstart\""));
    assert_eq!(dot.matches(" -> ").count(), 2 * (5 + 2), "5 edges + 2 concat arrows per cell");
    assert!(dot.contains("sep_conv_3x3"));
}

#[test]
fn shared_key_makes_two_cells_use_one_group() {
    let text = r#"
name = "shared"
catalogue = "conv2d"
[op_sets]
s = ["none", "skip_connect", "sep_conv_3x3"]
[[cell]]
name = "a"
share = "k"
inputs = ["x", "y"]
  [[cell.node]]
  name = "n0"
  from = ["x", "y"]
  ops = "s"
[[cell]]
name = "b"
share = "k"
reduction = true
inputs = ["x", "y"]
  [[cell.node]]
  name = "n0"
  from = ["x", "y"]
  ops = "s"
"#;
    let arch = parse_space(text, Path::new("shared.toml")).unwrap();
    assert_eq!(arch.groups.len(), 1);
    assert_eq!(arch.groups[0].rows(), 2);
}

/// Parses `text` and returns the located error.
fn invalid(text: &str) -> (usize, String, String) {
    match parse_space(text, Path::new("bad.toml")) {
        Err(KdnasError::Invalid { path, line, field, message }) => {
            assert_eq!(path, Path::new("bad.toml"));
            let full = KdnasError::Invalid { path, line, field: field.clone(), message: message.clone() }.to_string();
            assert!(full.starts_with(&format!("bad.toml:{line}:")), "{full}");
            (line, field, message)
        }
        other => panic!("expected a located error, got {other:?}"),
    }
}

const HEADER: &str = "name = \"t\"\ncatalogue = \"conv2d\"\n[[cell]]\nname = \"c\"\ninputs = [\"a\", \"b\"]\n";

#[test]
fn malformed_toml_names_the_line() {
    let (line, _, message) = invalid("name = \"t\"\ncatalogue = \n");
    assert_eq!(line, 2);
    assert!(!message.is_empty());
}

#[test]
fn unknown_key_is_rejected() {
    let (line, field, _) = invalid(&format!(
        "{HEADER}  [[cell.node]]\n  name = \"n\"\n  from = [\"a\"]\n  ops = [\"skip_connect\"]\n  kepp = 1\n"
    ));
    assert_eq!(line, 10);
    assert_eq!(field, "kepp");
}

#[test]
fn unknown_op_names_line_and_field() {
    let (line, field, message) = invalid(&format!(
        "{HEADER}  [[cell.node]]\n  name = \"n\"\n  from = [\"a\"]\n  ops = [\"skip_connect\", \"conv_9x9\"]\n"
    ));
    assert_eq!(line, 9);
    assert_eq!(field, "cell[0].node[0].ops[1]");
    assert!(message.contains("unknown op `conv_9x9`"), "{message}");
}

#[test]
fn cycle_is_rejected() {
    let text = format!(
        "{HEADER}  [[cell.node]]\n  name = \"n0\"\n  from = [\"a\", \"n1\"]\n  ops = [\"skip_connect\"]\n  [[cell.node]]\n  name = \"n1\"\n  from = [\"n0\"]\n  ops = [\"skip_connect\"]\n"
    );
    let (line, field, message) = invalid(&text);
    assert!(message.contains("cycle"), "{message}");
    assert!(field.starts_with("cell[0].node["), "{field}");
    assert!(line == 7 || line == 11, "line {line}");
}

#[test]
fn dangling_input_is_rejected() {
    let (line, field, message) = invalid(&format!(
        "{HEADER}  [[cell.node]]\n  name = \"n\"\n  from = [\"a\", \"ghost\"]\n  ops = [\"skip_connect\"]\n"
    ));
    assert_eq!((line, field.as_str()), (8, "cell[0].node[0].from[1]"));
    assert!(message.contains("`ghost` is not a node"), "{message}");
}

#[test]
fn duplicate_node_is_rejected() {
    let (line, _, message) =
        invalid(&format!("{HEADER}  [[cell.node]]\n  name = \"a\"\n  from = [\"b\"]\n  ops = [\"skip_connect\"]\n"));
    assert_eq!(line, 7);
    assert!(message.contains("duplicate node `a`"), "{message}");
}

#[test]
fn inconsistent_input_count_is_rejected() {
    let text = "name = \"t\"\ncatalogue = \"conv2d\"\n[[cell]]\nname = \"c\"\ninputs = [\"a\", \"b\", \"z\"]\n  [[cell.node]]\n  name = \"n\"\n  from = [\"a\"]\n  ops = [\"skip_connect\"]\n";
    let (line, field, message) = invalid(text);
    assert_eq!((line, field.as_str()), (5, "cell[0].inputs"));
    assert!(message.contains("expected 2 inputs, found 3"), "{message}");
}

#[test]
fn keep_larger_than_in_degree_is_rejected() {
    let (line, field, _) = invalid(&format!(
        "{HEADER}  [[cell.node]]\n  name = \"n\"\n  from = [\"a\"]\n  ops = [\"skip_connect\"]\n  keep = 2\n"
    ));
    assert_eq!((line, field.as_str()), (10, "cell[0].node[0].keep"));
}

#[test]
fn documented_example_space_is_valid() {
    let doc = std::fs::read_to_string(manifest("docs/search-spaces.md")).unwrap();
    let block = doc.rsplit("```toml").next().unwrap().split("```").next().unwrap();
    let arch = parse_space(block, Path::new("docs/search-spaces.md")).unwrap();
    assert_eq!(arch.name, "tiny");
    assert!(arch.groups.iter().any(|g| g.kind == ChoiceKind::Input), "the example has a weighted input choice");
}
