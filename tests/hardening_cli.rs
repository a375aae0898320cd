//! Reproducers of issue 9 through the command line: each input that used to panic, abort or be
//! silently accepted now gives a clear error (exit 1, file, line and field named) or correct output.

mod common;

use common::cli::{TINY_CONFIG, fails, kdnas, succeeds, tiny_run_dir};
use common::manifest;
use std::path::Path;
use std::process::Stdio;

/// Replaces `from` by `to` in the file `path` (which must contain it).
fn edit(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "{} lacks `{from}`:\n{text}", path.display());
    std::fs::write(path, text.replacen(from, to, 1)).unwrap();
}

#[test]
fn resume_refuses_a_run_whose_config_space_or_checkpoint_changed() {
    let dir = tiny_run_dir("guard");
    succeeds(&["search", "--config", "run.toml", "--out", "run", "--stop-after", "1"], &dir);
    let (config, space) = (dir.join("run/config.toml"), dir.join("run/space.toml"));
    let original_config = std::fs::read(&config).unwrap();

    edit(&config, "layers = 2", "layers = 3");
    let err = fails(&["search", "--resume", "run"], &dir);
    assert!(err.contains("config `network.layers`: 2 in the checkpoint, 3 now"), "{err}");
    std::fs::write(&config, &original_config).unwrap();

    edit(&config, "channels = 2", "channels = 4");
    let err = fails(&["search", "--resume", "run"], &dir);
    assert!(err.contains("config `network.channels`: 2 in the checkpoint, 4 now"), "{err}");
    std::fs::write(&config, &original_config).unwrap();

    let original_space = std::fs::read(&space).unwrap();
    edit(&space, "\"max_pool_3x3\",", "\"max_pool_3x3\", \"avg_pool_3x3\",");
    let err = fails(&["search", "--resume", "run"], &dir);
    assert!(err.contains("`space.toml` differs from the one the checkpoint was made with"), "{err}");
    std::fs::write(&space, &original_space).unwrap();

    succeeds(&["search", "--config", "run.toml", "--out", "other", "--seed", "9", "--stop-after", "1"], &dir);
    let net = dir.join("run/checkpoint/net.mpk");
    let own_net = std::fs::read(&net).unwrap();
    std::fs::copy(dir.join("other/checkpoint/net.mpk"), &net).unwrap();
    let err = fails(&["search", "--resume", "run"], &dir);
    assert!(err.contains("net.mpk") && err.contains("corrupted or replaced"), "{err}");
    std::fs::write(&net, &own_net[..own_net.len() / 2]).unwrap();
    let err = fails(&["search", "--resume", "run"], &dir);
    assert!(err.contains("net.mpk") && err.contains("truncated"), "{err}");
    std::fs::write(&net, &own_net).unwrap();

    succeeds(&["search", "--resume", "run"], &dir);
    assert_eq!(std::fs::read_to_string(dir.join("run/metrics.jsonl")).unwrap().lines().count(), 2);
}

#[test]
fn a_checkpoint_without_its_state_or_a_missing_run_is_explained() {
    let dir = tiny_run_dir("guard-missing");
    let err = fails(&["search", "--resume", "nowhere"], &dir);
    assert!(err.contains("nowhere: no such run directory"), "{err}");
    succeeds(&["search", "--config", "run.toml", "--out", "run", "--stop-after", "1"], &dir);
    std::fs::remove_file(dir.join("run/checkpoint/state.json")).unwrap();
    let err = fails(&["search", "--resume", "run"], &dir);
    assert!(err.contains("state.json is missing: the checkpoint is incomplete"), "{err}");
    let err = fails(&["train", "--resume", "nowhere"], &dir);
    assert!(err.contains("nowhere: no such training directory"), "{err}");
}

#[test]
fn inspect_counts_darts_parameters_exactly_without_building_the_network() {
    let dir = common::temp_dir("inspect-count");
    let space = manifest("search_spaces/darts_cifar.toml");
    let out = succeeds(&["inspect", space.to_str().unwrap(), "--dot", "d.dot"], &dir);
    assert!(out.contains(": 1930618 trainable parameters"), "{out}");
    assert!(out.contains("memory of one search training step at batch 64"), "{out}");
    let huge = succeeds(&["inspect", space.to_str().unwrap(), "--channels", "100000", "--dot", "d.dot"], &dir);
    assert!(huge.contains("trainable parameters") && huge.contains("GiB"), "{huge}");
    let err = fails(&["inspect", space.to_str().unwrap(), "--channels", "18446744073709551615"], &dir);
    assert!(err.contains("too large") && err.contains("overflows"), "{err}");
    let err = fails(&["inspect", space.to_str().unwrap(), "--layers", "18446744073709551615"], &dir);
    assert!(err.contains("network.layers") && err.contains("at most 10000"), "{err}");
}

