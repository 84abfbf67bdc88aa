//! The JSON result file that `run --out` writes and `table` and `check` read.

use std::path::Path;

use serde_json::Value;

use crate::error::BoxError;

pub fn write(path: &Path, result: &Value) -> Result<(), BoxError> {
    std::fs::write(path, serde_json::to_string_pretty(result)? + "\n")?;
    Ok(())
}

/// Reads one result; the error names the file.
pub fn read(path: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}
