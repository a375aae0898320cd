//! The `causal1d` op family and the NextItNet teacher: causality of every op and of the teacher (no
//! output before t moves when inputs after t change, some output after t does), shapes, the causal
//! conv and pools against brute-force references, parameter counts and FLOPs against the catalogue
//! and hand counts, ReZero's identity at initialisation, padding and the configuration's checks.

use burn::backend::{Autodiff, Flex};
use burn::module::{AutodiffModule, Module, ModuleMapper, ModuleVisitor, Param};
use burn::tensor::backend::Backend;
use burn::tensor::{Distribution, ElementConversion, Int, Tensor, TensorData};
use kdnas::metrics::trainable_params;
use kdnas::models::nextitnet::{NextItNet, NextItNetConfig};
use kdnas::ops::catalogue::{Catalogue, ZERO_OP};
use kdnas::ops::causal1d::Op1d;
use kdnas::ops::causal1d::causality::{change_around, splice_after};
use kdnas::ops::causal1d::conv::CausalConv1d;
use kdnas::ops::causal1d::family::causal1d_conv;
use kdnas::ops::{CandidateOp, OpMode};

/// Forward-only backend: BatchNorm uses its running statistics.
type Eval = Flex;
/// Training backend: BatchNorm uses batch statistics.
type Train = Autodiff<Flex>;

const MODES: [OpMode; 2] = [OpMode::Search, OpMode::Derived];

fn normal<B: Backend, const D: usize>(shape: [usize; D]) -> Tensor<B, D> {
    Tensor::random(shape, Distribution::Normal(0.0, 1.0), &Default::default())
}

fn build<B: Backend>(op: &str, channels: usize, mode: OpMode) -> Op1d<B> {
    Op1d::build(op, channels, 1, mode, &Default::default()).unwrap()
}

fn values<B: Backend, const D: usize>(t: Tensor<B, D>) -> Vec<f32> {
    t.into_data().convert::<f32>().into_vec().unwrap()
}

fn max_abs_diff<B: Backend, const D: usize>(a: Tensor<B, D>, b: Tensor<B, D>) -> f32 {
    (a - b).abs().max().into_scalar().elem()
}

/// Asserts that `f` on `[batch, channels, time]` features is causal: for several t, replacing the
/// inputs after t leaves outputs up to t unchanged and (when `must_react`) moves some output after t.
fn assert_causal_map<B: Backend>(what: &str, must_react: bool, f: impl Fn(Tensor<B, 3>) -> Tensor<B, 3>) {
    let (x, other) = (normal::<B, 3>([2, 4, 9]), normal::<B, 3>([2, 4, 9]));
    // At least three positions follow every t, so the window of the last output is all new.
    for t in [0, 3, 5] {
        let change = change_around(f(x.clone()), f(splice_after(x.clone(), other.clone(), 2, t)), 2, t);
        assert!(change.past <= 1e-6, "{what}: output at <= {t} moved by {} after a later change", change.past);
        assert!(!must_react || change.future > 1e-4, "{what}: no output after {t} reacts ({change:?})");
    }
}

/// Every op of the family except `none` (which is never built).
fn built_ops() -> Vec<&'static str> {
    Catalogue::CAUSAL1D.ops().into_iter().filter(|op| *op != ZERO_OP).collect()
}

#[test]
fn every_op_is_causal_in_evaluation_in_both_modes() {
    for mode in MODES {
        for op in built_ops() {
            let built = build::<Eval>(op, 4, mode);
            assert_causal_map::<Eval>(&format!("{op} ({mode:?})"), true, |x| built.forward(x));
        }
        assert_causal_map::<Eval>("none", false, |x| Op1d::<Eval>::zeros(&x, 1));
    }
}

#[test]
fn only_the_batch_norm_ops_see_the_future_in_training() {
    for op in built_ops() {
        let built = build::<Train>(op, 4, OpMode::Search);
        let uses_batch_norm = causal1d_conv(op).is_some_and(|spec| spec.batch_norm);
        if uses_batch_norm {
            // Batch statistics are taken over every position (as AdaRec's nn.BatchNorm1d in training).
            let (x, other) = (normal::<Train, 3>([2, 4, 9]), normal::<Train, 3>([2, 4, 9]));
            let change = change_around(built.forward(x.clone()), built.forward(splice_after(x, other, 2, 3)), 2, 3);
            assert!(change.past > 1e-4, "{op}: batch statistics should mix positions ({change:?})");
        } else {
            assert_causal_map::<Train>(&format!("{op} (training)"), true, |x| built.forward(x));
        }
    }
}

