//! AdaRec end to end on the bundled synthetic sequences: `kdnas teacher train` -> `kdnas adarec search`
//! -> `kdnas adarec finetune`, exact resume of the search (EMD masses included) and of the fine-tuning
//! (also after the project folder moved),
//! the objective as the weighted sum of its recorded terms, and bad configs refused with their field.

mod common;

use burn::tensor::ElementConversion;
use common::cli::{fails, succeeds};
use common::{jsonl_without_field, manifest, mpk_without_param_ids, read, temp_dir, train_records};
use kdnas::models::nextitnet::NextItNetConfig;
use kdnas::models::sequence_cell_network::{SequenceCellNetwork, SequenceNetworkConfig};
use kdnas::ops::OpMode;
use kdnas::search::{SearchTask, Split};
use kdnas::space::parse_space;
use kdnas::supernet::cost::CostTable;
use kdnas::supernet::{ArchParams, Relaxation};
use kdnas::tasks::adarec::budget::ParamBudget;
use kdnas::tasks::adarec::data::SequenceDataConfig;
use kdnas::tasks::adarec::losses::AdarecLosses;
use kdnas::tasks::adarec::run_model::{RankingRunKind, ranking_run_kind};
use kdnas::tasks::adarec::search_task::AdarecSearchTask;
use kdnas::tasks::adarec::student::AdarecStudent;
use kdnas::tasks::adarec::teacher::FrozenSequenceTeacher;
use rand::SeedableRng;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

type Cpu = burn::backend::Autodiff<burn::backend::Flex>;

/// The synthetic data of every run here (the teacher's, the search's and the fine-tuning's).
const DATA: &str = r#"[data]
max_len = 10
negatives = 20

[data.synthetic]
users = 120
items = 50
min_len = 6
max_len = 14
"#;

/// A tiny trained NextItNet (4 blocks of 16: two mapped teacher layers), shared by the tests.
fn teacher_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = temp_dir("adarec-search-teacher");
        let config = format!(
            "seed = 3\n[task]\nkind = \"adarec\"\n{DATA}\n[model]\ndim = 16\nblocks = 4\n\n[train]\nepochs = 3\nbatch_size = 32\n\
             optimizer = \"adam\"\nlr = 0.003\nlr_min = 0.0003\nweight_decay = 0.0\naugment = false\n"
        );
        std::fs::write(dir.join("teacher.toml"), config).unwrap();
        succeeds(&["teacher", "train", "--config", "teacher.toml", "--out", "run"], &dir);
        dir.join("run")
    })
}

fn toml_path(path: &Path) -> String {
    path.display().to_string().replace('\\', "/")
}

/// A search config of `epochs` epochs over the AdaRec space, distilling the shared teacher.
fn search_config(epochs: usize, extra: &str) -> String {
    format!(
        "seed = 5\nspace = \"{space}\"\n[task]\nkind = \"adarec\"\n{DATA}\n[teacher]\ncheckpoint = \"{teacher}\"\n\
         [teacher.model]\ndim = 16\nblocks = 4\n\n[student]\ndim = 8\ncells = 2\n\n[adarec]\ngamma = 0.5\nbeta = 2.0\n\n\
         [search]\nepochs = {epochs}\nbatch_size = 32\nmode = \"single_level\"\nw_optimizer = \"adamw\"\nw_lr = 0.005\n\
         w_lr_min = 0.005\nw_weight_decay = 5e-4\narch_optimizer = \"adamw\"\narch_lr = 0.01\narch_betas = [0.9, 0.999]\n\
         arch_weight_decay = 1e-4\n{extra}\n[search.relaxation]\nkind = \"gumbel\"\nhard = true\n\
         temperature = {{ kind = \"step\", start = 1.0, factor = 0.8, every = 1 }}\n",
        space = toml_path(&manifest("search_spaces/adarec_nextitnet.toml")),
        teacher = toml_path(&teacher_dir().join("best/model.mpk")),
    )
}

/// A fine-tuning config of the genotype of `search_run` (with continued distillation when `kd`).
fn finetune_config(search_run: &Path, epochs: usize, kd: bool) -> String {
    let kd = if kd { format!("[kd]\ngamma = 0.5\n{}", teacher_section("kd.teacher")) } else { String::new() };
    finetune_with(search_run, epochs, &kd)
}

