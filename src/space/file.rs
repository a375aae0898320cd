//! The serde form of a search-space file, exactly as written by the user (with source spans).

use serde::Deserialize;
use std::collections::BTreeMap;
use toml::Spanned;

/// A search-space file: named op sets, cell templates and plain choice groups.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpaceFile {
    /// Name of the space, used in reports.
    pub name: String,
    /// Op catalogue that op names refer to (`conv2d`, `causal1d`); required when the space has cells, `features`
    /// (no ops) when it only declares plain choices.
    pub catalogue: Option<Spanned<String>>,
    /// Named lists of candidate ops, referenced by edges.
    #[serde(default)]
    pub op_sets: BTreeMap<String, Spanned<Vec<Spanned<String>>>>,
    /// Cell templates, in order.
    #[serde(default)]
    pub cell: Vec<CellFile>,
    /// Plain choice groups that need no cell (DFA: "weigh these block outputs of teacher stage i").
    #[serde(default)]
    pub choice: Vec<ChoiceFile>,
}

/// A plain choice group: one softmax over named candidates, consumed by the task that declares the
/// candidates' meaning (e.g. the block outputs of a teacher stage).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChoiceFile {
    /// Name of the choice, unique in the file; also its sharing key.
    pub name: Spanned<String>,
    /// Candidate names, at least two, each once.
    pub candidates: Spanned<Vec<Spanned<String>>>,
}

/// One cell template.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CellFile {
    /// Cell name, e.g. `normal`.
    pub name: Spanned<String>,
    /// Choice-sharing key: cells with the same key share architecture weights. Defaults to the name.
    pub share: Option<String>,
    /// Whether the cell halves the resolution (edges leaving its inputs use stride 2).
    #[serde(default)]
    pub reduction: bool,
    /// Names of the input nodes (DARTS: outputs of the two previous cells).
    pub inputs: Spanned<Vec<Spanned<String>>>,
    /// Intermediate nodes concatenated into the cell output; defaults to every intermediate node.
    pub concat: Option<Vec<Spanned<String>>>,
    /// Intermediate nodes.
    #[serde(default)]
    pub node: Vec<NodeFile>,
}

/// An intermediate node: the (weighted) sum of its incoming edges.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeFile {
    /// Node name, unique within its cell.
    pub name: Spanned<String>,
    /// Source nodes of edges that all use `ops`.
    #[serde(default)]
    pub from: Vec<Spanned<String>>,
    /// Candidate ops for the edges listed in `from`: an op-set name or an explicit list.
    pub ops: Option<Spanned<OpsRef>>,
    /// Edges with their own candidate ops.
    #[serde(default)]
    pub edge: Vec<EdgeFile>,
    /// Input choice: how many incoming edges the derived network keeps (default: all).
    pub keep: Option<Spanned<usize>>,
    /// How incoming edges are combined during search.
    #[serde(default)]
    pub mix: MixFile,
}

/// An edge with its own candidate ops.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EdgeFile {
    /// Source node.
    pub from: Spanned<String>,
    /// Candidate ops: an op-set name or an explicit list.
    pub ops: Spanned<OpsRef>,
}

/// Candidate ops, by op-set name or listed inline.
#[derive(Debug, Deserialize, Clone)]
#[serde(untagged)]
pub enum OpsRef {
    /// The name of an entry of `[op_sets]`.
    Set(String),
    /// An explicit list of op names.
    List(Vec<String>),
}

/// How a node combines its incoming edges during search.
#[derive(Debug, Deserialize, Clone, Copy, Default, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum MixFile {
    /// Plain sum (DARTS); the kept inputs are chosen from edge strengths at derivation.
    #[default]
    Sum,
    /// A softmax-weighted sum with its own architecture weights (an input choice).
    Weighted,
}
