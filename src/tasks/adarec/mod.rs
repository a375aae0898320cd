//! AdaRec (spec/adarec.md): sequential recommendation with a NextItNet teacher and a searched causal
//! 1-D student. Data and ranking evaluation, the training task shared by the teacher and derived
//! students, the frozen teacher, and the search task with its losses.

pub mod budget;
pub mod config;
pub mod cost_table;
pub mod data;
pub mod losses;
pub mod ranking;
pub mod recommender;
pub mod search_task;
pub mod student;
pub mod teacher;
pub mod train_task;