/// The test teacher as the TOML section `name` (`teacher`, `kd.teacher`).
fn teacher_section(name: &str) -> String {
    let checkpoint = toml_path(&teacher_dir().join("best/model.mpk"));
    format!("[{name}]\ncheckpoint = \"{checkpoint}\"\n[{name}.model]\ndim = 16\nblocks = 4\n")
}

/// A fine-tuning config of the search run's student whose loss sections are `loss` (TOML).
fn finetune_with(search_run: &Path, epochs: usize, kd: &str) -> String {
    format!(
        "seed = 2\ngenotype = \"{}\"\n[task]\nkind = \"adarec\"\n{DATA}\n[student]\ndim = 8\ncells = 2\n{kd}\n[train]\n\
         epochs = {epochs}\nbatch_size = 32\noptimizer = \"adamw\"\nlr = 0.005\nlr_min = 0.0005\nweight_decay = 5e-4\naugment = false\n",
        toml_path(&search_run.join("genotype.json"))
    )
}

fn search_records(run: &Path) -> Vec<serde_json::Value> {
    let text = String::from_utf8(read(&run.join("metrics.jsonl"))).unwrap();
    text.lines().map(|line| serde_json::from_str(line).unwrap()).collect()
}

#[test]
fn teacher_search_and_finetune_run_end_to_end() {
    let dir = temp_dir("adarec-search-e2e");
    std::fs::write(dir.join("search.toml"), search_config(2, "")).unwrap();
    let stdout = succeeds(&["adarec", "search", "--config", "search.toml", "--out", "search"], &dir);
    assert!(stdout.contains("cell: n0 = "), "the derived cell is printed as sums of ops: {stdout}");
    let records = search_records(&dir.join("search"));
    assert_eq!(records.len(), 2);
    for r in &records {
        for term in ["cross_entropy", "embedding_mse", "hidden_emd", "logit_kl", "cost"] {
            let v = r["train_terms"][term].as_f64().unwrap_or_else(|| panic!("{term} missing in {r}"));
            assert!(v.is_finite() && v >= 0.0, "{term} = {v}");
        }
        let ndcg = r["val_eval_metrics"]["valid_ndcg@10"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&ndcg));
        let masses = &r["task_state"]["masses"];
        for side in ["student", "teacher"] {
            let m: Vec<f64> = masses[side].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
            assert_eq!(m.len(), 2, "{side}: 2 cells, 2 of the teacher's 4 blocks");
            assert!((m.iter().sum::<f64>() - 1.0).abs() < 1e-9, "{side} masses {m:?}");
        }
        let flow = r["task_state"]["flow"].as_array().unwrap();
        assert_eq!(flow.len(), 2, "flow [student layers][teacher layers]");
    }
    assert_eq!(records[1]["temperature"].as_f64(), Some(0.8), "tau = 0.8^floor(epoch / 1)");
    for file in ["genotype.json", "genotype.txt", "derived.dot", "arch_weights.jsonl"] {
        assert!(dir.join("search").join(file).is_file(), "{file} missing");
    }

    for (name, kd) in [("kd", true), ("scratch", false)] {
        std::fs::write(dir.join(format!("{name}.toml")), finetune_config(&dir.join("search"), 2, kd)).unwrap();
        let stdout = succeeds(&["adarec", "finetune", "--config", &format!("{name}.toml"), "--out", name], &dir);
        assert!(stdout.contains("student adarec-student-2x8"), "{stdout}");
        let epochs = train_records(&dir.join(name));
        assert_eq!(epochs.len(), 2);
        assert_eq!(epochs[0]["terms"].get("kd").is_some(), kd, "{}", epochs[0]);
        assert!(dir.join(name).join("best/model.mpk").is_file());
        assert!(dir.join(name).join("result.json").is_file());
    }
    // A cell of BatchNormed convolutions: the table counts its parameters as the fine-tuning did (not the
    // BatchNorm running statistics).
    write_all_conv_genotype(&dir.join("search/genotype.json"), &dir.join("conv_genotype.json"));
    let conv = finetune_config(&dir.join("search"), 1, false).replace("search/genotype.json", "conv_genotype.json");
    std::fs::write(dir.join("conv.toml"), conv).unwrap();
    succeeds(&["adarec", "finetune", "--config", "conv.toml", "--out", "conv"], &dir);
    let table =
        succeeds(&["adarec", "table", "kd", "scratch", "conv", "--out", "table.md", "--plot", "plots/tradeoff"], &dir);
    for figure in ["tradeoff_params.png", "tradeoff_params.svg", "tradeoff_latency.png", "tradeoff_latency.svg"] {
        let svg = read(&dir.join("plots").join(figure));
        assert!(!svg.is_empty() && table.contains(figure), "{figure} is written and named");
    }
    let svg = String::from_utf8(read(&dir.join("plots/tradeoff_params.svg"))).unwrap();
    for series in ["student, distilled (KD)", "student, cross-entropy only"] {
        assert!(svg.contains(series), "the legend names {series}");
    }
    for run in ["kd", "scratch", "conv"] {
        let json =
            |file: &str| -> serde_json::Value { serde_json::from_slice(&read(&dir.join(run).join(file))).unwrap() };
        let params = json("result.json")["params"].as_u64().unwrap();
        assert_eq!(json("eval/eval.json")["params"].as_u64(), Some(params), "{run}");
        assert!(table.contains(&format!("| {run} | adarec-student-2x8 | {params} |")), "{run}: {table}");
    }
}

