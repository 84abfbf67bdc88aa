//! `push-bench check`: every message delivered exactly once, or exit 1 (the CI smoke test).

use std::path::PathBuf;

use serde_json::Value;

use crate::error::BoxError;
use crate::result_file;

/// Prints `ok` or `FAIL` a file; true when all are ok.
pub fn check(files: &[PathBuf]) -> Result<bool, BoxError> {
    let mut all_ok = true;
    for f in files {
        let r = result_file::read(f)?;
        let n = |v: &Value| v.as_u64().unwrap_or(0);
        let d = &r["delivery"];
        let mut problems = Vec::new();
        let counts = [
            ("lost", n(&d["lost"])),
            ("duplicated", n(&d["duplicates"])),
            ("gaps", n(&d["gaps"])),
            ("foreign", n(&d["foreign"])),
            ("disconnects", n(&d["disconnects"])),
            ("connect errors", n(&r["connect"]["errors"])),
            ("not ready", n(&r["connect"]["not_ready"])),
            ("publish errors", n(&r["publish"]["errors"])),
        ];
        for (name, v) in counts {
            if v > 0 {
                problems.push(format!("{name} {v}"));
            }
        }
        if n(&d["received"]) != n(&d["expected"]) {
            problems.push(format!("received {} of {}", n(&d["received"]), n(&d["expected"])));
        }
        if r["ready_gauge"]["reached"] == false {
            problems.push("ready gauge not reached".into());
        }
        let label = format!("{} {} {}", r["server"].as_str().unwrap_or("?"), r["transport"].as_str().unwrap_or("?"), r["scenario"].as_str().unwrap_or("?"));
        if problems.is_empty() {
            println!("ok   {label}: {}/{} delivered", n(&d["received"]), n(&d["expected"]));
        } else {
            all_ok = false;
            println!("FAIL {label}: {} ({})", problems.join(", "), f.display());
        }
    }
    Ok(all_ok)
}
