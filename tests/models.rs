//! CIFAR ResNet and Wide ResNet: feature shapes per stage, parameter counts against the published
//! figures and the arithmetic count, `forward_from` against the full pass in evaluation mode, the
//! model configuration (TOML, validation messages) and gradient flow.

use burn::backend::{Autodiff, Flex};
use burn::module::{AutodiffModule, Module, ModuleVisitor, Param};
use burn::tensor::backend::Backend;
use burn::tensor::{Distribution, ElementConversion, Tensor};
use kdnas::metrics::trainable_params;
use kdnas::models::{Features, Model, ModelConfig, StageShape, StagedClassifier};

/// Forward-only backend (BatchNorm uses running statistics).
type Eval = Flex;
/// Training backend (BatchNorm uses batch statistics, dropout is active).
type Train = Autodiff<Flex>;

fn resnet(depth: usize) -> ModelConfig {
    ModelConfig::Resnet { depth }
}

fn wrn(depth: usize, widen: usize) -> ModelConfig {
    ModelConfig::Wrn { depth, widen, dropout: 0.0 }
}

fn images<B: Backend>(batch: usize, channels: usize, side: usize) -> Tensor<B, 4> {
    Tensor::random([batch, channels, side, side], Distribution::Normal(0.0, 1.0), &Default::default())
}

fn max_abs_diff<B: Backend, const D: usize>(a: Tensor<B, D>, b: Tensor<B, D>) -> f32 {
    (a - b).abs().max().into_scalar().elem()
}

/// Checks the per-block feature shapes and the logits of `cfg` on `batch` x `channels` x `side`^2
/// images against `stage_shapes()` and the expected `sides` and `widths`.
fn check_shapes(cfg: &ModelConfig, channels: usize, side: usize, widths: [usize; 3], sides: [usize; 3]) {
    let (batch, classes, blocks) = (2, 10, blocks_per_stage(cfg));
    let model: Model<Eval> = cfg.build(channels, classes, &Default::default()).unwrap();
    let Features { logits, stages } = model.forward_features(images(batch, channels, side));
    assert_eq!(logits.dims(), [batch, classes], "{}", cfg.name());
    let shapes = model.stage_shapes();
    let expected: Vec<StageShape> =
        (0..3).map(|i| StageShape { channels: widths[i], blocks, stride: side.div_ceil(sides[i]) }).collect();
    assert_eq!(shapes, expected, "{}", cfg.name());
    assert_eq!(stages.len(), 3);
    for (i, stage) in stages.iter().enumerate() {
        assert_eq!(stage.len(), blocks, "{} stage {i}", cfg.name());
        for block in stage {
            assert_eq!(block.dims(), [batch, widths[i], sides[i], sides[i]], "{} stage {i}", cfg.name());
            assert_eq!(side.div_ceil(shapes[i].stride), sides[i]);
        }
    }
}

fn blocks_per_stage(cfg: &ModelConfig) -> usize {
    match *cfg {
        ModelConfig::Resnet { depth } => (depth - 2) / 6,
        ModelConfig::Wrn { depth, .. } => (depth - 4) / 6,
        ModelConfig::Darts { .. } => unreachable!("only residual networks here"),
    }
}

#[test]
fn resnet_features_have_one_tensor_per_block_at_each_stage_resolution() {
    check_shapes(&resnet(8), 1, 28, [16, 32, 64], [28, 14, 7]);
    check_shapes(&resnet(8), 3, 32, [16, 32, 64], [32, 16, 8]);
    check_shapes(&resnet(20), 3, 32, [16, 32, 64], [32, 16, 8]);
}

#[test]
fn wrn_features_have_one_tensor_per_block_at_each_stage_resolution() {
    check_shapes(&wrn(10, 1), 1, 28, [16, 32, 64], [28, 14, 7]);
    check_shapes(&wrn(16, 2), 3, 32, [32, 64, 128], [32, 16, 8]);
    check_shapes(&wrn(16, 2), 1, 28, [32, 64, 128], [28, 14, 7]);
}