#[test]
fn every_op_keeps_the_feature_shape() {
    for mode in MODES {
        for op in built_ops() {
            let built = build::<Eval>(op, 3, mode);
            for time in [1, 2, 11] {
                assert_eq!(built.forward(normal([2, 3, time])).dims(), [2, 3, time], "{op} at length {time}");
            }
            assert_eq!(built.is_identity(), op == "skip_connect");
        }
    }
    let zeros = Op1d::<Eval>::zeros(&normal([2, 3, 5]), 1);
    assert_eq!((zeros.dims(), values(zeros).iter().all(|v| *v == 0.0)), ([2, 3, 5], true));
}

#[test]
fn strides_and_unknown_ops_are_usage_errors() {
    let dev = Default::default();
    let err = Op1d::<Eval>::build("std_cnn_3", 4, 2, OpMode::Search, &dev).unwrap_err().to_string();
    assert!(err.contains("stride 2") && err.contains("std_cnn_3"), "{err}");
    let err = Op1d::<Eval>::build("sep_conv_3x3", 4, 1, OpMode::Search, &dev).unwrap_err().to_string();
    assert!(err.contains("`sep_conv_3x3`") && err.contains("causal1d"), "{err}");
    assert!(Op1d::<Eval>::build(ZERO_OP, 4, 1, OpMode::Search, &dev).is_err());
}

#[test]
fn the_causal_conv_matches_a_brute_force_reference() {
    let (c_in, c_out, kernel, dilation, time) = (2, 3, 3, 2, 7);
    let conv = CausalConv1d::<Eval>::new(c_in, c_out, kernel, dilation, &Default::default());
    let x = normal::<Eval, 3>([1, c_in, time]);
    let got = values(conv.forward(x.clone()));
    let (w, b, xs) = (values(conv.weight.val()), values(conv.bias.val()), values(x));
    for o in 0..c_out {
        for t in 0..time {
            let mut expected = b[o];
            for i in 0..c_in {
                for j in 0..kernel {
                    // Tap j reads position t - (kernel - 1 - j) * dilation; earlier positions are zeros.
                    if let Some(s) = t.checked_sub((kernel - 1 - j) * dilation) {
                        expected += w[(o * c_in + i) * kernel + j] * xs[i * time + s];
                    }
                }
            }
            let actual = got[o * time + t];
            assert!((actual - expected).abs() < 1e-5, "out[{o}, {t}] = {actual}, expected {expected}");
        }
    }
}

#[test]
fn causal_pools_cover_the_existing_positions_of_the_last_three() {
    let x = Tensor::<Eval, 3>::from_data(
        TensorData::new(vec![-1.0f32, -5.0, 2.0, -4.0, -3.0], [1, 1, 5]),
        &Default::default(),
    );
    let pool = |op| values(build::<Eval>(op, 1, OpMode::Derived).forward(x.clone()));
    // Padded positions never win the max (a zero padding would give 0 at t = 0, 1) ...
    assert_eq!(pool("max_pool"), vec![-1.0, -1.0, 2.0, 2.0, 2.0]);
    // ... and are not counted in the mean.
    let expected = [-1.0, -3.0, -4.0 / 3.0, -7.0 / 3.0, -5.0 / 3.0];
    for (got, want) in pool("avg_pool").iter().zip(expected) {
        assert!((got - want).abs() < 1e-6, "avg_pool: {got} vs {want}");
    }
}

/// The input gradients of both causal pools against central differences of sum(pool(x) * r), on inputs
/// 0.1 apart (a step of 0.01 never changes which input a max picks, so the max is linear there too).
#[test]
fn causal_pool_input_gradients_match_finite_differences() {
    let shape = [2, 3, 6];
    let n = shape.iter().product::<usize>();
    let base: Vec<f32> = (0..n).map(|i| ((i * 7) % n) as f32 * 0.1 - 1.0).collect(); // distinct, 0.1 apart
    let tensor =
        |values: &[f32]| Tensor::<Train, 3>::from_data(TensorData::new(values.to_vec(), shape), &Default::default());
    let probe: Tensor<Train, 3> = normal(shape);
    for op in ["max_pool", "avg_pool"] {
        let pool = build::<Train>(op, 3, OpMode::Derived);
        let loss = |x: Tensor<Train, 3>| (pool.forward(x) * probe.clone()).sum();
        let x = tensor(&base).require_grad();
        let grads = loss(x.clone()).backward();
        let analytic = values(x.grad(&grads).unwrap());
        let h = 0.01f32;
        for i in 0..n {
            let (mut plus, mut minus) = (base.clone(), base.clone());
            plus[i] += h;
            minus[i] -= h;
            let (up, down): (f32, f32) =
                (loss(tensor(&plus)).into_scalar().elem(), loss(tensor(&minus)).into_scalar().elem());
            let numeric = (up - down) / (2.0 * h);
            assert!(
                (numeric - analytic[i]).abs() < 2e-3,
                "{op}: d/dx[{i}] = {} analytic, {numeric} numeric",
                analytic[i]
            );
        }
    }
}

