//! Tasks: what is searched and with which losses. Each plugs into the one loop through
//! [`crate::search::SearchTask`].

pub mod image;
