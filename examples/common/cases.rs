//! The JSON protocol of the cross-check examples (`emd_values`, `ranking_values`): read
//! `{"cases": [...]}` on stdin, evaluate every case, print `{"cases": [...]}` on stdout.

use serde::Serialize;
use serde::de::DeserializeOwned;
use std::error::Error;
use std::io::Read;

/// The input document.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Input<C> {
    cases: Vec<C>,
}

/// The output document.
#[derive(Serialize)]
struct Output<V> {
    cases: Vec<V>,
}

/// Reads the cases from stdin, evaluates each (an error names its case, `cases[k]: ...`) and prints the
/// values as one JSON line.
pub fn run_cases<C: DeserializeOwned, V: Serialize>(
    evaluate: impl Fn(&C) -> Result<V, Box<dyn Error>>,
) -> Result<(), Box<dyn Error>> {
    let mut input = String::new();
    std::io::stdin().read_to_string(&mut input)?;
    let input: Input<C> = serde_json::from_str(&input)?;
    let cases = input
        .cases
        .iter()
        .enumerate()
        .map(|(k, case)| evaluate(case).map_err(|e| format!("cases[{k}]: {e}")))
        .collect::<Result<Vec<V>, _>>()?;
    println!("{}", serde_json::to_string(&Output { cases })?);
    Ok(())
}
