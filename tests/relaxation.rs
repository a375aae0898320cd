//! Relaxations: softmax rows sum to one; Gumbel-softmax samples depend on the noise and sharpen with a
//! low temperature; hard straight-through rows are one-hot in the forward pass, pick the argmax of the
//! perturbed logits, and still pass a gradient to every logit; temperature schedules.

mod common;

use burn::module::Param;
use burn::tensor::{ElementConversion, Tensor, TensorData};
use common::Cpu;
use kdnas::supernet::{ArchParams, GumbelNoise, OpEvaluation, Relaxation, TemperatureSchedule};

fn arch(values: Vec<f32>, rows: usize, cols: usize) -> ArchParams<Cpu> {
    let t = Tensor::<Cpu, 2>::from_data(TensorData::new(values, [rows, cols]), &Default::default());
    ArchParams { logits: vec![Param::from_tensor(t)] }
}

fn rows(t: Tensor<Cpu, 2>) -> Vec<Vec<f32>> {
    kdnas::supernet::arch_params::tensor_rows(t)
}

#[test]
fn softmax_rows_sum_to_one() {
    let a = arch(vec![0.0, 1.0, 2.0, -1.0, 0.0, 1.0], 2, 3);
    let w = Relaxation::Softmax.weights(&a, None, 0, 1);
    for row in rows(w.groups[0].clone()) {
        assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-6);
    }
    assert!(w.selected.is_none());
}

#[test]
fn hard_gumbel_is_one_hot_with_gradients_for_all_logits() {
    let a = arch(vec![0.3, 0.1, -0.2, 0.5, 0.0, 0.4, -0.1, 0.2], 2, 4);
    let noise = GumbelNoise {
        groups: vec![Tensor::from_data(
            TensorData::new(vec![0.0f32, 2.0, 0.0, 0.0, 0.0, 0.0, 0.0, 3.0], [2, 4]),
            &Default::default(),
        )],
    };
    let hard = Relaxation::Gumbel {
        hard: true,
        temperature: TemperatureSchedule::Linear { start: 1.0, end: 1.0 },
        evaluate: OpEvaluation::Sampled,
    };
    let w = hard.weights(&a, Some(&noise), 0, 1);
    assert_eq!(w.selected, Some(vec![vec![1, 3]]), "argmax of logits + noise per row");
    assert_eq!(rows(w.groups[0].clone()), vec![vec![0.0, 1.0, 0.0, 0.0], vec![0.0, 0.0, 0.0, 1.0]]);
    let target = Tensor::<Cpu, 2>::from_data(
        TensorData::new(vec![1.0f32, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0], [2, 4]),
        &Default::default(),
    );
    let loss = (w.groups[0].clone() * target).sum();
    let grads = loss.backward();
    let g: Vec<f32> = a.logits[0].val().grad(&grads).unwrap().into_data().into_vec().unwrap();
    assert!(g.iter().all(|x| *x != 0.0), "straight-through passes the soft gradient to every logit: {g:?}");
}

#[test]
fn soft_gumbel_follows_noise_and_temperature() {
    let a = arch(vec![0.0; 4], 1, 4);
    let noise = GumbelNoise {
        groups: vec![Tensor::from_data(TensorData::new(vec![0.0f32, 0.0, 1.0, 0.0], [1, 4]), &Default::default())],
    };
    let schedule = TemperatureSchedule::Linear { start: 10.0, end: 0.1 };
    let soft = Relaxation::Gumbel { hard: false, temperature: schedule.clone(), evaluate: OpEvaluation::Sampled };
    let hot = rows(soft.weights(&a, Some(&noise), 0, 11).groups[0].clone());
    let cold = rows(soft.weights(&a, Some(&noise), 10, 11).groups[0].clone());
    assert!(hot[0][2] < 0.3 && cold[0][2] > 0.99, "hot {hot:?} cold {cold:?}");
    assert!((schedule.at(5, 11) - 5.05).abs() < 1e-9);
    let step = TemperatureSchedule::Step { start: 1.0, factor: 0.8, every: 5 };
    assert_eq!((step.at(4, 100), step.at(5, 100)), (1.0, 0.8));
    let sampled = GumbelNoise::sample(&a);
    let s: f32 = sampled.groups[0].clone().abs().sum().into_scalar().elem();
    assert!(s > 0.0 && s.is_finite());
}
