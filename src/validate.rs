//! Range checks for configuration values. Each failure is a [`KdnasError::Usage`] of the form
//! `section.field: what is wrong`, which config loaders turn into an error naming the file and line.

use crate::error::{KdnasError, Result};

/// A `field: why` usage error (`field` is dotted, e.g. `search.w_momentum`).
pub fn field_error(field: &str, why: impl std::fmt::Display) -> KdnasError {
    KdnasError::Usage(format!("{field}: {why}"))
}

/// Fails unless `value` is finite and strictly positive.
pub fn positive(field: &str, value: f64) -> Result<()> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(field_error(field, format!("{value} must be a positive number")))
    }
}

/// Fails unless `value` is finite and at least 0.
pub fn non_negative(field: &str, value: f64) -> Result<()> {
    if value.is_finite() && value >= 0.0 {
        Ok(())
    } else {
        Err(field_error(field, format!("{value} must be a number >= 0")))
    }
}

/// Fails unless `0 <= value < 1` (momenta, Adam betas, drop probabilities).
pub fn unit_interval(field: &str, value: f64) -> Result<()> {
    if (0.0..1.0).contains(&value) { Ok(()) } else { Err(field_error(field, format!("{value} must be in [0, 1)"))) }
}

/// Fails when a count is 0.
pub fn at_least_one(field: &str, value: usize) -> Result<()> {
    if value >= 1 { Ok(()) } else { Err(field_error(field, "must be at least 1")) }
}

/// Checks a cosine schedule from `lr` down to `lr_min` (fields `lr_field`, `min_field`): the start is
/// positive, the floor at least 0 and not above the start.
pub fn cosine_range(lr_field: &str, lr: f64, min_field: &str, lr_min: f64) -> Result<()> {
    positive(lr_field, lr)?;
    non_negative(min_field, lr_min)?;
    if lr_min > lr {
        let start = lr_field.rsplit('.').next().unwrap_or(lr_field);
        return Err(field_error(min_field, format!("{lr_min} is above {start} = {lr}")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_accept_the_edges_of_their_ranges_and_name_the_field() {
        assert!(positive("a.b", 1e-9).is_ok() && positive("a.b", 0.0).is_err() && positive("a.b", f64::NAN).is_err());
        assert!(non_negative("a.b", 0.0).is_ok() && non_negative("a.b", -1e-9).is_err());
        assert!(non_negative("a.b", f64::INFINITY).is_err());
        assert!(unit_interval("a.b", 0.0).is_ok() && unit_interval("a.b", 1.0).is_err());
        assert!(at_least_one("a.b", 1).is_ok());
        let err = at_least_one("train.batch_size", 0).unwrap_err().to_string();
        assert_eq!(err, "train.batch_size: must be at least 1");
        assert!(unit_interval("search.w_momentum", -5.0).unwrap_err().to_string().starts_with("search.w_momentum: -5"));
        let err = cosine_range("train.lr", 0.01, "train.lr_min", 0.1).unwrap_err().to_string();
        assert_eq!(err, "train.lr_min: 0.1 is above lr = 0.01");
        assert!(
            cosine_range("train.lr", 0.0, "train.lr_min", 0.0).is_err()
                && cosine_range("a.lr", 1.0, "a.m", 1.0).is_ok()
        );
    }
}