/// Writes `to`: the genotype `from` with every kept op replaced by the BatchNormed `cau_cnn_3`.
fn write_all_conv_genotype(from: &Path, to: &Path) {
    let mut genotype: serde_json::Value = serde_json::from_slice(&read(from)).unwrap();
    for cell in genotype["cells"].as_array_mut().unwrap() {
        for node in cell["nodes"].as_array_mut().unwrap() {
            for input in node["inputs"].as_array_mut().unwrap() {
                input["op"] = "cau_cnn_3".into();
            }
        }
    }
    std::fs::write(to, serde_json::to_vec_pretty(&genotype).unwrap()).unwrap();
}

#[test]
fn fine_tuning_can_start_from_the_weights_the_search_trained() {
    let dir = temp_dir("adarec-finetune-from-search");
    std::fs::write(dir.join("search.toml"), search_config(1, "")).unwrap();
    succeeds(&["adarec", "search", "--config", "search.toml", "--out", "search"], &dir);
    assert!(dir.join("search/student_init.mpk").is_file(), "the search keeps its derived student's weights");
    let from_search = format!("init = \"search\"\n{}", finetune_config(&dir.join("search"), 1, false));
    std::fs::write(dir.join("from_search.toml"), &from_search).unwrap();
    let stdout = succeeds(&["adarec", "finetune", "--config", "from_search.toml", "--out", "from_search"], &dir);
    assert!(stdout.contains("student adarec-student-2x8"), "{stdout}");
    let copy = String::from_utf8(read(&dir.join("from_search/config.toml"))).unwrap();
    assert!(copy.contains("init = \"search\""), "the run's config records where it started: {copy}");
    // The same genotype away from its search run has no weights to start from.
    std::fs::copy(dir.join("search/genotype.json"), dir.join("alone.json")).unwrap();
    std::fs::write(dir.join("alone.toml"), from_search.replace("search/genotype.json", "alone.json")).unwrap();
    let err = fails(&["adarec", "finetune", "--config", "alone.toml", "--out", "alone"], &dir);
    assert!(err.contains("student_init.mpk") && err.contains("init = \"scratch\""), "{err}");
}

