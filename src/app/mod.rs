//! Command implementations behind the CLI (usable from Rust too).

pub mod adarec_cmd;
pub mod adarec_finetune_cmd;
pub mod bench;
pub mod dfa_cmd;
pub mod distill_cmd;
pub mod eval_cmd;
pub mod figures;
pub mod inspect_cmd;
pub mod outputs;
pub mod quickstart;
pub mod quickstart_adarec;
pub mod quickstart_dfa;
pub mod ranking_eval_cmd;
pub mod search_cmd;
pub mod sequence_teacher_cmd;
pub mod teacher_cmd;
pub mod train_cmd;