#[test]
fn catalogue_counts_equal_the_built_ops() {
    let channels = 5;
    for mode in MODES {
        for op in built_ops() {
            let built = build::<Train>(op, channels, mode);
            let counted = Catalogue::CAUSAL1D.param_count(op, channels, 1, mode.affine()).unwrap();
            assert_eq!(trainable_params(&built), counted, "{op} ({mode:?})");
            // num_params() also counts BatchNorm's running mean and variance.
            let running = if causal1d_conv(op).is_some_and(|s| s.batch_norm) { 2 * channels } else { 0 };
            assert_eq!(built.num_params(), counted + running, "{op} ({mode:?})");
        }
    }
    // dil_cnn_5 at 4 channels over 6 steps: 5 taps x 4 inputs per output, 4 outputs, 6 positions.
    assert_eq!(Catalogue::CAUSAL1D.flops("dil_cnn_5", 4, 1, 6), Some(5 * 4 * 4 * 6));
}

/// Sets every one-element parameter (the blocks' ReZero alphas) to `value`.
struct SetAlphas(f32);

impl<B: Backend> ModuleMapper<B> for SetAlphas {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
        let (id, tensor, mapper) = param.consume();
        let tensor = if tensor.shape().num_elements() == 1 { tensor.ones_like().mul_scalar(self.0) } else { tensor };
        Param::from_mapped_value(id, tensor, mapper)
    }
}

fn small_config() -> NextItNetConfig {
    NextItNetConfig { dim: 8, blocks: 3, dilations: vec![1, 4], kernel: 3, dropout: 0.0 }
}

fn random_items<B: Backend>(items: usize, shape: [usize; 2]) -> Tensor<B, 2, Int> {
    Tensor::random(shape, Distribution::Uniform(1.0, items as f64 + 1.0), &Default::default())
}

#[test]
fn nextitnet_shapes_and_the_last_position() {
    let net: NextItNet<Eval> = small_config().build(20, &Default::default()).unwrap();
    let items = random_items::<Eval>(20, [2, 7]);
    let features = net.forward_features(items.clone());
    assert_eq!(features.embedding.dims(), [2, 7, 8]);
    assert_eq!(features.hidden.len(), 3);
    assert!(features.hidden.iter().all(|h| h.dims() == [2, 7, 8]));
    assert_eq!(features.logits.dims(), [2, 7, 21]);
    assert!(max_abs_diff(features.logits.clone(), net.forward(items.clone())) == 0.0);
    let last = features.logits.narrow(1, 6, 1).reshape([2, 21]);
    assert!(max_abs_diff(net.forward_last(items), last) < 1e-5);
    let dilations: Vec<usize> = NextItNetConfig { blocks: 5, ..small_config() }.block_dilations();
    assert_eq!(dilations, vec![1, 4, 1, 4, 1]);
}

#[test]
fn nextitnet_counts_match_the_hand_formula() {
    // 20 items + padding, dim 8, 3 blocks of kernel 3: embedding 21*8 = 168; per block two convs
    // (3*8*8 + 8) = 400, two LayerNorms 32 and alpha 1 = 433; output 8*21 + 21 = 189.
    let expected = 168 + 3 * 433 + 189;
    assert_eq!(small_config().param_count(20), expected as u128);
    let net: NextItNet<Train> = small_config().build(20, &Default::default()).unwrap();
    assert_eq!((trainable_params(&net), net.num_params()), (expected, expected));
}