#[test]
fn fine_tuning_takes_the_objective_list_and_kd_is_its_older_form() {
    let dir = temp_dir("adarec-finetune-objectives");
    std::fs::write(dir.join("search.toml"), search_config(1, "")).unwrap();
    succeeds(&["adarec", "search", "--config", "search.toml", "--out", "search"], &dir);
    let search = dir.join("search");
    let objective = |kind: &str, fields: &str| format!("[[objective]]\nkind = \"{kind}\"\n{fields}");
    let list = format!(
        "{}{}{}",
        objective("cross_entropy", "weight = 0.5\n"),
        objective("kd", "weight = 0.5\ntemperature = 1.0\n"),
        teacher_section("teacher")
    );
    std::fs::write(dir.join("kd.toml"), finetune_config(&search, 1, true)).unwrap();
    std::fs::write(dir.join("list.toml"), finetune_with(&search, 1, &list)).unwrap();
    for run in ["kd", "list"] {
        succeeds(&["adarec", "finetune", "--config", &format!("{run}.toml"), "--out", run], &dir);
    }
    let lines = |run: &str| jsonl_without_field(&dir.join(run).join("train_metrics.jsonl"), "seconds");
    assert_eq!(lines("kd"), lines("list"), "[kd] gamma = 0.5 is CE 0.5 + KD 0.5");

    let rkd = format!(
        "{}{}{}",
        objective("cross_entropy", ""),
        objective("rkd", "weight = 0.01\n"),
        teacher_section("teacher")
    );
    std::fs::write(dir.join("rkd.toml"), finetune_with(&search, 1, &rkd)).unwrap();
    let stdout = succeeds(&["adarec", "finetune", "--config", "rkd.toml", "--out", "rkd"], &dir);
    assert!(stdout.contains("student adarec-student-2x8"), "{stdout}");
    let record = &train_records(&dir.join("rkd"))[0];
    assert!(record["terms"]["rkd"].as_f64().is_some_and(|v| v > 0.0), "{record}");
    let kind = ranking_run_kind(&dir.join("rkd")).unwrap();
    assert_eq!(kind, RankingRunKind::Student { distilled: true }, "a run with a teacher counts as distilled");

    let refused = [
        (
            "fitnet",
            format!("{}{}", objective("fitnet", "weight = 1.0\n"), teacher_section("teacher")),
            "objective[0].kind",
        ),
        ("no teacher", objective("kd", "weight = 1.0\ntemperature = 1.0\n"), "teacher"),
        ("both forms", format!("[kd]\ngamma = 0.5\n{}{}", teacher_section("kd.teacher"), objective("rkd", "")), "kd"),
        ("twice", format!("{}{}", objective("cross_entropy", ""), objective("cross_entropy", "")), "objective[1].kind"),
    ];
    for (what, loss, field) in refused {
        std::fs::write(dir.join("bad.toml"), finetune_with(&search, 1, &loss)).unwrap();
        let err = fails(&["adarec", "finetune", "--config", "bad.toml", "--out", "bad"], &dir);
        assert!(err.contains(field), "{what}: {err}");
    }
}

#[test]
fn a_stopped_search_resumes_exactly_with_its_layer_masses() {
    let dir = temp_dir("adarec-search-resume");
    std::fs::write(dir.join("search.toml"), search_config(2, "")).unwrap();
    succeeds(&["adarec", "search", "--config", "search.toml", "--out", "whole"], &dir);
    succeeds(&["adarec", "search", "--config", "search.toml", "--out", "cut", "--stop-after", "1"], &dir);
    assert_eq!(search_records(&dir.join("cut")).len(), 1);
    succeeds(&["adarec", "search", "--resume", "cut"], &dir);
    let lines = |run: &str| jsonl_without_field(&dir.join(run).join("metrics.jsonl"), "seconds");
    assert_eq!(lines("whole"), lines("cut"), "records (masses and flow included) differ after the resume");
    assert_eq!(read(&dir.join("whole/arch_weights.jsonl")), read(&dir.join("cut/arch_weights.jsonl")));
    assert_eq!(read(&dir.join("whole/genotype.json")), read(&dir.join("cut/genotype.json")));
}

#[test]
fn a_stopped_finetuning_resumes_exactly() {
    let dir = temp_dir("adarec-finetune-resume");
    std::fs::write(dir.join("search.toml"), search_config(1, "")).unwrap();
    succeeds(&["adarec", "search", "--config", "search.toml", "--out", "search"], &dir);
    std::fs::write(dir.join("kd.toml"), finetune_config(&dir.join("search"), 2, true)).unwrap();
    succeeds(&["adarec", "finetune", "--config", "kd.toml", "--out", "whole"], &dir);
    let stdout = succeeds(&["adarec", "finetune", "--config", "kd.toml", "--out", "cut", "--stop-after", "1"], &dir);
    assert!(stdout.contains("kdnas adarec finetune --resume"), "{stdout}");
    succeeds(&["adarec", "finetune", "--resume", "cut"], &dir);
    let lines = |run: &str| jsonl_without_field(&dir.join(run).join("train_metrics.jsonl"), "seconds");
    assert_eq!(lines("whole"), lines("cut"), "per-epoch records differ after the resume");
    let weights = |run: &str| mpk_without_param_ids(&read(&dir.join(run).join("model.mpk")));
    assert!(weights("whole") == weights("cut"), "final weights differ after the resume");
    let again = fails(&["adarec", "finetune", "--config", "kd.toml", "--out", "cut"], &dir);
    assert!(again.contains("kdnas adarec finetune --resume"), "{again}");
}