#[test]
fn an_oversized_network_in_a_config_is_refused_with_its_estimate() {
    let dir = tiny_run_dir("oversized");
    std::fs::write(dir.join("big.toml"), TINY_CONFIG.replace("channels = 2", "channels = 100000")).unwrap();
    let err = fails(&["search", "--config", "big.toml", "--out", "run"], &dir);
    assert!(err.contains("network.channels = 100000") && err.contains("too large"), "{err}");
    assert!(err.contains("needs at least") && err.contains("this machine has"), "{err}");
    std::fs::write(dir.join("huge.toml"), TINY_CONFIG.replace("channels = 2", "channels = 18446744073709551615"))
        .unwrap();
    let err = fails(&["search", "--config", "huge.toml", "--out", "run2"], &dir);
    assert!(err.contains("too large"), "{err}");
}

#[test]
fn a_closed_pipe_ends_inspect_quietly() {
    let dir = common::temp_dir("pipe");
    let space = manifest("search_spaces/darts_cifar.toml");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_kdnas"))
        .args(["inspect", space.to_str().unwrap(), "--dot", "d.dot"])
        .current_dir(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked") && out.status.code() != Some(101), "{stderr}");
}

#[test]
fn invalid_hyper_parameters_are_located() {
    let dir = tiny_run_dir("invalid-values");
    let cases = [
        ("[search]\n", "[search]\nw_momentum = -5\n", "`search.w_momentum`: -5 must be in [0, 1)"),
        ("[search]\n", "[search]\nw_weight_decay = -1\n", "`search.w_weight_decay`: -1 must be a number >= 0"),
        ("[search]\n", "[search]\narch_betas = [1.5, 2.0]\n", "`search.arch_betas[0]`: 1.5 must be in [0, 1)"),
        (
            "[search]\n",
            "[search]\nrelaxation = { kind = \"gumbel\", temperature = { kind = \"linear\", start = 1.0, end = 0.0 } }\n",
            "`search.relaxation.temperature.end`: 0 must be a positive number",
        ),
        ("[search]\n", "[train]\nbatch_size = 0\n[search]\n", "`train.batch_size`: must be at least 1"),
        ("[search]\n", "[train]\nmomentum = 1.5\n[search]\n", "`train.momentum`: 1.5 must be in [0, 1)"),
    ];
    for (i, (from, to, expected)) in cases.iter().enumerate() {
        let name = format!("case{i}.toml");
        std::fs::write(dir.join(&name), TINY_CONFIG.replacen(from, to, 1)).unwrap();
        let err = fails(&["search", "--config", &name, "--out", "run"], &dir);
        assert!(err.contains(&format!("{name}:")) && err.contains(expected), "case {i}: {err}");
    }
    std::fs::write(dir.join("big_batch.toml"), TINY_CONFIG.replace("batch_size = 8", "batch_size = 1000")).unwrap();
    let err = fails(&["search", "--config", "big_batch.toml", "--out", "big"], &dir);
    assert!(err.contains("big/config.toml:") && err.contains("`search.batch_size`: 1000 is larger"), "{err}");
}

#[test]
fn contradictory_command_lines_are_usage_errors() {
    let dir = tiny_run_dir("cli-usage");
    for args in [
        &["search", "--config", "run.toml", "--stop-after", "0"][..],
        &["search", "--resume", "run", "--seed", "5"],
        &["search", "--resume", "run", "--out", "x"],
        &["train", "--resume", "run", "--epochs", "3"],
    ] {
        let out = kdnas(args, &dir);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?} must be refused by the parser: {stderr}");
    }
}

