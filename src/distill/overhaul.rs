//! The overhaul feature loss of Heo et al. 2019 as PkuDavidGuan/Distillation's `MarginReLULoss` computes
//! it: the partial L2 of every position summed over elements, position `i` of `n` weighted
//! `1 / 2^(n - i - 1)`, the sum divided by the batch size. The objective's weight (the reference's 1e-3)
//! is the caller's.

use burn::tensor::{Tensor, backend::Backend};

/// The partial L2 between `[n, c, h, w]` student and teacher pre-activation features, summed over all
/// elements, as `[1]`; `margin: [c]` is the teacher's per-channel margin (non-positive, from
/// [`super::overhaul_margin`]). Each element contributes
/// - `(S - m)^2` where `S > m` and `T <= m`,
/// - `(S - T)^2` where `S > T` and `m < T <= 0`,
/// - `(S - T)^2` where `T > 0`,
///
/// and nothing elsewhere (a student already below a non-positive target is not penalised).
///
/// # Panics
/// If the shapes differ or `margin` does not have one value per channel (a programming error).
pub fn partial_l2_sum<B: Backend>(student: Tensor<B, 4>, teacher: Tensor<B, 4>, margin: Tensor<B, 1>) -> Tensor<B, 1> {
    assert_eq!(student.dims(), teacher.dims(), "partial_l2_sum: student and teacher features differ in shape");
    let [n, c, h, w] = student.dims();
    assert_eq!(margin.dims(), [c], "partial_l2_sum: the margin needs one value per channel");
    let margin = margin.reshape([1, c, 1, 1]).expand([n, c, h, w]); // [n, c, h, w]
    let below_margin = student.clone().greater(margin.clone()).bool_and(teacher.clone().lower_equal(margin.clone()));
    let between = student
        .clone()
        .greater(teacher.clone())
        .bool_and(teacher.clone().greater(margin.clone()))
        .bool_and(teacher.clone().lower_equal_elem(0.0));
    let positive = teacher.clone().greater_elem(0.0);
    let to_margin = (student.clone() - margin).square().mask_fill(below_margin.bool_not(), 0.0);
    let to_teacher = (student - teacher).square().mask_fill(between.bool_or(positive).bool_not(), 0.0);
    (to_margin + to_teacher).sum()
}

/// `sum_i partial_l2_sum(students[i], teachers[i], margins[i]) / 2^(n - i - 1) / batch` over the `n`
/// positions (the last weighs 1, the one before 1/2, ...), as `[1]`.
///
/// # Panics
/// If the three lists differ in length or are empty (a programming error).
pub fn overhaul_loss<B: Backend>(
    students: &[Tensor<B, 4>],
    teachers: &[Tensor<B, 4>],
    margins: &[Tensor<B, 1>],
) -> Tensor<B, 1> {
    let n = students.len();
    assert!(
        n > 0 && teachers.len() == n && margins.len() == n,
        "overhaul_loss: one student, teacher and margin per position"
    );
    let batch = students[0].dims()[0] as f64;
    students
        .iter()
        .zip(teachers)
        .zip(margins)
        .enumerate()
        .map(|(i, ((s, t), m))| {
            partial_l2_sum(s.clone(), t.clone(), m.clone()).div_scalar(2f64.powi((n - i - 1) as i32))
        })
        .reduce(|a, b| a + b)
        .expect("checked non-empty")
        .div_scalar(batch)
}
