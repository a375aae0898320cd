//! AdaRec (spec/adarec.md): sequential recommendation with a NextItNet teacher and a searched causal
//! 1-D student. Data and ranking evaluation, the training task shared by the teacher and derived
//! students.

pub mod data;
pub mod ranking;
pub mod recommender;
pub mod train_task;
