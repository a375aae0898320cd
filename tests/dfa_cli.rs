//! DFA through the `kdnas` binary: teacher training, `kdnas dfa search`, `kdnas distill` with the
//! searched weights and `kdnas eval` of the distilled student, on a few bundled images; and bad input
//! refused with exit code 1 and a message naming the file, the line and what is wrong.

mod common;

use common::cli::{fails, succeeds};
use common::dfa::{cli_teacher, dfa_search_config, distill_config, toml_path};
use common::{manifest, temp_dir};
use std::path::Path;

/// Cross-entropy, the searched aggregation of the run `search` and KD, as in DFA's stage 2.
fn searched_objectives(search: &str) -> String {
    format!(
        "[[objective]]\nkind = \"cross_entropy\"\nweight = 1\n\n[[objective]]\nkind = \"aggregation\"\nweight = 100\n\
         weights = \"searched\"\nsearch = \"{search}\"\n\n[[objective]]\nkind = \"kd\"\nweight = 0.9\ntemperature = 4\n"
    )
}

fn json(path: &Path) -> serde_json::Value {
    let text = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_slice(&text).unwrap()
}

fn jsonl(path: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines().map(|line| serde_json::from_str(line).unwrap()).collect()
}

/// The 1-based line of `text` holding the first occurrence of `needle`.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.contains(needle)).unwrap_or_else(|| panic!("no `{needle}` in\n{text}")) + 1
}

#[test]
fn teacher_search_distill_and_eval_end_to_end() {
    // Configs in their own folder with paths relative to it (the teacher beside them, the search run in
    // the folder above, where the commands run).
    let dir = temp_dir("dfa-cli-e2e");
    let configs = dir.join("configs");
    std::fs::create_dir(&configs).unwrap();
    std::fs::copy(cli_teacher().join("model.mpk"), configs.join("teacher.mpk")).unwrap();
    let teacher = Path::new("teacher.mpk");
    let search = "epochs = 1\nsteps_per_epoch = 2\nmode = \"second_order\"";
    std::fs::write(configs.join("search.toml"), dfa_search_config("dfa_resnet14.toml", 14, teacher, search)).unwrap();
    let stdout = succeeds(&["dfa", "search", "--config", "configs/search.toml", "--out", "search_run"], &dir);
    assert!(stdout.contains("stage1: s1b1 0.") && stdout.contains("stage3:"), "{stdout}");

    let run = dir.join("search_run");
    for file in [
        "genotype.json",
        "genotype.txt",
        "arch_weights.jsonl",
        "config.toml",
        "space.toml",
        "checkpoint/state.json",
        "plots/search_loss.png",
        "plots/weights_stage1_inputs_0.png",
        "plots/evolution_stage3_inputs_2.svg",
    ] {
        assert!(run.join(file).is_file(), "search_run/{file} missing");
    }
    let choices = json(&run.join("genotype.json"))["choices"].as_array().unwrap().clone();
    assert_eq!(choices.len(), 3, "one choice per teacher stage");
    for choice in &choices {
        let weights: Vec<f64> = choice["weights"].as_array().unwrap().iter().map(|w| w.as_f64().unwrap()).collect();
        assert_eq!(weights.len(), 2, "{choice}: one weight per block of a ResNet-14 stage");
        assert!((weights.iter().sum::<f64>() - 1.0).abs() < 1e-6, "{choice}: weights do not sum to 1");
        assert!(weights.iter().all(|&w| w > 0.0 && w < 1.0), "{choice}");
    }
    let epochs = jsonl(&run.join("metrics.jsonl"));
    assert_eq!(epochs.len(), 1);
    for term in ["cross_entropy", "feature", "bridge_ts", "bridge_st"] {
        assert!(epochs[0]["train_terms"][term].as_f64().is_some_and(|v| v > 0.0), "train term {term}: {}", epochs[0]);
    }
    for term in ["bridge_ts", "bridge_st"] {
        assert!(epochs[0]["val_terms"][term].as_f64().is_some_and(|v| v > 0.0), "val term {term}: {}", epochs[0]);
    }

    std::fs::write(configs.join("distill.toml"), distill_config(teacher, 1, &searched_objectives("../search_run")))
        .unwrap();
    let stdout = succeeds(&["distill", "--config", "configs/distill.toml", "--out", "distill_run"], &dir);
    assert!(stdout.contains("student resnet8") && stdout.contains("after 1 of 1 epochs"), "{stdout}");
    let student = dir.join("distill_run");
    for file in ["model.mpk", "model.json", "result.json", "config.toml", "train_metrics.jsonl"] {
        assert!(student.join(file).is_file(), "distill_run/{file} missing");
    }
    let record = &jsonl(&student.join("train_metrics.jsonl"))[0];
    for term in ["cross_entropy", "aggregation", "kd"] {
        assert!(record["terms"][term].as_f64().is_some_and(|v| v > 0.0), "term {term}: {record}");
    }
    assert!(record["test_acc"].as_f64().is_some_and(|a| (0.0..=1.0).contains(&a)), "{record}");

    let stdout = succeeds(&["eval", "distill_run"], &dir);
    assert!(stdout.contains("resnet8"), "{stdout}");
    let report = json(&student.join("eval/eval.json"));
    assert_eq!(report["images"], 20, "2 test images of each of 10 classes: {report}");
    assert_eq!(report["top1"], record["test_acc"], "eval scores the final weights as training did");
}