#[test]
fn a_fresh_nextitnet_block_is_the_identity() {
    let net: NextItNet<Eval> = small_config().build(20, &Default::default()).unwrap();
    let items = random_items::<Eval>(20, [2, 6]);
    let fresh = net.forward_features(items.clone());
    assert!(net.blocks().iter().all(|b| values(b.alpha.val()) == vec![0.0]));
    for hidden in &fresh.hidden {
        assert!(max_abs_diff(hidden.clone(), fresh.embedding.clone()) == 0.0);
    }
    // The same check fails once alpha moves: the blocks do compute something.
    let moved = net.map(&mut SetAlphas(0.5)).forward_features(items);
    assert!(max_abs_diff(moved.hidden[0].clone(), moved.embedding) > 1e-3);
}

#[test]
fn nextitnet_is_causal() {
    let net: NextItNet<Eval> = small_config().build(20, &Default::default()).unwrap().map(&mut SetAlphas(0.5));
    let items = random_items::<Eval>(20, [2, 12]);
    let other = items.clone().neg().add_scalar(21); // a different item at every position
    for t in [0, 5, 9] {
        let before = net.forward_features(items.clone());
        let after = net.forward_features(splice_after(items.clone(), other.clone(), 1, t));
        let pairs = before.hidden.into_iter().zip(after.hidden).chain([(before.logits, after.logits)]);
        for (i, (b, a)) in pairs.enumerate() {
            let change = change_around(b, a, 1, t);
            assert!(change.past <= 1e-6, "output {i} at <= {t} moved by {}", change.past);
            assert!(change.future > 1e-4, "output {i}: nothing after {t} reacts");
        }
    }
}

/// Reads the gradient of the `[rows, dim]` parameter (the item embedding).
struct RowGrad<'a> {
    rows: usize,
    grads: &'a <Train as burn::tensor::backend::AutodiffBackend>::Gradients,
    grad: Option<Vec<f32>>,
}

impl ModuleVisitor<Train> for RowGrad<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<Train, D>>) {
        if D == 2 && param.dims()[0] == self.rows {
            self.grad = param.grad(self.grads).map(values);
        }
    }
}

#[test]
fn padding_embeds_to_zero_and_gets_no_gradient() {
    let net: NextItNet<Train> = small_config().build(20, &Default::default()).unwrap().map(&mut SetAlphas(0.5));
    let items =
        Tensor::<Train, 2, Int>::from_data(TensorData::new(vec![0i32, 0, 3, 7, 0, 5], [2, 3]), &Default::default());
    let embedded = values(net.embed(items.clone()));
    assert!(embedded[..16].iter().all(|v| *v == 0.0) && embedded[16..24].iter().any(|v| *v != 0.0));
    let grads = net.forward(items).sum().backward();
    let mut find = RowGrad { rows: 21, grads: &grads, grad: None };
    net.visit(&mut find);
    let grad = find.grad.expect("the embedding has a gradient");
    assert!(grad[..8].iter().all(|v| *v == 0.0), "padding row got a gradient");
    assert!(grad[3 * 8..4 * 8].iter().any(|v| *v != 0.0), "item 3 got no gradient");
}

#[test]
fn the_configuration_is_checked_with_field_names() {
    let parsed: NextItNetConfig = toml::from_str("dim = 64").unwrap();
    assert_eq!(parsed, NextItNetConfig { dim: 64, ..NextItNetConfig::default() });
    assert_eq!(NextItNetConfig::default().block_dilations().len(), 16);
    assert!(toml::from_str::<NextItNetConfig>("dims = 64").unwrap_err().to_string().contains("dims"));
    let bad = |cfg: NextItNetConfig| cfg.validate("teacher.model").unwrap_err().to_string();
    assert_eq!(
        bad(NextItNetConfig { dilations: vec![1, 0], ..small_config() }),
        "teacher.model.dilations[1]: must be at least 1"
    );
    assert_eq!(bad(NextItNetConfig { dim: 0, ..small_config() }), "teacher.model.dim: must be at least 1");
    assert!(bad(NextItNetConfig { dilations: vec![], ..small_config() }).starts_with("teacher.model.dilations:"));
    assert!(bad(NextItNetConfig { dilations: vec![usize::MAX], ..small_config() }).contains("overflow"));
    assert!(small_config().build::<Eval>(0, &Default::default()).is_err());
}

