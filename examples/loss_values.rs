//! Prints kdnas's distillation losses for tensors read from standard input, so that an outside
//! reference (bench/crosscheck/losses.py, torchdistill) can be compared with them.
//!
//! Usage: `cargo run --release --example loss_values < case.json`. The input is one JSON object:
//!
//! ```json
//! {
//!   "temperature": 4.0, "p": 2.0,
//!   "student_logits": {"shape": [8, 10], "data": [...]}, "teacher_logits": {...},
//!   "features": [{"student": {"shape": [n, c, h, w], "data": [...]}, "teacher": {...}}],
//!   "attention": [{"student": {...}, "teacher": {...}}],
//!   "margin": [...], "bn_mean": [...], "bn_std": [...],
//!   "overhaul": [{"student": {...}, "teacher": {...}, "bn_shift": [...], "bn_scale": [...]}]
//! }
//! ```
//!
//! Tensors are flat row-major f32 data with their shape. `features` pairs have equal shapes and feed
//! `feature_l2` and `margin_l2` (with the per-channel `margin`); `attention` pairs may differ in channels
//! and feed `attention_loss` with `p`; `bn_mean`/`bn_std` feed `overhaul_margin`. The output is one JSON
//! object with `kd_loss`, `feature_l2`, `margin_l2` and `attention_loss` (one value per pair),
//! `attention_map_student`/`attention_map_teacher` (flat maps of the first attention pair) and
//! `overhaul_margin`, every value an f32 widened to f64 exactly. `overhaul` (optional) lists the positions
//! of a whole overhaul objective, each with the teacher BatchNorm's shift and scale per channel: the output's
//! `overhaul_objective` is `kind = "overhaul"`'s default weight times `overhaul_loss` on them with the
//! margins `overhaul_margin(bn_shift, bn_scale)` (absent without positions).

use std::error::Error;
use std::io::Read;

use burn::backend::Flex;
use burn::backend::flex::FlexDevice;
use burn::tensor::{Tensor, TensorData};
use kdnas::distill::{attention_loss, attention_map, feature_l2, kd_loss, margin_l2, overhaul_loss, overhaul_margin};
use kdnas::tasks::dfa::objectives::Objective;
use serde::{Deserialize, Serialize};

type B = Flex;

/// A row-major f32 tensor as it travels in JSON.
#[derive(Deserialize, Clone)]
struct Flat {
    shape: Vec<usize>,
    data: Vec<f32>,
}

/// A student/teacher pair of feature maps.
#[derive(Deserialize)]
struct Pair {
    student: Flat,
    teacher: Flat,
}

/// One position of the overhaul objective: the connected student and the teacher pre-activation
/// features and the teacher BatchNorm's affine parameters.
#[derive(Deserialize)]
struct Position {
    student: Flat,
    teacher: Flat,
    bn_shift: Vec<f32>,
    bn_scale: Vec<f32>,
}

/// The whole input document.
#[derive(Deserialize)]
struct Case {
    temperature: f64,
    p: f64,
    student_logits: Flat,
    teacher_logits: Flat,
    features: Vec<Pair>,
    attention: Vec<Pair>,
    margin: Vec<f32>,
    bn_mean: Vec<f32>,
    bn_std: Vec<f32>,
    #[serde(default)]
    overhaul: Vec<Position>,
}

/// kdnas's values for one [`Case`].
#[derive(Serialize)]
struct Values {
    kd_loss: f64,
    feature_l2: Vec<f64>,
    margin_l2: Vec<f64>,
    attention_loss: Vec<f64>,
    attention_map_student: Vec<f64>,
    attention_map_teacher: Vec<f64>,
    overhaul_margin: Vec<f64>,
    overhaul_objective: Option<f64>,
}

fn main() -> Result<(), Box<dyn Error>> {
    let mut input = String::new();
    std::io::stdin().read_to_string(&mut input)?;
    let case: Case = serde_json::from_str(&input)?;
    let values = evaluate(&case)?;
    println!("{}", serde_json::to_string(&values)?);
    Ok(())
}

