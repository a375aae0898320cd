//! The README's quickstart tables show the committed results: every figure they take from
//! results/quickstart*/ (accuracies, parameter counts, searched weights, the AdaRec table) must be the
//! one in the result files. `python3 scripts/readme_tables.py` rewrites the tables from those files.

use serde_json::Value;
use std::path::Path;

fn read(path: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn json(path: &str) -> Value {
    serde_json::from_str(&read(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The last line of a JSON-lines file.
fn last_line(path: &str) -> Value {
    let text = read(path);
    serde_json::from_str(text.lines().rfind(|l| !l.trim().is_empty()).expect("an empty file")).unwrap()
}

/// The README text between `<!-- quickstart-table: name -->` and the next `<!-- /quickstart-table -->`.
fn table(name: &str) -> String {
    let readme = read("README.md");
    let start = format!("<!-- quickstart-table: {name} -->");
    let from = readme.find(&start).unwrap_or_else(|| panic!("README.md has no `{start}`")) + start.len();
    let len = readme[from..].find("<!-- /quickstart-table -->").expect("an unclosed quickstart table");
    readme[from..from + len].to_string()
}

fn pct(fraction: &Value) -> String {
    format!("{:.1} %", 100.0 * fraction.as_f64().expect("a number"))
}

/// `15474` -> `15,474`.
fn thousands(count: &Value) -> String {
    let digits = count.as_u64().expect("a count").to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn assert_shows(table: &str, name: &str, figure: &str) {
    assert!(
        table.contains(figure),
        "README's {name} quickstart table lacks `{figure}` from results/: run python3 scripts/readme_tables.py\n{table}"
    );
}

#[test]
fn image_quickstart_table_matches_the_committed_results() {
    let t = table("image");
    let result = json("results/quickstart/train/result.json");
    assert_shows(&t, "image", &format!("**{}**", pct(&result["test_acc"])));
    assert_shows(&t, "image", &format!("{} parameters", thousands(&result["params"])));
    assert_shows(&t, "image", result["genotype"].as_str().unwrap());
    let search = last_line("results/quickstart/search/metrics.jsonl");
    assert_shows(&t, "image", &format!("validation accuracy {}", pct(&search["val_eval_acc"])));
}

#[test]
fn dfa_quickstart_table_matches_the_committed_results() {
    let t = table("dfa");
    let teacher = json("results/quickstart-dfa/teacher/result.json");
    assert_shows(
        &t,
        "dfa",
        &format!("({} parameters) | {} test accuracy", thousands(&teacher["params"]), pct(&teacher["test_acc"])),
    );
    let dfa = json("results/quickstart-dfa/distill_dfa/result.json");
    assert_shows(
        &t,
        "dfa",
        &format!("({}), DFA weights | {} test accuracy", thousands(&dfa["params"]), pct(&dfa["test_acc"])),
    );
    let last = json("results/quickstart-dfa/distill_last/result.json");
    assert_shows(&t, "dfa", &format!("Last ablation | {} test accuracy", pct(&last["test_acc"])));
    let genotype = json("results/quickstart-dfa/search/genotype.json");
    for (i, choice) in genotype["choices"].as_array().unwrap().iter().enumerate() {
        let weights: Vec<String> =
            choice["weights"].as_array().unwrap().iter().map(|w| format!("{:.3}", w.as_f64().unwrap())).collect();
        assert_shows(&t, "dfa", &format!("stage {}: {}", i + 1, weights.join(", ")));
    }
}

#[test]
fn adarec_quickstart_table_is_the_committed_table() {
    let t = table("adarec");
    let genotype = read("results/quickstart-adarec/search/genotype.txt");
    assert_shows(&t, "adarec", &format!("    searched student: {}\n", genotype.trim()));
    for line in read("results/quickstart-adarec/table.md").lines().filter(|l| !l.trim().is_empty()) {
        assert_shows(&t, "adarec", &format!("    {line}\n"));
    }
}