#[test]
fn stopped_runs_resume_exactly_after_their_project_moves() {
    let dir = temp_dir("adarec-moved-project");
    let before = dir.join("before");
    std::fs::create_dir_all(before.join("teacher")).unwrap();
    std::fs::copy(teacher_dir().join("best/model.mpk"), before.join("teacher/model.mpk")).unwrap();
    let teacher = toml_path(&teacher_dir().join("best/model.mpk"));
    std::fs::write(before.join("search.toml"), search_config(2, "").replace(&teacher, "teacher/model.mpk")).unwrap();
    succeeds(&["adarec", "search", "--config", "search.toml", "--out", "whole"], &before);
    succeeds(&["adarec", "search", "--config", "search.toml", "--out", "cut", "--stop-after", "1"], &before);
    let finetune = finetune_config(&before.join("whole"), 2, true)
        .replace(&teacher, "teacher/model.mpk")
        .replace(&toml_path(&before.join("whole/genotype.json")), "whole/genotype.json");
    std::fs::write(before.join("kd.toml"), finetune).unwrap();
    succeeds(&["adarec", "finetune", "--config", "kd.toml", "--out", "tuned"], &before);
    succeeds(&["adarec", "finetune", "--config", "kd.toml", "--out", "tuned_cut", "--stop-after", "1"], &before);

    let after = dir.join("after");
    std::fs::rename(&before, &after).unwrap();
    succeeds(&["adarec", "search", "--resume", "cut"], &after);
    succeeds(&["adarec", "finetune", "--resume", "tuned_cut"], &after);
    let lines = |run: &str, file: &str| jsonl_without_field(&after.join(run).join(file), "seconds");
    assert_eq!(lines("whole", "metrics.jsonl"), lines("cut", "metrics.jsonl"), "the moved search differs");
    assert_eq!(read(&after.join("whole/genotype.json")), read(&after.join("cut/genotype.json")));
    assert_eq!(lines("tuned", "train_metrics.jsonl"), lines("tuned_cut", "train_metrics.jsonl"));
    let weights = |run: &str| mpk_without_param_ids(&read(&after.join(run).join("model.mpk")));
    assert!(weights("tuned") == weights("tuned_cut"), "the moved fine-tuning's final weights differ");
    succeeds(&["adarec", "table", "tuned", "--out", "table.md"], &after);
}

#[test]
fn bi_level_search_splits_the_training_users() {
    let dir = temp_dir("adarec-search-bilevel");
    let config = search_config(1, "train_fraction = 0.5").replace("mode = \"single_level\"", "mode = \"first_order\"");
    std::fs::write(dir.join("search.toml"), config).unwrap();
    succeeds(&["adarec", "search", "--config", "search.toml", "--out", "run"], &dir);
    let record = &search_records(&dir.join("run"))[0];
    let (train, val) = (&record["train_terms"], &record["val_terms"]);
    assert_ne!(train, val, "weight and architecture steps see different users: {record}");
    for terms in [train, val] {
        assert!(terms["cost"].as_f64().unwrap() > 0.0 && terms["hidden_emd"].as_f64().unwrap() > 0.0, "{terms}");
    }
    let second_order_adamw = search_config(1, "").replace("mode = \"single_level\"", "mode = \"second_order\"");
    std::fs::write(dir.join("second.toml"), second_order_adamw).unwrap();
    let refused = fails(&["adarec", "search", "--config", "second.toml", "--out", "second"], &dir);
    assert!(refused.contains("search.w_optimizer"), "second order needs SGD: {refused}");
}

#[test]
fn measured_latency_costs_are_kept_with_the_run_and_reused_on_resume() {
    let dir = temp_dir("adarec-search-latency");
    let config = search_config(2, "").replace("beta = 2.0", "beta = 2.0\ncost = \"latency\"");
    std::fs::write(dir.join("search.toml"), config).unwrap();
    succeeds(&["adarec", "search", "--config", "search.toml", "--out", "run", "--stop-after", "1"], &dir);
    let measured = read(&dir.join("run/costs.json"));
    let table: serde_json::Value = serde_json::from_slice(&measured).unwrap();
    let costs: Vec<f64> = table["groups"][0].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    assert_eq!(costs.len(), 10, "one cost per candidate op");
    assert_eq!(costs[9], 0.0, "`none` builds nothing and costs nothing");
    assert!(costs.iter().all(|c| (0.0..=1.0).contains(c)), "{costs:?}");
    assert_eq!(costs.iter().cloned().fold(0.0, f64::max), 1.0, "normalised by the slowest op: {costs:?}");
    succeeds(&["adarec", "search", "--resume", "run"], &dir);
    assert_eq!(read(&dir.join("run/costs.json")), measured, "a resumed run reuses the table it started with");
    assert_eq!(search_records(&dir.join("run")).len(), 2);
}