/// Runs every loss of the case, checking the shapes first so that bad input is an error, not a panic.
fn evaluate(case: &Case) -> Result<Values, Box<dyn Error>> {
    let student = tensor::<2>(&case.student_logits, "student_logits")?; // [n, classes]
    let teacher = tensor::<2>(&case.teacher_logits, "teacher_logits")?; // [n, classes]
    same_shape(&case.student_logits, &case.teacher_logits, "logits")?;
    let kd = scalar(kd_loss(student, teacher, case.temperature));

    let (mut feature, mut margin) = (Vec::new(), Vec::new());
    for (i, pair) in case.features.iter().enumerate() {
        let (s, t) = feature_pair(pair, &format!("features[{i}]"))?; // [n, c, h, w] each
        same_shape(&pair.student, &pair.teacher, &format!("features[{i}]"))?;
        if case.margin.len() != pair.teacher.shape[1] {
            return Err(format!("margin: {} values for {} channels", case.margin.len(), pair.teacher.shape[1]).into());
        }
        let m = Tensor::<B, 1>::from_data(TensorData::new(case.margin.clone(), [case.margin.len()]), &device());
        feature.push(scalar(feature_l2(s.clone(), t.clone())));
        margin.push(scalar(margin_l2(s, t, m)));
    }

    let (mut attention, mut maps) = (Vec::new(), None);
    for (i, pair) in case.attention.iter().enumerate() {
        let (s, t) = feature_pair(pair, &format!("attention[{i}]"))?; // [n, c, h, w], channels may differ
        let (ss, ts) = (&pair.student.shape, &pair.teacher.shape);
        if (ss[0], ss[2], ss[3]) != (ts[0], ts[2], ts[3]) {
            return Err(format!("attention[{i}]: batch or spatial sizes differ: {ss:?} vs {ts:?}").into());
        }
        if maps.is_none() {
            maps = Some((values(attention_map(s.clone(), case.p)), values(attention_map(t.clone(), case.p))));
        }
        attention.push(scalar(attention_loss(s, t, case.p)));
    }
    let (attention_map_student, attention_map_teacher) = maps.unwrap_or_default();

    if case.bn_mean.len() != case.bn_std.len() {
        return Err(format!("bn_mean has {} values, bn_std {}", case.bn_mean.len(), case.bn_std.len()).into());
    }
    let overhaul = overhaul_margin(&case.bn_mean, &case.bn_std).into_iter().map(f64::from).collect();
    let overhaul_objective = if case.overhaul.is_empty() { None } else { Some(objective(&case.overhaul)?) };
    Ok(Values {
        kd_loss: kd,
        feature_l2: feature,
        margin_l2: margin,
        attention_loss: attention,
        attention_map_student,
        attention_map_teacher,
        overhaul_margin: overhaul,
        overhaul_objective,
    })
}

/// The weighted overhaul objective over `positions` (weight: `kind = "overhaul"`'s default).
fn objective(positions: &[Position]) -> Result<f64, Box<dyn Error>> {
    let weight = toml::from_str::<Objective>("kind = \"overhaul\"")?.weight();
    let (mut students, mut teachers, mut margins) = (Vec::new(), Vec::new(), Vec::new());
    for (i, position) in positions.iter().enumerate() {
        let pair = Pair { student: position.student.clone(), teacher: position.teacher.clone() };
        same_shape(&pair.student, &pair.teacher, &format!("overhaul[{i}]"))?;
        let (s, t) = feature_pair(&pair, &format!("overhaul[{i}]"))?; // [n, c, h, w] each
        let channels = pair.teacher.shape[1];
        if position.bn_shift.len() != channels || position.bn_scale.len() != channels {
            return Err(format!("overhaul[{i}]: bn_shift and bn_scale need {channels} values each").into());
        }
        let margin = overhaul_margin(&position.bn_shift, &position.bn_scale);
        margins.push(Tensor::<B, 1>::from_data(TensorData::new(margin, [channels]), &device()));
        students.push(s);
        teachers.push(t);
    }
    Ok(weight * scalar(overhaul_loss(&students, &teachers, &margins)))
}

/// The backend's (only) device.
fn device() -> FlexDevice {
    FlexDevice
}

/// Builds a rank-`D` tensor from `flat`, checking its rank and element count.
fn tensor<const D: usize>(flat: &Flat, name: &str) -> Result<Tensor<B, D>, Box<dyn Error>> {
    let shape: [usize; D] =
        flat.shape.as_slice().try_into().map_err(|_| format!("{name}: shape {:?} is not of rank {D}", flat.shape))?;
    let count: usize = shape.iter().product();
    if count != flat.data.len() {
        return Err(format!("{name}: shape {shape:?} needs {count} values, got {}", flat.data.len()).into());
    }
    Ok(Tensor::from_data(TensorData::new(flat.data.clone(), shape), &device()))
}

/// The two rank-4 tensors of a pair.
fn feature_pair(pair: &Pair, name: &str) -> Result<(Tensor<B, 4>, Tensor<B, 4>), Box<dyn Error>> {
    Ok((
        tensor::<4>(&pair.student, &format!("{name}.student"))?,
        tensor::<4>(&pair.teacher, &format!("{name}.teacher"))?,
    ))
}

/// Fails unless the two tensors have the same shape.
fn same_shape(a: &Flat, b: &Flat, name: &str) -> Result<(), Box<dyn Error>> {
    if a.shape != b.shape {
        return Err(format!("{name}: student shape {:?} differs from teacher shape {:?}", a.shape, b.shape).into());
    }
    Ok(())
}

/// The single value of a `[1]` loss.
fn scalar(loss: Tensor<B, 1>) -> f64 {
    values(loss)[0]
}

/// All values of a tensor, widened to f64.
fn values<const D: usize>(t: Tensor<B, D>) -> Vec<f64> {
    t.into_data().iter::<f32>().map(f64::from).collect()
}
