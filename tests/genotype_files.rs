//! Genotype files pass the same validation as search spaces: a hand-edited or corrupted genotype gets
//! an error naming the file and the field before any network is built; DARTS notation is written only
//! when DARTS's code could read it.

mod common;

use common::{manifest, temp_dir};
use kdnas::export::{DeriveRule, Genotype};
use kdnas::space::load_space;
use serde_json::{Value, json};

/// A valid genotype of the quickstart space as JSON.
fn valid_genotype() -> Value {
    let space = load_space(&manifest("search_spaces/quickstart.toml")).unwrap();
    let probs: Vec<Vec<Vec<f32>>> =
        space.groups.iter().map(|g| vec![vec![0.1, 0.2, 0.1, 0.5, 0.1]; g.rows()]).collect();
    serde_json::to_value(Genotype::derive(&space, &probs, DeriveRule::Darts)).unwrap()
}

/// Writes `genotype` to a file and returns the error of loading it.
fn load_error(name: &str, genotype: &Value) -> String {
    let path = temp_dir(name).join("genotype.json");
    std::fs::write(&path, serde_json::to_vec_pretty(genotype).unwrap()).unwrap();
    let err = Genotype::load(&path).expect_err("invalid genotype must be refused").to_string();
    assert!(err.contains(path.to_str().unwrap()), "the file is named: {err}");
    err
}

#[test]
fn the_valid_genotype_loads_and_builds() {
    let path = temp_dir("genotype-valid").join("genotype.json");
    std::fs::write(&path, serde_json::to_vec(&valid_genotype()).unwrap()).unwrap();
    Genotype::load(&path).unwrap().to_arch_graph().unwrap();
}

#[test]
fn every_broken_cell_is_refused_with_its_field() {
    type Edit = fn(&mut Value);
    let cases: [(&str, Edit, &str); 9] = [
        (
            "concat-empty",
            |g| g["cells"][0]["concat"] = json!([]),
            "`cells[0].concat`: the cell output concatenates no node",
        ),
        (
            "nodes-empty",
            |g| g["cells"][0]["nodes"] = json!([]),
            "`cells[0].nodes`: cell `normal` has no intermediate nodes",
        ),
        (
            "three-inputs",
            |g| g["cells"][0]["inputs"] = json!(["c_k-3", "c_k-2", "c_k-1"]),
            "`cells[0].inputs`: conv2d cells take the outputs of the two previous cells: expected 2 inputs, found 3",
        ),
        (
            "node-named-like-input",
            |g| g["cells"][1]["nodes"][0]["name"] = json!("c_k-1"),
            "`cells[1].nodes[0].name`: duplicate node `c_k-1`",
        ),
        (
            "forward-reference",
            |g| g["cells"][0]["nodes"][0]["inputs"][0]["from"] = json!("n1"),
            "`cells[0].nodes[0].inputs[0].from`: `n1`: a node may only read the cell inputs and nodes listed before it",
        ),
        (
            "duplicate-edge",
            |g| {
                let first = g["cells"][0]["nodes"][1]["inputs"][0]["from"].clone();
                g["cells"][0]["nodes"][1]["inputs"][1]["from"] = first;
            },
            "`cells[0].nodes[1].inputs[1].from`: duplicate edge from",
        ),
        (
            "concat-of-an-input",
            |g| g["cells"][0]["concat"] = json!(["c_k-1"]),
            "`cells[0].concat[0]`: `c_k-1` is not an intermediate node",
        ),
        (
            "unknown-op",
            |g| g["cells"][0]["nodes"][0]["inputs"][0]["op"] = json!("none"),
            "`cells[0].nodes[0].inputs[0].op`: `none` is not a buildable",
        ),
        (
            "second-normal-cell",
            |g| g["cells"][1]["reduction"] = json!(false),
            "`cells[1]`: `reduce` is a second normal cell",
        ),
    ];
    for (name, edit, expected) in cases {
        let mut genotype = valid_genotype();
        edit(&mut genotype);
        let err = load_error(name, &genotype);
        assert!(err.contains(expected), "{name}: {err}");
    }
}

#[test]
fn darts_notation_is_written_only_when_darts_can_read_it() {
    let space = load_space(&manifest("search_spaces/darts_cifar.toml")).unwrap();
    let probs: Vec<Vec<Vec<f32>>> =
        space.groups.iter().map(|g| vec![vec![0.05, 0.1, 0.1, 0.1, 0.3, 0.1, 0.15, 0.1]; g.rows()]).collect();
    let darts = Genotype::derive(&space, &probs, DeriveRule::Darts);
    assert!(darts.darts.is_some() && darts.darts_unavailable.is_none());
    let unkept = kdnas::space::parse_space(
        &std::fs::read_to_string(manifest("search_spaces/darts_cifar.toml")).unwrap().replace("keep = 2", ""),
        std::path::Path::new("darts_unkept.toml"),
    )
    .unwrap();
    let argmax = Genotype::derive(&unkept, &probs, DeriveRule::Argmax);
    assert_eq!(argmax.darts, None, "nodes keep 3-5 inputs: no DARTS notation");
    let why = argmax.darts_unavailable.unwrap();
    assert!(why.contains("keeps 3 inputs; DARTS's notation reads exactly 2 per node"), "{why}");
}
