//! Derivation and export: genotypes (JSON and DARTS notation). Derived cells are drawn with
//! [`crate::space::dot::space_to_dot`] on [`Genotype::to_arch_graph`].

pub mod genotype;
pub mod genotype_check;

pub use genotype::{DeriveRule, Genotype};