#[test]
fn parameter_counts_match_the_published_figures_and_the_built_models() {
    // CIFAR-10 head on 3x32x32 images; the papers' figures (He et al. 2016 table 6, Zagoruyko & Komodakis
    // 2016 table 5). The 1x1 projection shortcuts add ~1 % over the papers' option-A ResNets.
    for (cfg, published) in [(resnet(20), 0.27e6), (resnet(56), 0.85e6), (wrn(16, 4), 2.7e6)] {
        let counted = cfg.param_count(3, 10).unwrap();
        assert!((counted as f64 / published - 1.0).abs() < 0.02, "{}: {counted} vs {published}", cfg.name());
        let built: Model<Train> = cfg.build(3, 10, &Default::default()).unwrap();
        assert_eq!(trainable_params(&built), counted, "{}", cfg.name());
    }
    // Hand count of ResNet-8 for one input channel and 7 classes: stem 144 + 32, stage 1 4672,
    // stage 2 13,952 + 512 + 64 (shortcut), stage 3 55,552 + 2048 + 128, classifier 455.
    assert_eq!(resnet(8).param_count(1, 7), Some(77_559));
    for cfg in [resnet(8), resnet(14), wrn(10, 1), wrn(10, 3), ModelConfig::Wrn { depth: 16, widen: 1, dropout: 0.3 }] {
        let built: Model<Train> = cfg.build(1, 7, &Default::default()).unwrap();
        assert_eq!(Some(trainable_params(&built)), cfg.param_count(1, 7), "{}", cfg.name());
    }
}

/// A tiny trained-mode pass updates the running statistics, then the model moves to the inner backend.
fn evaluation_model(cfg: &ModelConfig) -> Model<Eval> {
    let model: Model<Train> = cfg.build(3, 5, &Default::default()).unwrap();
    for _ in 0..3 {
        let _ = model.forward(images(4, 3, 12).add_scalar(0.5));
    }
    model.valid()
}

#[test]
fn forward_from_each_stage_reproduces_the_logits_in_evaluation_mode() {
    for cfg in [resnet(14), wrn(10, 2)] {
        let model = evaluation_model(&cfg);
        let x = images::<Eval>(2, 3, 12);
        let features = model.forward_features(x.clone());
        assert!(max_abs_diff(model.forward(x), features.logits.clone()) < 1e-5, "{}", cfg.name());
        for (i, stage) in features.stages.iter().enumerate() {
            let resumed = model.forward_from(i, stage.last().unwrap().clone());
            let diff = max_abs_diff(resumed, features.logits.clone());
            assert!(diff < 1e-5, "{} stage {i}: {diff}", cfg.name());
        }
    }
}

#[test]
#[should_panic(expected = "stage 3 of a 3-stage network")]
fn forward_from_a_missing_stage_is_a_programming_error() {
    let model: Model<Eval> = resnet(8).build(1, 2, &Default::default()).unwrap();
    let _ = model.forward_from(3, images(1, 64, 2));
}

#[test]
fn configurations_round_trip_through_toml_and_are_named() {
    let dropout = ModelConfig::Wrn { depth: 28, widen: 10, dropout: 0.3 };
    for (cfg, name) in [(resnet(20), "resnet20"), (wrn(16, 4), "wrn16_4"), (dropout, "wrn28_10")] {
        let text = toml::to_string(&cfg).unwrap();
        assert_eq!(toml::from_str::<ModelConfig>(&text).unwrap(), cfg, "{text}");
        assert_eq!(cfg.name(), name);
        cfg.validate("student.model").unwrap();
    }
    assert_eq!(toml::to_string(&wrn(16, 4)).unwrap(), "kind = \"wrn\"\ndepth = 16\nwiden = 4\n");
    let parsed: ModelConfig = toml::from_str("kind = \"resnet\"\ndepth = 56\n").unwrap();
    assert_eq!(parsed, resnet(56));
}