#[test]
fn invalid_spaces_are_located() {
    let dir = common::temp_dir("invalid-spaces");
    let head = "name = \"t\"\ncatalogue = \"conv2d\"\n";
    let cell = |name: &str, reduction: bool, body: &str| {
        format!("[[cell]]\nname = \"{name}\"\nreduction = {reduction}\ninputs = [\"a\", \"b\"]\n{body}")
    };
    let node =
        "  [[cell.node]]\n  name = \"n\"\n  from = [\"a\", \"b\"]\n  ops = [\"skip_connect\", \"sep_conv_3x3\"]\n";
    let cases = [
        (
            format!(
                "{head}{}{}",
                cell(
                    "c",
                    false,
                    "  [[cell.node]]\n  name = \"n\"\n  mix = \"weighted\"\n  from = [\"a\"]\n  ops = [\"skip_connect\"]\n"
                ),
                cell("r", true, node)
            ),
            "`cell[0].node[0].mix`: a weighted input choice needs at least 2 incoming edges",
        ),
        (
            format!(
                "{head}{}",
                cell(
                    "c",
                    false,
                    "  [[cell.node]]\n  name = \"n\"\n  ops = [\"skip_connect\"]\n    [[cell.node.edge]]\n    from = \"a\"\n    ops = [\"skip_connect\"]\n"
                )
            ),
            "`cell[0].node[0].ops`: `ops` applies to the edges listed in `from`",
        ),
        (
            format!("{head}{}{}", cell("first", false, node), cell("second", false, node)),
            "`cell[1].name`: `second` is a second normal cell after `first`",
        ),
        (
            format!("{head}{}", cell("c", false, "  [[cell.node]]\n  name = \"n\"\n  from = [\"a\"]\n  ops = []\n")),
            ":10: `cell[0].node[0].ops`: empty op list",
        ),
    ];
    for (i, (text, expected)) in cases.iter().enumerate() {
        let name = format!("space{i}.toml");
        std::fs::write(dir.join(&name), text).unwrap();
        let err = fails(&["inspect", &name], &dir);
        assert!(err.contains(&name) && err.contains(expected), "case {i}: {err}\n{text}");
    }
    std::fs::write(dir.join("normal_only.toml"), format!("{head}{}", cell("c", false, node))).unwrap();
    let err = fails(&["inspect", "normal_only.toml"], &dir);
    assert!(err.contains("space `t` has no reduction cell, but layer 2 needs one"), "{err}");
}

#[test]
fn names_cannot_escape_the_directory_or_break_dot() {
    let dir = common::temp_dir("names");
    std::fs::create_dir_all(dir.join("work")).unwrap();
    let text = std::fs::read_to_string(manifest("search_spaces/quickstart.toml"))
        .unwrap()
        .replacen("name = \"quickstart\"", "name = \"../escaped_by_name\"", 1)
        .replacen("name = \"normal\"", "name = \"q\\\"uote\"", 1);
    std::fs::write(dir.join("work/space.toml"), text).unwrap();
    succeeds(&["inspect", "space.toml"], &dir.join("work"));
    assert!(!dir.join("escaped_by_name.dot").exists(), "a space name must not choose a path");
    let dot = std::fs::read_to_string(dir.join("work/_escaped_by_name.dot")).unwrap();
    assert!(dot.contains(r#"label="q\"uote (normal, share=q\"uote)""#), "{dot}");
}

#[test]
fn io_errors_name_the_file_once() {
    let dir = common::temp_dir("io-once");
    let err = fails(&["inspect", "nowhere.toml"], &dir);
    assert_eq!(err.matches("No such file").count(), 1, "{err}");
}

#[test]
fn training_resume_refuses_a_changed_run() {
    let dir = tiny_run_dir("guard-train");
    common::write_quickstart_genotype(&dir);
    let config = format!("{TINY_CONFIG}\n[train]\nepochs = 2\nbatch_size = 8\n");
    std::fs::write(dir.join("run.toml"), config).unwrap();
    succeeds(
        &["train", "--genotype", "genotype.json", "--config", "run.toml", "--out", "t", "--stop-after", "1"],
        &dir,
    );
    let original = std::fs::read(dir.join("t/config.toml")).unwrap();
    edit(&dir.join("t/config.toml"), "\nlr = 0.025", "\nlr = 0.05");
    let err = fails(&["train", "--resume", "t"], &dir);
    assert!(err.contains("config `train.lr`: 0.025 in the checkpoint, 0.05 now"), "{err}");
    std::fs::write(dir.join("t/config.toml"), original).unwrap();
    edit(&dir.join("t/genotype.json"), "\"sep_conv_3x3\"", "\"dil_conv_3x3\"");
    let err = fails(&["train", "--resume", "t"], &dir);
    assert!(err.contains("`genotype.json` differs from the one the checkpoint was made with"), "{err}");
}
