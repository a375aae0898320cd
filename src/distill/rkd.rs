//! Relational knowledge distillation (Park et al. 2019, "Relational Knowledge Distillation"): the
//! student matches the teacher's distances between the examples of a batch (RKD-D) and the angles
//! their differences form (RKD-A), both through the smooth L1 (Huber, beta 1) loss, as mdistiller's and
//! RepDistiller's `rkd_loss` (distance weight 25, angle weight 50 on CIFAR-100).

use burn::tensor::{Tensor, TensorData, backend::Backend};

/// Clamp of squared distances and vector norms (mdistiller's `eps`, PyTorch's `F.normalize` eps).
const EPS: f64 = 1e-12;

/// `distance_weight * RKD-D + angle_weight * RKD-A` between the rows of `student: [n, d_s]` and
/// `teacher: [n, d_t]` (the batch's embeddings), as `[1]`; zero for a batch of fewer than 2 rows (no
/// relation). The teacher's side carries no gradient (it is detached here).
pub fn rkd_loss<B: Backend>(
    student: Tensor<B, 2>,
    teacher: Tensor<B, 2>,
    distance_weight: f64,
    angle_weight: f64,
) -> Tensor<B, 1> {
    let n = student.dims()[0];
    if n < 2 {
        return Tensor::zeros([1], &student.device());
    }
    let teacher = teacher.detach();
    let distance = smooth_l1_mean(normalised_distances(student.clone()), normalised_distances(teacher.clone()));
    let angle = smooth_l1_mean(angles(student), angles(teacher));
    distance.mul_scalar(distance_weight) + angle.mul_scalar(angle_weight)
}

/// Euclidean distances between the rows of `e: [n, d]`, `[n, n]` with a zero diagonal, divided by their
/// mean over the pairs `i != j` (RKD-D's potential).
fn normalised_distances<B: Backend>(e: Tensor<B, 2>) -> Tensor<B, 2> {
    let n = e.dims()[0];
    let squares = e.clone().powf_scalar(2.0).sum_dim(1); // [n, 1]
    let products = e.clone().matmul(e.transpose()); // [n, n]
    let squared = (squares.clone() + squares.transpose() - products.mul_scalar(2.0)).clamp_min(EPS); // [n, n]
    let off_diagonal: Vec<f32> = (0..n * n).map(|k| if k / n == k % n { 0.0 } else { 1.0 }).collect();
    let mask = Tensor::<B, 2>::from_data(TensorData::new(off_diagonal, [n, n]), &squared.device());
    let distances = squared.sqrt() * mask; // [n, n]
    let mean = distances.clone().sum().div_scalar((n * (n - 1)) as f64); // [1]
    distances / mean.reshape([1, 1])
}

/// `cos` of the angle at row `i` between rows `j` and `k` of `e: [n, d]`: `[n, n, n]`, entry
/// `(i, j, k) = <unit(e_j - e_i), unit(e_k - e_i)>` (RKD-A's potential).
fn angles<B: Backend>(e: Tensor<B, 2>) -> Tensor<B, 3> {
    let differences = e.clone().unsqueeze_dim::<3>(0) - e.unsqueeze_dim::<3>(1); // [n, n, d]: (i, j) = e_j - e_i
    // Clamped before the root (to EPS^2): the root's gradient at the zero rows (j = i) would be infinite.
    let norms = differences.clone().powf_scalar(2.0).sum_dim(2).clamp_min(EPS * EPS).sqrt(); // [n, n, 1]
    let units = differences / norms; // [n, n, d]
    units.clone().matmul(units.swap_dims(1, 2)) // [n, n, n]
}