#[test]
fn a_causal1d_space_parses_and_rejects_reduction_cells_and_second_inputs() {
    let space = |reduction: &str| {
        let lines = [
            "name = \"adarec\"",
            "catalogue = \"causal1d\"",
            "[[cell]]",
            "name = \"seq\"",
            reduction,
            "inputs = [\"a\"]",
            "[[cell.node]]",
            "name = \"n\"",
            "from = [\"a\"]",
            "ops = [\"cau_cnn_3\", \"max_pool\", \"none\", \"dil_cnn_7\"]",
        ];
        lines.join("\n")
    };
    let parsed = kdnas::space::parse_space(&space(""), std::path::Path::new("s.toml")).unwrap();
    assert_eq!(parsed.catalogue, Catalogue::CAUSAL1D);
    let err =
        kdnas::space::parse_space(&space("reduction = true"), std::path::Path::new("s.toml")).unwrap_err().to_string();
    assert!(err.starts_with("s.toml:4:") && err.contains("cell[0].reduction"), "{err}");
    let err = kdnas::space::parse_space(&space("").replace("max_pool", "max_pool_3x3"), std::path::Path::new("s.toml"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("unknown op `max_pool_3x3`"), "{err}");
    let two_inputs = space("").replace("inputs = [\"a\"]", "inputs = [\"a\", \"b\"]");
    let err = kdnas::space::parse_space(&two_inputs, std::path::Path::new("s.toml")).unwrap_err().to_string();
    assert!(
        err.contains("cell[0].inputs`: causal1d cells take the previous cell's output: expected 1 inputs, found 2"),
        "{err}"
    );
}

/// The time-major conv (one matrix product over delayed copies) equals the channels-first conv in value
/// and in every gradient, including a dilation whose reach exceeds the sequence.
#[test]
fn time_major_conv_equals_the_channels_first_conv_with_its_gradients() {
    for (kernel, dilation, time) in [(3, 1, 7), (5, 2, 9), (3, 4, 5), (2, 8, 6)] {
        let conv = CausalConv1d::<Train>::new(4, 6, kernel, dilation, &Default::default());
        let x: Tensor<Train, 3> = normal::<Train, 3>([2, time, 4]).require_grad(); // [batch, time, c_in]
        let probe: Tensor<Train, 3> = normal([2, time, 6]);
        let run = |time_major: bool| {
            let out = match time_major {
                true => conv.forward_time_major(x.clone()),
                false => conv.forward(x.clone().swap_dims(1, 2)).swap_dims(1, 2),
            }; // [batch, time, c_out]
            let mut grads = (out.clone() * probe.clone()).sum().backward();
            let dx = x.clone().grad_remove(&mut grads).unwrap();
            let dw = conv.weight.val().grad_remove(&mut grads).unwrap();
            (out.inner(), dx, dw, conv.bias.val().grad_remove(&mut grads).unwrap())
        };
        let (out_a, dx_a, dw_a, db_a) = run(true);
        let (out_b, dx_b, dw_b, db_b) = run(false);
        let what = format!("kernel {kernel}, dilation {dilation}, time {time}");
        assert!(max_abs_diff(out_a, out_b) < 1e-5, "{what}: outputs differ");
        assert!(max_abs_diff(dx_a, dx_b) < 1e-5, "{what}: input gradients differ");
        assert!(max_abs_diff(dw_a, dw_b) < 1e-4, "{what}: weight gradients differ");
        assert!(max_abs_diff(db_a, db_b) < 1e-4, "{what}: bias gradients differ");
    }
}

#[test]
fn nextitnet_dropout_acts_in_training_only_and_keeps_the_record() {
    let config = NextItNetConfig { dropout: 0.5, ..small_config() };
    let items = random_items::<Eval>(20, [2, 7]);
    let train: NextItNet<Train> = config.build(20, &Default::default()).unwrap();
    let items_train = Tensor::<Train, 2, Int>::from_data(items.to_data(), &Default::default());
    let (a, b) = (train.forward(items_train.clone()), train.forward(items_train));
    assert!(max_abs_diff(a.inner(), b.inner()) > 0.0, "two training passes draw different masks");
    let eval = train.valid();
    assert!(max_abs_diff(eval.forward(items.clone()), eval.forward(items)) == 0.0, "no dropout in evaluation");
    let plain: NextItNet<Train> = small_config().build(20, &Default::default()).unwrap();
    assert_eq!(plain.num_params(), config.build::<Train>(20, &Default::default()).unwrap().num_params());
    let text = toml::to_string(&small_config()).unwrap();
    assert!(!text.contains("dropout"), "a config without dropout serialises as before: {text}");
}