#[test]
fn bad_configs_are_refused_naming_the_field() {
    let dir = temp_dir("adarec-search-bad");
    let cases = [
        ("missing teacher", search_config(1, "").replace("best/model.mpk", "best/nothing.mpk"), "teacher.checkpoint"),
        ("other teacher sizes", search_config(1, "").replace("blocks = 4", "blocks = 6"), "teacher.checkpoint"),
        (
            "sgd on alphas",
            search_config(1, "").replace("arch_optimizer = \"adamw\"", "arch_optimizer = \"sgd\""),
            "search.arch_optimizer",
        ),
        ("gamma above 1", search_config(1, "").replace("gamma = 0.5", "gamma = 1.5"), "adarec.gamma"),
        (
            "stride beyond the teacher",
            search_config(1, "").replace("beta = 2.0", "beta = 2.0\nteacher_layer_stride = 9"),
            "adarec.teacher_layer_stride",
        ),
    ];
    for (what, config, field) in cases {
        std::fs::write(dir.join("bad.toml"), config).unwrap();
        let out = format!("run-{}", what.replace(' ', "-"));
        let stderr = fails(&["adarec", "search", "--config", "bad.toml", "--out", &out], &dir);
        assert!(stderr.contains(field), "{what}: {stderr}");
    }
    std::fs::write(dir.join("dfa.toml"), search_config(1, "").replace("kind = \"adarec\"", "kind = \"dfa\"")).unwrap();
    let stderr = fails(&["adarec", "search", "--config", "dfa.toml", "--out", "dfa"], &dir);
    assert!(stderr.contains("task.kind"), "{stderr}");
}

/// The objective is `(1 - gamma) CE + gamma (emb + EMD + KL) + beta cost` of its recorded terms, the cost
/// term is the table's expectation under the step's weights, and every evaluation moves the masses
/// along the flow it solved.
#[test]
fn the_objective_is_the_weighted_sum_of_its_terms_and_updates_the_masses() {
    let device = Default::default();
    let data: SequenceDataConfig =
        toml::from_str(&DATA.replace("[data]\n", "").replace("[data.synthetic]", "[synthetic]")).unwrap();
    let data = Arc::new(data.load(Path::new(".")).unwrap());
    let items = data.set.n_items();
    let teacher_config = NextItNetConfig { dim: 12, blocks: 4, ..NextItNetConfig::default() };
    let teacher =
        FrozenSequenceTeacher::<Cpu>::from_model(teacher_config.build(items, &device).unwrap(), teacher_config.clone());
    let space = parse_space(
        &std::fs::read_to_string(manifest("search_spaces/adarec_nextitnet.toml")).unwrap(),
        &manifest("search_spaces/adarec_nextitnet.toml"),
    )
    .unwrap();
    let student_config = SequenceNetworkConfig { dim: 8, cells: 3, dropout: 0.0 };
    let losses = AdarecLosses { gamma: 0.3, beta: 2.0, ..AdarecLosses::default() };
    let costs = CostTable::from_params(&space, 8).unwrap();
    let task = AdarecSearchTask::<Cpu>::new(data, None, teacher, losses, costs.clone(), 3, device).unwrap();
    let student = SequenceCellNetwork::<Cpu>::new(&space, &student_config, items, OpMode::Search, &device).unwrap();
    let net = AdarecStudent::new(student, 8, 12, &device);
    let arch = ArchParams::<Cpu>::new(&space, &device);
    let weights = Relaxation::Softmax.weights(&arch, None, 0, 1);
    let mut rng = rand::rngs::StdRng::seed_from_u64(0);
    let batch = task.batch(Split::Train, &(0..16).collect::<Vec<_>>(), &mut rng);

    let before = task.emd_state();
    assert_eq!((before.masses.student.len(), before.masses.teacher.len()), (3, 2));
    let loss = task.weight_loss(&net, &weights, &batch);
    let value = |t: &burn::tensor::Tensor<Cpu, 1>| t.clone().into_scalar().elem::<f64>();
    let term = |name: &str| value(&loss.terms.iter().find(|(n, _)| *n == name).unwrap().1);
    let expected = 0.7 * term("cross_entropy")
        + 0.3 * (term("embedding_mse") + term("hidden_emd") + term("logit_kl"))
        + 2.0 * term("cost");
    assert!(
        (value(&loss.total) - expected).abs() < 1e-4 * expected.abs().max(1.0),
        "{} vs {expected}",
        value(&loss.total)
    );
    assert!((term("cost") - value(&costs.expected(&weights))).abs() < 1e-6);
    assert!(term("hidden_emd") > 0.0 && term("logit_kl") > 0.0 && term("embedding_mse") > 0.0);

    let after = task.emd_state();
    for (row, mass) in after.flow.iter().zip(&before.masses.student) {
        assert!((row.iter().sum::<f64>() - mass).abs() < 1e-9, "flow rows carry the masses of the step");
    }
    assert_ne!(after.masses, before.masses, "the step updates the masses");
    assert!((after.masses.student.iter().sum::<f64>() - 1.0).abs() < 1e-9);

    let restored = task.task_state().unwrap();
    let other = serde_json::json!({ "masses": { "student": [1.0], "teacher": [1.0] }, "flow": [] });
    assert!(task.restore_task_state(&other, Path::new("state.json")).is_err(), "masses of another mapping are refused");
    task.restore_task_state(&restored, Path::new("state.json")).unwrap();
    assert_eq!(task.emd_state(), after);
}

