//! Reading config files of every kind with located errors: TOML errors and `section.field: why`
//! validation errors both name the file and the line ([`parse_config`], [`load_config`],
//! [`locate_usage`]), the `[data]` section of any of them ([`load_data_section`]) and a config's TOML
//! text ([`config_toml`]).

use crate::error::{KdnasError, Result};
use crate::space::Source;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::path::Path;

/// Parses config text of any kind and validates it with `validate`; parse errors and `section.field:
/// why` validation errors both name `path` and the line.
pub fn parse_config<T: DeserializeOwned>(text: &str, path: &Path, validate: impl Fn(&T) -> Result<()>) -> Result<T> {
    let src = Source { path, text };
    let config: T = toml::from_str(text).map_err(|e| src.toml_error(e))?;
    validate(&config).map_err(|e| locate_usage(&src, e))?;
    Ok(config)
}

/// Reads a config file of any kind and validates it (see [`parse_config`]).
pub fn load_config<T: DeserializeOwned>(path: &Path, validate: impl Fn(&T) -> Result<()>) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|e| KdnasError::io(path, e))?;
    parse_config(&text, path, validate)
}

/// The `[data]` section of the TOML file `path` (other sections are ignored, so any run config works),
/// checked by `validate`; errors name the file and the line. Relative paths in it are left as written.
pub fn load_data_section<D: DeserializeOwned>(path: &Path, validate: fn(&D) -> Result<()>) -> Result<D> {
    #[derive(serde::Deserialize)]
    struct DataFile<D> {
        data: Option<D>,
    }
    let text = std::fs::read_to_string(path).map_err(|e| KdnasError::io(path, e))?;
    let src = Source { path, text: &text };
    let file: DataFile<D> = toml::from_str(&text).map_err(|e| src.toml_error(e))?;
    let data = file.data.ok_or_else(|| src.error(0..0, "data", "no [data] section"))?;
    validate(&data).map_err(|e| locate_usage(&src, e))?;
    Ok(data)
}

/// A config as TOML text.
pub fn config_toml<T: Serialize>(config: &T) -> Result<String> {
    toml::to_string_pretty(config).map_err(|e| KdnasError::Usage(format!("cannot serialise the config: {e}")))
}

/// Turns a `section.field: message` usage error about the config file at `path` into one that names
/// the file and the line of that field (the file is read again; if it cannot be, `err` is returned).
pub fn locate_in_config(path: &Path, err: KdnasError) -> KdnasError {
    match std::fs::read_to_string(path) {
        Ok(text) => locate_usage(&Source { path, text: &text }, err),
        Err(_) => err,
    }
}

/// Turns a `section.field: message` usage error into one that names the line of that field. The
/// section may be an array of tables with an index (`choice[1].candidates` is the `candidates` key of
/// the second `[[choice]]`).
pub fn locate_usage(src: &Source, err: KdnasError) -> KdnasError {
    let KdnasError::Usage(message) = &err else { return err };
    let Some((field, rest)) = message.split_once(": ") else { return err };
    let Some((section, key)) = field.split_once('.') else { return err };
    let key = key.split(['.', '[']).next().unwrap_or(key);
    let (section, index) = match section.split_once('[') {
        Some((name, index)) => (name, index.trim_end_matches(']').parse::<usize>().ok()),
        None => (section, None),
    };
    let mut in_section = false;
    let mut seen = 0;
    let mut offset = 0;
    for line in src.text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            let name = trimmed.trim_matches(|c| c == '[' || c == ']').trim();
            let is_array = trimmed.starts_with("[[");
            in_section = name == section
                && match index {
                    Some(i) => {
                        is_array && {
                            seen += 1;
                            seen - 1 == i
                        }
                    }
                    None => !is_array,
                };
        } else if in_section && trimmed.split('=').next().is_some_and(|k| k.trim() == key) {
            return src.error(offset..offset, field, rest);
        }
        offset += line.len() + 1;
    }
    src.error(0..0, field, rest)
}