/// PyTorch's `smooth_l1_loss(a, b)` (beta 1, mean over every element): `0.5 x^2` where `|x| < 1`,
/// `|x| - 0.5` elsewhere, `x = a - b`.
fn smooth_l1_mean<B: Backend, const D: usize>(a: Tensor<B, D>, b: Tensor<B, D>) -> Tensor<B, 1> {
    let x = (a - b).abs();
    let small = x.clone().lower_elem(1.0);
    let quadratic = x.clone().powf_scalar(2.0).mul_scalar(0.5);
    let linear = x.sub_scalar(0.5);
    linear.mask_where(small, quadratic).mean()
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::{Autodiff, Flex};
    use burn::tensor::ElementConversion;

    type B = Flex;
    type AB = Autodiff<Flex>;

    fn rows<Bk: Backend>(values: &[[f32; 2]]) -> Tensor<Bk, 2> {
        let flat: Vec<f32> = values.iter().flatten().copied().collect();
        Tensor::from_data(TensorData::new(flat, [values.len(), 2]), &Default::default())
    }

    fn value<Bk: Backend>(t: Tensor<Bk, 1>) -> f64 {
        t.into_scalar().elem::<f64>()
    }

    /// RKD-D and RKD-A by hand (plain f64 loops, as the paper defines them).
    fn by_hand(s: &[[f64; 2]], t: &[[f64; 2]], wd: f64, wa: f64) -> f64 {
        let n = s.len();
        let huber = |x: f64| if x.abs() < 1.0 { 0.5 * x * x } else { x.abs() - 0.5 };
        let dist =
            |e: &[[f64; 2]], i: usize, j: usize| ((e[i][0] - e[j][0]).powi(2) + (e[i][1] - e[j][1]).powi(2)).sqrt();
        let mean = |e: &[[f64; 2]]| {
            let pairs: Vec<f64> = (0..n)
                .flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j)))
                .map(|(i, j)| dist(e, i, j))
                .collect();
            pairs.iter().sum::<f64>() / pairs.len() as f64
        };
        let (ms, mt) = (mean(s), mean(t));
        let mut distance = 0.0;
        for i in 0..n {
            for j in 0..n {
                distance += huber(dist(s, i, j) / ms - dist(t, i, j) / mt);
            }
        }
        let cos = |e: &[[f64; 2]], i: usize, j: usize, k: usize| {
            let u = [e[j][0] - e[i][0], e[j][1] - e[i][1]];
            let v = [e[k][0] - e[i][0], e[k][1] - e[i][1]];
            let (nu, nv) = ((u[0] * u[0] + u[1] * u[1]).sqrt().max(EPS), (v[0] * v[0] + v[1] * v[1]).sqrt().max(EPS));
            (u[0] * v[0] + u[1] * v[1]) / (nu * nv)
        };
        let mut angle = 0.0;
        for i in 0..n {
            for j in 0..n {
                for k in 0..n {
                    angle += huber(cos(s, i, j, k) - cos(t, i, j, k));
                }
            }
        }
        wd * distance / (n * n) as f64 + wa * angle / (n * n * n) as f64
    }

    const STUDENT: [[f32; 2]; 3] = [[0.0, 0.0], [3.0, 0.5], [0.4, 2.0]];
    const TEACHER: [[f32; 2]; 3] = [[1.0, 1.0], [-2.0, 0.0], [0.5, 4.0]];

    #[test]
    fn matches_the_papers_definition_computed_by_hand() {
        let widen = |r: &[[f32; 2]; 3]| r.map(|[a, b]| [a as f64, b as f64]);
        let got = value(rkd_loss(rows::<B>(&STUDENT), rows::<B>(&TEACHER), 25.0, 50.0));
        let want = by_hand(&widen(&STUDENT), &widen(&TEACHER), 25.0, 50.0);
        assert!((got - want).abs() < 1e-4 * want.abs().max(1.0), "{got} vs {want}");
        assert!(value(rkd_loss(rows::<B>(&TEACHER), rows::<B>(&TEACHER), 25.0, 50.0)).abs() < 1e-6);
        assert_eq!(value(rkd_loss(rows::<B>(&STUDENT[..1]), rows::<B>(&TEACHER[..1]), 25.0, 50.0)), 0.0);
    }

    #[test]
    fn the_student_gradient_matches_finite_differences_and_the_teacher_gets_none() {
        let student = rows::<AB>(&STUDENT).require_grad();
        let teacher = rows::<AB>(&TEACHER).require_grad();
        let grads = rkd_loss(student.clone(), teacher.clone(), 25.0, 50.0).backward();
        let analytic: Vec<f32> = student.grad(&grads).unwrap().into_data().to_vec().unwrap();
        assert!(teacher.grad(&grads).is_none(), "the teacher is detached");
        let h = 1e-3;
        for k in 0..STUDENT.len() * 2 {
            let nudged = |delta: f64| {
                let mut s = STUDENT.map(|[a, b]| [a as f64, b as f64]);
                s[k / 2][k % 2] += delta;
                by_hand(&s, &TEACHER.map(|[a, b]| [a as f64, b as f64]), 25.0, 50.0)
            };
            let numeric = (nudged(h) - nudged(-h)) / (2.0 * h);
            let got = analytic[k] as f64;
            assert!((got - numeric).abs() < 2e-2 * numeric.abs().max(1.0), "d/ds[{k}]: {got} vs {numeric}");
        }
    }
}
