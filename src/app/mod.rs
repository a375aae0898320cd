//! Command implementations behind the CLI (usable from Rust too).

pub mod bench;
pub mod figures;
pub mod inspect_cmd;
pub mod outputs;
pub mod quickstart;
pub mod run_config;
pub mod search_cmd;
pub mod train_cmd;