#[test]
fn invalid_configurations_are_rejected_naming_the_field() {
    let message = |cfg: ModelConfig| cfg.validate("teacher.model").unwrap_err().to_string();
    assert_eq!(message(resnet(21)), "teacher.model.depth: 21 is not 6n+2 (8, 14, 20, 32, 44, 56, 110, ...)");
    assert!(message(resnet(2)).starts_with("teacher.model.depth: 2 is not 6n+2"));
    assert!(message(resnet(20_000)).starts_with("teacher.model.depth: 20000 is above"));
    assert!(message(wrn(20, 4)).starts_with("teacher.model.depth: 20 is not 6n+4 (10, 16,"));
    assert_eq!(message(wrn(16, 0)), "teacher.model.widen: must be at least 1");
    assert!(message(wrn(16, 1000)).starts_with("teacher.model.widen: 1000 is above"));
    let dropout = ModelConfig::Wrn { depth: 16, widen: 1, dropout: 1.0 };
    assert!(message(dropout).starts_with("teacher.model.dropout: 1"));
    for (text, needle) in [
        ("kind = \"vgg\"\ndepth = 16\n", "unknown variant `vgg`"),
        ("kind = \"resnet\"\ndepth = 20\nwiden = 2\n", "unknown field `widen`"),
        ("kind = \"wrn\"\ndepth = 16\n", "missing field `widen`"),
        ("depth = 20\n", "missing field `kind`"),
    ] {
        let err = toml::from_str::<ModelConfig>(text).unwrap_err().to_string();
        assert!(err.contains(needle), "{text}: {err}");
    }
    let build = |cfg: ModelConfig, classes| cfg.build::<Eval>(3, classes, &Default::default()).unwrap_err().to_string();
    assert!(build(resnet(9), 10).starts_with("model.depth: 9 is not 6n+2"));
    assert_eq!(build(resnet(8), 0), "classes: must be at least 1");
}

/// Sums |grad| of every trainable parameter, in visiting order (the stem convolution first).
struct GradNorms<'a> {
    grads: &'a <Train as burn::tensor::backend::AutodiffBackend>::Gradients,
    norms: Vec<Option<f32>>,
}

impl ModuleVisitor<Train> for GradNorms<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<Train, D>>) {
        if param.is_require_grad() {
            self.norms.push(param.val().grad(self.grads).map(|g| g.abs().sum().into_scalar().elem()));
        }
    }
}

#[test]
fn gradients_reach_every_parameter_from_the_logits() {
    Train::seed(&Default::default(), 7);
    let dropout = ModelConfig::Wrn { depth: 10, widen: 1, dropout: 0.3 };
    for cfg in [resnet(8), wrn(10, 1), dropout] {
        let model: Model<Train> = cfg.build(1, 3, &Default::default()).unwrap();
        let logits = model.forward(images(2, 1, 8));
        let weights = logits.random_like(Distribution::Normal(0.0, 1.0));
        let grads = (logits * weights).sum().backward();
        let mut visitor = GradNorms { grads: &grads, norms: Vec::new() };
        model.visit(&mut visitor);
        assert!(visitor.norms.iter().all(Option::is_some), "{}: a parameter has no gradient", cfg.name());
        assert!(visitor.norms[0].unwrap() > 0.0, "{}: the stem has a zero gradient", cfg.name());
    }
}

#[test]
fn dropout_acts_in_training_only() {
    let device = Default::default();
    let model: Model<Train> = ModelConfig::Wrn { depth: 10, widen: 1, dropout: 0.5 }.build(1, 3, &device).unwrap();
    let x = images::<Train>(2, 1, 8);
    assert!(max_abs_diff(model.forward(x.clone()), model.forward(x)) > 1e-6);
    // The same weights without dropout give the same evaluation logits: dropout is off there.
    let plain: Model<Eval> = wrn(10, 1).build(1, 3, &device).unwrap();
    let eval = model.valid();
    let plain = plain.load_record(eval.clone().into_record());
    let x = images::<Eval>(2, 1, 8);
    assert_eq!(max_abs_diff(eval.forward(x.clone()), plain.forward(x)), 0.0);
}

#[test]
fn a_frozen_model_behaves_as_in_evaluation_and_passes_gradients_to_its_input() {
    for cfg in [resnet(8), ModelConfig::Wrn { depth: 10, widen: 1, dropout: 0.5 }] {
        let model: Model<Train> = cfg.build(1, 3, &Default::default()).unwrap();
        let _ = model.forward(images(4, 1, 8).add_scalar(1.0)); // moves the running statistics
        let frozen = model.no_grad().into_frozen();
        let x = images::<Train>(2, 1, 8).require_grad();
        let before = frozen.valid().forward(x.clone().inner());
        let logits = frozen.forward(x.clone());
        assert!(max_abs_diff(logits.clone().inner(), before.clone()) < 1e-5, "{}", cfg.name());
        let grads = logits.sum().backward();
        assert!(x.grad(&grads).unwrap().abs().sum().into_scalar().elem::<f32>() > 0.0, "{}", cfg.name());
        let after = frozen.valid().forward(x.inner());
        assert_eq!(max_abs_diff(after, before), 0.0, "{}: a frozen forward moved the statistics", cfg.name());
    }
}