#[test]
fn a_parameter_budget_is_met_reported_and_its_gradients_recorded() {
    let dir = temp_dir("adarec-search-budget");
    let space = parse_space(
        &String::from_utf8(read(&manifest("search_spaces/adarec_nextitnet.toml"))).unwrap(),
        Path::new("s.toml"),
    )
    .unwrap();
    let student = SequenceNetworkConfig { dim: 8, cells: 2, dropout: 0.1 };
    let supernet = SequenceCellNetwork::<Cpu>::new(&space, &student, 50, OpMode::Search, &Default::default()).unwrap();
    let supernet_params = kdnas::metrics::trainable_params(&supernet);
    let budget = ParamBudget::new(&space, supernet_params, 2, 8, false, 1).unwrap();
    let largest: f64 = budget.per_candidate.groups[0].iter().cloned().fold(0.0, f64::max);
    // Room for about one k5 convolution over the parameter-free cell (6 edges share the template).
    let target = (budget.fixed + 1.2 * largest) as usize;
    let config = search_config(3, "warmup_epochs = 1\narch_grad_probes = 2")
        .replace(
            "beta = 2.0",
            &format!("beta = 0.0\nreduction = \"sequence_sum\"\ntarget_params = {target}\nbudget_rate = 5.0"),
        )
        .replace("arch_lr = 0.01", "arch_lr = 0.05")
        .replace("hard = true", "hard = true\nevaluate = \"all\"");
    std::fs::write(dir.join("search.toml"), config).unwrap();
    succeeds(&["adarec", "search", "--config", "search.toml", "--out", "run"], &dir);
    let report: serde_json::Value = serde_json::from_slice(&read(&dir.join("run/budget.json"))).unwrap();
    assert_eq!(report["target_params"], target);
    let derived = report["derived_params"].as_u64().unwrap();
    assert!(report["met"] == true && derived <= target as u64 && derived as f64 >= budget.fixed, "{report}");
    let records = search_records(&dir.join("run"));
    assert_eq!(records[0]["arch_moved"], false, "warm-up epoch");
    let multiplier = records[0]["task_state"]["budget"]["multiplier"].as_f64().unwrap();
    assert!(
        multiplier > 0.0,
        "the supernet starts over the target, so the multiplier rises: {}",
        records[0]["task_state"]
    );
    let grads = String::from_utf8(read(&dir.join("run/arch_grads.jsonl"))).unwrap();
    let first: serde_json::Value = serde_json::from_str(grads.lines().next().unwrap()).unwrap();
    assert_eq!(first["grads"]["probes"], 2);
    for part in ["task_distill", "cost"] {
        assert!(first["grads"]["norm"][part].as_f64().unwrap() > 0.0, "{part}: {first}");
    }
    assert!(dir.join("run/plots/arch_grad_norms.png").is_file());
}