#[test]
fn bad_dfa_input_names_the_file_and_what_is_wrong() {
    let teacher = cli_teacher().join("model.mpk");
    let dir = temp_dir("dfa-cli-bad");
    let write = |name: &str, text: &str| std::fs::write(dir.join(name), text).unwrap();
    let search = |config: &str, out: &str| fails(&["dfa", "search", "--config", config, "--out", out], &dir);
    // The run directory keeps a copy of the config and of the space, which the messages name.
    let in_run_copy = |err: &str, out: &str, file: &str, field: &str| {
        let at = format!("{}:", Path::new(out).join(file).display());
        let found = err.find(&at).unwrap_or_else(|| panic!("expected `{at}` in {err}"));
        let rest = &err[found + at.len()..];
        let digits = rest.chars().take_while(char::is_ascii_digit).count();
        assert!(
            digits > 0 && rest[digits..].starts_with(&format!(": `{field}`")),
            "expected `{at}LINE: `{field}`` in {err}"
        );
    };

    // A ResNet-14 checkpoint for a ResNet-20 teacher.
    write("arch.toml", &dfa_search_config("dfa_resnet20.toml", 20, &teacher, "epochs = 1"));
    let err = search("arch.toml", "arch_run");
    in_run_copy(&err, "arch_run", "config.toml", "teacher.checkpoint");
    assert!(err.contains(&teacher.display().to_string()) && err.contains("is not a resnet20"), "{err}");

    // The ResNet-20 space (3 blocks per stage) with a ResNet-14 teacher (2).
    write("wrong_space.toml", &dfa_search_config("dfa_resnet20.toml", 14, &teacher, "epochs = 1"));
    let err = search("wrong_space.toml", "space_run");
    in_run_copy(&err, "space_run", "space.toml", "choice[0].candidates");
    let bundled = std::fs::read_to_string(manifest("search_spaces/dfa_resnet20.toml")).unwrap();
    let line = format!("space.toml:{}:", line_of(&bundled, "candidates"));
    assert!(err.contains(&line), "the line of the first choice's candidates, {line}, in {err}");
    assert!(err.contains("3 candidates") && err.contains("resnet14 has 2 blocks"), "{err}");

    // A missing teacher checkpoint.
    write("missing.toml", &dfa_search_config("dfa_resnet14.toml", 14, &dir.join("nowhere/model.mpk"), "epochs = 1"));
    let err = search("missing.toml", "missing_run");
    in_run_copy(&err, "missing_run", "config.toml", "teacher.checkpoint");
    assert!(err.contains("nowhere/model.mpk does not exist"), "{err}");

    // An image-search config given to `kdnas dfa search`.
    let image =
        format!("space = {}\n\n[task]\nkind = \"image\"\n", toml_path(&manifest("search_spaces/quickstart.toml")));
    write("image.toml", &image);
    let err = search("image.toml", "image_run");
    assert!(err.contains(&format!("image.toml:{}: `task.kind`", line_of(&image, "kind ="))), "{err}");
    assert!(err.contains("kdnas search --config"), "says which command runs it: {err}");

    // Distillation towards the weights of a search that never ran.
    write("no_search.toml", &distill_config(&teacher, 1, &searched_objectives("no_such_run")));
    let err = fails(&["distill", "--config", "no_search.toml", "--out", "no_search_run"], &dir);
    in_run_copy(&err, "no_search_run", "config.toml", "objective[1].search");
    assert!(err.contains("no_such_run/genotype.json does not exist") && err.contains("kdnas dfa search"), "{err}");

    // The same objective kind twice.
    let twice = format!("{}\n[[objective]]\nkind = \"kd\"\nweight = 1\ntemperature = 2\n", searched_objectives("x"));
    let text = distill_config(&teacher, 1, &twice);
    write("twice.toml", &text);
    let err = fails(&["distill", "--config", "twice.toml", "--out", "twice_run"], &dir);
    let last_kind = text.lines().enumerate().filter(|(_, l)| l.starts_with("kind = \"kd\"")).last().unwrap().0 + 1;
    assert!(err.contains(&format!("twice.toml:{last_kind}: `objective[3].kind`: `kd` is listed twice")), "{err}");

    // Early stopping for a command that keeps no best epoch, refused before anything is loaded.
    let text = distill_config(&teacher, 1, "[[objective]]\nkind = \"cross_entropy\"\nweight = 1\n")
        .replace("[train]\n", "[train]\npatience = 3\n");
    write("patience.toml", &text);
    let err = fails(&["distill", "--config", "patience.toml", "--out", "patience_run"], &dir);
    assert!(err.contains(&format!("patience.toml:{}: `train.patience`", line_of(&text, "patience"))), "{err}");

    for run in ["arch_run", "space_run", "missing_run", "image_run", "no_search_run", "twice_run", "patience_run"] {
        assert!(!dir.join(run).join("checkpoint").exists(), "{run}: a refused run leaves no checkpoint");
    }
}
